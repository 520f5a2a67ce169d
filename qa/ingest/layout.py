"""Paragraphs from lines of plain text: hard-wrapped text (as PDF extraction leaves it) or blank-line blocks."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from qa.ingest.structure import CLOSING, PART_HEADING, PUNCT, TERMINAL, is_salutation

PAGE_BREAK = "\f"
# Marks a line may not start with: typesetting hangs them past the margin (or takes a character down with them).
NO_LINE_START = TERMINAL + CLOSING + "，、；：,.;:·"
# Marks a line may not end with: they go down to the next line with the character they open.
NO_LINE_END = "“‘「『（(《〈"
# How a paragraph ends: a sentence, a closing mark, or a colon that leads into what follows.
ENDINGS = TERMINAL + CLOSING + "：:"
# Page numbers as printed in a header or footer: 3, - 12 -, — 3 —, 第 3 页, 第 3 页 共 12 页, 3/12, Page 3 of 12.
_NUMBER_ALONE = re.compile(r"\d{1,4}")
_PAGE_NUMBER = re.compile(
    r"[-—–－~·•]+\s*(?:\d{1,4}|[一二三四五六七八九十百]{1,4})\s*[-—–－~·•]+"
    r"|第\s*\d{1,4}\s*页(?:\s*[,，/、]?\s*共\s*\d{1,4}\s*页)?"
    r"|\d{1,4}\s*/\s*\d{1,4}"
    r"|(?:page|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?",
    re.IGNORECASE,
)
_IDEOGRAPH = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TIGHT = re.compile(rf"[{_IDEOGRAPH}][0-9A-Za-z]|[0-9A-Za-z%][{_IDEOGRAPH}]")
_SPACED = re.compile(rf"[{_IDEOGRAPH}] [0-9A-Za-z]|[0-9A-Za-z%] [{_IDEOGRAPH}]")
_ADDRESS = re.compile(r"(?:们|同志|朋友|来宾|代表|女士|先生|各位|诸位)[！：!:]$")
# Words that usually open a paragraph of a speech or report (besides part headings).
_OPENER = re.compile(r"(?:首先|其次|再次|最后|此外|另外|总之|综上所述|近年来|长期以来|下一步)[，,]")
_ASCII, _LETTERS = re.compile(r"[\x00-\x7f]"), re.compile(r"[A-Za-z]")
_FIRST_TOKEN = re.compile(rf"[{re.escape(NO_LINE_END)}]*(?:[!-~]+|.)")
# Costs of readings of hard-wrapped lines (see _viterbi), as -log of rough likelihoods.
_AGAINST, _DOUBT, _EARLY, _OPEN_END, _SENTENCE_END, _OPENS = 10.0, 2.0, 4.0, 5.0, 2.0, 2.5


@dataclass(frozen=True)
class Layout:
    """What was inferred about how the text was wrapped (widths in em)."""

    wrapped: bool
    width: float = 0.0
    indent: float = 0.0


@dataclass(frozen=True)
class _Line:
    text: str
    blanks: int = 0  # blank lines right above it
    page_break: bool = False  # a page ends right above it


def em_width(line: str) -> float:
    """Width of a line in em.

    Args:
        line: Any text.

    Returns:
        The width: 1 for each CJK character or full-width mark, 1/2 for Latin letters, digits and spaces.
    """
    return sum(map(_char_width, line))


@lru_cache(maxsize=8192)
def _char_width(ch: str) -> float:
    return 1.0 if unicodedata.east_asian_width(ch) in "WFA" else 0.5


def _latin(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "%")


def spaced(texts: Iterable[str]) -> bool:
    """Tell whether a text puts a space between Chinese and Latin letters or digits (2020 年, 5G 网络).

    Args:
        texts: Lines or paragraphs of the text.

    Returns:
        True if spaced seams outnumber tight ones (2020年).
    """
    tight = loose = 0
    for text in texts:
        tight += len(_TIGHT.findall(text))
        loose += len(_SPACED.findall(text))
    return loose > tight


def join_lines(parts: Sequence[str], spaced: bool = False) -> str:
    """Join the lines of one paragraph.

    Args:
        parts: The lines, stripped.
        spaced: Whether the text spaces Chinese from Latin (see :func:`spaced`): a wrap there dropped a space.

    Returns:
        The lines joined with no space between CJK, one space where two Latin words meet (or Chinese meets
        Latin in a spaced text).
    """
    out = ""
    for part in parts:
        if out and part:
            a, b = out[-1], part[0]
            seam = _latin(a) and _latin(b) or spaced and bool(_TIGHT.fullmatch(a + b))
            out += " " if seam else ""
        out += part
    return out


def is_page_number(line: str, bare: bool = True) -> bool:
    """Tell whether a line is a page number as headers and footers print it.

    Args:
        line: A line of text.
        bare: Whether a number alone (3) counts, besides — 3 —, - 12 -, 第 3 页, 3/12, Page 3 of 12.

    Returns:
        True for a page number.
    """
    line = line.strip()
    return bool(_PAGE_NUMBER.fullmatch(line) or bare and _NUMBER_ALONE.fullmatch(line))


def furniture_key(line: str) -> str:
    """A line's text as page headers and footers repeat it: spaces dropped, numbers blurred.

    Args:
        line: A line of text.

    Returns:
        A key equal for the same running header or footer on any page.
    """
    return re.sub(r"\d+", "#", "".join(line.split()))


def _entries(lines: Iterable[str]) -> list[_Line]:
    """Non-blank lines with the blank lines and page breaks above each (two blank lines or more also end a page)."""
    out: list[_Line] = []
    blanks, page_break = 0, False
    for raw in lines:
        if raw == PAGE_BREAK or PAGE_BREAK in raw and not raw.strip():
            page_break = True
        elif not raw.strip():
            blanks += 1
        else:
            out.append(_Line(raw.strip(), blanks, page_break or (blanks >= 2 and bool(out))))
            blanks, page_break = 0, False
    return out


def _drop_furniture(entries: list[_Line], apart: bool, known: Iterable[str]) -> list[_Line]:
    """Drop page numbers, running headers and footers: lines at the top or bottom of a page that are numbers, that
    repeat at the same place on two pages or more, or that repeat a line of the document's header (``known``)."""
    n = len(entries)
    starts = [0, *(i for i, e in enumerate(entries) if e.page_break), n]
    tops = {s + k for s in starts[:-1] for k in (0, 1) if s + k < n}
    bottoms = {s - k for s in starts[1:] for k in (1, 2) if s - k >= 0}
    known_keys = {furniture_key(k) for k in known if k and k.strip()}

    def repeated(places: set[int]) -> set[str]:  # on half the pages at least (body lines may repeat by chance)
        counts = Counter(furniture_key(entries[i].text) for i in places)
        return {key for key, count in counts.items() if count >= max(2, (len(starts) - 1) / 2)}

    top_keys, bottom_keys = repeated(tops), repeated(bottoms)
    running = sorted(em_width(e.text) for e in entries if e.text[-1] not in ENDINGS)  # mostly full lines
    widest = running[len(running) // 2] if running else 0.0
    drop, odd = set(), []
    for i, e in enumerate(entries):
        edge = i in tops or i in bottoms
        if is_page_number(e.text, bare=edge or apart):
            drop.add(i)
        elif edge and not (e.text[-1] in ENDINGS or is_salutation(e.text) or em_width(e.text) > 40):
            key = furniture_key(e.text)
            if key in known_keys or i in tops and key in top_keys or i in bottoms and key in bottom_keys:
                drop.add(i)
            elif apart:
                odd.append(i)
    kept = [i for i in range(n) if i not in drop]
    for i in odd:  # judged between the lines kept around it
        k = kept.index(i)
        if 0 < k < len(kept) - 1 and _stray(entries[kept[k - 1]].text, entries[i].text, entries[kept[k + 1]].text,
                                            widest):
            drop.add(i)
    out: list[_Line] = []
    carry = _Line("")
    for i, e in enumerate(entries):
        if i in drop:
            carry = _Line("", max(carry.blanks, e.blanks), carry.page_break or e.page_break or i in bottoms)
            continue
        if carry.blanks or carry.page_break:
            e = replace(e, blanks=max(e.blanks, carry.blanks), page_break=e.page_break or carry.page_break)
            carry = _Line("")
        out.append(e)
    return out


def _stray(before: str, line: str, after: str, full: float) -> bool:
    """Whether a short line at a page's edge breaks into running text: the text before it stops mid-sentence, so
    the line would go on with it, but it neither fills a line (``full`` em) nor ends a sentence (a header printed
    once)."""
    token = _FIRST_TOKEN.match(after)[0]
    return before[-1] not in ENDINGS and em_width(line) + em_width(token) + 1 < full and not PART_HEADING.match(line)


def _continues(before: str, after: str) -> bool:
    """Whether a block cut by a page break goes on in the next one (it stops mid-sentence)."""
    return before[-1] not in PUNCT and em_width(before) > 30 and not PART_HEADING.match(after)


def infer_layout(lines: list[str]) -> Layout:
    """Tell whether lines were hard-wrapped, and at which width and (lost) first-line indent.

    The text is wrapped if most lines that stop mid-sentence come close to the widest lines; the width and
    indent are those that best explain the line widths (see :func:`_viterbi`).

    Args:
        lines: A document body's lines (blank lines are passed over).

    Returns:
        The layout found.
    """
    texts = [e.text for e in _entries(lines)]
    return _read_widths(texts, spaced(texts))[0]


def _read_widths(texts: list[str], is_spaced: bool) -> tuple[Layout, list[bool]]:
    """The layout of the lines, and which of them open a paragraph (all of them if not wrapped)."""
    if len(texts) < 3:
        return Layout(wrapped=False), [True] * len(texts)
    lines = _Lines(texts, is_spaced)
    cores = [c for c, _ in lines.cores]
    top = _quantile(cores, 0.98)
    # Wrapped lines mostly stop mid-sentence, and those that do come close to the width.
    open_cores = [c for c, t in zip(cores, texts) if t.rstrip(CLOSING)[-1:] not in tuple(ENDINGS)]
    near = sum(c >= top - 6 for c in open_cores)
    if top < 8 or near < max(2, 0.1 * len(cores)) or near < 0.6 * len(open_cores):
        return Layout(wrapped=False), [True] * len(texts)
    # The width is what nearly all lines stay within: exactly so in lines without half-width text, while lines
    # with spaces measure wider if spaces were set narrower than half an em; no line may fill it exactly.
    pure = [c for c, t in zip(cores, texts) if not _ASCII.search(t)]
    widths = {top, top + 0.5, top + 1}
    widths |= {_quantile(pure, 0.98) + d for d in (0, 0.5, 1)} if len(pure) >= 8 else {top - 1, top - 0.5}
    sizes: dict[tuple[float, bool], tuple[list[float], list[float], list[float]]] = {}
    best = (math.inf, [], top, 2.0)
    for width in sorted(w for w in widths if w >= 8):
        bounds = [0.5 - (c - width) / n for c, n in lines.cores if 0 < c - width <= n]
        space = max(0.2, min([0.5, *bounds]))
        # Marks hang past the margin, or (if none ever does) go down with the character before them.
        hang = any(w > width + 1e-6 and w > c for (w, _), (c, _) in zip(lines.lines, lines.cores))
        if (space, hang) not in sizes:
            sizes[space, hang] = lines.sized(space, hang)
        sized = sizes[space, hang]
        # The indent is the one that best explains the line widths.
        for indent in (2.0, 0.0, 1.0, 3.0, 4.0) if width == top else dict.fromkeys((2.0, best[3])):
            cost, starts = _viterbi(lines, sized, width, indent)
            if cost < best[0]:
                best = (cost, starts, width, indent)
    _, starts, width, indent = best
    return Layout(wrapped=True, width=width, indent=indent), starts


def _quantile(values: list[float], q: float) -> float:
    return round(sorted(values)[int(q * (len(values) - 1))] * 2) / 2


def paragraphs(lines: list[str], furniture: Iterable[str] = ()) -> list[str]:
    """The paragraphs of a document body given as lines (page breaks as ``PAGE_BREAK`` lines or blank-line runs).

    Page numbers, running headers and footers are dropped first. Text whose lines each stand apart, or that has
    no blank lines at all, is rebuilt from line widths and lost indents if it was hard-wrapped (else each line is a
    paragraph); otherwise blank lines separate paragraphs.

    Args:
        lines: The body's lines, top to bottom.
        furniture: Lines a page header may repeat (the title): dropped where they stand at the top or bottom of
            a page.

    Returns:
        The paragraph texts in order.
    """
    entries = _entries(lines)
    # Nearly every line standing apart (a blank line after each) is how PDF extraction leaves them.
    apart = len(entries) >= 3 and sum(e.blanks > 0 for e in entries[1:]) >= 0.8 * (len(entries) - 1)
    entries = _drop_furniture(entries, apart, list(furniture))
    texts = [e.text for e in entries]
    is_spaced = spaced(texts)
    # A page break inside a paragraph that is not hard-wrapped: the text before it stops mid-sentence.
    cut = [bool(i) and e.page_break and _continues(texts[i - 1], e.text) for i, e in enumerate(entries)]
    if not apart and any(e.blanks and not e.page_break for e in entries[1:]):
        starts = [not i or bool(e.blanks) and not cut[i] for i, e in enumerate(entries)]
    else:
        found, starts = _read_widths(texts, is_spaced)
        starts = starts if found.wrapped else [not c for c in cut]
    out: list[list[str]] = []
    for text, start in zip(texts, starts):
        if start or not out:
            out.append([])
        out[-1].append(text)
    return [join_lines(p, is_spaced) for p in out]


class _Lines:
    """What reading hard-wrapped lines needs to know of each line, measured once: widths with spaces at half an em
    and the number of spaces, of the line, of the next line's first word, and of that word with the marks that
    would go down with it."""

    def __init__(self, texts: list[str], is_spaced: bool) -> None:
        def measured(text: str) -> tuple[float, int]:
            return em_width(text), text.count(" ")

        self.lines = [measured(t) for t in texts]
        self.cores = [(w - (_char_width(t[-1]) if t[-1] in NO_LINE_START else 0.0), n) for t, (w, n) in
                      zip(texts, self.lines)]
        # Latin letters are wider than the half em counted for them (digits are not, much).
        self.wide = [min(1.0, 0.25 * len(_LETTERS.findall(t))) for t in texts]
        self.words: list[tuple[float, int]] = []
        self.pushed: list[tuple[float, int]] = []
        self.gaps: list[tuple[bool, bool]] = []  # a space between the lines: certainly, possibly
        for line, nxt in zip(texts, texts[1:]):
            token = _FIRST_TOKEN.match(nxt)[0]
            rest = nxt[len(token) :]
            self.words.append(measured(token))
            self.pushed.append(measured(token + rest[: len(rest) - len(rest.lstrip(NO_LINE_START))]))
            certain = _latin(line[-1]) and _latin(token[0]) or is_spaced and (_latin(line[-1]) or _latin(token[0]))
            self.gaps.append((certain, _latin(line[-1]) or token[0].isascii()))
        self.ends = [t.rstrip(CLOSING)[-1:] in tuple(TERMINAL + "：:") for t in texts]
        # After a sentence, an address to the audience, a part heading or a word like 首先 likely opens a paragraph.
        self.opens = [_OPENS if _ADDRESS.search(t) and is_salutation(t) or PART_HEADING.match(t) or _OPENER.match(t)
                      else 0.0 for t in texts]

    def sized(self, space: float, hang: bool) -> tuple[list[float], list[float], list[float]]:
        """Cores, and what each line would hold with the next line's first word (exactly, and at most), with
        spaces ``space`` em wide and marks that ``hang`` past the margin (or go down with the word)."""
        cut = 0.5 - space
        cores = [w - cut * n for w, n in self.cores]
        need, most = [], []
        for i, ((w, n), word, pushed, (certain, possible)) in enumerate(
            zip(self.lines, self.words, self.pushed, self.gaps)
        ):
            line = w - cut * n
            taken = word if hang else pushed
            need.append(line + (space if certain else 0.0) + taken[0] - cut * taken[1])
            most.append(line + (space if possible else 0.0) + pushed[0] - cut * pushed[1]
                        + max(self.wide[i], self.wide[i + 1]))
        return cores, need, most


def _viterbi(lines: _Lines, sized: tuple[list[float], list[float], list[float]], width: float,
             indent: float) -> tuple[float, list[bool]]:
    """The cheapest reading of hard-wrapped lines: its cost, and which lines open a paragraph.

    Each line is a paragraph's first line (``width - indent`` em of room) or a later one (``width``). A line
    followed by more of its paragraph must be full: the next line's first word would not have fitted. A
    paragraph's last line should end like one (a sentence, a colon) and is full about once in ``width`` times.
    Measures of half-width text are uncertain, and typesetters sometimes break a line early, so near misses
    cost a little instead of being ruled out.
    """
    cores, needs, mosts = sized
    first, later = width - indent + 1e-6, width + 1e-6
    full_end = math.log(max(width, 3.0))

    def fit(room: float) -> list[float]:  # spaces may be narrower still than measured
        return [0.0 if c <= room else 2 * (c - room) if c - room <= 0.25 * n else _AGAINST
                for c, (_, n) in zip(cores, lines.lines)]

    def go_on(room: float) -> list[float]:  # not full: uncertain widths may explain a small gap, an early break 1 em
        return [0.0 if need > room else _DOUBT + 2 * (room - need) if most > room else
                _EARLY if room - need < 1 else _AGAINST for need, most in zip(needs, mosts)]

    def end(room: float) -> list[float]:
        return [(0.0 if ends else _OPEN_END) + (full_end if need > room else 0.0)
                for need, ends in zip(needs, lines.ends)]

    fit0, fit1, on0, on1, end0, end1 = fit(first), fit(later), go_on(first), go_on(later), end(first), end(later)
    after = [o + _SENTENCE_END if e else 0.0 for o, e in zip(lines.opens[1:], lines.ends)]
    c0, c1 = fit0[0], _AGAINST + fit1[0]  # the cost of the best reading with the line first / later
    back: list[tuple[bool, bool]] = []
    for i in range(len(cores) - 1):
        f0, f1 = c0 + end0[i], c1 + end1[i]
        g0, g1 = c0 + on0[i], c1 + on1[i]
        back.append((f0 <= f1, g0 <= g1))  # whether the best way to each state comes from a first line
        c0 = (f0 if f0 <= f1 else f1) + fit0[i + 1]
        c1 = (g0 if g0 <= g1 else g1) + after[i] + fit1[i + 1]
    state = c0 <= c1
    starts = [state]
    for from_first in reversed(back):
        state = from_first[0] if state else from_first[1]
        starts.append(state)
    return min(c0, c1), starts[::-1]
