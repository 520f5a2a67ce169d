"""A corpus folder: its documents, their index and a manifest; documents added and removed atomically."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from qa import ingest, stores
from qa.corpus import files
from qa.corpus.files import BACKGROUND, MANIFEST, SHARDS, VECTORS, Progress, unwritable
from qa.corpus.state import DocInfo, Index
from qa.corpus.table import ChunkTable
from qa.corpus.writer import Writer
from qa.errors import SourceError, StoreError, StoreUnavailable
from qa.folders import write_json
from qa.lexical.bm25 import LexicalIndex
from qa.models.calibration import Calibration
from qa.models.embedders import Embedder
from qa.stores.base import VectorStore

# A server looks at the manifest at most this often to see whether another process changed the corpus.
REFRESH_SECONDS = 1.0


@dataclass(frozen=True)
class Added:
    """A file given to ``add``: its document, and whether it was new or already in the corpus."""

    info: DocInfo
    new: bool


def _quiet(_message: str) -> None:
    pass


class Corpus:
    """A folder of documents and their index, loaded on first use and reloaded when another process changes it.

    Layout: ``corpus.json`` (the manifest, written last: the commit of every change), ``documents/`` (the
    files as added), ``shards/<id>/`` (each document's paragraphs and BM25 tokens), ``vectors/`` (the embedded
    vector store; with ``store`` the vectors are on Milvus instead), ``lexical-<generation>/`` (BM25 and the
    English bridge) and ``background.npy``. A change writes new files (and vectors) beside the old ones and
    commits by replacing the manifest, so a process killed at any moment leaves the corpus as it was before or
    after the change.

    Args:
        path: The corpus folder.
        embedder: Embeds passages for builds (and decides the model the index must have been built with).
        seed: Files to add when the folder holds no corpus yet (the bundled speech for the default corpus).
        progress: Where messages about slow steps go.
        store: Where the vectors are: None for the embedded store, or a Milvus URI (see :mod:`qa.stores`).
    """

    def __init__(self, path: str | Path, embedder: Embedder, seed: Sequence[Path] = (),
                 progress: Progress | None = None, store: str | None = None) -> None:
        stores.check(store)
        self.path = Path(path)
        self.store = store or None
        self.embedder = embedder
        self.seed = tuple(Path(s) for s in seed)
        self.progress = progress or _quiet
        self._index: Index | None = None
        self._seen: tuple[float, int] | None = None
        self._checked = 0.0
        self._writer = Writer(self.path, embedder, self.store, self.progress)

    # ------------------------------------------------------------------ reading

    @property
    def index(self) -> Index:
        """The corpus as last committed: loaded (or built) on first use, reloaded after another process commits.

        Raises:
            StoreError: There is no corpus and nothing to seed it with, or it is damaged and cannot be repaired.
        """
        if self._index is None:
            self._index = self._open()
        elif time.monotonic() - self._checked > REFRESH_SECONDS:
            self.refresh()
        return self._index

    @property
    def loaded(self) -> bool:
        return self._index is not None

    def refresh(self) -> bool:
        """Reload if another process committed a change since the last load; True if it did."""
        self._checked = time.monotonic()
        if self._index is None or self._stamp() == self._seen:
            return False
        try:
            self._index = self._open()
        except StoreError as exc:  # keep answering from the state already loaded
            self.progress(f"{exc} Still answering from the corpus as loaded before.")
            return False
        return True

    def docs(self) -> list[DocInfo]:
        """The documents, in the order they were added."""
        return list(self.index.infos)

    def _stamp(self) -> tuple[float, int] | None:
        return files.stamp(self.path)

    def _manifest(self) -> dict[str, Any] | None:
        return files.read_manifest(self.path)

    def _open_store(self, dim: int, documents: Iterable[str], strict: bool = True) -> VectorStore:
        return stores.open_store(self.store, self.path, self.path / VECTORS, dim, self.embedder.name, documents,
                                 strict)

    def _open(self) -> Index:
        """Load the committed state; build, seed, repair or rebuild it first when it needs it."""
        try:
            manifest = self._manifest()
        except StoreError as exc:
            self.progress(f"{exc} Rebuilding the index from the documents.")
            manifest = self._repair()
        if manifest is None and (self.path / SHARDS).is_dir() and any((self.path / SHARDS).iterdir()):
            self.progress(f"The corpus manifest at {self.path} is missing; rebuilding it from the documents.")
            manifest = self._repair()
        if manifest is None:
            if not self.seed:
                raise StoreError(f"There is no corpus at {self.path}. Add a document first: "
                                 f"qa add FILE --corpus {self.path}")
            self.add(self.seed)
            manifest = self._manifest()
        stale = self._stale(manifest)
        if stale:
            if self._moved_only(manifest):  # never moved silently: a server on another store would move it back
                raise files.elsewhere(self.path, manifest)
            self.progress(f"The index at {self.path} {stale}; rebuilding it.")
            manifest = self._repair()
        try:
            index = self._load(manifest)
        except StoreUnavailable:
            raise  # the engine is down: nothing to repair, and the next question tries again
        except StoreError as exc:
            self.progress(f"{exc} Repairing the index.")
            index = self._load(self._repair())
        if not index.infos:
            raise StoreError(f"The corpus at {self.path} has no documents. Add one: qa add FILE --corpus {self.path}")
        self._seen = self._stamp()
        self._checked = time.monotonic()
        return index

    def _stale(self, manifest: dict[str, Any]) -> str | None:
        return files.stale(manifest, self.embedder.name, stores.describe(self.store, self.path))

    def _load(self, manifest: dict[str, Any]) -> Index:
        """Read and check every file the manifest names.

        Raises:
            StoreError: A file is missing, damaged, or does not match the others.
        """
        bad = files.damaged(self.path, manifest, zip_by_crc=True)
        if bad:
            raise StoreError(f"The index file {bad[0]} is missing or damaged.")
        infos = [DocInfo.from_record(d) for d in manifest["documents"]]
        try:
            documents = [files.read_document(self.path, i.id) for i in infos]
            lexical = LexicalIndex.load(self.path / manifest["lexical"])
            background = np.load(self.path / BACKGROUND)
            dim = int(manifest["dim"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"The index at {self.path} cannot be read ({exc}).") from exc
        store = self._open_store(dim, [i.id for i in infos])
        table = ChunkTable(documents, files.read_clauses(self.path, [i.id for i in infos]))
        if not (np.array_equal(lexical.sentence_ids, table.sentence_ids)
                and np.array_equal(lexical.paragraph_ids, table.paragraph_ids)):
            raise StoreError(f"The BM25 index at {self.path} does not match its documents.")
        dictionary = manifest.get("dictionary", {})
        return Index(manifest=manifest, infos=infos, table=table, store=store, lexical=lexical,
                     background=background, calibration=Calibration.from_dict(manifest.get("calibration", {})),
                     terms=tuple(dictionary.get("terms", ())), stopwords=tuple(dictionary.get("stopwords", ())))

    def _shard(self, doc_id: str) -> Path:
        return files.shard(self.path, doc_id)

    # ------------------------------------------------------------------ writing

    def _lock(self):
        """The corpus's writer lock, for a ``with`` block."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            lock = FileLock(self.path / ".lock")
            try:
                return lock.acquire(timeout=0)
            except Timeout:
                self.progress("Waiting for another process that is changing this corpus…")
                return lock.acquire()
        except OSError as exc:
            raise unwritable(self.path, exc) from exc

    def add(self, files: Iterable[str | Path], title: str | None = None, date: str | None = None,
            speaker: str | None = None) -> list[Added]:
        """Add documents; a file already in the corpus (same bytes) is not added again.

        Only the new documents are embedded. ``title``, ``date`` and ``speaker`` replace what the layout
        shows (for every file given).

        Raises:
            SourceError: A file cannot be read as a document; nothing is added then.
            StoreError: The corpus folder cannot be written.
        """
        files = [Path(f) for f in files]
        parsed = []
        for file in files:  # every file is read before anything is written
            try:
                raw = file.read_bytes()
            except OSError as exc:
                raise SourceError(f"Cannot read {file}: {exc.strerror}.") from exc
            parsed.append((file, hashlib.sha256(raw).hexdigest(),
                           ingest.read(file, title=title, date=date, speaker=speaker)))
        with self._lock():
            draft = self._writer.current()
            result = []
            for file, digest, document in parsed:
                same = next((i for i in draft.infos if i.sha256 == digest), None)
                if same is not None:
                    result.append(Added(same, new=False))
                    continue
                result.append(Added(self._writer.ingest(draft, file, digest, document), new=True))
            if any(a.new for a in result) or draft.changed:
                self._writer.commit(draft)
        self._index = None
        return result

    def remove(self, doc_id: str) -> DocInfo:
        """Remove a document and its vectors.

        Raises:
            KeyError: No document has this id.
            StoreError: The corpus folder cannot be written.
        """
        with self._lock():
            draft = self._writer.current()
            gone = next((i for i in draft.infos if i.id == doc_id), None)
            if gone is None:
                raise KeyError(doc_id)
            draft.infos.remove(gone)
            draft.documents.pop(doc_id)
            draft.store.delete(doc_id)
            self._writer.commit(draft)
        self._index = None
        return gone

    def rebuild(self) -> Index:
        """Embed every document again (after a model change, or on request); or, when the corpus's vectors are
        in another store than this one's, move them here (embedding only what the old store cannot give)."""
        try:
            manifest = self._manifest()
        except StoreError:
            manifest = None
        self._repair(everything=not (manifest and self._moved_only(manifest)), move=True)
        self._index = None
        return self.index

    def _moved_only(self, manifest: dict[str, Any]) -> bool:
        """Whether the committed state differs from this corpus's settings only by its vector store."""
        return (manifest.get("format") == files.FORMAT and manifest.get("model") == self.embedder.name
                and bool(self._stale(manifest)))

    def set_calibration(self, calibration: Calibration) -> str:
        """Keep decision bars measured for the corpus's model in its manifest (`qa eval --calibrate`).

        Returns:
            The manifest's path.

        Raises:
            StoreError: There is no corpus here, or it cannot be written.
        """
        with self._lock():
            manifest = self._manifest()
            if manifest is None:
                raise StoreError(f"There is no corpus at {self.path} to keep the calibration in.")
            manifest["calibration"] = calibration.to_dict()
            try:
                write_json(self.path / MANIFEST, manifest, indent=1)
            except OSError as exc:
                raise unwritable(self.path, exc) from exc
        self._index = None
        return str(self.path / MANIFEST)

    def _repair(self, everything: bool = False, move: bool = False) -> dict[str, Any]:
        """Make what is missing, damaged or stale again (everything, if asked; the vectors from another store, if
        ``move``), commit, and return the manifest."""
        with self._lock():
            self._writer.commit(self._writer.current(everything, move))
            return self._manifest()

