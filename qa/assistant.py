"""The assistant: a corpus, a model and the pipeline behind one ``ask`` call that every edge uses."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from qa.analysis import clean_question
from qa.config import MAX_QUOTES, Settings
from qa.corpus.folder import Corpus
from qa.corpus.state import Index
from qa.errors import InputError, ModelError
from qa.models.embedders import Embedder, load_embedder
from qa.pipeline import Pipeline, Trace
from qa.types import Answer, Turn

# The conversation a follow-up is read against: the last few turns are enough.
MAX_HISTORY = 20


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check_quotes(quotes: object) -> int:
    """The number of quotes, strictly a whole number from 1 to 3 (not a bool, not a string).

    Raises:
        InputError: Anything else.
    """
    if isinstance(quotes, bool) or not isinstance(quotes, int) or not 1 <= quotes <= MAX_QUOTES:
        raise InputError(f"quotes must be 1, 2 or 3, not {quotes!r}.", code="bad_quotes")
    return quotes


def check_history(history: object) -> list[Turn]:
    """Earlier turns as given by an edge: a list of {"question": str, "answer": {…}} (answer optional).

    Raises:
        InputError: Not such a list.
    """
    if history is None:
        return []
    if not isinstance(history, list | tuple):
        raise InputError("history must be a list of {\"question\": …, \"answer\": …} objects.", code="bad_history")
    turns = []
    for item in list(history)[-MAX_HISTORY:]:
        if isinstance(item, Turn):
            turns.append(item)
            continue
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise InputError("Each history item must be an object with a \"question\" string (and the \"answer\" "
                             "object given then).", code="bad_history")
        answer = item.get("answer")
        if answer is not None and not isinstance(answer, dict):
            raise InputError("A history item's \"answer\" must be the answer object given then.", code="bad_history")
        turns.append(Turn(item["question"][:2000], answer or {}))
    return turns


class Assistant:
    """Answers questions about a corpus; loads the model and the index on first use.

    Args:
        settings: Corpus, model and limits.
        embedder: An embedder to use instead of loading ``settings.model``.
        progress: Where messages about model conversion and index builds go.
    """

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None,
                 progress: Callable[[str], None] | None = _stderr) -> None:
        self.settings = settings or Settings.from_env()
        self._embedder = embedder
        self._progress = progress
        self._pipeline: tuple[Index, Pipeline] | None = None
        self._lock = threading.Lock()

    @cached_property
    def embedder(self) -> Embedder:
        if self._embedder is not None:
            return self._embedder
        name = self.settings.model
        if name.startswith(("/", "./", "../", "~")) and not Path(name).expanduser().is_dir():
            raise ModelError(f"The model folder {name} does not exist. Pass --model (or set QA_MODEL) to a "
                             "sentence-transformers folder, or leave it unset for the bundled default.")
        return load_embedder(name, progress=self._progress)

    @cached_property
    def corpus(self) -> Corpus:
        return Corpus(self.settings.corpus, self.embedder, seed=self.settings.seed, progress=self._progress,
                      store=self.settings.store)

    @property
    def index(self) -> Index:
        """The corpus as last committed (loaded, built or reloaded as needed)."""
        return self.corpus.index

    @property
    def loaded(self) -> bool:
        """Whether the corpus is loaded (the first question will not wait for it)."""
        return "corpus" in self.__dict__ and self.corpus.loaded

    @property
    def pipeline(self) -> Pipeline:
        """The pipeline over the current state of the corpus (a new one after the corpus changes)."""
        index = self.index
        with self._lock:
            if self._pipeline is None or self._pipeline[0] is not index:
                self._pipeline = (index, Pipeline(index, self.embedder))
            return self._pipeline[1]

    def trace(self, question: object, quotes: object = None, history: object = None, doc: object = None,
              **options: Any) -> Trace:
        """Answer one question and keep what every stage made (for ``qa eval`` and ``qa bench``).

        Raises:
            InputError: The question, ``quotes``, ``history`` or ``doc`` cannot be used.
        """
        text = clean_question(question, self.settings.max_question_chars)
        quotes = check_quotes(self.settings.quotes if quotes is None else quotes)
        turns = check_history(history)
        pipeline = self.pipeline
        return pipeline.run(text, quotes=quotes, history=turns, documents=self._scope(doc, pipeline.index),
                            **options)

    def ask(self, question: object, quotes: object = None, history: object = None, doc: object = None) -> Answer:
        """Answer one question with quotes from the documents.

        Args:
            question: Chinese or English text, at most ``settings.max_question_chars`` characters.
            quotes: How many sentences to quote at most (1–3); the settings' value by default.
            history: Earlier turns, oldest first: ``[{"question": …, "answer": <answer JSON>}, …]``.
            doc: Answer from this document only (its id), or from several (a list of ids).

        Raises:
            InputError: The question, ``quotes``, ``history`` or ``doc`` cannot be used.
        """
        return self.trace(question, quotes, history, doc).answer

    @staticmethod
    def _scope(doc: object, index: Index) -> frozenset[str] | None:
        if doc is None or doc == "" or doc == []:
            return None
        ids = [doc] if isinstance(doc, str) else doc
        if not isinstance(ids, list | tuple | set | frozenset) or not all(isinstance(d, str) for d in ids):
            raise InputError("doc must be a document id (or a list of ids).", code="bad_doc")
        unknown = [d for d in ids if d not in index.documents]
        if unknown:
            known = ", ".join(index.documents)
            raise InputError(f"No document {unknown[0]!r} in the corpus; its documents are: {known}.",
                             code="unknown_doc")
        return frozenset(ids)

    def warm(self, questions: Sequence[str] = ("劳动",)) -> None:
        """Load the model and the corpus and answer once, so the first visitor waits no longer than the next."""
        for question in questions:
            self.ask(question)
