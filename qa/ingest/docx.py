"""Word files (.docx): title and parts from paragraph styles, paragraphs, list items and table rows (python-docx)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import docx
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph

from qa.errors import SourceError
from qa.ingest import Laid, header
from qa.ingest.clean import clean
from qa.ingest.layout import em_width, join_lines, spaced
from qa.ingest.structure import TERMINAL

# The signature of an OLE compound file: a password-protected .docx, or an old .doc.
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class _Block:
    text: str
    style: str = ""
    heading: int = 0  # heading level (1 for Heading 1), 0 if not a heading
    centered: bool = False
    bold: bool = False


def lay(raw: bytes, path: Path) -> Laid:
    """Read a .docx file.

    The title is the paragraph in the Title style (else a first paragraph that is short, not a sentence, and
    centered, bold or in Heading 1); a date line under it gives the date and speaker as in plain text.
    Headings (Heading 1, 2, … styles) of the top level used after the title open parts; deeper headings,
    paragraphs and list items are paragraphs; each table row is one paragraph, its cells joined by a space.
    Empty paragraphs are skipped; page headers and footers are not part of the body and are not read.

    Args:
        raw: The file's bytes.
        path: The file, for messages.

    Returns:
        Paragraph texts, part headings by the paragraph they open, and the title, date and speaker found.

    Raises:
        SourceError: The file is password-protected, an old .doc, or not a readable .docx.
    """
    if raw.startswith(_OLE):
        raise SourceError(f"{path.name} is password-protected or an old Word (.doc) file: "
                          "save it as .docx without a password and add that.")
    try:
        document = docx.Document(io.BytesIO(raw))
        blocks = [b for item in document.iter_inner_content() for b in _blocks(item)]
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise SourceError(f"{path.name} is not a readable .docx (damaged, or another kind of file renamed): "
                          "open it in Word or LibreOffice and save it as .docx again.") from exc
    title_at = _title(blocks)
    rest = blocks[title_at + 1 :] if title_at is not None else blocks
    lead = []
    for block in rest[:4]:
        if block.heading:
            break
        lead.append(block.text)
    top, used = header.under(blocks[title_at].text if title_at is not None else None, lead)
    rest = rest[used:]
    part_level = min((b.heading for b in rest if b.heading), default=0)
    texts: list[str] = []
    parts: dict[int, str] = {}
    for block in rest:
        if block.heading and block.heading == part_level:
            parts[len(texts)] = block.text
        else:
            texts.append(block.text)
    return Laid(texts=texts, headings={i: h for i, h in parts.items() if i < len(texts)}, title=top.title,
                date=top.date, speaker=top.speaker)


def _title(blocks: list[_Block]) -> int | None:
    """Where the title is: the Title style among the first blocks, or a first block that looks like a title."""
    for i, block in enumerate(blocks[:3]):
        if block.style.lower() in ("title", "标题"):
            return i
    if blocks:
        first = blocks[0]
        looks = em_width(first.text) <= 40 and first.text[-1] not in TERMINAL
        if looks and (first.centered or first.bold or first.heading == 1):
            return 0
    return None


def _blocks(item: Paragraph | Table) -> list[_Block]:
    """A paragraph as a block (none if empty), or a table as a block for each row."""
    if isinstance(item, Table):
        out = []
        for row in item.rows:
            cells, seen = [], set()
            for cell in row.cells:
                if id(cell._tc) not in seen:  # a merged cell is listed once for each grid column it spans
                    seen.add(id(cell._tc))
                    cells.append(_text(cell.text))
            if any(cells):
                out.append(_Block(" ".join(c for c in cells if c)))
        return out
    text = _text(item.text)
    if not text:
        return []
    style = item.style.name if item.style is not None else ""
    level = 0
    if style.lower().startswith(("heading", "标题 ")):
        digits = "".join(ch for ch in style if ch.isdigit())
        level = int(digits) if digits else 1
    alignment = item.paragraph_format.alignment
    if alignment is None and item.style is not None:
        alignment = item.style.paragraph_format.alignment
    runs = [r for r in item.runs if r.text.strip()]
    style_bold = bool(item.style is not None and item.style.font.bold)
    bold = bool(runs) and all(r.bold or (r.bold is None and style_bold) for r in runs)
    return [_Block(text, style, level, alignment == WD_ALIGN_PARAGRAPH.CENTER, bold)]


def _text(raw: str) -> str:
    """A paragraph's text, cleaned; line breaks inside it joined as in wrapped text."""
    parts = [part.strip() for part in clean(raw).split("\n") if part.strip()]
    return join_lines(parts, spaced(parts))
