"""The default vector store: every vector in memory, scanned exactly; a FAISS HNSW graph past HNSW_FROM."""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from qa.errors import StoreError
from qa.stores.base import Filter, checked

# Up to this many distinct vectors every search scans them all (exact); beyond, a FAISS HNSW graph answers
# (~20x faster at a million vectors, recall@10 1.00 on the benchmark's clustered vectors).
HNSW_FROM = 200_000
EF_SEARCH = 256


def _file(folder: Path, document: str) -> Path:
    return folder / f"{document}.npz"


class _Part:
    """One document's vectors: distinct rows, and for each chunk id the row holding its vector."""

    def __init__(self, ids: np.ndarray, rows: np.ndarray, vectors: np.ndarray) -> None:
        self.ids, self.rows, self.vectors = ids, rows, vectors


class _Flat:
    """Every document's distinct vectors in one matrix; for each chunk its id, matrix row and document number."""

    def __init__(self, parts: dict[str, _Part], dim: int) -> None:
        self.names = list(parts)
        chosen = [parts[n] for n in self.names]
        offsets = np.cumsum([0] + [len(p.vectors) for p in chosen])
        self.matrix = np.ascontiguousarray(
            np.concatenate([p.vectors for p in chosen]) if chosen else np.empty((0, dim), np.float32))
        self.ids = np.concatenate([p.ids for p in chosen]) if chosen else np.empty(0, np.int64)
        self.rows = np.concatenate([p.rows + o for p, o in zip(chosen, offsets)]) if chosen else np.empty(0, np.int64)
        self.owners = np.concatenate([np.full(len(p.ids), i, np.int32) for i, p in enumerate(chosen)]) if chosen \
            else np.empty(0, np.int32)
        digest = hashlib.blake2b(digest_size=8)
        for name, part in zip(self.names, chosen):
            digest.update(f"{name}:{len(part.vectors)};".encode())
        self.fingerprint = digest.hexdigest()


