"""Measure answers on a question set, per category: right paragraph first, quotes, refusals, related, follow-ups."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.analysis import language_of
from qa.assistant import Assistant
from qa.config import BUNDLED_SOURCE, ROOT
from qa.errors import InputError

DEFAULT_SET = ROOT / "tests" / "data" / "questions.jsonl"
# The question set is about the bundled speech: by default it is asked of a corpus holding that speech alone.
EVAL_CORPUS = ROOT / "index" / "built" / "eval"
EVAL_SEED = (BUNDLED_SOURCE,)
# Categories whose questions the documents answer, and those they do not.
ANSWERABLE = ("zh", "keyword", "en", "structure", "followup", "type")
UNANSWERABLE = ("oos", "near", "type")
CATEGORIES = ("zh", "keyword", "en", "structure", "followup", "type", "near", "oos")
# hit_rate@k: share of questions with a gold paragraph in the top k (what a reader checks).
METRICS = ("hit_rate@1", "hit_rate@3", "hit_rate@5", "mrr@10")


@dataclass(frozen=True)
class Question:
    """One evaluation question: its gold paragraphs and the phrase the first quote must hold."""

    id: str
    category: str
    question: str
    gold: tuple[int, ...]
    key: str
    split: str
    lang: str = "zh"
    every: bool = False
    history: tuple[str, ...] = ()
    answerable: bool = True
    doc: str | None = None

    @property
    def in_scope(self) -> bool:
        return self.category not in ("oos", "near") and self.answerable


@dataclass
class Outcome:
    """What the shipped pipeline did with one question."""

    question: Question
    ranking: list[tuple[str, int]]
    answered: bool
    cited: list[tuple[str, int]]
    quotes: list[str]
    related: list[tuple[str, int]] = field(default_factory=list)
    reason: str = ""
    signals: dict[str, float] = field(default_factory=dict)
    interpreted_as: str | None = None

    def first_quote(self) -> str:
        return self.quotes[0] if self.quotes else ""


def load_questions(path: str | Path = DEFAULT_SET) -> list[Question]:
    """Read a JSON-lines question set.

    Raises:
        InputError: The file is missing, a line lacks a field, or names an unknown category.
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
            questions.append(Question(
                row["id"], row["category"], row["question"], tuple(row.get("gold") or ()), row.get("key") or "",
                row.get("split", "test"), row.get("lang") or language_of(row["question"]), bool(row.get("all")),
                tuple(h["question"] for h in row.get("history") or ()), bool(row.get("answerable", True)),
                row.get("doc")))
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path}:{number} is not a question record ({exc}).") from exc
    unknown = {q.category for q in questions} - set(CATEGORIES)
    if unknown:
        raise InputError(f"Unknown categories {sorted(unknown)}; use {', '.join(CATEGORIES)}.")
    return questions


def run(assistant: Assistant, questions: Iterable[Question], **options: Any) -> list[Outcome]:
    """Ask every question the way users do (follow-ups after their first question, with its answer)."""
    outcomes = []
    for q in questions:
        history = []
        for earlier in q.history:
            history.append({"question": earlier, "answer": assistant.ask(earlier).to_dict()})
        trace = assistant.trace(q.question, quotes=3, history=history, **options)
        answer = trace.answer
        if trace.retrieval is not None:
            ranking = [(d, n) for d, n, _ in trace.retrieval.paragraphs]
        else:
            ranking = [(c.document.id, c.paragraph) for c in answer.citations]
        signals = dict(trace.retrieval.evidence.to_dict()) if trace.retrieval else {}
        signals["confidence"] = round(answer.confidence, 4)
        outcomes.append(Outcome(
            question=q, ranking=ranking, answered=answer.answered,
            cited=[(c.document.id, c.paragraph) for c in answer.citations], quotes=[c.quote for c in answer.citations],
            related=[(c.document.id, c.paragraph) for c in answer.related],
            reason=trace.decision.reason if trace.decision else "structure", signals=signals,
            interpreted_as=answer.interpreted_as))
    return outcomes


def _gold(o: Outcome, doc: str) -> set[tuple[str, int]]:
    return {(o.question.doc or doc, n) for n in o.question.gold}


def share(flags: Iterable[bool]) -> float | None:
    flags = list(flags)
    return round(sum(flags) / len(flags), 4) if flags else None


def hit_at(ranking: list[tuple[str, int]], gold: set[tuple[str, int]], k: int) -> bool:
    return any(p in gold for p in ranking[:k])


def reciprocal_rank(ranking: list[tuple[str, int]], gold: set[tuple[str, int]]) -> float:
    for rank, p in enumerate(ranking[:10], start=1):
        if p in gold:
            return 1.0 / rank
    return 0.0


