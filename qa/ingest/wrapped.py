"""Hard-wrapped lines read back into paragraphs: the width, the lost indent, and where each paragraph starts."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from qa.ingest.structure import CLOSING, PART_HEADING, TERMINAL, is_salutation
from qa.ingest.widths import _ASCII, _LETTERS, ENDINGS, FIRST_TOKEN, NO_LINE_START, char_width, em_width, latin

_ADDRESS = re.compile(r"(?:们|同志|朋友|来宾|代表|女士|先生|各位|诸位)[！：!:]$")
# Words that usually open a paragraph of a speech or report (besides part headings).
_OPENER = re.compile(r"(?:首先|其次|再次|最后|此外|另外|总之|综上所述|近年来|长期以来|下一步)[，,]")
# Costs of readings of hard-wrapped lines (see _viterbi), as -log of rough likelihoods. Where a line full to the
# margin ends a sentence and the next line could open a paragraph or go on, widths cannot tell: going on costs
# _SENTENCE_END, less than a full last line (log width), unless the next line opens like a paragraph (_OPENS).
_AGAINST, _DOUBT, _EARLY, _OPEN_END, _SENTENCE_END, _OPENS = 10.0, 2.0, 4.0, 5.0, 2.0, 2.5


@dataclass(frozen=True)
class Layout:
    """What was inferred about how the text was wrapped (widths in em)."""

    wrapped: bool
    width: float = 0.0
    indent: float = 0.0


def read_widths(texts: list[str], is_spaced: bool) -> tuple[Layout, list[bool]]:
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



def _quantile(values: list[float], q: float) -> float:
    return round(sorted(values)[int(q * (len(values) - 1))] * 2) / 2


class _Lines:
    """What reading hard-wrapped lines needs to know of each line, measured once: widths with spaces at half an em
    and the number of spaces, of the line, of the next line's first word, and of that word with the marks that
    would go down with it."""

    def __init__(self, texts: list[str], is_spaced: bool) -> None:
        def measured(text: str) -> tuple[float, int]:
            return em_width(text), text.count(" ")

        self.lines = [measured(t) for t in texts]
        self.cores = [(w - (char_width(t[-1]) if t[-1] in NO_LINE_START else 0.0), n) for t, (w, n) in
                      zip(texts, self.lines)]
        # Latin letters are wider than the half em counted for them (digits are not, much).
        self.wide = [min(1.0, 0.25 * len(_LETTERS.findall(t))) for t in texts]
        self.words: list[tuple[float, int]] = []
        self.pushed: list[tuple[float, int]] = []
        self.gaps: list[tuple[bool, bool]] = []  # a space between the lines: certainly, possibly
        for line, nxt in zip(texts, texts[1:]):
            token = FIRST_TOKEN.match(nxt)[0]
            rest = nxt[len(token) :]
            self.words.append(measured(token))
            self.pushed.append(measured(token + rest[: len(rest) - len(rest.lstrip(NO_LINE_START))]))
            certain = latin(line[-1]) and latin(token[0]) or is_spaced and (latin(line[-1]) or latin(token[0]))
            self.gaps.append((certain, latin(line[-1]) or token[0].isascii()))
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
