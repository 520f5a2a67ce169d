"""The rerank stage: the sentences of the best paragraphs put in the order that answers what the question asks."""

from __future__ import annotations

import re
from dataclasses import replace

from qa import evidence
from qa.analysis import intent
from qa.corpus.state import Index
from qa.retrieve import Retrieval
from qa.types import Hit, Query

# Sentences that give a reason, strongest first: a cause, what something is the basis of, that it matters.
_REASONS = (
    re.compile(r"归根到底|因为|由于|之所以|所以|只有[^，。]{1,20}才|决定了?|就是力量|才能"),
    re.compile(r"是[^，。；]{0,30}的(?:基础|源泉|关键|根本|保证|支柱|动力|主力军|前提|核心|支撑|桥梁|纽带|代表|功臣|楷模|精英|"
               r"主人|本质要求|奋斗目标|目标|任务|生动体现)"),
    re.compile(r"至关重要|十分重要|非常重要|重要(?:意义|作用|地位)"),
)
# Sentences that say what is to be done.
_DIRECTIVE = re.compile(r"(?:^|[，；：])[^，；：。]{0,30}(?:要|必须|应当|应该|需要|务必)")
# How many paragraphs, best first, a typed question's answer sentence may come from.
TYPED_PARAGRAPHS = 3


def focus_terms(query: Query, index: Index) -> list[str]:
    """The terms a question asks about, longest first: the documents' own terms in it, its topic, and for English
    the Chinese terms its words translate to (craftsman spirit -> 工匠精神, model workers -> 劳动模范)."""
    if query.language == "zh":
        terms = sorted((t for t in index.terms if t in query.search), key=len, reverse=True)
        if query.focus and 2 <= len(query.focus[0]) <= 8:
            terms.append(query.focus[0])
        return terms
    translations = [list(words) for words in index.bridge(query.search)]
    terms = [a + b for left, right in zip(translations, translations[1:]) for a in left for b in right
             if a + b in index.terms or a + b in index.text]
    singles = [w for words in index.bridge(query.search) for w, weight in words.items() if weight >= 0.5 and len(w) >= 2]
    return sorted(set(terms), key=len, reverse=True) + singles


def _defines(text: str, term: str) -> int:
    """2 if a sentence lists the qualities of ``term`` (……、……的工匠精神), 1 if it says what it is (工匠精神是…)."""
    if re.search(rf"、[^，。；：]{{1,12}}的{re.escape(term)}", text):
        return 2
    if re.search(rf"(?:^|[，；：。])“?{re.escape(term)}”?(?:是|就是|指|即|的内涵是)", text):
        return 1
    return 0


def _reason(text: str) -> int:
    for level, cue in enumerate(_REASONS):
        if cue.search(text):
            return len(_REASONS) - level
    return 0


def _covered(query: Query, text: str, index: Index) -> float:
    if query.language != "zh":
        judged = [words for words in index.bridge(query.search) if words]
        return sum(any(w in text for w in words) for words in judged) / len(judged) if judged else 0.0
    words = evidence.content_tokens(query.search, index.tokenizer)
    return sum(evidence.present(w, text) for w in words) / len(words) if words else 0.0


def rerank(query: Query, found: Retrieval, index: Index) -> Retrieval:
    """Reorder the retrieval's sentences for the question's intent.

    A who/where/when/how-many question gets first the best sentence, among its best paragraphs, that holds an
    answer of that type. Within the best paragraph, a definition question gets first the sentence that lists or
    states what its term is, a why question the sentence that gives a reason, a how question the one that says
    what is to be done, each preferring sentences with more of the question's own words. Otherwise the order stays.
    """
    hits = found.hits
    if not hits:
        return found
    kinds = evidence.typed_intents(query)
    if kinds:
        return replace(found, hits=_typed_first(query, hits, kinds, index))
    if query.intent not in (intent.DEFINITION, intent.REASON, intent.METHOD, intent.OTHER):
        return found
    best = (hits[0].chunk.doc, hits[0].chunk.paragraph)
    same = [h for h in hits if (h.chunk.doc, h.chunk.paragraph) == best]
    terms = focus_terms(query, index)
    scores = {}
    for h in same:
        text = h.chunk.text
        cue = 0.0
        if query.intent in (intent.DEFINITION, intent.OTHER):
            cue = max((_defines(text, t) for t in terms), default=0)
        elif query.intent == intent.REASON:
            cue = _reason(text)
        elif query.intent == intent.METHOD:
            cue = 1.0 if _DIRECTIVE.search(text) else 0.0
        named = 1.0 if any(t in text for t in terms) else 0.0
        scores[id(h)] = (cue, cue + named + _covered(query, text, index))
    if max(cue for cue, _ in scores.values()) <= 0:
        return found
    chosen = max(same, key=lambda h: (scores[id(h)][1], -same.index(h)))
    return found if chosen is hits[0] else replace(found, hits=_promote(hits, chosen))


def _typed_first(query: Query, hits: list[Hit], kinds: list[str], index: Index) -> list[Hit]:
    """The best sentence holding an answer of every asked type: from the best paragraph the one with most of the
    question's words, else from the next paragraphs one that holds most of them."""
    own = {w for words in index.bridge(query.search) for w in words} if query.language != "zh" else None
    paragraphs: list[tuple[str, int]] = []
    answering: list[Hit] = []
    for hit in hits:
        key = (hit.chunk.doc, hit.chunk.paragraph)
        if key not in paragraphs:
            if answering:
                break  # the best paragraph with an answering sentence wins
            paragraphs.append(key)
        if len(paragraphs) > TYPED_PARAGRAPHS:
            break
        paragraph = index.document(hit.chunk.doc).paragraph(hit.chunk.paragraph).text
        # Beyond the best paragraph only a sentence that holds most of the question's own words may answer.
        near = key == paragraphs[0] or evidence.covers(query, hit.chunk.text, index.tokenizer, index.bridge)
        date = index.document(hit.chunk.doc).date
        year = int(date[:4]) if date else None
        if (near and all(evidence.holds(kind, hit.chunk.text, query, index.tokenizer, own, year) for kind in kinds)
                and evidence.about(query, hit.chunk.text, paragraph, index.tokenizer, index.bridge)):
            answering.append(hit)
    if not answering:
        return hits
    return _promote(hits, max(answering, key=lambda h: (_covered(query, h.chunk.text, index), -hits.index(h))))


def _promote(hits: list[Hit], first: Hit) -> list[Hit]:
    """The hits with ``first`` moved to the front, scoring as the best, the rest in their order."""
    top = replace(first, score=max(first.score, hits[0].score))
    return [top] + [h for h in hits if h is not first]
