"""Changing a corpus folder under its lock: the committed state made whole, new documents taken in, commits."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from qa import ingest, stores
from qa.corpus import build, files
from qa.corpus.files import BACKGROUND, FORMAT, MANIFEST, ORIGINALS, VECTORS, Progress, unwritable
from qa.corpus.state import DocInfo
from qa.corpus.table import ChunkTable, clause_index
from qa.errors import SourceError, StoreError
from qa.folders import write_bytes, write_json
from qa.lexical.words import Tokenizer
from qa.models.calibration import Calibration, for_model
from qa.models.embedders import Embedder
from qa.stores.base import VectorStore
from qa.types import Document


@dataclass
class Draft:
    """The state a change starts from and builds on, before it is committed."""

    manifest: dict[str, Any]
    infos: list[DocInfo]
    documents: dict[str, Document]
    store: VectorStore
    changed: bool = False  # something had to be made again: commit even if the change itself adds nothing


class Writer:
    """Makes the changes of one corpus folder; its caller holds the corpus's lock.

    Args:
        path: The corpus folder.
        embedder: Embeds passages.
        store: The vector store's URI (None: the embedded store).
        progress: Where messages about slow steps go.
    """

    def __init__(self, path: Path, embedder: Embedder, store: str | None, progress: Progress) -> None:
        self.path = path
        self.embedder = embedder
        self.store = store
        self.progress = progress

    def current(self, everything: bool = False, move: bool = False) -> Draft:
        """The committed state made whole before a change. Damaged files are dropped and what they held is made
        again: paragraphs from the original file, vectors by embedding (everything when the model changed, or
        when asked). Vectors kept in another store than this writer's are moved only when ``move`` is given.

        Raises:
            StoreError: The vectors are in another store, and ``move`` was not given.
        """
        changed, moved = everything, False
        try:
            manifest = files.read_manifest(self.path)
        except StoreError:
            manifest = None
        if manifest is None:
            infos = files.recovered(self.path)
            manifest = {"format": FORMAT, "generation": 0, "documents": []}
            changed = bool(infos)
        else:
            infos = [DocInfo.from_record(d) for d in manifest["documents"]]
            if files.stale(manifest, self.embedder.name, stores.describe(self.store, self.path)):
                changed = True
                # Only the store changed: the vectors move (from the embedded store's files) instead of being made.
                moved = manifest.get("format") == FORMAT and manifest.get("model") == self.embedder.name
                if moved and not move:
                    raise files.elsewhere(self.path, manifest)
                everything = everything or not moved
            for file in files.damaged(self.path, manifest):
                if file.is_file():
                    self.progress(f"The index file {file} is damaged; making it again.")
                    file.unlink()
        documents, kept = {}, []
        for info in infos:
            try:
                documents[info.id] = files.read_document(self.path, info.id)
            except (OSError, ValueError, KeyError, TypeError):
                try:
                    documents[info.id] = self._reread(info)
                except SourceError as exc:
                    self.progress(f"Dropping {info.id} from the corpus: its paragraphs and its file are lost ({exc})")
                    changed = True
                    continue
                self._write_shard(documents[info.id])
                info = replace(info, tokens="")
                changed = True
            kept.append(info)
        infos = kept
        # Everything made again, or moved here: the engine's collection (or the folder) starts empty.
        store = stores.open_store(self.store, self.path, self.path / VECTORS, self.embedder.dim, self.embedder.name,
                                  documents, strict=False, fresh=everything or moved)
        for info in infos:
            if not store.count(info.id):
                self._embed_into(store, documents[info.id], reuse=not everything)
                changed = True
        return Draft(manifest, infos, documents, store, changed)

    def _reread(self, info: DocInfo) -> Document:
        original = self.path / ORIGINALS / info.file
        document = ingest.read(original, title=info.title, date=info.date, speaker=info.speaker)
        return document.with_meta(id=info.id)

    def ingest(self, draft: Draft, file: Path, digest: str, document: Document) -> DocInfo:
        """Copy a new file in, write its shard and embed its chunks into the draft's store (not committed yet)."""
        doc_id = files.new_id(file, digest, {i.id for i in draft.infos})
        document = document.with_meta(id=doc_id)
        name = f"{doc_id}{file.suffix.lower()}"
        try:
            (self.path / ORIGINALS).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, self.path / ORIGINALS / f".{name}.tmp")
            (self.path / ORIGINALS / f".{name}.tmp").replace(self.path / ORIGINALS / name)
            self._write_shard(document)
        except OSError as exc:
            raise unwritable(self.path, exc) from exc
        self._embed_into(draft.store, document)
        draft.documents[doc_id] = document
        info = DocInfo(id=doc_id, title=document.title, date=document.date, speaker=document.speaker,
                       paragraphs=len(document.paragraphs), file=name, sha256=digest,
                       added=time.strftime("%Y-%m-%dT%H:%M:%S%z"), int8=bool(getattr(self.embedder, "int8", False)))
        draft.infos.append(info)
        return info

    def _embed_into(self, store: VectorStore, document: Document, reuse: bool = False) -> None:
        """Add a document's vectors to the store: embedded now, or (``reuse``, moving to an engine) taken from
        the embedded store's file when it has them."""
        ids, vectors = np.empty(0, np.int64), None
        if reuse and self.store:
            ids, vectors = stores.open_store(None, self.path, self.path / VECTORS, self.embedder.dim,
                                             self.embedder.name, [document.id], strict=False).vectors(document.id)
        if vectors is None or not len(ids):
            ids, vectors = build.embed_document(document, self.embedder, self.progress)
        store.add(document.id, ids, vectors, texts=build.paragraph_texts(document))

    def _write_shard(self, document: Document) -> None:
        shard = files.shard(self.path, document.id)
        shard.mkdir(parents=True, exist_ok=True)
        write_json(shard / "document.json", document.to_dict())
        files.write_clauses(self.path, document.id, *clause_index(document))

    def commit(self, draft: Draft) -> None:
        """Write the tokens, BM25, background and manifest of the new document set, then tidy what is no
        longer used. The manifest is replaced last: until then readers see the previous state."""
        manifest, infos, documents, store = draft.manifest, draft.infos, draft.documents, draft.store
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
        table = ChunkTable(ordered, files.read_clauses(self.path, [i.id for i in infos]))
        lexical_dir = self.path / f"lexical-{generation}"
        try:
            store.save()
            for info in fresh:
                write_json(files.shard(self.path, info.id) / info.tokens, tokens[info.id])
            shutil.rmtree(lexical_dir, ignore_errors=True)
            lexical_dir.mkdir(parents=True)
            started = time.perf_counter()
            self.progress(f"Indexing the words of {len(table.paragraphs)} paragraphs (BM25 and the English "
                          f"bridge; about {max(1, round(len(table.paragraphs) / 400))} s)…")
            build.lexical_index(table, tokens).save(lexical_dir)
            if time.perf_counter() - started > 2:
                self.progress(f"  indexed in {time.perf_counter() - started:.1f} s")
            if manifest.get("background_model") != self.embedder.name or not (self.path / BACKGROUND).is_file():
                buffer = files.npy_bytes(build.embed_background(self.embedder))
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
            new["store"] = stores.describe(self.store, self.path)
            new["files"] = files.checksums(self.path, infos, lexical_dir, vectors=not self.store)
            write_json(self.path / MANIFEST, new, indent=1)
        except OSError as exc:
            raise unwritable(self.path, exc) from exc
        files.tidy(self.path, infos, keep={lexical_dir.name, str(manifest.get("lexical"))})
        store.tidy({i.id for i in infos})

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
            data = json.loads((files.shard(self.path, info.id) / info.tokens).read_text("utf-8"))
            return data if isinstance(data, dict) and {"sentences", "paragraphs"} <= set(data) else None
        except (OSError, ValueError):
            return None
