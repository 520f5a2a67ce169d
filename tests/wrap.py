"""Lay a document out the way the PDF extraction did: hard wraps, lost indents, blank lines, page breaks."""

from __future__ import annotations

from qa.source import CLOSING, TERMINAL, em_width
from qa.types import Document

# Marks a line may not start with; typesetting hangs them at the end of the previous line.
NO_LINE_START = TERMINAL + CLOSING + "，、；：,.;:·"


def wrap_paragraph(text: str, width: int, indent: int) -> list[str]:
    """Break ``text`` into lines of ``width`` em; the first line is ``indent`` em shorter (its indent lost)."""
    lines, line = [], ""
    capacity = width - indent
    for ch in text:
        if em_width(line + ch) > capacity and line and ch not in NO_LINE_START:
            lines.append(line.strip())
            line, capacity = "", width
        line += ch
    if line.strip():
        lines.append(line.strip())
    return lines


def layout(document: Document, width: int, indent: int = 2, page_lines: int = 17) -> str:
    """The whole speech as PDF-extracted text at another width."""
    out = [document.title, "", f"（{document.date[:4]} 年 {int(document.date[5:7])} 月 {int(document.date[8:])} 日）",
           "", document.speaker, ""]
    count = 0
    for p in document.paragraphs:
        for line in wrap_paragraph(p.text, width, indent):
            out += [line, ""]
            count += 1
            if count % page_lines == 0:
                out += ["", "", ""]
    return "\n".join(out) + "\n"
