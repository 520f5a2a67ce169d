"""How wide a line of mixed Chinese and Latin text prints, and how the lines of one paragraph join again."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache

from qa.ingest.structure import CLOSING, TERMINAL

# Marks a line may not start with: typesetting hangs them past the margin (or takes a character down with them).
NO_LINE_START = TERMINAL + CLOSING + "，、；：,.;:·"
# Marks a line may not end with: they go down to the next line with the character they open.
NO_LINE_END = "“‘「『（(《〈"
# How a paragraph ends: a sentence, a closing mark, or a colon that leads into what follows.
ENDINGS = TERMINAL + CLOSING + "：:"
_IDEOGRAPH = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TIGHT = re.compile(rf"[{_IDEOGRAPH}][0-9A-Za-z]|[0-9A-Za-z%][{_IDEOGRAPH}]")
_SPACED = re.compile(rf"[{_IDEOGRAPH}] [0-9A-Za-z]|[0-9A-Za-z%] [{_IDEOGRAPH}]")
_ASCII, _LETTERS = re.compile(r"[\x00-\x7f]"), re.compile(r"[A-Za-z]")
FIRST_TOKEN = re.compile(rf"[{re.escape(NO_LINE_END)}]*(?:[!-~]+|.)")


def em_width(line: str) -> float:
    """Width of a line in em.

    Args:
        line: Any text.

    Returns:
        The width: 1 for each CJK character or full-width mark, 1/2 for Latin letters, digits and spaces.
    """
    return sum(map(char_width, line))


@lru_cache(maxsize=8192)
def char_width(ch: str) -> float:
    return 1.0 if unicodedata.east_asian_width(ch) in "WFA" else 0.5


def latin(ch: str) -> bool:
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
            seam = latin(a) and latin(b) or spaced and bool(_TIGHT.fullmatch(a + b))
            out += " " if seam else ""
        out += part
    return out
