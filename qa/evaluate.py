"""Measure retrieval, quoting and abstention on a question set; compare with the common recipes."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer import addresses, compose
from qa.assistant import Assistant
from qa.config import ROOT
from qa.errors import InputError

DEFAULT_SET = ROOT / "tests" / "data" / "questions.jsonl"
CATEGORIES = ("zh", "keyword", "en", "oos")
# hit_rate@k: share of questions with a gold paragraph in the top k (what a reader checks);
# recall@k: share of all gold paragraphs found (below 1 at k=1 for questions with two gold paragraphs).
METRICS = ("hit_rate@1", "hit_rate@3", "hit_rate@5", "recall@1", "recall@3", "recall@5", "mrr@10")


@dataclass(frozen=True)
class Question:
    """One evaluation question: its gold paragraphs and the phrase the best quote must hold."""

    id: str
    category: str
    question: str
    gold: tuple[int, ...]
    key: str
    split: str

    @property
    def in_scope(self) -> bool:
        return self.category != "oos"


@dataclass
class Outcome:
    """What the shipped method did with one question."""

    question: Question
    ranking: dict[int, float]
    answered: bool
    first_quote: str | None
    cited: int | None
    signals: dict[str, float] = field(default_factory=dict)
    quotes: tuple[str, ...] = ()


def load_questions(path: str | Path = DEFAULT_SET) -> list[Question]:
    """Read a JSON-lines question set.

    Raises:
        InputError: The file is missing or a line lacks a field.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"Cannot read the question set {path}: {exc.strerror}.") from exc
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(Question(row["id"], row["category"], row["question"], tuple(row["gold"]),
                                      row.get("key", ""), row.get("split", "test")))
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path}:{number} is not a question record ({exc}).") from exc
    unknown = {q.category for q in questions} - set(CATEGORIES)
    if unknown:
        raise InputError(f"Unknown categories {sorted(unknown)}; use {', '.join(CATEGORIES)}.")
    return questions


def recall_and_mrr(rankings: list[dict[int, float]], golds: list[tuple[int, ...]]) -> dict[str, float]:
    """Recall@1/3/5 and MRR@10 of paragraph rankings, computed by ranx."""
    from ranx import Qrels, Run, evaluate

    if not rankings:
        return {m: float("nan") for m in METRICS}
    qrels = Qrels({f"q{i}": {str(p): 1 for p in gold} for i, gold in enumerate(golds)})
    run = Run({f"q{i}": {str(p): float(s) for p, s in ranking.items()} or {"0": 0.0}
               for i, ranking in enumerate(rankings)})
    scores = evaluate(qrels, run, list(METRICS), make_comparable=True)
    return {m: float(scores[m]) for m in METRICS}


def run_shipped(assistant: Assistant, questions: list[Question]) -> list[Outcome]:
    """Ask every question the way users do; keep the paragraph ranking and the answer."""
    outcomes = []
    retriever = assistant.retriever
    for q in questions:
        found = retriever.search(q.question, k=len(assistant.document.paragraphs))
        answer = compose(q.question, found, assistant.document)
        first = answer.citations[0] if answer.citations else None
        outcomes.append(Outcome(
            question=q,
            ranking=dict(found.paragraphs),
            answered=answer.answered,
            first_quote=first.quote if first else found.hits[0].passage.text,
            cited=first.paragraph if first else None,
            signals={**found.evidence.to_dict(), "confidence": answer.confidence},
            quotes=tuple(c.quote for c in answer.citations),
        ))
    return outcomes


def baselines(assistant: Assistant) -> dict[str, Callable[[str], dict[int, float]]]:
    """Paragraph rankers of the common recipes, built from the same legs as the shipped method."""
    retriever = assistant.retriever
    para_of = retriever._para_of
    n = len(assistant.document.paragraphs)

    def bm25(question: str) -> dict[int, float]:
        return _as_ranking(retriever.lexical_scores(retriever.tokenizer(question))[1])

    def bm25_bridged(question: str) -> dict[int, float]:
        return _as_ranking(retriever.lexical(question, retriever.tokenizer(question))[0][1])

    def dense_paragraphs(question: str) -> dict[int, float]:
        return _as_ranking(retriever.dense_scores(retriever.embed(question)).paragraph)

    def dense_sentences(question: str) -> dict[int, float]:
        best = np.full(n, -np.inf)
        np.maximum.at(best, para_of, retriever.dense_scores(retriever.embed(question)).sentence)
        return _as_ranking(best)

    def rrf(question: str, k: int = 60) -> dict[int, float]:
        fused = np.zeros(n)
        for scores in (retriever.lexical_scores(retriever.tokenizer(question))[1], retriever.dense_scores(retriever.embed(question)).paragraph):
            ranks = np.empty(n)
            ranks[np.argsort(-scores, kind="stable")] = np.arange(1, n + 1)
            fused += 1.0 / (k + ranks)
        return _as_ranking(fused)

    return {"bm25": bm25, "bm25+bridge": bm25_bridged, "dense-paragraphs": dense_paragraphs,
            "dense-sentences": dense_sentences, "rrf": rrf}


