"""Answers about a document's structure: its parts, opening and ending, what it quotes, which years it names."""

from __future__ import annotations

import re

from qa.compose import cite, context_line, scope_name, to_markdown
from qa.corpus.state import Index
from qa.ingest.structure import YEAR, is_salutation, sentences, to_chinese_numeral
from qa.types import Answer, Chunk, Citation, Document, Query

# A quoted phrase, and what makes one a classical saying rather than a name or a slogan.
QUOTED = re.compile(r"“([^”]{2,60})”")
_CLASSICAL = re.compile(r"[者也之乎矣焉兮哉]|[，。！？]")
_MUSIC = re.compile(r"歌|曲|旋律|唱|奏响")
_LAST_SENTENCE = re.compile(r"最后一句|最后那句|last (?:sentence|line|words)|final (?:sentence|line|words)", re.IGNORECASE)
# How it opens (its very words, the salutation first) rather than what it says at the start (its substance first).
_FIRST_WORDS = re.compile(r"第一句|头一句|第一段|(?:怎么|怎样|如何)(?:开头|开始|开场|起头)|开头(?:是)?怎么说的|first (?:sentence|words|line)"
                          r"|how (?:does|did) (?:it|the speech|he|she|xi|the speaker) (?:open|begin|start)", re.IGNORECASE)
_ASKS_PART = re.compile(r"部分|第几|哪一?块|板块|\b(?:part|section)s?\b", re.IGNORECASE)
_DATES = re.compile(r"(?:\d{4}|[一二三四五六七八九〇零]{4})\s*年|\d+\s*周年|\d+\s*年来|“[一二三四五六七八九十]+五”")


def which(query: Query, found, index: Index) -> Answer | None:
    """Which part a topic is discussed in (哪一部分是谈保障职工利益的？): the part of the best paragraph found,
    its heading and the best sentence; None if that paragraph is in no numbered part."""
    if not found.hits:
        return None
    best = found.hits[0].chunk
    document = index.document(best.doc)
    section = document.paragraph(best.paragraph).section
    en = query.language != "zh"
    name = scope_name(index, frozenset([document.id]), en)
    if section is None:
        lead = (f"This is in paragraph {best.paragraph} of {name}, outside its numbered parts:" if en else
                f"{name}在第{best.paragraph}段谈到这一点（不在编号的各部分里）：")
        return _answer(query, index, lead, [best], "")
    heading = next(c for n, c in _parts(document) if n == section.number)
    spans = [best] + ([heading] if best.key != heading.key else [])
    # Which part, when the topic is in the part's first paragraph: its heading names the part, then the sentence.
    if _ASKS_PART.search(query.search) and heading.paragraph == best.paragraph:
        spans = spans[::-1]
    lead = f"This is in part {section.number} of {name}:" if en else f"这在{name}{section.label}："
    return _answer(query, index, lead, spans, "")


def region(query: Query, index: Index) -> tuple[tuple[str, int], ...]:
    """The paragraphs of the region a scoped question names (its opening, ending, before or after its parts)."""
    document = _document(query, index)
    kind = query.structure.region if query.structure else None
    if document is None or kind is None:
        return ()
    content = _content(document)
    if kind == "opening":
        first_break = next((p.n for p in document.paragraphs[1:] if is_salutation(p.text)), None)
        chosen = [n for n in content if first_break is None or n < first_break][:5] or content[:2]
    elif kind == "ending":
        chosen = content[-1:]
    else:
        chosen = _around_parts(document, kind == "preamble")
    return tuple((document.id, n) for n in chosen)


def _document(query: Query, index: Index) -> Document | None:
    """The document a structure question is about: the one asked about, the one the conversation is on,
    the only one, or the one whose title the question quotes; None when that cannot be told."""
    docs = index.documents
    wanted = [d for d in (query.structure.doc if query.structure else None,) if d in docs]
    if not wanted and query.documents and len(query.documents) == 1:
        wanted = list(query.documents)
    if not wanted and query.anchors:
        wanted = [d for d, _ in query.anchors if d in docs][:1]
    if not wanted and len(docs) == 1:
        wanted = list(docs)
    if not wanted:
        wanted = [d.id for d in docs.values() if d.title and d.title in query.text][:1]
    return docs[wanted[0]] if wanted else None


def _sentence(document: Document, n: int, which: int = 0) -> Chunk:
    found = sentences(document.paragraph(n), document.id)
    return found[which if -len(found) <= which < len(found) else 0]


