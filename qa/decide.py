"""The decision: answer with quotes, point to a related paragraph without answering, or say the text does not say."""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa import evidence
from qa.analysis import intent
from qa.analysis.entities import NOT_LAWS
from qa.corpus.state import Index
from qa.lexical.bridge import asks_something
from qa.models.calibration import Calibration
from qa.retrieve import Evidence, Retrieval
from qa.types import Query

ANSWER, RELATED, REFUSE = "answer", "related", "refuse"

# What a reply says is missing, by what the question asked for.
MISSING = {
    intent.PERSON: ("是谁", "who"), intent.PLACE: ("在哪里", "where"), intent.TIME: ("具体时间", "when"),
    intent.QUANTITY: ("具体数字", "the number"),
}


@dataclass(frozen=True)
class Decision:
    """What to do with a question, and why (``reason`` names the check that decided, for `qa eval`)."""

    verdict: str
    reason: str
    confidence: float
    missing: str | None = None


def confidence(evidence_: Evidence, calibration: Calibration) -> float:
    """One number from both legs' evidence: how well the documents speak to the question."""
    return (evidence_.dense_top + calibration.coverage_weight * evidence_.coverage
            + calibration.peak_weight * evidence_.paragraph_z)


def min_margin(query: Query, evidence_: Evidence, calibration: Calibration) -> float:
    """How much closer to the documents than to everyday text a question must be. English gets the lower bar
    only when BM25, through the bridge, matched some word of it; text with no word the bridge can translate
    ("<img src=x onerror=…>") keeps the Chinese one."""
    if query.language == "zh" or evidence_.bm25_top <= 0:
        return calibration.margin_zh
    return calibration.margin_en


def foreign_names(query: Query, index: Index) -> list[str]:
    """Names the question gives that no document mentions: people, places, organisations, laws, titles, years."""
    text = index.text
    found = [n for n in query.entities.names() if n.replace(" ", "") not in text]
    found += [y for y in query.entities.years if y not in index.years]
    if query.language != "zh":
        for run in evidence.english_names(query.search):
            name, words = _known_name(run, index.lexical.names)
            if words and not any(w.rstrip("市省县") in text for w in words) \
                    and not all(part in index.name_words for part in name.lower().split()):
                found.append(name)
        if evidence.EN_LAW.search(query.search) and not any(m[0][-2:] not in NOT_LAWS for m in _LAWS.finditer(text)):
            found.append(evidence.EN_LAW.search(query.search)[0])
    return found


# A law a text names: 劳动合同法, 《工会法》 (not 法律, 法规, 方法 …).
_LAWS = re.compile(r"[\u4e00-\u9fff]{2,}(?:法|条例)(?![律规治院人定宝子门术则度学官庭典])|《[^》]*(?:法|条例)》")


def _known_name(run: str, names: dict[str, list[str]]) -> tuple[str, list[str] | None]:
    """The longest part of a capitalized run that CC-CEDICT knows as a name (Premier Li Keqiang -> Li Keqiang)."""
    words = run.split()
    for size in range(len(words), 0, -1):
        for start in range(len(words) - size + 1):
            name = " ".join(words[start : start + size])
            if name.lower() in names:
                return name, names[name.lower()]
    return run, None


def screen(query: Query, index: Index, score: float = 0.0) -> Decision | None:
    """The refusals that need no search: small talk, and names (people, places, organisations, laws, years) that no
    document mentions. None when the question passes."""
    if query.intent == intent.SMALLTALK or (query.language != "zh" and not asks_something(query.search)):
        return Decision(REFUSE, "small talk", score)
    foreign = foreign_names(query, index)
    if foreign:
        return Decision(REFUSE, f"names what no document mentions: {', '.join(foreign)}", score)
    return None


def decide(query: Query, found: Retrieval, index: Index, margin_shift: float = 0.0) -> Decision:
    """Whether, and how, the documents answer the question.

    Refused: small talk, a question that names people, places, organisations, laws or years the documents
    never mention, too little confidence for the question's script, a question closer to everyday text than
    to the documents (by ``min_margin`` plus ``margin_shift``). Related but not answered: a who/where/when/
    how-many question whose best sentences hold no answer of that type with the question's own words, or a
    question after a detail (a procedure, a list, a name) the best paragraph does not give.

    Args:
        query: The analysed question.
        found: What retrieval found, reranked (the first hit is the sentence that would be quoted first).
        index: The corpus state (its calibration, names, years and tokenizer).
        margin_shift: Moves the margin bar (for the trade-off curve of `qa eval`).
    """
    calibration = index.calibration
    score = confidence(found.evidence, calibration)
    screened = screen(query, index, score)
    if screened is not None:
        return screened
    if not found.hits:
        return Decision(REFUSE, "nothing found", score)
    # A question about a named region of a document (开场白里…) is about the document: only what it asks is checked.
    if not query.within:
        if score < calibration.threshold(query.language != "zh"):
            return Decision(REFUSE, "low confidence", score)
        if found.evidence.margin < min_margin(query, found.evidence, calibration) + margin_shift:
            return Decision(REFUSE, "closer to everyday text", score)
    first = found.hits[0].chunk
    paragraph = index.document(first.doc).paragraph(first.paragraph).text
    if evidence.unmentioned(query, paragraph, index.tokenizer, index.bridge, found.evidence.coverage):
        return Decision(REFUSE, "what it asks about is not mentioned", score)
    kinds = evidence.typed_intents(query)
    if kinds and not _typed_answer(query, first.text, paragraph, kinds, index, first.doc):
        zh, en = MISSING[kinds[0]]
        return Decision(RELATED, f"no {kinds[0]} in the best sentences", score, en if query.language != "zh" else zh)
    missing = evidence.detail_missing(query, first.text, paragraph, index.tokenizer, index.bridge)
    if missing:
        return Decision(RELATED, "detail not given", score, missing)
    return Decision(ANSWER, "answered", score)


def _year(index: Index, doc: str) -> int | None:
    date = index.document(doc).date
    return int(date[:4]) if date else None


def _typed_answer(query: Query, sentence: str, paragraph: str, kinds: list[str], index: Index, first_doc: str) -> bool:
    """A typed question's first sentence holds an answer of each asked type, and its paragraph holds the words
    next to the asking word (谁主持 -> 主持) and half of the question's own words."""
    own = {w for words in index.bridge(query.search) for w in words} if query.language != "zh" else None
    year = _year(index, first_doc)
    return (all(evidence.holds(kind, sentence, query, index.tokenizer, own, year) for kind in kinds)
            and evidence.about(query, sentence, paragraph, index.tokenizer, index.bridge))
