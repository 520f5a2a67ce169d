"""The one flow every answer takes: analyse -> retrieve -> rerank -> decide -> compose, with per-stage timings."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from qa import outline, rerank, suggest
from qa.analysis import analyse, intent
from qa.compose import compose
from qa.corpus.state import Index
from qa.decide import Decision, decide, screen
from qa.models.embedders import Embedder
from qa.retrieve import Retrieval, Retriever
from qa.types import Answer, Query, Turn

STAGES = ("analyse", "embed", "retrieve", "rerank", "decide", "compose", "suggest")
# Suggestions checked already, per question and the turn it follows: the same answer brings the same ones.
CHECKED_FOLLOW_UPS = 2048


@dataclass
class Trace:
    """One question's way through the pipeline: what each stage made, and how long each took (ms)."""

    query: Query
    answer: Answer
    decision: Decision | None = None
    retrieval: Retrieval | None = None
    timings: dict[str, float] = field(default_factory=dict)


class Pipeline:
    """Answers questions from one state of a corpus.

    Args:
        index: The corpus state.
        embedder: Embeds questions (the model the index was built with).
    """

    def __init__(self, index: Index, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder
        self.retriever = Retriever(index, self.embed)
        self._checked: OrderedDict[tuple, Answer] = OrderedDict()
        self._checked_lock = threading.Lock()

    def embed(self, text: str) -> np.ndarray:
        return self.embedder.queries([text])[0]

    def follow_up(self, question: str, turns: tuple[Turn, ...], documents: frozenset[str] | None = None) -> Answer:
        """The answer to ``question`` asked after ``turns`` (no suggestions), remembered for the next time."""
        last = turns[-1] if turns else None
        cited = tuple((c.get("document", {}).get("id"), c.get("paragraph"))
                      for c in (last.answer.get("citations") or ())) if last else ()
        key = (question, documents, last.question if last else "", last.answer.get("interpreted_as") if last else None,
               cited)
        with self._checked_lock:
            if key in self._checked:
                self._checked.move_to_end(key)
                return self._checked[key]
        answer = self.run(question, history=turns, documents=documents, suggestions=False).answer
        with self._checked_lock:
            self._checked[key] = answer
            while len(self._checked) > CHECKED_FOLLOW_UPS:
                self._checked.popitem(last=False)
        return answer

    def _suggest(self, query: Query, answer: Answer, documents: frozenset[str] | None) -> Answer:
        found = suggest.after(query, answer, self.index, lambda q, turns: self.follow_up(q, turns, documents))
        return replace(answer, suggestions=found)

    def run(self, question: str, quotes: int = 3, history: Sequence[Turn] = (),
            documents: frozenset[str] | None = None, margin_shift: float = 0.0, suggestions: bool = True) -> Trace:
        """Answer a cleaned question (see :func:`qa.analysis.clean_question`).

        Args:
            question: The question.
            quotes: How many sentences to quote at most.
            history: Earlier turns, oldest first.
            documents: Limit the answer to these documents (None: all).
            margin_shift: Moves the background-margin bar (for `qa eval`'s trade-off curve).
            suggestions: Whether to add follow-up suggestions.
        """
        timings: dict[str, float] = {}
        clock = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[stage] = (now - clock) * 1000
            clock = now

        query = analyse(question, self.index.tokenizer, history, documents)
        lap("analyse")
        screened = screen(query, self.index) if query.intent == intent.STRUCTURE else None
        if screened is not None:
            answer = compose(query, None, screened, self.index, quotes)
            lap("compose")
            return Trace(query, answer, screened, None, timings)
        if query.structure is not None and query.structure.kind == "within":
            query = replace(query, within=outline.region(query, self.index))
        if query.intent == intent.STRUCTURE and query.structure.kind != "which":
            answer = outline.answer(query, self.index)
            if answer is not None:
                lap("compose")
                if suggestions:
                    answer = self._suggest(query, answer, documents)
                    lap("suggest")
                return Trace(query, answer, None, None, timings)
        vector = self.embed(query.search)
        lap("embed")
        found = self.retriever.search(query, k=max(20, quotes), vector=vector)
        lap("retrieve")
        found = rerank.rerank(query, found, self.index)
        lap("rerank")
        if query.structure is not None and query.structure.kind == "which":
            answer = outline.which(query, found, self.index)
            if answer is not None:
                lap("compose")
                if suggestions:
                    answer = self._suggest(query, answer, documents)
                    lap("suggest")
                return Trace(query, answer, None, found, timings)
        decision = decide(query, found, self.index, margin_shift)
        lap("decide")
        answer = compose(query, found, decision, self.index, quotes)
        lap("compose")
        if suggestions:
            answer = self._suggest(query, answer, documents)
            lap("suggest")
        return Trace(query, answer, decision, found, timings)
