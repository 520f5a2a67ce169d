"""Read a speech's text and rebuild its metadata, paragraphs, parts and sentences."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from qa.errors import SourceError
from qa.types import Document, Paragraph, Passage, Section

# Sentence-final marks, and the closing marks that stay with the sentence before them.
TERMINAL = "。！？!?…"
CLOSING = "”’」』）)》〉"
# Marks that typesetting lets hang past the right margin, or that end a line early.
PUNCT = TERMINAL + CLOSING + "，、；：,.;:“‘「『（(《〈·—"

_DATE = re.compile(r"^[（(]?\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*[)）]?$")
_NUMERAL = "零一二三四五六七八九十"
PART_HEADING = re.compile(rf"^第([{_NUMERAL}]{{1,3}})[，、,]\s*")
_SENTENCE = re.compile(rf"[^{TERMINAL}]*(?:[{TERMINAL}]+[{CLOSING}]*|$)")
_CLAUSE = re.compile(r"[^，；：、,;:]*(?:[，；：、,;:]+|$)")


@dataclass(frozen=True)
class Layout:
    """What was inferred about how the text was wrapped (widths in em)."""

    wrapped: bool
    width: float = 0.0
    indent: float = 0.0


def load(path: str | Path) -> Document:
    """Read a speech file and rebuild its document.

    Args:
        path: A UTF-8 text file.

    Returns:
        The document with its metadata and numbered paragraphs.

    Raises:
        SourceError: The file is missing, unreadable, not UTF-8, or holds no text.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"Cannot read the speech at {path}: {exc.strerror}. Pass --source FILE.") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path} is not UTF-8 text (byte {exc.start}). Save it as UTF-8.") from exc
    return parse(text)


def parse(text: str) -> Document:
    """Rebuild a document from the text of a speech.

    Hard-wrapped text (one line a block, lines near one width) is re-joined by
    line widths and lost indents; otherwise blank lines separate paragraphs.

    Raises:
        SourceError: There is no paragraph text.
    """
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    title, date, speaker, body_start = _header(lines)
    body = lines[body_start:]
    layout = infer_layout(body)
    texts = _join_wrapped(body, layout) if layout.wrapped else _join_blocks(body)
    if not texts:
        raise SourceError("The speech has no paragraphs: the file is empty or holds only a title.")
    return Document(title=title, date=date, speaker=speaker, paragraphs=_sections(texts))


def em_width(line: str) -> float:
    """Width of a line in em: CJK and full-width marks 1, Latin letters and digits 1/2.

    Spaces beside CJK text are PDF-extraction artifacts and count nothing.
    """
    width = 0.0
    for i, ch in enumerate(line):
        if ch == " ":
            before = line[i - 1] if i else ""
            after = line[i + 1] if i + 1 < len(line) else ""
            width += 0 if _is_wide(before) or _is_wide(after) or not before or not after else 0.5
        else:
            width += 1.0 if _is_wide(ch) else 0.5
    return width


def _is_wide(ch: str) -> bool:
    return bool(ch) and unicodedata.east_asian_width(ch) in "WFA"


def _core_width(line: str) -> float:
    """Width without one hanging mark at the end of the line."""
    return em_width(line[:-1]) if line and line[-1] in PUNCT else em_width(line)


