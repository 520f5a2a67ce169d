"""Paragraphs from lines of plain text: hard-wrapped text (as PDF extraction leaves it) or blank-line blocks."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

from qa.ingest.structure import PART_HEADING, PUNCT, is_salutation
from qa.ingest.widths import ENDINGS, FIRST_TOKEN, NO_LINE_END, NO_LINE_START, em_width, join_lines, spaced
from qa.ingest.wrapped import Layout, read_widths

__all__ = ["ENDINGS", "NO_LINE_END", "NO_LINE_START", "PAGE_BREAK", "Layout", "em_width", "furniture_key",
           "infer_layout", "is_page_number", "join_lines", "paragraphs", "spaced"]

PAGE_BREAK = "\f"
# Page numbers as printed in a header or footer: 3, - 12 -, — 3 —, 第 3 页, 第 3 页 共 12 页, 3/12, Page 3 of 12.
_NUMBER_ALONE = re.compile(r"\d{1,4}")
_PAGE_NUMBER = re.compile(
    r"[-—–－~·•]+\s*(?:\d{1,4}|[一二三四五六七八九十百]{1,4})\s*[-—–－~·•]+"
    r"|第\s*\d{1,4}\s*页(?:\s*[,，/、]?\s*共\s*\d{1,4}\s*页)?"
    r"|\d{1,4}\s*/\s*\d{1,4}"
    r"|(?:page|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?",
    re.IGNORECASE,
)

@dataclass(frozen=True)
class _Line:
    text: str
    blanks: int = 0  # blank lines right above it
    page_break: bool = False  # a page ends right above it


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
        pages = len(starts) - 1
        if pages < 2:  # one page: two lines alike at its top are text, not a header seen twice
            return set()
        counts = Counter(furniture_key(entries[i].text) for i in places)
        return {key for key, count in counts.items() if count >= max(2, pages / 2)}

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
            # Without page breaks the text's last lines are not a footer: a closing date may match the header's.
            if (key in known_keys and (i in tops or len(starts) > 2)
                    or i in tops and key in top_keys or i in bottoms and key in bottom_keys):
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
    token = FIRST_TOKEN.match(after)[0]
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
    return read_widths(texts, spaced(texts))[0]


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
        found, starts = read_widths(texts, is_spaced)
        starts = starts if found.wrapped else [not c for c in cut]
    out: list[list[str]] = []
    for text, start in zip(texts, starts):
        if start or not out:
            out.append([])
        out[-1].append(text)
    return [join_lines(p, is_spaced) for p in out]
