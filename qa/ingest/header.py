"""A document's title, date and speaker, found in the lines above its body (page headers passed over)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.ingest.layout import PAGE_BREAK, em_width, furniture_key, is_page_number, join_lines, spaced
from qa.ingest.structure import PUNCT

# 2020年11月24日, （2020 年 11 月 24 日）, 2020-11-24, 2020.11.24, 2020/11/24, optionally followed by "· name".
DATE = re.compile(r"[（(]?\s*(\d{4})\s*(?:年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日|[-./](\d{1,2})[-./](\d{1,2}))\s*[)）]?")
_DATE_LINE = re.compile(rf"^{DATE.pattern}\s*(?:[·•|/,，、]\s*(?P<who>.+))?$")
_LABELLED = re.compile(r"^(?:日期|时间|date)\s*[:：]\s*", re.IGNORECASE)
# How many non-blank lines at the top may belong to the header (a title wrapped over lines, a page header).
_TOP = 8


@dataclass(frozen=True)
class Header:
    """What the top of a document says about it, and where its body starts (index into the lines)."""

    title: str | None = None
    date: str | None = None
    speaker: str | None = None
    body_start: int = 0


def iso_date(text: str) -> str | None:
    """A date written in one of the usual ways as YYYY-MM-DD, or None.

    Args:
        text: A date such as 2020年11月24日, （2020 年 11 月 24 日）, 2020-11-24 or 2020.11.24.

    Returns:
        The date as YYYY-MM-DD, or None if ``text`` is not a date (or not a possible one).
    """
    m = DATE.fullmatch(text.strip())
    return _iso(m) if m else None


def _iso(m: re.Match[str]) -> str | None:
    year, month, day = int(m[1]), int(m[2] or m[4]), int(m[3] or m[5])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def date_line(line: str) -> tuple[str, str | None] | None:
    """Read a date line, such as ``（2020 年 11 月 24 日）``, ``日期：2020-11-24`` or ``2022年9月3日 · 李晓梅``.

    Args:
        line: A line of text.

    Returns:
        The ISO date and the name after it (or None), or None if the line is not a date line.
    """
    m = _DATE_LINE.match(_LABELLED.sub("", line.strip()))
    date = _iso(m) if m else None
    if date is None:
        return None
    who = (m["who"] or "").strip()
    return date, (who if who and looks_like_name(who) else None)


def looks_like_name(line: str) -> bool:
    """Tell whether a line could be a speaker's name under a title.

    Args:
        line: A line of text.

    Returns:
        True for a short line (10 characters at most) without punctuation.
    """
    return 0 < len(line.replace(" ", "")) <= 10 and not any(ch in PUNCT for ch in line)


def _last_places(lines: list[str]) -> dict[str, int]:
    """Where each line last stands, by its furniture key (a running header stands again further down)."""
    return {furniture_key(line): i for i, line in enumerate(lines) if line.strip()}


def _furniture(lines: list[str], i: int, nxt: int, last: dict[str, int]) -> bool:
    """Whether top line ``i`` is a page header rather than the title: a page number, a line repeated right
    below it, or a running header above another line that may be the title."""
    line, below = lines[i].strip(), lines[nxt].strip()
    if is_page_number(line) or furniture_key(line) == furniture_key(below):
        return True
    if date_line(below) is not None or below[-1] in PUNCT or em_width(below) > 40:
        return False
    return last[furniture_key(line)] > i


def find(lines: list[str]) -> Header:
    """Find the title, ISO date and speaker at the top of stripped lines.

    The title is every line above the date (a title wrapped over lines, or a title and a subtitle); the
    speaker is a short name line right below or above the date, or a name after the date on its line
    (``2022年9月3日 · 李晓梅``). Without a date, a first line that does not end like a sentence and is
    followed by more text is the title. Page numbers and running headers among these lines are passed over.

    Args:
        lines: The document's lines, top to bottom, stripped (page breaks as ``PAGE_BREAK`` lines).

    Returns:
        What was found, and the index of the first line of the body.
    """
    nonblank = [i for i, line in enumerate(lines) if line.strip() and line != PAGE_BREAK][:_TOP]
    last = _last_places(lines)
    while len(nonblank) > 1 and _furniture(lines, nonblank[0], nonblank[1], last):
        nonblank = nonblank[1:]
    if not nonblank:
        return Header()
    found = _dated(lines, [i for i in nonblank if not is_page_number(lines[i])], last)
    if found is not None:
        return found
    first = lines[nonblank[0]].strip()
    if len(nonblank) > 1 and first[-1] not in PUNCT and em_width(first) <= 40:
        return Header(title=first, body_start=nonblank[0] + 1)
    return Header()


def _dated(lines: list[str], top: list[int], last: dict[str, int]) -> Header | None:
    """The header of lines ``top`` if one of them is a date; running headers are left out of the title unless
    the title is all there is above the date."""
    k = next((k for k, i in enumerate(top) if date_line(lines[i]) is not None), None)
    if k is None:
        return None
    date, speaker = date_line(lines[top[k]])
    end = meta = top[k]
    # The speaker's line is the one right below the date (a line that stands again further down is a header).
    after = [i for i in top[k + 1 : k + 2] if last[furniture_key(lines[i])] == i]
    before = [i for i in top[:k] if last[furniture_key(lines[i])] == i] or top[k - 1 : k]
    if speaker is None:
        for j in (after[0] if after else None, before[-1] if len(before) > 1 else None):
            if j is not None and looks_like_name(lines[j].strip()):
                speaker = lines[j].strip()
                end, meta = max(end, j), min(meta, j)
                break
    above = [lines[i].strip() for i in before if i < meta]
    title = join_lines(above, spaced(above)) if above else None
    return Header(title=title, date=date, speaker=speaker, body_start=end + 1)


def under(title: str | None, lines: list[str]) -> tuple[Header, int]:
    """Title, date and speaker when the title is known from the layout (a heading, a Title style) and ``lines``
    are the text blocks right under it; also how many of ``lines`` that used. Without a title, a header is
    taken from ``lines`` only if they hold a date.

    Args:
        title: The title as the layout shows it, or None.
        lines: The first text blocks after the title, in order.

    Returns:
        The header, and the number of leading ``lines`` it took up.
    """
    if title is None:
        found = find(lines)
        return (found, found.body_start) if found.date else (Header(), 0)
    found = find([title, *lines])
    if found.date is None:
        return Header(title=title), 0
    return Header(title=found.title, date=found.date, speaker=found.speaker), found.body_start - 1
