"""The assistant: a speech, its index and a model behind one ``ask`` call."""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

from qa import source, store
from qa.answer import compose
from qa.config import Settings
from qa.embed import Embedder, load_embedder
from qa.errors import InputError, ModelError, SourceError
from qa.retrieve import Retriever
from qa.types import Answer, Document


# Raw text may be this many times the limit (whitespace and invisible characters are dropped before counting).
RAW_LIMIT_FACTOR = 10


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def clean_question(question: object, max_chars: int) -> str:
    """Check a question and make it safe to search.

    Control, format (zero-width, bidi) and lone-surrogate characters are
    dropped; whitespace runs become one space. ``max_chars`` applies to the
    cleaned text; raw text over ``RAW_LIMIT_FACTOR`` times that is refused unread.

    Raises:
        InputError: Not text, empty, too long, or without any letter, digit or CJK character.
    """
    if not isinstance(question, str):
        raise InputError("The question must be text.", code="not_text")
    if len(question) > RAW_LIMIT_FACTOR * max_chars:  # refused before the per-character scan below
        raise InputError(
            f"The question has {len(question)} characters; the limit is {max_chars}. Shorten it.", code="too_long"
        )
    kept = []
    for ch in question:
        category = unicodedata.category(ch)
        if category in ("Cc", "Zl", "Zp"):
            kept.append(" ")
        elif category not in ("Cf", "Cs", "Co", "Cn"):
            kept.append(ch)
    text = " ".join("".join(kept).split())
    if not text:
        raise InputError("The question is empty. Ask something about the speech.", code="empty")
    if len(text) > max_chars:
        raise InputError(
            f"The question has {len(text)} characters; the limit is {max_chars}. Shorten it.", code="too_long"
        )
    if not any(unicodedata.category(ch)[0] in "LN" for ch in text):
        raise InputError("The question has no words to search for (only punctuation or symbols).", code="no_words")
    return text


class Assistant:
    """Answers questions about one speech; loads the model and index on first use.

    Args:
        settings: Source, index folder, model and limits.
        embedder: An embedder to use instead of loading ``settings.model``.
        progress: Where progress messages of model conversion and index builds go.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        progress: Callable[[str], None] | None = _stderr,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self._embedder = embedder
        self._progress = progress

    @cached_property
    def embedder(self) -> Embedder:
        if self._embedder is not None:
            return self._embedder
        name = self.settings.model
        if name.startswith(("/", "./", "../", "~")) and not Path(name).expanduser().is_dir():
            raise ModelError(f"The model folder {name} does not exist. Pass --model (or set QA_MODEL) to a "
                             "sentence-transformers folder, or leave it unset for the bundled default.")
        return load_embedder(name, progress=self._progress)

    def _read_source(self) -> tuple[Document, str] | None:
        path = Path(self.settings.source)
        if not path.is_file():
            return None
        return source.load(path), store.sha256_bytes(path.read_bytes())

    def build(self) -> store.Store:
        """Rebuild the index from the source text, whatever is on disk."""
        read = self._read_source()
        if read is None:
            raise SourceError(f"The speech file {self.settings.source} does not exist. Pass --source FILE.")
        document, digest = read
        built = store.build(document, digest, self.embedder, self.settings.index_path, progress=self._progress)
        self.__dict__["index"] = built
        self.__dict__.pop("retriever", None)
        return built

    @cached_property
    def index(self) -> store.Store:
        """The index on disk if it is sound and current, otherwise a fresh build."""
        read = self._read_source()
        digest = read[1] if read else None
        try:
            return store.load(self.settings.index_path, source_hash=digest, model=self.embedder.name)
        except store.StoreError as exc:
            if read is None:
                raise
            if self.settings.index_path.exists() and self._progress:
                self._progress(f"{exc} Rebuilding.")
            return self.build()

    @property
    def document(self) -> Document:
        return self.index.document

    @property
    def loaded(self) -> bool:
        """Whether the index and retriever are loaded (the first question will not wait for them)."""
        return "retriever" in self.__dict__

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.index, self.embedder)

    def ask(self, question: str, quotes: int | None = None) -> Answer:
        """Answer one question with quotes from the speech.

        Args:
            question: Chinese or English text, at most ``settings.max_question_chars`` characters.
            quotes: How many sentences to quote at most (1–3); the settings' value by default.

        Raises:
            InputError: The question or ``quotes`` cannot be used.
        """
        text = clean_question(question, self.settings.max_question_chars)
        quotes = self.settings.quotes if quotes is None else quotes
        if isinstance(quotes, bool) or not isinstance(quotes, int) or not 1 <= quotes <= 3:
            raise InputError(f"quotes must be 1, 2 or 3, not {quotes!r}.", code="bad_quotes")
        found = self.retriever.search(text, k=max(10, quotes))
        return compose(text, found, self.document, quotes=quotes)
