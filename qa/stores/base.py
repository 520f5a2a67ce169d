"""What every vector store offers the corpus: add and delete a document's vectors, search, count, save."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np


def chunk_id(key: str) -> int:
    """A chunk's stable 63-bit id, from its key (document, paragraph, start, end, kind): the same in every store."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little") & (2**63 - 1)


def ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The integers of every range ``[starts[i], ends[i])``, one range after another (without a Python loop)."""
    counts = np.asarray(ends) - np.asarray(starts)
    return np.repeat(np.asarray(starts) - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())


def checked(ids: np.ndarray, vectors: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """One document's ids (int64) and vectors (float32) for :meth:`VectorStore.add`, checked against each other.

    Raises:
        ValueError: Ids and vectors differ in number, or the vectors have another dimension.
    """
    ids = np.asarray(ids, dtype=np.int64)
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != dim or len(ids) != len(vectors):
        raise ValueError(f"expected {len(ids)} vectors of dimension {dim}, got {vectors.shape}")
    return ids, vectors


@dataclass(frozen=True)
class Filter:
    """Which vectors a search may return: those of some documents only (None: every document)."""

    documents: frozenset[str] | None = None

    def admits_all(self) -> bool:
        return self.documents is None


class VectorStore(Protocol):
    """A store of unit-length vectors, each with a chunk id and the document it belongs to.

    Implementations: :class:`qa.stores.exact.ExactStore` (in process, the default) and
    :class:`qa.stores.milvus.MilvusStore` (a Milvus engine, which persists each call; ``save`` flushes).
    """

    dim: int

    def add(self, document: str, ids: np.ndarray, vectors: np.ndarray, texts: Mapping[int, str] | None = None) -> None:
        """Add one document's vectors (one row per id); a document already there is replaced. ``texts`` maps
        some ids (the paragraphs) to their text, for an engine that also searches text."""
        ...

    def delete(self, document: str) -> int:
        """Remove every vector of a document; returns how many were removed."""
        ...

    def search(self, vector: np.ndarray, k: int, where: Filter | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ids and inner products of the ``k`` vectors nearest to ``vector``, best first."""
        ...

    def count(self, document: str | None = None) -> int:
        """How many vectors the store holds (of one document, if given)."""
        ...

    def documents(self) -> list[str]:
        """The documents that have vectors here."""
        ...

    def distinct(self) -> int:
        """How many distinct vectors a search reads."""
        ...

    def kind(self) -> str:
        """How a search is answered (``flat``, ``ivf``, ``milvus hnsw``…), as the benchmark reports it."""
        ...

    def save(self) -> None:
        """Make every change so far durable."""
        ...

    def tidy(self, keep: Iterable[str]) -> None:
        """Remove the vectors of every document not in ``keep``."""
        ...