def _as_ranking(scores: np.ndarray) -> dict[int, float]:
    order = np.argsort(-scores, kind="stable")
    return {int(i) + 1: float(len(order) - rank) for rank, i in enumerate(order)}


def report(outcomes: list[Outcome], split: str | None = None) -> dict[str, Any]:
    """Metrics per category, abstention, quote precision and failures for one split (None: all)."""
    chosen = [o for o in outcomes if split is None or o.question.split == split]
    result: dict[str, Any] = {"questions": len(chosen), "categories": {}}
    for category in CATEGORIES[:3]:
        rows = [o for o in chosen if o.question.category == category]
        result["categories"][category] = {"n": len(rows), **recall_and_mrr([o.ranking for o in rows],
                                                                           [o.question.gold for o in rows])}
    in_scope = [o for o in chosen if o.question.in_scope]
    out_scope = [o for o in chosen if not o.question.in_scope]
    result["abstention_oos"] = _share(not o.answered for o in out_scope)
    result["false_refusals"] = _share(not o.answered for o in in_scope)
    result["quote_precision"] = _share(o.answered and o.question.key in (o.first_quote or "") for o in in_scope)
    result["any_quote_precision"] = _share(any(o.question.key in q for q in o.quotes) for o in in_scope)
    result["failures"] = [_failure(o) for o in chosen if _failed(o)]
    return result


def _share(flags) -> float:
    flags = list(flags)
    return sum(flags) / len(flags) if flags else float("nan")


def _failed(o: Outcome) -> bool:
    if not o.question.in_scope:
        return o.answered
    top = max(o.ranking, key=o.ranking.get)
    return not o.answered or top not in o.question.gold or o.question.key not in (o.first_quote or "")


def _failure(o: Outcome) -> dict[str, Any]:
    q = o.question
    expected = "refuse" if not q.in_scope else f"¶{','.join(map(str, q.gold))} «{q.key}»"
    got = f"¶{o.cited} «{(o.first_quote or '')[:40]}»" if o.answered else "refused"
    return {"id": q.id, "split": q.split, "question": q.question, "expected": expected, "got": got,
            "confidence": round(o.signals.get("confidence", 0.0), 4), "margin": round(o.signals.get("dense_top", 0)
                                                                                    - o.signals.get("background_top", 0), 4)}


def compare(assistant: Assistant, questions: list[Question], outcomes: list[Outcome]) -> dict[str, Any]:
    """Recall of each baseline and of the shipped method, per split and category."""
    table: dict[str, Any] = {}
    rankers = baselines(assistant)
    for name, ranker in rankers.items():
        rankings = [ranker(q.question) for q in questions]
        table[name] = _by_split(questions, rankings)
    table["shipped"] = _by_split(questions, [o.ranking for o in outcomes])
    return table


def _by_split(questions: list[Question], rankings: list[dict[int, float]]) -> dict[str, Any]:
    out = {}
    for split in ("tune", "test"):
        out[split] = {}
        for category in CATEGORIES[:3]:
            rows = [(r, q.gold) for q, r in zip(questions, rankings) if q.split == split and q.category == category]
            out[split][category] = recall_and_mrr([r for r, _ in rows], [g for _, g in rows])
    return out


def tradeoff(assistant: Assistant, outcomes: list[Outcome], shifts=(-0.04, -0.02, 0.0, 0.01, 0.02, 0.03)) -> list[dict]:
    """Abstention against false refusals on the tuning half as the background-margin bars move together."""
    rows = []
    retriever = assistant.retriever
    tune = [o for o in outcomes if o.question.split == "tune"]
    found = {o.question.id: retriever.search(o.question.question) for o in tune}
    for shift in shifts:
        decided = [(o, addresses(o.question.question, found[o.question.id], margin_shift=shift)) for o in tune]
        rows.append({
            "margin_shift": shift,
            "abstention_oos": _share(not a for o, a in decided if not o.question.in_scope),
            "false_refusals": _share(not a for o, a in decided if o.question.in_scope),
        })
    return rows