class ExactStore:
    """Vectors of a corpus in one folder, a file per document, all held in memory for search.

    Each document's identical vectors (a clause that is a whole sentence, a repeated phrase) are kept once.
    Searching scans every distinct vector with one matrix product in the calling thread (not BLAS's
    thread pool, which spins against onnxruntime's); past :data:`HNSW_FROM` distinct vectors, a FAISS HNSW
    graph (saved beside the files and rebuilt when the documents change) answers instead.

    Args:
        folder: Where the per-document files live (created on save).
        dim: Vector dimension.
    """

    def __init__(self, folder: Path, dim: int) -> None:
        self.folder = Path(folder)
        self.dim = dim
        self._parts: dict[str, _Part] = {}
        self._dirty: set[str] = set()
        self._removed: set[str] = set()
        self._flat: _Flat | None = None
        self._hnsw = None

    # ------------------------------------------------------------------ writing

    def add(self, document: str, ids: np.ndarray, vectors: np.ndarray, texts: object = None) -> None:
        """Add one document's vectors, one row per chunk id; a document already here is replaced (``texts``, for
        engines with their own full-text search, is not kept here).

        Raises:
            ValueError: Ids and vectors differ in number, or the vectors have another dimension.
        """
        ids, vectors = checked(ids, vectors, self.dim)
        distinct, rows = np.unique(vectors, axis=0, return_inverse=True) if len(vectors) else (vectors, ids)
        self._parts[document] = _Part(ids, np.asarray(rows, np.int64).reshape(-1), np.ascontiguousarray(distinct))
        self._dirty.add(document)
        self._removed.discard(document)
        self._changed()

    def delete(self, document: str) -> int:
        """Remove every vector of a document; returns how many chunk ids it had."""
        part = self._parts.pop(document, None)
        self._dirty.discard(document)
        self._removed.add(document)
        self._changed()
        return 0 if part is None else len(part.ids)

    def save(self) -> None:
        """Write the documents added since the last save and delete the files of those removed.

        Raises:
            StoreError: The folder cannot be written.
        """
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for document in sorted(self._dirty):
                part = self._parts[document]
                tmp = self.folder / f".{document}.{os.getpid()}.npz"
                np.savez(tmp, ids=part.ids, rows=part.rows, vectors=part.vectors)
                os.replace(tmp, _file(self.folder, document))
            for document in self._removed:
                _file(self.folder, document).unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot write vectors to {self.folder}: {exc.strerror or exc}.") from exc
        self._dirty.clear()
        self._removed.clear()

    # ------------------------------------------------------------------ reading

    @classmethod
    def load(cls, folder: Path, dim: int, documents: Iterable[str], strict: bool = True) -> ExactStore:
        """Read the vectors of the given documents (files of other documents are left alone).

        Args:
            folder: The store's folder.
            dim: The vectors' dimension.
            documents: Whose vectors to read.
            strict: Raise on a missing or damaged file; if False, leave that document out instead.

        Raises:
            StoreError: A document's file is missing or damaged (``strict`` only).
        """
        store = cls(folder, dim)
        for document in documents:
            path = _file(store.folder, document)
            try:
                store._parts[document] = _read(path, dim)
            except StoreError:
                if strict:
                    raise
        return store

    def tidy(self, keep: Iterable[str]) -> None:
        """Delete files of documents not in ``keep`` (left by a writer that died before its commit)."""
        wanted = {f"{d}.npz" for d in keep}
        for path in self.folder.glob("*.npz") if self.folder.is_dir() else ():
            if path.name not in wanted:
                path.unlink(missing_ok=True)

    def documents(self) -> list[str]:
        return list(self._parts)

    def vectors(self, document: str) -> tuple[np.ndarray, np.ndarray | None]:
        """A document's chunk ids and their vectors (None when the document is not here)."""
        part = self._parts.get(document)
        return (part.ids, part.vectors[part.rows]) if part is not None else (np.empty(0, np.int64), None)

    def count(self, document: str | None = None) -> int:
        if document is not None:
            part = self._parts.get(document)
            return 0 if part is None else len(part.ids)
        return sum(len(p.ids) for p in self._parts.values())

    def distinct(self) -> int:
        """How many distinct vectors are scanned."""
        return sum(len(p.vectors) for p in self._parts.values())

    def search(self, vector: np.ndarray, k: int, where: Filter | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ids and inner products of the ``k`` nearest chunks, best first (ties by position)."""
        flat = self._view()
        if k <= 0 or not len(flat.ids):
            return np.empty(0, np.int64), np.empty(0, np.float32)
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if len(flat.matrix) > HNSW_FROM:
            scores = self._hnsw_scores(flat, vector, k)
        else:
            # Not `matrix @ vector`: OpenBLAS would spread this memory-bound scan over its own threads, which
            # then spin against onnxruntime's and doubled the next question's embedding time (3,000 paragraphs:
            # answer p50 17.9 -> 8.3 ms). einsum scans in this thread about as fast as BLAS does with two.
            scores = np.einsum("ij,j->i", flat.matrix, vector)
        every = scores[flat.rows]
        if where is None or where.admits_all():
            chosen = _top(every, k)
        else:
            allowed = [i for i, name in enumerate(flat.names) if name in where.documents]
            candidates = np.flatnonzero(np.isin(flat.owners, allowed))
            chosen = candidates[_top(every[candidates], k)]
        return flat.ids[chosen], every[chosen]

    # ------------------------------------------------------------------ internals

    def _changed(self) -> None:
        self._flat = None
        self._hnsw = None

    def _view(self) -> _Flat:
        if self._flat is None:
            self._flat = _Flat(self._parts, self.dim)
        return self._flat

    def _hnsw_scores(self, flat: _Flat, vector: np.ndarray, k: int) -> np.ndarray:
        """Inner products from the HNSW graph for the nearest distinct vectors; the rest get the least of those."""
        index = self._graph(flat)
        wanted = min(len(flat.matrix), max(4 * k, 2000))
        found, rows = index.search(vector.reshape(1, -1), wanted)
        keep = rows[0] >= 0
        floor = float(found[0][keep].min()) if keep.any() else 0.0
        scores = np.full(len(flat.matrix), floor, np.float32)
        scores[rows[0][keep]] = found[0][keep]
        return scores

    def _graph(self, flat: _Flat):
        """The HNSW graph of these documents' vectors: read from the folder if saved for exactly them, else built
        and saved (graphs of other document sets are deleted)."""
        import faiss

        if self._hnsw is None:
            path = self.folder / f"hnsw-{flat.fingerprint}.faiss"
            index = None
            if path.is_file():
                try:
                    index = faiss.read_index(str(path))
                except RuntimeError:
                    index = None
            if index is None or index.ntotal != len(flat.matrix):
                index = faiss.IndexHNSWFlat(self.dim, 32, faiss.METRIC_INNER_PRODUCT)
                index.hnsw.efConstruction = 80
                index.add(flat.matrix)
                try:
                    for old in self.folder.glob("hnsw-*.faiss"):
                        old.unlink(missing_ok=True)
                    self.folder.mkdir(parents=True, exist_ok=True)
                    faiss.write_index(index, str(path))
                except (OSError, RuntimeError):
                    pass  # a read-only corpus still answers; the graph is built again next time
            index.hnsw.efSearch = EF_SEARCH
            self._hnsw = index
        return self._hnsw

    def drop(self) -> None:
        """Delete the whole folder (the corpus is being rebuilt)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self._parts.clear()
        self._changed()


def _read(path: Path, dim: int) -> _Part:
    try:
        with np.load(path) as data:
            part = _Part(data["ids"].astype(np.int64), data["rows"].astype(np.int64),
                         np.ascontiguousarray(data["vectors"], dtype=np.float32))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise StoreError(f"The vectors in {path} are missing or damaged.") from exc
    if part.vectors.ndim != 2 or part.vectors.shape[1] != dim or len(part.ids) != len(part.rows) or (
            len(part.rows) and (part.rows.min() < 0 or part.rows.max() >= len(part.vectors))):
        raise StoreError(f"The vectors in {path} do not match their ids.")
    return part


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, largest first, ties in index order."""
    if k < len(scores):
        part = np.argpartition(-scores, k - 1)[:k]
        return part[np.lexsort((part, -scores[part]))]
    return np.argsort(-scores, kind="stable")