def infer_layout(lines: list[str]) -> Layout:
    """Tell whether lines were hard-wrapped, and at which width and indent.

    The wrap width is the most common width among the longer half of the
    lines; the indent is how much narrower the typical first line after a
    short (paragraph-ending) line is.
    """
    blocks = _blocks(lines)
    if len(blocks) < 3 or sum(len(b) == 1 for b in blocks) < 0.8 * len(blocks):
        return Layout(wrapped=False)
    widths = [em_width(b[0]) for b in blocks]
    upper = sorted(widths)[len(widths) // 2 :]
    width, count = Counter(round(w * 2) / 2 for w in upper).most_common(1)[0]
    near = sum(abs(w - width) <= 1 for w in widths)
    if width < 8 or count < 3 or near < 0.4 * len(widths):
        return Layout(wrapped=False)
    gaps = Counter()
    for prev, line in zip(widths, blocks[1:]):
        w = _core_width(line[0])
        if prev < width - 3 and width - 4 <= w < width - 0.5:
            gaps[round((width - w) * 2) / 2] += 1
    indent = gaps.most_common(1)[0][0] if gaps else 0.0
    return Layout(wrapped=True, width=width, indent=indent)


def _blocks(lines: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        if line:
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _join(parts: list[str]) -> str:
    out = ""
    for part in parts:
        latin_seam = out and out[-1].isascii() and out[-1].isalnum() and part[0].isascii() and part[0].isalnum()
        out += (" " if latin_seam else "") + part
    return out


def _join_blocks(lines: list[str]) -> list[str]:
    return [_join(block) for block in _blocks(lines)]


def _join_wrapped(lines: list[str], layout: Layout) -> list[str]:
    body = [line for line in lines if line]
    paragraphs: list[str] = []
    current: list[str] = []
    for i, line in enumerate(body):
        first = not current
        current.append(line)
        capacity = layout.width - (layout.indent if first else 0)
        short = em_width(line) < capacity - 1.5
        nxt = body[i + 1] if i + 1 < len(body) else None
        next_is_first = nxt is not None and line.rstrip(CLOSING)[-1:] in TERMINAL and _starts_paragraph(nxt, layout)
        if nxt is None or short or next_is_first:
            paragraphs.append(_join(current))
            current = []
    return paragraphs


def _starts_paragraph(line: str, layout: Layout) -> bool:
    """Whether a line after a sentence end opens a paragraph: it fills the indented first line,
    or it is a salutation. A short line could also end the paragraph before it; one-line
    paragraphs other than salutations are rare in speeches, so it is read as an ending."""
    if layout.indent <= 0:
        return False
    first_line = layout.width - layout.indent
    return first_line - 1.5 <= _core_width(line) <= first_line + 0.25 or is_salutation(line)


def _header(lines: list[str]) -> tuple[str | None, str | None, str | None, int]:
    """Find title, ISO date and speaker at the top; return them and where the body starts."""
    nonblank = [i for i, line in enumerate(lines) if line][:4]
    if not nonblank:
        return None, None, None, 0
    date = speaker = None
    end = meta = nonblank[0]
    for k, i in enumerate(nonblank):
        m = _DATE.match(lines[i])
        if m:
            date = f"{int(m[1]):04d}-{int(m[2]):02d}-{int(m[3]):02d}"
            end = meta = i
            for j in (nonblank[k + 1] if k + 1 < len(nonblank) else None, nonblank[k - 1] if k > 1 else None):
                if j is not None and _looks_like_name(lines[j]):
                    speaker = lines[j]
                    end, meta = max(end, j), min(meta, j)
                    break
            break
    first = lines[nonblank[0]]
    has_title = date is not None or (len(nonblank) > 1 and first[-1] not in PUNCT and em_width(first) <= 40)
    if not has_title:
        return None, None, None, 0
    # Every line above the date and speaker is title: a title wrapped over lines, or a title and its subtitle.
    above = [lines[i] for i in nonblank if i < meta]
    return (_join(above) if above else first), date, speaker, end + 1


def _looks_like_name(line: str) -> bool:
    return 0 < len(line.replace(" ", "")) <= 10 and not any(ch in PUNCT for ch in line)


def is_salutation(text: str) -> bool:
    """A short address to the audience, such as 同志们！ or 各位来宾："""
    return len(text) <= 10 and text[-1] in "！：!:" and not any(ch in PUNCT for ch in text[:-1])


def chinese_numeral(text: str) -> int:
    """Value of a Chinese numeral from 一 to 九十九."""
    digits = [_NUMERAL.index(ch) for ch in text]
    if 10 in digits:
        i = digits.index(10)
        tens = digits[i - 1] if i else 1
        ones = digits[i + 1] if i + 1 < len(digits) else 0
        return tens * 10 + ones
    return int("".join(map(str, digits)))


def _sections(texts: list[str]) -> tuple[Paragraph, ...]:
    """Number the paragraphs and give each the numbered part it belongs to."""
    paragraphs = []
    section: Section | None = None
    for n, text in enumerate(texts, start=1):
        m = PART_HEADING.match(text)
        if m:
            rest = text[m.end() :]
            heading = _SENTENCE.match(rest)[0].rstrip(TERMINAL + CLOSING) if rest else ""
            section = Section(number=chinese_numeral(m[1]), label=f"第{m[1]}部分", heading=heading)
        elif is_salutation(text):
            section = None
        paragraphs.append(Paragraph(n=n, text=text, section=section))
    return tuple(paragraphs)


def sentences(paragraph: Paragraph) -> list[Passage]:
    """Split a paragraph into sentences with their offsets; closing quotes stay with their sentence."""
    out = []
    for m in _SENTENCE.finditer(paragraph.text):
        start, end = m.span()
        while start < end and paragraph.text[start].isspace():
            start += 1
        if start < end:
            out.append(Passage(paragraph=paragraph.n, start=start, end=end, text=paragraph.text[start:end]))
    return out


def clauses(sentence: Passage) -> list[Passage]:
    """Split a sentence at commas, semicolons, colons and enumeration commas; offsets stay in the paragraph."""
    out = []
    for m in _CLAUSE.finditer(sentence.text):
        start, end = m.span()
        if sentence.text[start:end].strip():
            out.append(Passage(paragraph=sentence.paragraph, start=sentence.start + start,
                               end=sentence.start + end, text=sentence.text[start:end]))
    return out
