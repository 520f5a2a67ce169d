"""Lay a document out as PDF text extraction leaves it, at any width: hard wraps, lost indents, page furniture."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

# Marks a line may not start with (they hang past the margin), and marks a line may not end with (they go down
# with the character they open). Half-width words and numbers are never broken.
NO_LINE_START = "。！？!?…”’」』）)》〉，、；：,.;:·"
NO_LINE_END = "“‘「『（(《〈"
_TOKEN = re.compile(r"[!-~]+| |.", re.DOTALL)


@dataclass(frozen=True)
class Pages:
    """How the text is cut into pages, and what each page prints besides the text.

    ``number`` is a format such as ``"— {n} —"`` or ``"{n}/{total}"`` (None: no page numbers), printed at the
    ``bottom`` or the top; ``header`` is a running header printed at the top of every page (from page 2 on unless
    ``header_first``); the break is a form feed or a run of blank lines.
    """

    lines: int
    number: str | None = None
    bottom: bool = True
    header: str | None = None
    header_first: bool = False
    form_feed: bool = True


def width(text: str, space: float = 0.5) -> float:
    """Width in em: CJK and full-width marks 1, everything else (Latin, digits) 1/2, a space ``space``."""
    return sum(space if ch == " " else _char(ch) for ch in text)


@lru_cache(maxsize=None)
def _char(ch: str) -> float:
    return 1.0 if unicodedata.east_asian_width(ch) in "WFA" else 0.5


def tokens(text: str) -> list[str]:
    """What a line break may not split: a run of half-width letters, digits and signs, or one character; an opening
    mark sticks to what follows it."""
    out: list[str] = []
    glue = ""
    for tok in _TOKEN.findall(text):
        if tok in NO_LINE_END:
            glue += tok
        else:
            out.append(glue + tok)
            glue = ""
    return out + ([glue] if glue else [])


def wrap(text: str, size: float, indent: float = 2, hang: bool = True, space: float = 0.5) -> list[str]:
    """Break a paragraph into lines of ``size`` em; the first is ``indent`` em shorter (its indent is lost in
    extraction). A mark that may not start a line hangs past the margin (one at most; without ``hang``, none):
    else the word before it goes down with it. Spaces are ``space`` em wide and dropped at a break."""
    lines: list[str] = []
    line: list[str] = []
    used, room = 0.0, size - indent

    def start(down: list[str]) -> None:  # a new line, starting with what goes down
        nonlocal line, used, room
        if line:
            lines.append("".join(line).rstrip())
        line, used, room = down, sum(width(t, space) for t in down), size

    for tok in tokens(text):
        w = width(tok, space)
        if tok == " " and not line:
            continue
        if not line or used + w <= room:
            line.append(tok)
            used += w
        elif tok == " ":
            start([])
        elif tok[0] not in NO_LINE_START:
            start([tok])
        elif hang and used <= room:
            line.append(tok)  # hangs past the margin
            used += w
        else:
            k = max((i for i, t in enumerate(line) if t[0] not in NO_LINE_START), default=0)
            down = [*line[k:], tok]
            line = line[:k]
            start(down)
    if line:
        lines.append("".join(line).rstrip())
    return [ln for ln in lines if ln]


def relayout(title: str, date: str, speaker: str, paragraphs: Sequence[str], size: float, indent: float = 2,
             pages: Pages | None = None, hang: bool = True, space: float = 0.5,
             date_style: str = "（{y} 年 {m} 月 {d} 日）") -> str:
    """A whole document as extracted text: the title (wrapped at ``size``), the date and speaker, then the body
    (see :func:`wrap`); every line is followed by a blank line, as PDF extraction leaves them."""
    y, m, d = (int(part) for part in date.split("-"))
    head = [*wrap(title, size, 0, hang, space), date_style.format(y=y, m=m, d=d), speaker]
    lines = [*head, *body_lines(paragraphs, size, indent, hang, space)]
    if pages is None:
        return "".join(f"{line}\n\n" for line in lines)
    cut = [lines[i : i + pages.lines] for i in range(0, len(lines), pages.lines)]
    out = []
    for n, page in enumerate(cut, start=1):
        top, bottom = [], []
        if pages.header and (n > 1 or pages.header_first):
            top.append(pages.header)
        if pages.number:
            (bottom if pages.bottom else top).append(pages.number.format(n=n, total=len(cut)))
        out.append("".join(f"{line}\n\n" for line in [*top, *page, *bottom]))
    return ("\f" if pages.form_feed else "\n\n").join(out)


def body_lines(paragraphs: Sequence[str], size: float, indent: float = 2, hang: bool = True,
               space: float = 0.5) -> list[str]:
    """The lines of all paragraphs, wrapped as :func:`wrap` does."""
    return [line for p in paragraphs for line in wrap(p, size, indent, hang, space)]
