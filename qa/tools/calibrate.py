"""Measure a model's decision bars on the tuning half of the question set (`qa eval --calibrate`).

Each tuning question is run once with the bars open: what every other check decided, its confidence and
its margin over everyday text are kept. The bars are then a filter over those rows, so every pair of bars
is scored exactly without asking again. The cost of a pair is the questions it gets wrong, a wrong answer
(a quote for a question the documents do not answer) counting twice a wrong refusal, as the project's
quality rules weigh them. Among equally good bars the middle of the plateau is taken.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from qa.analysis import clean_question, intent
from qa.assistant import Assistant
from qa.decide import ANSWER
from qa.models.calibration import Calibration
from qa.pipeline import Pipeline
from qa.tools.evaluate import Question, share

# A quote that does not answer costs this many wrong refusals.
WRONG_ANSWER_COST = 2.0
MARGINS = np.round(np.arange(-0.10, 0.0601, 0.005), 3)


@dataclass(frozen=True)
class Row:
    """One tuning question with the bars open."""

    english: bool
    in_scope: bool
    passes: bool  # every check but the bars let it be answered
    confidence: float
    margin: float
    bridged: bool  # English whose words BM25 matched through the bridge (it takes the English margin bar)


def measure(assistant: Assistant, questions: list[Question],
            progress: Callable[[str], None] | None = None) -> list[Row]:
    """Run the tuning half's questions (without history, not about the document's structure) with open bars."""
    index = assistant.index
    opened = dataclasses.replace(index.calibration, threshold_zh=-math.inf, threshold_en=-math.inf,
                                 margin_zh=-math.inf, margin_en=-math.inf)
    pipeline = Pipeline(dataclasses.replace(index, calibration=opened), assistant.embedder)
    chosen = [q for q in questions if q.split == "tune" and not q.history and q.category != "structure"]
    if progress:
        progress(f"asking {len(chosen)} tuning questions with the bars open…")
    rows = []
    for q in chosen:
        trace = pipeline.run(clean_question(q.question, assistant.settings.max_question_chars), suggestions=False)
        if trace.decision is None or trace.retrieval is None or trace.query.intent == intent.STRUCTURE:
            continue
        evidence = trace.retrieval.evidence
        rows.append(Row(english=trace.query.language != "zh", in_scope=q.in_scope,
                        passes=trace.decision.verdict == ANSWER, confidence=trace.decision.confidence,
                        margin=evidence.margin, bridged=evidence.bm25_top > 0))
    return rows


def _answered(rows: list[Row], bars: Calibration) -> list[bool]:
    """Which rows the bars let through (the margin bar as :func:`qa.decide.min_margin` picks it)."""
    return [r.passes and r.confidence >= bars.threshold(r.english)
            and r.margin >= (bars.margin_en if r.english and r.bridged else bars.margin_zh) for r in rows]


def _costs(rows: list[Row], bars: Calibration, margin: str, thresholds: np.ndarray) -> np.ndarray:
    """The cost of every (margin in MARGINS, threshold) pair for ``rows``, the other margin bar as in ``bars``."""
    confidence = np.array([r.confidence for r in rows])
    over = np.array([r.margin for r in rows])
    passes = np.array([r.passes for r in rows])
    in_scope = np.array([r.in_scope for r in rows])
    english_bar = np.array([r.english and r.bridged for r in rows])
    uses = english_bar if margin == "margin_en" else ~english_bar
    other = bars.margin_zh if margin == "margin_en" else bars.margin_en
    costs = np.empty((len(MARGINS), len(thresholds)))
    for i, m in enumerate(MARGINS):
        through = passes & (over >= np.where(uses, m, other))
        answered = through[None, :] & (confidence[None, :] >= thresholds[:, None])
        costs[i] = WRONG_ANSWER_COST * (answered & ~in_scope).sum(1) + (~answered & in_scope).sum(1)
    return costs


def _plateau_middle(values: list[float], costs: list[float]) -> float:
    """The middle of the longest run of lowest cost (values in order)."""
    best = min(costs)
    runs, start = [], None
    for i, c in enumerate(costs + [math.inf]):
        if c == best and start is None:
            start = i
        elif c != best and start is not None:
            runs.append((start, i - 1))
            start = None
    a, b = max(runs, key=lambda r: r[1] - r[0])
    return float((values[a] + values[b]) / 2)


def _thresholds(rows: list[Row]) -> list[float]:
    """Candidate confidence bars: between each pair of neighbouring observed confidences."""
    seen = sorted({round(r.confidence, 4) for r in rows})
    if not seen:
        return [0.0]
    return [seen[0] - 0.01, *((a + b) / 2 for a, b in itertools.pairwise(seen)), seen[-1] + 0.01]


def _best(rows: list[Row], bars: Calibration, threshold: str, margin: str) -> Calibration:
    """``bars`` with the named threshold and margin at the middle of their lowest-cost plateaus on ``rows``:
    the margin first (each at its best threshold), then the threshold at that margin."""
    ts = np.array(_thresholds(rows))
    costs = _costs(rows, bars, margin, ts)
    middle = _plateau_middle(list(MARGINS), list(costs.min(axis=1)))
    i = int(np.argmin(np.abs(MARGINS - middle)))
    t = _plateau_middle(list(ts), list(costs[i]))
    return dataclasses.replace(bars, **{margin: round(float(MARGINS[i]), 4), threshold: round(t, 4)})


def fit(rows: list[Row], base: Calibration) -> Calibration:
    """The bars of least cost: the Chinese ones on Chinese rows, then the English ones on English rows."""
    bars = dataclasses.replace(base, calibrated=True)
    zh = [r for r in rows if not r.english]
    en = [r for r in rows if r.english]
    if zh:
        bars = _best(zh, bars, "threshold_zh", "margin_zh")
    if en:
        bars = _best(en, bars, "threshold_en", "margin_en")
    return bars


def summary(rows: list[Row], bars: Calibration) -> dict[str, Any]:
    """Refusal rates of the tuning rows under some bars."""
    answered = _answered(rows, bars)
    return {"out_of_scope_refused": share(not a for r, a in zip(rows, answered) if not r.in_scope) or 0.0,
            "in_scope_refused": share(not a for r, a in zip(rows, answered) if r.in_scope) or 0.0}


def calibrate(assistant: Assistant, questions: list[Question],
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure the bars for the assistant's model on the tuning half and keep them in its corpus's manifest."""
    rows = measure(assistant, questions, progress)
    before = assistant.index.calibration
    found = fit(rows, before)
    saved = assistant.corpus.set_calibration(found)
    return {"model": found.model, "calibration": found.to_dict(), "saved": saved, "questions": len(rows),
            "before": {"calibration": before.to_dict(), **summary(rows, before)}, **summary(rows, found)}
