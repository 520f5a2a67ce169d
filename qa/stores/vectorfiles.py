"""The embedded store's files: a document's vectors (distinct rows, and each chunk's row) in one .npz."""

from __future__ import annotations

import hashlib
import zipfile
from functools import cached_property
from pathlib import Path

import numpy as np

from qa.errors import StoreError
from qa.stores.base import ranges


def file_of(folder: Path, document: str) -> Path:
    return folder / f"{document}.npz"


class Part:
    """One document's vectors: distinct rows, and for each chunk id the row holding its vector. Read from a file,
    the vectors themselves are loaded only when a search or a caller needs them."""

    def __init__(self, ids: np.ndarray, rows: np.ndarray, vectors: np.ndarray | None = None,
                 path: Path | None = None, size: int = 0, digest: str = "") -> None:
        self.ids, self.rows, self.path = ids, rows, path
        self._vectors = vectors
        self.size = len(vectors) if vectors is not None else size
        self.digest = digest or (digest_of(vectors) if vectors is not None else "")

    @property
    def vectors(self) -> np.ndarray:
        if self._vectors is None:
            self._vectors = _read_vectors(self.path, self.size)
        return self._vectors


class Flat:
    """Every document's distinct vectors in one matrix; for each chunk its id, matrix row and document number."""

    def __init__(self, parts: dict[str, Part], dim: int) -> None:
        self.names = list(parts)
        self.dim = dim
        self.parts = [parts[n] for n in self.names]
        offsets = np.cumsum([0] + [p.size for p in self.parts])
        self.size = int(offsets[-1])
        self.ids = np.concatenate([p.ids for p in self.parts]) if self.parts else np.empty(0, np.int64)
        self.rows = np.concatenate([p.rows + o for p, o in zip(self.parts, offsets)]) if self.parts \
            else np.empty(0, np.int64)
        self.fingerprint = fingerprint(parts)

    def chunks(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The positions of the chunks whose vectors are these distinct rows, and how many each row has."""
        by_row, first = self._by_row
        return by_row[ranges(first[rows], first[rows + 1])], first[rows + 1] - first[rows]

    @cached_property
    def _by_row(self) -> tuple[np.ndarray, np.ndarray]:
        """Chunk positions sorted by row, and where each row's chunks start among them."""
        by_row = np.argsort(self.rows, kind="stable")
        return by_row, np.searchsorted(self.rows[by_row], np.arange(self.size + 1))

    @cached_property
    def matrix(self) -> np.ndarray:
        """The distinct vectors of every document, one after another (read and joined on first use)."""
        if not self.parts:
            return np.empty((0, self.dim), np.float32)
        return np.ascontiguousarray(np.concatenate([p.vectors for p in self.parts]))


def fingerprint(parts: dict[str, Part]) -> str:
    """What the vectors of these documents are, in this order: names an index built from exactly them."""
    digest = hashlib.blake2b(digest_size=8)
    for name, part in parts.items():
        digest.update(f"{name}:{part.size}:{part.digest};".encode())
    return digest.hexdigest()


def digest_of(vectors: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(vectors).tobytes(), digest_size=8).hexdigest()


def read(path: Path, dim: int) -> Part:
    """A document's ids and rows, and the size and digest of its vectors (read from the file's header)."""
    try:
        with np.load(path) as data:
            ids, rows = data["ids"].astype(np.int64), data["rows"].astype(np.int64)
            digest = str(data["digest"]) if "digest" in data.files else ""
            with data.zip.open("vectors.npy") as member:
                version = np.lib.format.read_magic(member)
                header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    np.lib.format.read_array_header_2_0
                shape, _, dtype = header(member)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise StoreError(f"The vectors in {path} are missing or damaged.") from exc
    if len(shape) != 2 or shape[1] != dim or dtype != np.float32 or len(ids) != len(rows) or (
            len(rows) and (rows.min() < 0 or rows.max() >= shape[0])):
        raise StoreError(f"The vectors in {path} do not match their ids.")
    part = Part(ids, rows, path=path, size=shape[0], digest=digest)
    if not digest:  # written before digests were kept: read the vectors now
        part.digest = digest_of(part.vectors)
    return part


def _read_vectors(path: Path | None, size: int) -> np.ndarray:
    try:
        with np.load(path) as data:
            vectors = np.ascontiguousarray(data["vectors"], dtype=np.float32)
    except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile) as exc:
        raise StoreError(f"The vectors in {path} are missing or damaged.") from exc
    if len(vectors) != size:
        raise StoreError(f"The vectors in {path} do not match their ids.")
    return vectors


def write(path: Path, part: Part) -> None:
    """Write a document's vectors to ``path`` (the caller renames it into place)."""
    np.savez(path, ids=part.ids, rows=part.rows, vectors=part.vectors, digest=np.array(part.digest))
