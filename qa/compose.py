"""The answer: verbatim quotes with their citations, in the question's language, or an honest refusal."""

from __future__ import annotations

from collections.abc import Sequence

from qa.corpus.state import Index
from qa.decide import ANSWER, RELATED, Decision
from qa.types import Answer, Citation, Hit, Query

# A further quote must score at least this share of the best one.
FOLLOW_UP_RATIO = 0.85


def cite(hit_or_span: Hit | tuple[str, int, int, int], index: Index, score: float | None = None) -> Citation:
    """A citation of a sentence (a hit) or of a span (document, paragraph, start, end)."""
    if isinstance(hit_or_span, Hit):
        chunk = hit_or_span.chunk
        doc_id, n, start, end, score = chunk.doc, chunk.paragraph, chunk.start, chunk.end, hit_or_span.score
    else:
        doc_id, n, start, end = hit_or_span
    document = index.document(doc_id)
    paragraph = document.paragraph(n)
    return Citation(document=document.ref, paragraph=n, section=paragraph.section, quote=paragraph.text[start:end],
                    text=paragraph.text, score=float(score or 0.0), start=start, end=end)


def where(citation: Citation, english: bool = False, title: bool = True) -> str:
    """Where a quote stands, as a reader says it: 《title》第12段 · 第一部分, or “title”, paragraph 12, part 1."""
    name = citation.document.title
    if english:
        place = f"paragraph {citation.paragraph}" + (f", part {citation.section.number}" if citation.section else "")
        return (f"“{name}”, {place}" if name and title else place[0].upper() + place[1:])
    place = f"第{citation.paragraph}段" + (f" · {citation.section.label}" if citation.section else "")
    return f"《{name}》{place}" if name and title else place


def escape(text: str) -> str:
    """Keep the documents' own characters from being read as Markdown or HTML."""
    for ch in "\\`*_[]<>#|~":
        text = text.replace(ch, "\\" + ch)
    return text


def context_line(query: Query) -> str:
    """How a follow-up was read in context (按上文理解为：…), or nothing for a question that stands alone."""
    if not query.interpreted_as:
        return ""
    return (f"Read in context as: {query.interpreted_as}" if query.language != "zh"
            else f"按上文理解为：{query.interpreted_as}")


def to_markdown(citations: Sequence[Citation], english: bool = False, lead: str = "", query: Query | None = None) -> str:
    """Quotes as Markdown blockquotes, each followed by where it stands; the reading in context and a lead first."""
    heads = [line for line in (context_line(query) if query else "", lead) if line]
    blocks = [f"> {escape(c.quote)}\n\n—— {where(c, english)}" for c in citations]
    return "\n\n".join([escape(h) for h in heads] + blocks)


def scope_name(index: Index, documents: frozenset[str] | None, english: bool) -> str:
    """What an answer calls the text it searched: the one document's title, or the documents."""
    docs = [d for d in index.documents.values() if documents is None or d.id in documents]
    if len(docs) == 1 and docs[0].title:
        return f"“{docs[0].title}”" if english else f"《{docs[0].title}》"
    return "the documents" if english else "这些文档"


def refusal(query: Query, index: Index) -> str:
    """The honest "not in the text" reply, with a few topics the text does cover as a hint."""
    english = query.language != "zh"
    topics = index.topics(query.documents)[:3]
    name = scope_name(index, query.documents, english)
    if english:
        hint = f" Try other words, or ask about what it covers, such as {', '.join(topics)}." if topics else ""
        return f"{name[0].upper() + name[1:]} does not address this question.{hint}"
    hint = f"可以换个说法，或问问其中谈到的内容，例如{'、'.join(topics)}。" if topics else "可以换个说法再问。"
    return f"{name}中没有谈到这个问题。{hint}"


def not_given(query: Query, index: Index, related: Sequence[Citation], missing: str | None) -> str:
    """The reply when the text discusses the topic but does not give the asked fact: 讲话提到了…，但没有说…"""
    english = query.language != "zh"
    name = scope_name(index, query.documents, english)
    topic = (query.focus[0] if query.focus else "") or "这个话题"
    fact = missing or ("that" if english else "这一点")
    places = "; ".join(where(c, english, title=False) for c in related)
    if english:
        # The topic is not echoed: an English question's words left without its asking words rarely read well.
        return f"{name[0].upper() + name[1:]} touches on this ({places}) but does not say {fact}."
    return f"{name}提到了{topic}（{places}），但没有说{fact}。"


def compose(query: Query, found, decision: Decision, index: Index, quotes: int = 3) -> Answer:
    """Build the answer from the best sentences, best first, or the refusal.

    Args:
        query: The analysed question.
        found: Sentences and paragraphs best first, and the evidence (a :class:`qa.retrieve.Retrieval`).
        decision: Answer, related or refuse.
        index: The corpus the sentences come from.
        quotes: How many sentences to quote at most (1–3).
    """
    english = query.language != "zh"
    language = "en" if english else "zh"
    if decision.verdict == RELATED and found.hits:
        best = found.hits[0].chunk
        related = (cite((best.doc, best.paragraph, 0, len(index.document(best.doc).paragraph(best.paragraph).text)),
                        index, found.hits[0].score),)
        return Answer(query.text, False, _with_context(query, not_given(query, index, related, decision.missing)),
                      confidence=decision.confidence, related=related, interpreted_as=query.interpreted_as,
                      language=language)
    if decision.verdict != ANSWER:
        return Answer(query.text, False, _with_context(query, refusal(query, index)), confidence=decision.confidence,
                      interpreted_as=query.interpreted_as, language=language)
    hits = found.hits
    best = hits[0].score
    chosen = [h for h in hits if h.score >= FOLLOW_UP_RATIO * best][:quotes]
    citations = tuple(cite(h, index) for h in chosen)
    return Answer(query.text, True, to_markdown(citations, english, query=query), citations=citations,
                  confidence=decision.confidence, interpreted_as=query.interpreted_as, language=language)


def _with_context(query: Query, text: str) -> str:
    line = context_line(query)
    return f"{line}\n\n{text}" if line else text
