"""Text as extracted from files, made safe to read: line ends, invisible characters, look-alike radicals."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

RADICALS = Path(__file__).resolve().parent.parent / "data" / "radicals.txt"
_RANGE = re.compile(r"^([0-9A-F]{4,6})(?:\.\.([0-9A-F]{4,6}))?\s*;\s*([0-9A-F]{4,6})")


@lru_cache(maxsize=1)
def lookalikes() -> dict[int, str]:
    """Code points that CJK fonts put in extracted text for ordinary ideographs, mapped back to them.

    The Kangxi Radicals (⼈ U+2F08 for 人) and CJK Compatibility Ideographs fold by NFKC; the CJK
    Radicals Supplement (⻘ U+2ED8 for 青) does not, and comes from Unicode's EquivalentUnifiedIdeograph.txt.
    """
    table: dict[int, str] = {}
    for cp in [*range(0x2F00, 0x2FE0), *range(0xF900, 0xFB00)]:
        folded = unicodedata.normalize("NFKC", chr(cp))
        if folded != chr(cp) and len(folded) == 1:
            table[cp] = folded
    for line in RADICALS.read_text(encoding="utf-8").splitlines():
        m = _RANGE.match(line)
        if m:
            first, last = int(m[1], 16), int(m[2] or m[1], 16)
            for cp in range(first, last + 1):
                table[cp] = chr(int(m[3], 16))
    return table


def fold_lookalikes(text: str) -> str:
    """Replace radicals and compatibility ideographs by the unified ideographs they look like (人, 月, 青)."""
    return text.translate(lookalikes())


def clean(text: str) -> str:
    """Extracted text ready for layout analysis: one kind of line end, page breaks (form feeds) on lines of their
    own, no BOM or invisible format or control characters (tabs become spaces), soft hyphens gone, look-alike
    radicals folded, nothing else changed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = text.replace("\f", "\n\f\n")  # a page break stays, on a line of its own, for the layout analysis
    out = []
    for ch in text:
        if ch in "\n\f":
            out.append(ch)
        elif ch == "\t":
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co"):
            continue
        else:
            out.append(ch)
    return fold_lookalikes("".join(out))
