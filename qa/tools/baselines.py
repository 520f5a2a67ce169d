"""The common recipes beside the shipped method: BM25 alone, dense alone, plain RRF (`qa eval --compare`).

Each baseline ranks paragraphs for a question; the shipped ranking is the pipeline's own (analysis, fusion,
rerank, follow-up context). Only questions the documents answer, asked without history, are ranked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from qa.analysis import analyse, clean_question
from qa.assistant import Assistant
from qa.corpus.state import Index
from qa.corpus.table import CLAUSE_CODE, PARAGRAPH_CODE, SENTENCE_CODE
from qa.tools.evaluate import Question, hit_at, reciprocal_rank, run, share
from qa.types import Query

Ranking = list[tuple[str, int]]
# RRF's usual constant (Cormack et al. 2009).
RRF_K = 60
# How many chunks the engine's own hybrid search returns, to rank paragraphs by their first chunk.
ENGINE_CANDIDATES = 200


def _order(index: Index, scores: np.ndarray) -> Ranking:
    """Paragraph rows by score, best first, as (document, number); rows scoring nothing are left out."""
    rows = np.argsort(-scores, kind="stable")[:10]
    return [(index.table.paragraphs[r].doc, index.table.paragraphs[r].paragraph) for r in rows if scores[r] > 0]


def _dense_paragraph_scores(index: Index, vector: np.ndarray, codes: tuple[int, ...]) -> np.ndarray:
    """Per paragraph row, the best cosine (shifted above zero) of its chunks of the given kinds."""
    table = index.table
    ids, cosines = index.store.search(vector, index.store.count())
    known, kind, rows = table.locate(ids)
    scores = np.zeros(len(table.paragraphs), np.float32)
    for code in codes:
        pick = known & (kind == code)
        if code == PARAGRAPH_CODE:
            owner = rows[pick]
        elif code == SENTENCE_CODE:
            owner = table.sentence_paragraph[rows[pick]]
        else:
            owner = table.sentence_paragraph[table.clause_owner[rows[pick]]]
        np.maximum.at(scores, owner, cosines[pick] + 2.0)  # cosines are >= -1: every found paragraph scores > 0
    return scores


def rankers(assistant: Assistant) -> dict[str, Callable[[Query], Ranking]]:
    """The baselines, each ranking paragraphs for an analysed question."""
    index, pipeline = assistant.index, assistant.pipeline

    def bm25(query: Query) -> Ranking:
        return _order(index, index.lexical.scores(query.tokens)[1])

    def bm25_bridged(query: Query) -> Ranking:
        translations = index.bridge(query.search) if query.language != "zh" else []
        return _order(index, index.lexical.scores(query.tokens, translations)[1])

    def dense_paragraphs(query: Query) -> Ranking:
        return _order(index, _dense_paragraph_scores(index, pipeline.embed(query.search), (PARAGRAPH_CODE,)))

    def dense_chunks(query: Query) -> Ranking:
        codes = (PARAGRAPH_CODE, SENTENCE_CODE, CLAUSE_CODE)
        return _order(index, _dense_paragraph_scores(index, pipeline.embed(query.search), codes))

    def rrf(query: Query) -> Ranking:
        fused: dict[tuple[str, int], float] = {}
        for ranking in (bm25_bridged(query), dense_chunks(query)):
            for rank, p in enumerate(ranking, start=1):
                fused[p] = fused.get(p, 0.0) + 1.0 / (RRF_K + rank)
        return sorted(fused, key=lambda p: -fused[p])

    found = {"bm25": bm25, "bm25+bridge": bm25_bridged, "dense paragraphs": dense_paragraphs,
             "dense chunks": dense_chunks, "rrf": rrf}
    if hasattr(index.store, "hybrid"):  # an engine with its own hybrid search (Milvus: dense + its BM25, RRF)

        def engine(query: Query) -> Ranking:
            ids = index.store.hybrid(pipeline.embed(query.search), query.search, ENGINE_CANDIDATES)
            known, kind, rows = index.table.locate(ids)
            ranked: dict[tuple[str, int], None] = {}
            for ok, code, row in zip(known, kind, rows):
                if ok:
                    chunk = (index.table.paragraphs[row] if code == PARAGRAPH_CODE else
                             index.table.sentences[row] if code == SENTENCE_CODE else
                             index.table.sentences[index.table.clause_owner[row]])
                    ranked.setdefault((chunk.doc, chunk.paragraph), None)
            return list(ranked)[:10]

        found["engine hybrid"] = engine
    return found


def compare(assistant: Assistant, questions: list[Question]) -> dict[str, Any]:
    """hit_rate@1/@3 and MRR@10 of each baseline and of the shipped pipeline: method -> half -> category."""
    chosen = [q for q in questions if q.in_scope and q.gold and not q.history]
    index = assistant.index
    doc = next(iter(index.documents))
    queries = [analyse(clean_question(q.question, assistant.settings.max_question_chars), index.tokenizer)
               for q in chosen]
    rankings = {name: [ranker(query) for query in queries] for name, ranker in rankers(assistant).items()}
    rankings["shipped"] = [o.ranking for o in run(assistant, chosen, suggestions=False)]
    result: dict[str, Any] = {}
    for name, ranked in rankings.items():
        result[name] = {}
        for split in ("tune", "test"):
            rows = [i for i, q in enumerate(chosen) if q.split == split]
            result[name][split] = {}
            for category in sorted({chosen[i].category for i in rows}):
                picked = [i for i in rows if chosen[i].category == category]
                gold = {i: {(chosen[i].doc or doc, n) for n in chosen[i].gold} for i in picked}
                result[name][split][category] = {
                    "n": len(picked),
                    "hit_rate@1": share(hit_at(ranked[i], gold[i], 1) for i in picked),
                    "hit_rate@3": share(hit_at(ranked[i], gold[i], 3) for i in picked),
                    "mrr@10": round(sum(reciprocal_rank(ranked[i], gold[i]) for i in picked) / len(picked), 4),
                }
    return result


__all__ = ["RRF_K", "compare", "rankers"]