def judge(o: Outcome, doc: str) -> dict[str, bool]:
    """What went right for one question: the checks its category is measured by."""
    q, gold = o.question, _gold(o, doc)
    if not q.in_scope:
        related_right = any(p in gold for p in o.related) if gold else False
        return {"refused": not o.answered, "related": related_right}
    first = o.cited[0] if o.cited else None
    return {
        "answered": o.answered,
        "paragraph": o.answered and first in gold,
        "quote": o.answered and bool(q.key) and q.key in o.first_quote(),
        "any_quote": o.answered and bool(q.key) and any(q.key in quote for quote in o.quotes),
        "every_part": o.answered and gold <= set(o.cited),
    }


def report(outcomes: list[Outcome], split: str | None, doc: str) -> dict[str, Any]:
    """Per category: how many, ranking metrics, right paragraph first, first quote, refusals; and failures."""
    chosen = [o for o in outcomes if split is None or o.question.split == split]
    result: dict[str, Any] = {"questions": len(chosen), "categories": {}}
    for category in CATEGORIES:
        for scope in (True, False):
            rows = [o for o in chosen if o.question.category == category and o.question.in_scope == scope]
            if not rows:
                continue
            name = category if category != "type" else f"type-{'answerable' if scope else 'unanswerable'}"
            judged = [judge(o, doc) for o in rows]
            entry: dict[str, Any] = {"n": len(rows)}
            if scope:
                for k in (1, 3, 5):
                    entry[f"hit_rate@{k}"] = share(hit_at(o.ranking, _gold(o, doc), k) for o in rows)
                entry["mrr@10"] = round(sum(reciprocal_rank(o.ranking, _gold(o, doc)) for o in rows) / len(rows), 4)
                entry["right_paragraph_first"] = share(j["paragraph"] for j in judged)
                entry["first_quote_answers"] = share(j["quote"] for j in judged if rows[0].question.key or True)
                entry["some_quote_answers"] = share(j["any_quote"] for j in judged)
                entry["refused_wrongly"] = share(not j["answered"] for j in judged)
                every = [j["every_part"] for j, o in zip(judged, rows) if o.question.every]
                if every:
                    entry["cites_every_part"] = share(every)
                for lang in ("zh", "en"):
                    part = [j["paragraph"] for j, o in zip(judged, rows) if o.question.lang == lang]
                    if part and len(part) < len(rows):
                        entry[f"right_paragraph_first_{lang}"] = share(part)
            else:
                entry["refused"] = share(j["refused"] for j in judged)
                if category == "near":
                    entry["related_right"] = share(j["related"] for j in judged)
            result["categories"][name] = entry
    in_scope = [judge(o, doc) for o in chosen if o.question.in_scope]
    result["in_scope_refused"] = share(not j["answered"] for j in in_scope)
    result["failures"] = [failure(o, doc) for o in chosen if not _passed(o, doc)]
    return result


def _passed(o: Outcome, doc: str) -> bool:
    j = judge(o, doc)
    if not o.question.in_scope:
        return j["refused"]
    return j["paragraph"] and (j["quote"] or not o.question.key) and (j["every_part"] or not o.question.every)


def failure(o: Outcome, doc: str) -> dict[str, Any]:
    """One failed question, as `qa eval` lists it."""
    q = o.question
    expected = "refuse" if not q.in_scope else f"¶{','.join(map(str, q.gold))} «{q.key}»"
    if o.answered:
        got = f"¶{','.join(str(n) for _, n in o.cited)} «{o.first_quote()[:40]}»"
    else:
        got = f"refused ({o.reason})" + (f", related ¶{','.join(str(n) for _, n in o.related)}" if o.related else "")
    return {"id": q.id, "split": q.split, "category": q.category, "question": q.question, "expected": expected,
            "got": got, "interpreted_as": o.interpreted_as, **{k: o.signals.get(k) for k in ("confidence",)}}


def tradeoff(assistant: Assistant, questions: list[Question], shifts=(-0.04, -0.02, 0.0, 0.01, 0.02, 0.03),
             doc: str = "") -> list[dict[str, Any]]:
    """Out-of-scope refusals against wrong refusals on the tuning half as the background-margin bars move."""
    tune = [q for q in questions if q.split == "tune" and not q.history]
    rows = []
    for shift in shifts:
        outcomes = run(assistant, tune, margin_shift=shift, suggestions=False)
        rows.append({"margin_shift": shift,
                     "out_of_scope_refused": share(not o.answered for o in outcomes if not o.question.in_scope),
                     "in_scope_refused": share(not o.answered for o in outcomes if o.question.in_scope)})
    return rows


def evaluate(assistant: Assistant, questions: list[Question], curve: bool = True,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The whole report: both halves, and the trade-off curve of the tuning half."""
    doc = next(iter(assistant.index.documents))
    if progress:
        progress(f"asking {len(questions)} questions…")
    outcomes = run(assistant, questions, suggestions=False)
    result = {split: report(outcomes, split, doc) for split in ("tune", "test")}
    if curve:
        if progress:
            progress("trade-off curve on the tuning half…")
        result["tradeoff"] = tradeoff(assistant, questions, doc=doc)
    return result