def _citations(index: Index, spans: list[Chunk]) -> list[Citation]:
    return [cite((c.doc, c.paragraph, c.start, c.end), index, 1.0) for c in spans]


def _content(document: Document) -> list[int]:
    return [p.n for p in document.paragraphs if not is_salutation(p.text)]


def _parts(document: Document) -> list[tuple[int, Chunk]]:
    """Each part's number and the sentence that states it (its heading, or its first sentence)."""
    out, seen = [], set()
    for p in document.paragraphs:
        if p.section and p.section.number not in seen:
            seen.add(p.section.number)
            out.append((p.section.number, _sentence(document, p.n)))
    return out


def _around_parts(document: Document, before: bool) -> list[int]:
    """The content paragraphs before a document's first part (after the salutation that leads into the parts, if
    any) or after its last part (up to its closing paragraph)."""
    numbered = [p.n for p in document.paragraphs if p.section]
    if not numbered:
        return []
    first, last = numbered[0], numbered[-1]
    if before:
        lead = [p.n for p in document.paragraphs if p.n < first]
        cut = max([n for n in lead if is_salutation(document.paragraph(n).text) and n > 1], default=1)
        return [n for n in lead if n > cut and not is_salutation(document.paragraph(n).text)] or \
            [n for n in lead[1:] if not is_salutation(document.paragraph(n).text)]
    after = [p.n for p in document.paragraphs if p.n > last and not is_salutation(p.text)]
    return after[:-1] if len(after) > 1 else after


def _quoted(document: Document, pattern) -> list[Chunk]:
    """Sentences holding a quoted phrase that ``pattern(phrase, sentence)`` accepts, in reading order."""
    out = []
    for p in document.paragraphs:
        for s in sentences(p, document.id):
            if any(pattern(m[1], s.text) for m in QUOTED.finditer(s.text)):
                out.append(s)
    return out


def _answer(query: Query, index: Index, lead: str, spans: list[Chunk], none: str) -> Answer:
    english = query.language != "zh"
    if not spans:
        text = "\n\n".join(x for x in (context_line(query), none) if x)
        return Answer(query.text, False, text, interpreted_as=query.interpreted_as, language="en" if english else "zh")
    citations = tuple(_citations(index, spans))
    return Answer(query.text, True, to_markdown(citations, english, lead, query), citations=citations, confidence=1.0,
                  interpreted_as=query.interpreted_as, language="en" if english else "zh")


