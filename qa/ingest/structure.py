"""A document's inner structure: numbered parts, salutations, sentences and clauses."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.types import CLAUSE, SENTENCE, Chunk, Paragraph, Section

# Sentence-final marks, and the closing marks that stay with the sentence before them.
TERMINAL = "。！？!?…"
CLOSING = "”’」』）)》〉"
# Marks that typesetting lets hang past the right margin, or that end a line early.
PUNCT = TERMINAL + CLOSING + "，、；：,.;:“‘「『（(《〈·—"

NUMERAL = "零一二三四五六七八九十"
# Part headings as speeches and reports number them: run-in 第一，…… and 一、…… (or a heading of their own).
ORDINAL_HEADING = re.compile(rf"^第([{NUMERAL}]{{1,3}})[，、,：:]\s*")
LIST_HEADING = re.compile(rf"^([{NUMERAL}]{{1,3}})[、．.]\s*")
# A heading of its own numbered in digits: 1. 基本情况, 2、主要做法.
_DIGIT_HEADING = re.compile(r"^(\d{1,2})[、．.]\s*")
# Either style, for telling a heading sentence from the rest.
PART_HEADING = re.compile(rf"^(?:第[{NUMERAL}]{{1,3}}[，、,：:]|[{NUMERAL}]{{1,3}}[、．.])\s*")
# A year written in digits (1950, 2021).
YEAR = re.compile(r"(?<!\d)(1[6-9]\d\d|20\d\d)(?!\d)")
_SENTENCE = re.compile(rf"[^{TERMINAL}]*(?:[{TERMINAL}]+[{CLOSING}]*|$)")
_CLAUSE = re.compile(r"[^，；：、,;:]*(?:[，；：、,;:]+|$)")


def is_salutation(text: str) -> bool:
    """A short address to the audience, such as 同志们！ or 各位来宾："""
    text = text.strip()
    return 0 < len(text) <= 12 and text[-1] in "！：!:" and not any(ch in PUNCT for ch in text[:-1].replace("、", ""))


def chinese_numeral(text: str) -> int:
    """Value of a Chinese numeral from 一 to 九十九.

    Raises:
        ValueError: Not such a numeral.
    """
    if not text or any(ch not in NUMERAL for ch in text):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    digits = [NUMERAL.index(ch) for ch in text]
    if 10 in digits:
        i = digits.index(10)
        tens = digits[i - 1] if i else 1
        ones = digits[i + 1] if i + 1 < len(digits) else 0
        return tens * 10 + ones
    return int("".join(map(str, digits)))


def part_label(number: int) -> str:
    """第一部分, 第十二部分: how a reader names part ``number``."""
    return f"第{to_chinese_numeral(number)}部分"


def to_chinese_numeral(number: int) -> str:
    """一 … 九十九."""
    if not 0 < number < 100:
        return str(number)
    tens, ones = divmod(number, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else NUMERAL[tens] + "十")
    return head + (NUMERAL[ones] if ones else "")


def heading_of(text: str, pattern: re.Pattern[str]) -> tuple[int, str] | None:
    """The part number and heading of a paragraph that opens a part with ``pattern``, else None.

    The heading is the first sentence after the numeral, without its final mark.
    """
    m = pattern.match(text)
    if not m:
        return None
    rest = text[m.end() :]
    heading = _SENTENCE.match(rest)[0].rstrip(TERMINAL + CLOSING + "：:") if rest else ""
    return chinese_numeral(m[1]), heading


def _numbered_run(texts: Sequence[str], pattern: re.Pattern[str]) -> list[int]:
    """Indices of the paragraphs numbered 1, 2, 3 … in order with ``pattern`` (a sequence must start at 1)."""
    found, expected = [], 1
    for i, text in enumerate(texts):
        opened = heading_of(text, pattern)
        if opened and opened[0] == expected:
            found.append(i)
            expected += 1
    return found if len(found) >= 2 else []


def sections(texts: Sequence[str], headings: dict[int, str] | None = None) -> tuple[Paragraph, ...]:
    """Number the paragraphs and give each the numbered part it belongs to.

    Parts are opened by 一、 headings if the text numbers at least two that way from 一, else by 第一，
    headings; a salutation (同志们！) closes the part before it. ``headings`` gives parts found by layout
    instead (a heading line of its own, a Markdown heading): index of the part's first paragraph -> heading.

    Args:
        texts: Paragraph texts in order.
        headings: Part headings that are not run into their paragraph, by the index of the paragraph they open.
    """
    opens: dict[int, Section] = {}
    if headings:
        for number, (index, heading) in enumerate(sorted(headings.items()), start=1):
            m = LIST_HEADING.match(heading) or ORDINAL_HEADING.match(heading)
            digits = _DIGIT_HEADING.match(heading)
            if m:
                number, heading = chinese_numeral(m[1]), heading[m.end() :]
            elif digits:
                number, heading = int(digits[1]), heading[digits.end() :]
            opens[index] = Section(number=number, label=part_label(number), heading=heading.strip())
    else:
        for pattern in (LIST_HEADING, ORDINAL_HEADING):
            run = _numbered_run(texts, pattern)
            if run:
                for i in run:
                    number, heading = heading_of(texts[i], pattern)
                    opens[i] = Section(number=number, label=part_label(number), heading=heading)
                break
    paragraphs = []
    section: Section | None = None
    for i, text in enumerate(texts):
        if i in opens:
            section = opens[i]
        elif is_salutation(text) and not headings:
            section = None
        paragraphs.append(Paragraph(n=i + 1, text=text, section=section))
    return tuple(paragraphs)


def sentences(paragraph: Paragraph, doc: str = "") -> list[Chunk]:
    """Split a paragraph into sentences with their offsets; closing quotes stay with their sentence."""
    out = []
    for m in _SENTENCE.finditer(paragraph.text):
        start, end = m.span()
        while start < end and paragraph.text[start].isspace():
            start += 1
        while end > start and paragraph.text[end - 1].isspace():
            end -= 1
        if start < end:
            out.append(Chunk(doc, paragraph.n, start, end, SENTENCE, paragraph.text[start:end]))
    return out


def clauses(sentence: Chunk) -> list[Chunk]:
    """Split a sentence at commas, semicolons, colons and enumeration commas; offsets stay in the paragraph."""
    out = []
    for m in _CLAUSE.finditer(sentence.text):
        start, end = m.span()
        if sentence.text[start:end].strip():
            out.append(Chunk(sentence.doc, sentence.paragraph, sentence.start + start, sentence.start + end, CLAUSE,
                             sentence.text[start:end]))
    return out
