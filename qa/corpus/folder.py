"""A corpus folder: its documents, their index and a manifest; documents added and removed atomically."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from qa import ingest
from qa.corpus import build
from qa.corpus.state import DocInfo, Index
from qa.corpus.table import ChunkTable
from qa.errors import SourceError, StoreError
from qa.folders import sha256_file, write_bytes, write_json
from qa.lexical.bm25 import LexicalIndex
from qa.lexical.words import Tokenizer
from qa.models.calibration import Calibration, for_model
from qa.models.embedders import Embedder
from qa.stores.exact import ExactStore
from qa.types import Document

FORMAT = 1
MANIFEST = "corpus.json"
ORIGINALS = "documents"
SHARDS = "shards"
VECTORS = "vectors"
BACKGROUND = "background.npy"
# A server looks at the manifest at most this often to see whether another process changed the corpus.
REFRESH_SECONDS = 1.0

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Added:
    """A file given to ``add``: its document, and whether it was new or already in the corpus."""

    info: DocInfo
    new: bool


def _quiet(_message: str) -> None:
    pass


def _slug(stem: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:48]


class Corpus:
    """A folder of documents and their index, loaded on first use and reloaded when another process changes it.

    Layout: ``corpus.json`` (the manifest, written last: the commit of every change), ``documents/`` (the
    files as added), ``shards/<id>/`` (each document's paragraphs and BM25 tokens), ``vectors/`` (the vector
    store), ``lexical-<generation>/`` (BM25 and the English bridge) and ``background.npy``. A change writes
    new files beside the old ones and commits by replacing the manifest, so a process killed at any moment
    leaves the corpus as it was before or after the change.

    Args:
        path: The corpus folder.
        embedder: Embeds passages for builds (and decides the model the index must have been built with).
        seed: Files to add when the folder holds no corpus yet (the bundled speech for the default corpus).
        progress: Where messages about slow steps go.
    """

    def __init__(self, path: str | Path, embedder: Embedder, seed: Sequence[Path] = (),
                 progress: Progress | None = None) -> None:
        self.path = Path(path)
        self.embedder = embedder
        self.seed = tuple(Path(s) for s in seed)
        self.progress = progress or _quiet
        self._index: Index | None = None
        self._seen: tuple[float, int] | None = None
        self._checked = 0.0
        self._changed = False

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
        try:
            stat = (self.path / MANIFEST).stat()
        except OSError:
            return None
        return stat.st_mtime, stat.st_size

    def _manifest(self) -> dict[str, Any] | None:
        path = self.path / MANIFEST
        if not path.is_file():
            return None
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(manifest, dict) or not isinstance(manifest.get("documents"), list):
                raise ValueError("not a corpus manifest")
            return manifest
        except (OSError, ValueError) as exc:
            raise StoreError(f"The corpus manifest {path} is unreadable ({exc}).") from exc

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
            self.progress(f"The index at {self.path} {stale}; rebuilding it.")
            manifest = self._repair()
        try:
            index = self._load(manifest)
        except StoreError as exc:
            self.progress(f"{exc} Repairing the index.")
            index = self._load(self._repair())
        if not index.infos:
            raise StoreError(f"The corpus at {self.path} has no documents. Add one: qa add FILE --corpus {self.path}")
        self._seen = self._stamp()
        self._checked = time.monotonic()
        return index

    def _stale(self, manifest: dict[str, Any]) -> str | None:
        if manifest.get("format") != FORMAT:
            return f"has format {manifest.get('format')}, not {FORMAT}"
        if manifest.get("model") != self.embedder.name:
            return f"was built with model {manifest.get('model')!r}, not {self.embedder.name!r}"
        return None

    def _load(self, manifest: dict[str, Any]) -> Index:
        """Read and check every file the manifest names.

        Raises:
            StoreError: A file is missing, damaged, or does not match the others.
        """
        for name, meta in manifest.get("files", {}).items():
            file = self.path / name
            if not file.is_file() or file.stat().st_size != meta["size"] or sha256_file(file) != meta["sha256"]:
                raise StoreError(f"The index file {file} is missing or damaged.")
        infos = [DocInfo.from_record(d) for d in manifest["documents"]]
        try:
            documents = [Document.from_dict(json.loads((self._shard(i.id) / "document.json").read_text("utf-8")))
                         for i in infos]
            store = ExactStore.load(self.path / VECTORS, int(manifest["dim"]), [i.id for i in infos])
            lexical = LexicalIndex.load(self.path / manifest["lexical"])
            background = np.load(self.path / BACKGROUND)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"The index at {self.path} cannot be read ({exc}).") from exc
        table = ChunkTable(documents)
        if not (np.array_equal(lexical.sentence_ids, table.sentence_ids)
                and np.array_equal(lexical.paragraph_ids, table.paragraph_ids)):
            raise StoreError(f"The BM25 index at {self.path} does not match its documents.")
        dictionary = manifest.get("dictionary", {})
        return Index(manifest=manifest, infos=infos, table=table, store=store, lexical=lexical,
                     background=background, calibration=Calibration.from_dict(manifest.get("calibration", {})),
                     terms=tuple(dictionary.get("terms", ())), stopwords=tuple(dictionary.get("stopwords", ())))

    def _shard(self, doc_id: str) -> Path:
        return self.path / SHARDS / doc_id

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
            raise _unwritable(self.path, exc) from exc

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
            manifest, infos, documents, store = self._current()
            result = []
            for file, digest, document in parsed:
                same = next((i for i in infos if i.sha256 == digest), None)
                if same is not None:
                    result.append(Added(same, new=False))
                    continue
                info = self._ingest(file, digest, document, {i.id for i in infos}, store, documents)
                infos.append(info)
                result.append(Added(info, new=True))
            if any(a.new for a in result) or self._changed:
                self._commit(manifest, infos, documents, store)
        self._index = None
        return result

    def remove(self, doc_id: str) -> DocInfo:
        """Remove a document and its vectors.

        Raises:
            KeyError: No document has this id.
            StoreError: The corpus folder cannot be written.
        """
        with self._lock():
            manifest, infos, documents, store = self._current()
            gone = next((i for i in infos if i.id == doc_id), None)
            if gone is None:
                raise KeyError(doc_id)
            infos = [i for i in infos if i.id != doc_id]
            documents.pop(doc_id)
            store.delete(doc_id)
            self._commit(manifest, infos, documents, store)
        self._index = None
        return gone

    def rebuild(self) -> Index:
        """Embed every document again (after a model change, or on request)."""
        self._repair(everything=True)
        self._index = None
        return self.index

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
                raise _unwritable(self.path, exc) from exc
        self._index = None
        return str(self.path / MANIFEST)

    def _current(self, everything: bool = False) -> tuple[dict[str, Any], list[DocInfo], dict[str, Document],
                                                           ExactStore]:
        """Under the lock: the committed state made whole before a change. Damaged files are dropped and what
        they held is made again: paragraphs from the original file, vectors by embedding (everything when the
        model changed, or when asked). Sets ``_changed`` when anything had to be made again."""
        self._changed = everything
        try:
            manifest = self._manifest()
        except StoreError:
            manifest = None
        if manifest is None:
            infos = self._recovered()
            manifest = {"format": FORMAT, "generation": 0, "documents": []}
            self._changed = bool(infos)
        else:
            infos = [DocInfo.from_record(d) for d in manifest["documents"]]
            if self._stale(manifest):
                everything = self._changed = True
            self._drop_damaged(manifest)
        documents, kept = {}, []
        for info in infos:
            try:
                data = json.loads((self._shard(info.id) / "document.json").read_text("utf-8"))
                documents[info.id] = Document.from_dict(data)
            except (OSError, ValueError, KeyError, TypeError):
                try:
                    documents[info.id] = self._reread(info)
                except SourceError as exc:
                    self.progress(f"Dropping {info.id} from the corpus: its paragraphs and its file are lost ({exc})")
                    self._changed = True
                    continue
                self._write_shard(documents[info.id])
                info = replace(info, tokens="")
                self._changed = True
            kept.append(info)
        infos = kept
        store = ExactStore.load(self.path / VECTORS, self.embedder.dim, [] if everything else documents, strict=False)
        for info in infos:
            if not store.count(info.id):
                ids, vectors = build.embed_document(documents[info.id], self.embedder, self.progress)
                store.add(info.id, ids, vectors)
                self._changed = True
        return manifest, infos, documents, store

    def _drop_damaged(self, manifest: dict[str, Any]) -> None:
        """Delete the files the manifest lists whose size or checksum is wrong, so they are made again."""
        for name, meta in manifest.get("files", {}).items():
            file = self.path / name
            try:
                if file.stat().st_size != meta["size"] or sha256_file(file) != meta["sha256"]:
                    file.unlink()
                    self.progress(f"The index file {file} is damaged; making it again.")
            except (OSError, KeyError, TypeError):
                pass

    def _recovered(self) -> list[DocInfo]:
        """Entries for the documents whose shards are still there, when the manifest is lost."""
        infos = []
        for shard in sorted((self.path / SHARDS).glob("*/document.json")) if (self.path / SHARDS).is_dir() else ():
            try:
                document = Document.from_dict(json.loads(shard.read_text("utf-8")))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            originals = sorted((self.path / ORIGINALS).glob(f"{document.id}.*"))
            digest = hashlib.sha256(originals[0].read_bytes()).hexdigest() if originals else ""
            infos.append(DocInfo(id=document.id, title=document.title, date=document.date,
                                 speaker=document.speaker, paragraphs=len(document.paragraphs),
                                 file=originals[0].name if originals else "", sha256=digest,
                                 added=str(originals[0].stat().st_mtime if originals else shard.stat().st_mtime)))
        return sorted(infos, key=lambda i: float(i.added))  # in the order they were added, as far as files tell

    def _reread(self, info: DocInfo) -> Document:
        original = self.path / ORIGINALS / info.file
        document = ingest.read(original, title=info.title, date=info.date, speaker=info.speaker)
        return document.with_meta(id=info.id)

    def _ingest(self, file: Path, digest: str, document: Document, taken: set[str], store: ExactStore,
                documents: dict[str, Document]) -> DocInfo:
        """Copy a new file in, write its shard and embed its chunks into ``store`` (not committed yet)."""
        doc_id = self._new_id(file, digest, taken)
        document = document.with_meta(id=doc_id)
        name = f"{doc_id}{file.suffix.lower()}"
        try:
            (self.path / ORIGINALS).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, self.path / ORIGINALS / f".{name}.tmp")
            (self.path / ORIGINALS / f".{name}.tmp").replace(self.path / ORIGINALS / name)
            self._write_shard(document)
        except OSError as exc:
            raise _unwritable(self.path, exc) from exc
        ids, vectors = build.embed_document(document, self.embedder, self.progress)
        store.add(doc_id, ids, vectors)
        documents[doc_id] = document
        return DocInfo(id=doc_id, title=document.title, date=document.date, speaker=document.speaker,
                       paragraphs=len(document.paragraphs), file=name, sha256=digest,
                       added=time.strftime("%Y-%m-%dT%H:%M:%S%z"), int8=bool(getattr(self.embedder, "int8", False)))

    def _write_shard(self, document: Document) -> None:
        shard = self._shard(document.id)
        shard.mkdir(parents=True, exist_ok=True)
        write_json(shard / "document.json", document.to_dict())

    @staticmethod
    def _new_id(file: Path, digest: str, taken: set[str]) -> str:
        base = _slug(file.stem) or f"doc-{digest[:8]}"
        doc_id, n = base, 2
        while doc_id in taken:
            doc_id, n = f"{base}-{n}", n + 1
        return doc_id

    def _commit(self, manifest: dict[str, Any], infos: list[DocInfo], documents: dict[str, Document],
                store: ExactStore) -> None:
        """Write the tokens, BM25, background and manifest of the new document set, then tidy what is no
        longer used. The manifest is replaced last: until then readers see the previous state."""
        generation = int(manifest.get("generation", 0)) + 1
        ordered = [documents[i.id] for i in infos]
        terms = sorted({t for d in ordered for t in build.document_terms(d)})
        stopwords = sorted({d.speaker for d in ordered if d.speaker})
        old = manifest.get("dictionary", {"terms": [], "stopwords": []})
        changed = set(terms) ^ set(old.get("terms", ())) | set(stopwords) ^ set(old.get("stopwords", ()))
        tokenizer = Tokenizer(terms, stopwords)
        tokens, fresh = {}, []
        for i, info in enumerate(infos):
            cached = self._read_tokens(info)
            if cached is None or build.needs_tokens(documents[info.id], changed):
                cached = build.tokenize(documents[info.id], tokenizer)
                infos[i] = replace(info, tokens=f"tokens-{generation}.json")
                fresh.append(infos[i])
            tokens[info.id] = cached
        table = ChunkTable(ordered)
        lexical_dir = self.path / f"lexical-{generation}"
        try:
            store.save()
            for info in fresh:
                write_json(self._shard(info.id) / info.tokens, tokens[info.id])
            shutil.rmtree(lexical_dir, ignore_errors=True)
            lexical_dir.mkdir(parents=True)
            build.lexical_index(table, tokens).save(lexical_dir)
            if manifest.get("background_model") != self.embedder.name or not (self.path / BACKGROUND).is_file():
                buffer = _npy_bytes(build.embed_background(self.embedder))
                write_bytes(self.path / BACKGROUND, buffer)
            new = {
                "format": FORMAT,
                "generation": generation,
                "model": self.embedder.name,
                "dim": int(self.embedder.dim),
                "calibration": self._calibration(manifest).to_dict(),
                "dictionary": {"terms": terms, "stopwords": stopwords},
                "lexical": lexical_dir.name,
                "background_model": self.embedder.name,
                "documents": [i.record() for i in infos],
                "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            new["files"] = self._checksums(infos, lexical_dir)
            write_json(self.path / MANIFEST, new, indent=1)
        except OSError as exc:
            raise _unwritable(self.path, exc) from exc
        self._tidy(infos, keep={lexical_dir.name, str(manifest.get("lexical"))})

    def _calibration(self, manifest: dict[str, Any]) -> Calibration:
        """The calibration kept in the manifest when it was measured for this model, else the model's own."""
        kept = manifest.get("calibration")
        if isinstance(kept, dict) and kept.get("model") == self.embedder.name:
            try:
                return Calibration.from_dict(kept)
            except (TypeError, ValueError):
                pass
        return for_model(self.embedder.name)

    def _read_tokens(self, info: DocInfo) -> dict[str, list[list[str]]] | None:
        if not info.tokens:
            return None
        try:
            data = json.loads((self._shard(info.id) / info.tokens).read_text("utf-8"))
            return data if isinstance(data, dict) and {"sentences", "paragraphs"} <= set(data) else None
        except (OSError, ValueError):
            return None

    def _checksums(self, infos: list[DocInfo], lexical_dir: Path) -> dict[str, dict[str, Any]]:
        files = [self.path / BACKGROUND, *sorted(p for p in lexical_dir.rglob("*") if p.is_file())]
        for info in infos:
            files += [self._shard(info.id) / "document.json", self._shard(info.id) / info.tokens,
                      self.path / VECTORS / f"{info.id}.npz"]
        return {f.relative_to(self.path).as_posix(): {"size": f.stat().st_size, "sha256": sha256_file(f)}
                for f in files}

    def _tidy(self, infos: list[DocInfo], keep: set[str]) -> None:
        """Delete what no committed state uses: older BM25 generations (the one before stays for readers still
        loading it), shards, originals, token files and vectors of removed documents."""
        ids = {i.id for i in infos}
        for entry in self.path.glob("lexical-*"):
            if entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)
        for entry in (self.path / SHARDS).glob("*") if (self.path / SHARDS).is_dir() else ():
            if entry.name not in ids:
                shutil.rmtree(entry, ignore_errors=True)
        tokens = {i.id: i.tokens for i in infos}
        for entry in (self.path / SHARDS).glob("*/tokens-*.json"):
            if entry.parent.name in tokens and entry.name != tokens[entry.parent.name]:
                entry.unlink(missing_ok=True)
        files = {i.file for i in infos}
        for entry in (self.path / ORIGINALS).glob("*") if (self.path / ORIGINALS).is_dir() else ():
            if entry.name not in files:
                entry.unlink(missing_ok=True)
        ExactStore(self.path / VECTORS, self.embedder.dim).tidy(ids)

    def _repair(self, everything: bool = False) -> dict[str, Any]:
        """Make what is missing, damaged or stale again (everything, if asked), commit, and return the manifest."""
        with self._lock():
            manifest, infos, documents, store = self._current(everything)
            self._commit(manifest, infos, documents, store)
            return self._manifest()


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _unwritable(path: Path, exc: OSError) -> StoreError:
    return StoreError(f"Cannot write the corpus at {path}: {exc.strerror or exc}. "
                      "Pass --corpus (or set QA_CORPUS) to a writable folder.")
