"""Markdown files: title and parts from headings, paragraphs and list items as plain text (markdown-it-py)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token

from qa.ingest import Laid, header
from qa.ingest.layout import join_lines, spaced

# Front matter: a block of "key: value" lines between two --- lines at the very top.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FIELD = re.compile(r"^\s*(title|date|author|speaker)\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
# Inline tokens whose text is kept; markup, images and HTML tags are dropped.
_TEXT = {"text", "code_inline"}
_BREAKS = {"softbreak", "hardbreak"}


@dataclass(frozen=True)
class _Block:
    text: str
    level: int = 0  # heading level, 0 for text


def lay(text: str) -> Laid:
    """Read a Markdown document.

    The title is the first level-1 heading (else the first heading); a date line under it (``2022年9月3日 ·
    李晓梅``) gives the date and speaker, as in plain text. Headings one level below the title (the top level of
    the rest) open parts; deeper headings, paragraphs, list items, quotes and table rows (cells joined by a
    space) are paragraphs, their markup removed: emphasis and links keep their text, code spans their code,
    images and HTML tags go. Code blocks and HTML blocks are left out. Simple front matter (``title:``,
    ``date:``, ``author:`` or ``speaker:`` between ``---`` lines) is read too.

    Args:
        text: The document, cleaned (see :func:`qa.ingest.clean.clean`).

    Returns:
        Paragraph texts, part headings by the paragraph they open, and the title, date and speaker found.
    """
    meta: dict[str, str] = {}
    front = _FRONT_MATTER.match(text)
    if front:
        meta = {key.lower(): value.strip("\"'") for key, value in _FIELD.findall(front[1])}
        text = text[front.end() :]
    blocks = _blocks(MarkdownIt("commonmark").enable("table").parse(text))
    headings = [i for i, b in enumerate(blocks) if b.level]
    title_at = next((i for i in headings if blocks[i].level == 1), headings[0] if headings else None)
    title = blocks[title_at].text if title_at is not None else None
    before = [_Block(b.text) for b in blocks[:title_at]] if title_at is not None else []  # kept, as paragraphs
    rest = blocks[title_at + 1 :] if title_at is not None else blocks
    lead = [b.text for b in rest[:4]]
    lead = lead[: next((k for k, b in enumerate(rest[:4]) if b.level), len(lead))]
    top, used = header.under(title, lead)
    rest = before + rest[used:]
    part_level = min((b.level for b in rest if b.level), default=0)
    texts: list[str] = []
    parts: dict[int, str] = {}
    for block in rest:
        if block.level == part_level and block.level:
            parts[len(texts)] = block.text
        else:
            texts.append(block.text)
    date = header.iso_date(meta["date"]) if "date" in meta else None
    return Laid(texts=texts, headings={i: h for i, h in parts.items() if i < len(texts)},
                title=meta.get("title") or top.title, date=date or top.date,
                speaker=meta.get("speaker") or meta.get("author") or top.speaker)


def _blocks(tokens: list[Token]) -> list[_Block]:
    """Headings and text blocks in reading order, as plain text; a table row is one block."""
    out: list[_Block] = []
    level = 0
    row: list[str] | None = None  # the cells of the table row being read
    for token in tokens:
        if token.type == "heading_open":
            level = int(token.tag[1:])
        elif token.type == "heading_close":
            level = 0
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close":
            if row:
                out.append(_Block(" ".join(row)))
            row = None
        elif token.type == "inline":
            text = _plain(token.children or [])
            if row is not None:
                row += [text] if text else []
            elif text:
                out.append(_Block(text, level))
    return out


def _plain(children: list[Token]) -> str:
    """An inline token's text without its markup; line breaks inside a paragraph joined as in wrapped text."""
    lines = [""]
    for child in children:
        if child.type in _BREAKS:
            lines.append("")
        elif child.type in _TEXT:
            lines[-1] += child.content
    parts = [line.strip() for line in lines if line.strip()]
    return join_lines(parts, spaced(parts))
