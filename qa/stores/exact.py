"""The default vector store: every vector in memory, scanned exactly; a FAISS IVF index past ANN_FROM."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from qa.errors import StoreError
from qa.stores import ivf
from qa.stores.base import Filter, checked
from qa.stores.vectorfiles import Flat, Part, file_of, fingerprint, read, write

# Up to this many distinct vectors every search scans them all (exact). Beyond, a FAISS IVF index answers (see
# qa.stores.ivf). 10,050 paragraphs (108k distinct vectors): a search 15 ms -> 4 ms, and 98 % of 300 questions
# cite the same paragraph first as with the exact scan.
ANN_FROM = 50_000


class ExactStore:
    """Vectors of a corpus in one folder, a file per document, all held in memory for search.

    Each document's identical vectors (a clause that is a whole sentence, a repeated phrase) are kept once.
    Searching scans every distinct vector with one matrix product in the calling thread (not BLAS's
    thread pool, which spins against onnxruntime's). Past :data:`ANN_FROM` distinct vectors, a FAISS IVF
    index answers instead: built when the documents are saved and kept beside their files under the fingerprint
    of exactly those documents, so a new process reads that one file instead of every document's vectors.
    A search limited to some documents scans theirs exactly.

    Args:
        folder: Where the per-document files live (created on save).
        dim: Vector dimension.
    """

    def __init__(self, folder: Path, dim: int) -> None:
        self.folder = Path(folder)
        self.dim = dim
        self._parts: dict[str, Part] = {}
        self._dirty: set[str] = set()
        self._removed: set[str] = set()
        self._flat: Flat | None = None
        self._ann = None
        self.ann_from = ANN_FROM  # past this many distinct vectors the IVF index answers (the bench compares)

    # ------------------------------------------------------------------ writing

    def add(self, document: str, ids: np.ndarray, vectors: np.ndarray, texts: object = None) -> None:
        """Add one document's vectors, one row per chunk id; a document already here is replaced (``texts``, for
        engines with their own full-text search, is not kept here).

        Raises:
            ValueError: Ids and vectors differ in number, or the vectors have another dimension.
        """
        ids, vectors = checked(ids, vectors, self.dim)
        distinct, rows = np.unique(vectors, axis=0, return_inverse=True) if len(vectors) else (vectors, ids)
        self._parts[document] = Part(ids, np.asarray(rows, np.int64).reshape(-1), np.ascontiguousarray(distinct))
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
        """Write the documents added since the last save, delete the files of those removed, and (past
        :data:`ANN_FROM`) the IVF index of the documents now here.

        Raises:
            StoreError: The folder cannot be written.
        """
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for document in sorted(self._dirty):
                part = self._parts[document]
                tmp = self.folder / f".{document}.{os.getpid()}.npz"
                write(tmp, part)
                os.replace(tmp, file_of(self.folder, document))
            for document in self._removed:
                file_of(self.folder, document).unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot write vectors to {self.folder}: {exc.strerror or exc}.") from exc
        self._dirty.clear()
        self._removed.clear()
        if self._view().size > self.ann_from:
            self._index(self._view())

    # ------------------------------------------------------------------ reading

    @classmethod
    def load(cls, folder: Path, dim: int, documents: Iterable[str], strict: bool = True) -> ExactStore:
        """Read the vectors of the given documents (files of other documents are left alone). When an IVF index
        saved for exactly these documents will answer (and ``strict``), only their ids are read now, and the
        vectors when a search limited to some documents needs them.

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
            try:
                store._parts[document] = read(file_of(store.folder, document), dim)
            except StoreError:
                if strict:
                    raise
        flat = store._view()
        if strict and flat.size > store.ann_from:  # a writer (not strict) reads every vector, and drops damage
            store._ann = ivf.saved(ivf.path_for(store.folder, flat.fingerprint), flat.size)
        if store._ann is None:  # every vector is read for searching: read them now
            for document, part in list(store._parts.items()):
                try:
                    _ = part.vectors
                except StoreError:
                    if strict:
                        raise
                    del store._parts[document]
                    store._changed()
        return store

    def tidy(self, keep: Iterable[str]) -> None:
        """Delete files of documents not in ``keep`` (left by a writer that died before its commit), and IVF
        indexes of other sets of documents than the kept ones."""
        keep = set(keep)
        wanted = {f"{d}.npz" for d in keep}
        current = ivf.path_for(self.folder, fingerprint({n: p for n, p in self._parts.items() if n in keep})).name
        if not self.folder.is_dir():
            return
        for path in [*self.folder.glob("*.npz"), *self.folder.glob("ivf*.faiss"), *self.folder.glob("*.tmp"),
                     *self.folder.glob("hnsw-*")]:
            if path.name not in wanted and path.name != current:
                path.unlink(missing_ok=True)

    def documents(self) -> list[str]:
        return list(self._parts)

    def vectors(self, document: str) -> tuple[np.ndarray, np.ndarray | None]:
        """A document's chunk ids and their vectors (None when the document is not here).

        Raises:
            StoreError: The document's file is damaged.
        """
        part = self._parts.get(document)
        return (part.ids, part.vectors[part.rows]) if part is not None else (np.empty(0, np.int64), None)

    def count(self, document: str | None = None) -> int:
        if document is not None:
            part = self._parts.get(document)
            return 0 if part is None else len(part.ids)
        return sum(len(p.ids) for p in self._parts.values())

    def distinct(self) -> int:
        """How many distinct vectors are searched."""
        return sum(p.size for p in self._parts.values())

    def kind(self) -> str:
        """How a search over every document is answered: ``flat`` (exact scan) or ``ivf``."""
        return "ivf" if self.distinct() > self.ann_from else "flat"

    def search(self, vector: np.ndarray, k: int, where: Filter | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ids and inner products of the ``k`` nearest chunks, best first (ties by position).

        Raises:
            StoreError: A document's vectors, read now for the first time, are damaged.
        """
        flat = self._view()
        if k <= 0 or not len(flat.ids):
            return np.empty(0, np.int64), np.empty(0, np.float32)
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if where is not None and not where.admits_all():
            return self._search_within(flat, vector, k, where)
        if flat.size > self.ann_from:
            return self._ann_search(flat, vector, k)
        # Not `matrix @ vector`: OpenBLAS would spread this memory-bound scan over its own threads, which then
        # spin against onnxruntime's and doubled the next question's embedding time (3,000 paragraphs: answer
        # p50 17.9 -> 8.3 ms). einsum scans in this thread about as fast as BLAS does with two.
        every = np.einsum("ij,j->i", flat.matrix, vector)[flat.rows]
        chosen = _top(every, k)
        return flat.ids[chosen], every[chosen]

    # ------------------------------------------------------------------ internals

    def _search_within(self, flat: Flat, vector: np.ndarray, k: int, where: Filter) -> tuple[np.ndarray, np.ndarray]:
        """The nearest chunks of some documents only, by an exact scan of their vectors."""
        ids, scores = [], []
        for name, part in zip(flat.names, flat.parts):
            if name in where.documents and len(part.ids):
                ids.append(part.ids)
                scores.append(np.einsum("ij,j->i", part.vectors, vector)[part.rows])
        if not ids:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        ids, every = np.concatenate(ids), np.concatenate(scores)
        chosen = _top(every, k)
        return ids[chosen], every[chosen]

    def _changed(self) -> None:
        self._flat = None
        self._ann = None

    def _view(self) -> Flat:
        if self._flat is None:
            self._flat = Flat(self._parts, self.dim)
        return self._flat

    def _ann_search(self, flat: Flat, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest chunks by the IVF index: its ``k`` nearest distinct vectors, and their chunks."""
        found, rows = self._index(flat).search(vector.reshape(1, -1), min(flat.size, k))
        keep = rows[0] >= 0
        chunks, counts = flat.chunks(rows[0][keep])
        every = np.repeat(found[0][keep], counts)
        chosen = _top(every, k)
        return flat.ids[chunks[chosen]], every[chosen]

    def _index(self, flat: Flat):
        """The IVF index of these documents' vectors: read from the folder if saved for exactly them, else
        trained, filled and saved."""
        if self._ann is None:
            path = ivf.path_for(self.folder, flat.fingerprint)
            index = ivf.saved(path, flat.size)
            if index is None:
                index = ivf.build(flat.matrix)
                ivf.save(index, path)
            self._ann = index
        return self._ann

    def drop(self) -> None:
        """Delete the whole folder (the corpus is being rebuilt)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self._parts.clear()
        self._changed()


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, largest first, ties in index order."""
    if k < len(scores):
        part = np.argpartition(-scores, k - 1)[:k]
        return part[np.lexsort((part, -scores[part]))]
    return np.argsort(-scores, kind="stable")
