"""PDF files: lines rebuilt from character positions (pdfplumber), page furniture dropped, paragraphs by indents."""

from __future__ import annotations

import io
import logging
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfplumber.utils.exceptions import PdfminerException

from qa.errors import SourceError
from qa.ingest import Laid, header
from qa.ingest.clean import clean
from qa.ingest.layout import ENDINGS, NO_LINE_END, NO_LINE_START, furniture_key, is_page_number, join_lines, spaced
from qa.ingest.structure import TERMINAL, is_salutation

# Simplified Chinese fonts draw 户 with the glyph of the Kangxi radical ⼾ (U+2F3E), which the PDF's text then
# holds and which folds to the traditional 戶; a text is simplified if it has more of the first characters below.
_SC_RADICALS = {0x2F3E: "户"}
_BULLET = re.compile(r"^[•●▪◦■□◆◇·‣⁃]\s*")
_SIMPLIFIED, _TRADITIONAL = "们这国说为会对时发经问过还进东车门马长见", "們這國說為會對時發經問過還進東車門馬長見"


@dataclass(frozen=True)
class _Line:
    """One printed line: its text and where it stands (PDF points, top down), in which type size and weight."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool
    page: int
    word: float  # width of the first word, with marks that may not start a line


def lay(raw: bytes, path: Path) -> Laid:
    """Read a PDF's text layer: title, date and speaker from the lines above the body, paragraphs from indents and
    line ends, page numbers and running headers and footers dropped, look-alike radicals folded.

    Args:
        raw: The file's bytes.
        path: The file, for messages.

    Returns:
        Paragraph texts, headings that stand on their own lines, and the title, date and speaker found.

    Raises:
        SourceError: The PDF is encrypted, damaged, or has no text layer.
    """
    pages = _read(raw, path.name)
    if not any(pages):
        raise SourceError(f"{path.name} has no text layer (a scanned PDF?): run OCR on it first, "
                          "e.g. `ocrmypdf in.pdf out.pdf`, and add the result.")
    sizes = Counter(round(line.size, 1) for page in pages for line in page for _ in line.text)
    body_size = sizes.most_common(1)[0][0]
    lines = _drop_furniture(pages, body_size)
    if not lines:
        raise SourceError(f"{path.name} holds only page headers and numbers: there is no text to read.")
    ordinary = [ln for ln in lines if abs(ln.size - body_size) <= 0.1 * body_size] or lines
    left = Counter(round(ln.x0) for ln in ordinary).most_common(1)[0][0]
    right = sorted(ln.x1 for ln in ordinary)[int(0.95 * (len(ordinary) - 1))]
    top, lines = _top(lines, left, right, body_size)
    texts, headings = _paragraphs(lines, left, right, body_size)
    return Laid(texts=texts, headings=headings, title=top.title, date=top.date, speaker=top.speaker)


def _read(raw: bytes, name: str) -> list[list[_Line]]:
    """The lines of each page, top to bottom.

    Raises:
        SourceError: The PDF is encrypted or cannot be parsed.
    """
    logging.getLogger("pdfminer").setLevel(logging.ERROR)  # font warnings about harmless details
    try:
        with pdfplumber.open(io.BytesIO(raw)) as pdf:
            pages = [[c for c in page.chars if c.get("upright", True)] for page in pdf.pages]
    except PdfminerException as exc:
        cause = exc.args[0] if exc.args else exc
        if isinstance(cause, (PDFPasswordIncorrect, PDFEncryptionError)):
            message = f"{name} is encrypted: save an unprotected copy (remove its password) and add that."
        else:
            message = f"{name} is not a readable PDF ({str(cause)[:80] or 'damaged'}): export or save it again as PDF."
        raise SourceError(message) from exc
    except Exception as exc:  # pdfminer raises errors of many kinds on a damaged file while it reads the pages
        raise SourceError(f"{name} is not a readable PDF ({type(exc).__name__}): export or save it again as PDF.") \
            from exc
    text = "".join(c["text"] for chars in pages for c in chars)
    simplified = sum(map(text.count, _SIMPLIFIED)) >= sum(map(text.count, _TRADITIONAL))
    return [_page_lines(chars, n, simplified) for n, chars in enumerate(pages)]


def _page_lines(chars: list[dict], number: int, simplified: bool) -> list[_Line]:
    """Characters grouped into lines by their top, read left to right; a gap of a fifth of an em is a space."""
    chars = sorted(chars, key=lambda c: (c["top"], c["x0"]))
    rows: list[list[dict]] = []
    for c in chars:
        if rows and abs(c["top"] - rows[-1][0]["top"]) <= 0.4 * c["size"]:
            rows[-1].append(c)
        else:
            rows.append([c])
    lines = []
    for row in rows:
        row.sort(key=lambda c: c["x0"])
        text, kept = "", []
        for c in row:
            if kept and c["text"] == kept[-1]["text"] and abs(c["x0"] - kept[-1]["x0"]) < 0.1 * c["size"]:
                continue  # the same glyph printed twice (fake bold)
            if kept and c["x0"] - kept[-1]["x1"] > 0.2 * c["size"] and " " not in (c["text"], kept[-1]["text"]):
                text += " "
            text += c["text"]
            kept.append(c)
        if simplified:
            text = text.translate(_SC_RADICALS)
        text = clean(text).replace("\n", " ").strip()
        inked = [c for c in kept if c["text"].strip()]
        if not text or not inked:
            continue
        word = _first_word(text)
        word_end = inked[min(len(word), len(inked)) - 1]["x1"] if word else inked[0]["x1"]
        lines.append(_Line(
            text=text, x0=inked[0]["x0"], x1=inked[-1]["x1"], top=min(c["top"] for c in inked),
            bottom=max(c["bottom"] for c in inked), size=statistics.median(c["size"] for c in inked),
            bold=sum("bold" in c["fontname"].lower() for c in inked) > len(inked) / 2, page=number,
            word=word_end - inked[0]["x0"],
        ))
    return lines


def _first_word(text: str) -> str:
    """What a line break may not split at the start of a line: opening marks, a Latin word or one character, and
    the marks after it that may not start a line."""
    i = len(text) - len(text.lstrip(NO_LINE_END))
    j = i + 1
    if text[i : i + 1].isascii():
        while j < len(text) and text[j].isascii() and not text[j].isspace():
            j += 1
    while j < len(text) and text[j] in NO_LINE_START:
        j += 1
    return text[:j].replace(" ", "")


def _drop_furniture(pages: list[list[_Line]], body_size: float) -> list[_Line]:
    """The lines of all pages without page numbers, running headers and footers: among the first and last two
    lines of each page, those that are page numbers, that repeat (digits aside) at the same height on half the
    pages or more, or that are set small in the top or bottom tenth of the page."""
    edges = [{id(ln) for ln in page[:2] + page[-2:]} for page in pages]
    heights = [max((ln.bottom for ln in page), default=1.0) for page in pages]
    places = Counter((furniture_key(ln.text), round(ln.top / 4)) for page, edge in zip(pages, edges)
                     for ln in page if id(ln) in edge)
    repeated = {key for key, count in places.items() if count >= max(2, len(pages) / 2)}
    out = []
    for page, edge, height in zip(pages, edges, heights):
        for ln in page:
            at_edge = id(ln) in edge
            small = ln.size < 0.85 * body_size and (ln.top < 0.1 * height or ln.bottom > 0.9 * height)
            sentence = ln.text[-1] in ENDINGS or is_salutation(ln.text)
            if at_edge and (is_page_number(ln.text) or small or not sentence and
                            (furniture_key(ln.text), round(ln.top / 4)) in repeated):
                continue
            out.append(ln)
    return out


def _centered(ln: _Line, left: float, right: float, size: float) -> bool:
    """Set in the middle: further in than a first-line indent, its middle near the text's (the right margin is
    known to an em or so)."""
    return ln.x0 - left >= 3 * size and abs((ln.x0 + ln.x1) - (left + right)) / 2 < 2 * size


def _top(lines: list[_Line], left: float, right: float, size: float) -> tuple[header.Header, list[_Line]]:
    """Title, date and speaker from the centered or larger lines at the top of the first page; the lines after."""
    above = []
    for ln in lines:
        if ln.page != lines[0].page or not (_centered(ln, left, right, size) or ln.size > 1.1 * size):
            break
        if above and ln.size == above[-1][-1].size and ln.size > 1.1 * size:
            above[-1].append(ln)  # a large title wrapped over lines
        else:
            above.append([ln])
    found = header.find([join_lines([ln.text for ln in group]) for group in above])
    if not (found.title or found.date):
        return header.Header(), lines
    used = sum(len(group) for group in above[: found.body_start])
    return found, lines[used:]


def _paragraphs(lines: list[_Line], left: float, right: float, size: float) -> tuple[list[str], dict[int, str]]:
    """Join lines into paragraphs. A line opens one if it stands further right than the line before it or than
    the line after it at the margin (a first-line indent, a list), if the line before could have taken its first
    word, if space is left above it, or if it or the line before is centered or set in another size. A heading
    that stands alone (centered, bold or larger, not a sentence) is kept apart, by the paragraph it opens; a
    bullet before a list item is dropped."""
    steps = [b.top - a.top for a, b in zip(lines, lines[1:]) if a.page == b.page and b.top > a.top]
    pitch = statistics.median(steps) if steps else 2 * size  # from one line to the next within a paragraph
    groups: list[list[_Line]] = []
    for i, ln in enumerate(lines):
        prev, nxt = lines[i - 1] if i else None, lines[i + 1] if i + 1 < len(lines) else None
        first_line = nxt is not None and ln.x0 - nxt.x0 >= 0.5 * size and abs(nxt.x0 - left) < 0.3 * size
        opens = prev is None or ln.x0 - prev.x0 >= 0.5 * size or first_line \
            or right - prev.x1 > ln.word + 0.3 * size or abs(ln.size - prev.size) > 0.1 * size \
            or _centered(ln, left, right, size) or _centered(prev, left, right, size) \
            or ln.page == prev.page and ln.top - prev.top > pitch + 0.4 * size
        if opens:
            groups.append([])
        groups[-1].append(ln)
    is_spaced = spaced(ln.text for ln in lines)
    texts: list[str] = []
    headings: dict[int, str] = {}
    for k, group in enumerate(groups):
        text = _BULLET.sub("", join_lines([ln.text for ln in group], is_spaced))
        first = group[0]
        standalone = len(group) == 1 and text[-1] not in TERMINAL and k + 1 < len(groups)
        if standalone and (first.bold or first.size > 1.1 * size or _centered(first, left, right, size)):
            headings[len(texts)] = text
        elif text:
            texts.append(text)
    return texts, headings