def answer(query: Query, index: Index) -> Answer | None:
    """The answer to a question about a document's structure, or None to answer it by retrieval instead
    (a document without numbered parts, or a corpus where the document meant cannot be told)."""
    ask = query.structure
    document = _document(query, index)
    if ask is None or document is None:
        return None
    en = query.language != "zh"
    name = scope_name(index, frozenset([document.id]), en)
    parts = _parts(document)
    count = len(parts)
    if ask.kind == "outline":
        if not parts:
            return None
        spans = [c for _, c in parts]
        if ask.region == "parts":
            lead = (f"{name} has {count} parts:" if en else f"{name}共分{to_chinese_numeral(count)}个部分：")
            return _answer(query, index, lead, spans, "")
        # The whole arc: how it opens, its parts, what follows them, how it ends.
        content = _content(document)
        before = [n for n in content if n < parts[0][1].paragraph]
        after = _around_parts(document, False)
        frame = [_sentence(document, before[0])] if before else []
        frame += spans + ([_sentence(document, after[0])] if after else [])
        if content and content[-1] not in {c.paragraph for c in frame}:
            frame.append(_sentence(document, content[-1]))
        lead = (f"{name} opens, sets out {count} parts and closes:" if en else
                f"{name}先作开场，再分{to_chinese_numeral(count)}个部分展开，最后收尾：")
        return _answer(query, index, lead, frame, "")
    if ask.kind == "part":
        if not parts:
            return None
        numbers = [count if n == -1 else n for n in ask.parts]
        chosen = [(n, c) for n, c in parts if n in numbers]
        if not chosen and query.interpreted_as and numbers == [count + 1]:
            spans = [_sentence(document, n) for n in _around_parts(document, False)][:4]
            lead = f"After its parts, {name} says:" if en else f"{name}在各部分之后讲了："
            return _answer(query, index, lead, spans, "")
        if not chosen:
            wanted = numbers[0]
            none = (f"{name} has {count} parts; there is no part {wanted}." if en else
                    f"{name}共有{to_chinese_numeral(count)}个部分，没有第{to_chinese_numeral(wanted)}部分。")
            return _answer(query, index, "", [], none)
        spans = []
        for _, heading in chosen:
            spans.append(heading)
            if len(chosen) == 1:  # one part: its heading and the sentence that follows it
                rest = [s for s in sentences(document.paragraph(heading.paragraph), document.id)
                        if s.start > heading.start]
                spans += rest[:1]
        label = "、".join(f"第{to_chinese_numeral(n)}" for n, _ in chosen)
        lead = (f"Part{'s' if len(chosen) > 1 else ''} {', '.join(str(n) for n, _ in chosen)} of {name}:" if en
                else f"{name}{label}部分：")
        return _answer(query, index, lead, spans, "")
    if ask.kind == "before-part":
        if not parts:
            return None
        number = count if ask.parts[0] == -1 else ask.parts[0]
        starts = [c.paragraph for n, c in parts if n == number]
        before = [n for n in _content(document) if starts and n < starts[0]]
        if not before:
            return None
        spans = sentences(document.paragraph(before[-1]), document.id)[:2]
        lead = (f"Right before part {number}, {name} says:" if en else
                f"{name}在第{to_chinese_numeral(number)}部分之前讲：")
        return _answer(query, index, lead, spans, "")
    if ask.kind in ("preamble", "postamble"):
        if not parts:
            return None
        spans = [_sentence(document, n) for n in _around_parts(document, ask.kind == "preamble")][:4]
        lead = ((f"Before its parts, {name} says:" if ask.kind == "preamble" else f"After its parts, {name} says:")
                if en else (f"{name}在分部分之前讲了：" if ask.kind == "preamble" else f"{name}在各部分之后讲了："))
        return _answer(query, index, lead, spans, "")
    if ask.kind == "paragraph":
        wanted = [n for n in ask.parts if 1 <= n <= len(document.paragraphs)]
        while wanted and is_salutation(document.paragraph(wanted[0]).text) and wanted[0] < len(document.paragraphs):
            wanted = [wanted[0] + 1]
        if not wanted:
            return None
        spans = sentences(document.paragraph(wanted[0]), document.id)[:2]
        return _answer(query, index, f"Next, {name} says:" if en else f"{name}接着讲：", spans, "")
    content = _content(document)
    if ask.kind == "opening":
        first = document.paragraphs[0]
        opening = [_sentence(document, content[0])] if content else []
        greeting = [_sentence(document, first.n)] if is_salutation(first.text) else []
        # What it opens with is its first words of substance; the salutation first only when the very first words
        # are asked for.
        spans = greeting + opening if _FIRST_WORDS.search(query.search) else opening + greeting
        return _answer(query, index, f"{name} opens:" if en else f"{name}的开头：", spans, "")
    if ask.kind == "ending":
        last = content[-1] if content else document.paragraphs[-1].n
        spans = sentences(document.paragraph(last), document.id)
        if _LAST_SENTENCE.search(query.search):
            spans = spans[::-1]
        spans = spans[:3]
        return _answer(query, index, f"{name} ends:" if en else f"{name}的结尾：", spans, "")
    if ask.kind == "address":
        spans = [_sentence(document, p.n) for p in document.paragraphs if is_salutation(p.text)]
        none = (f"{name} does not address its audience by name." if en else f"{name}没有单独称呼听众。")
        return _answer(query, index, "", spans, none)
    if ask.kind == "sayings":
        spans = _quoted(document, lambda phrase, _s: bool(_CLASSICAL.search(phrase)) and len(phrase) >= 4)
        spans = spans or _quoted(document, lambda phrase, s: not _MUSIC.search(s))
        none = (f"{name} quotes no saying." if en else f"{name}没有引用古语或名言。")
        return _answer(query, index, f"{name} quotes:" if en else f"{name}引用了：", spans[:6], none)
    if ask.kind == "song":
        spans = _quoted(document, lambda _p, s: bool(_MUSIC.search(s)))
        none = (f"{name} mentions no song." if en else f"{name}没有提到歌曲。")
        return _answer(query, index, f"{name} mentions:" if en else f"{name}提到：", spans, none)
    if ask.kind == "years":
        spans = [s for p in document.paragraphs for s in sentences(p, document.id)
                 if YEAR.search(s.text) or _DATES.search(s.text)]
        none = (f"{name} mentions no year." if en else f"{name}没有提到具体年份。")
        return _answer(query, index, f"Years and anniversaries in {name}:" if en else f"{name}提到的年份和纪念：",
                       spans[:8], none)
    return None
