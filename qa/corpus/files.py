"""A corpus folder's files: their names, the manifest, checksums, and what is left when a manifest is lost."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from qa.corpus.state import DocInfo
from qa.errors import StoreError
from qa.folders import sha256_file, write_bytes
from qa.types import Document

FORMAT = 1
MANIFEST = "corpus.json"
ORIGINALS = "documents"
SHARDS = "shards"
VECTORS = "vectors"
BACKGROUND = "background.npy"
CLAUSES = "clauses.npz"  # in each shard: a cache of the clause ids, made again when missing


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The committed manifest, or None when there is none.

    Raises:
        StoreError: It is there but unreadable.
    """
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"The corpus manifest {path} is unreadable ({exc}).") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("documents"), list):
        raise StoreError(f"The corpus manifest {path} is unreadable (not a corpus manifest).")
    return manifest


def stale(manifest: dict[str, Any], model: str, store: str) -> str | None:
    """Why a committed state cannot be used as it is (another format, model or vector store), or None."""
    if manifest.get("format") != FORMAT:
        return f"has format {manifest.get('format')}, not {FORMAT}"
    if manifest.get("model") != model:
        return f"was built with model {manifest.get('model')!r}, not {model!r}"
    kept = manifest.get("store", "embedded")
    if kept != store:
        return f"has its vectors in {kept}, not {store}"
    return None


def elsewhere(folder: Path, manifest: dict[str, Any]) -> StoreError:
    """The error for a corpus whose vectors are kept in another store than the one asked for."""
    kept = manifest.get("store", "embedded")
    where = "the corpus folder (no --store)"
    if kept != "embedded":  # milvus:http://HOST:PORT/COLLECTION or milvus-lite:/PATH/COLLECTION, as a --store URI
        kind, _, rest = kept.partition(":")
        base, _, collection = rest.removeprefix("http://").rpartition("/")
        where = f"{kind}://{base}?collection={collection}"
    return StoreError(f"The corpus at {folder} keeps its vectors in {where}; use the same --store (QA_STORE), or "
                      f"move them with: qa build --corpus {folder} --store URI")


def stamp(folder: Path) -> tuple[float, int] | None:
    """When and how big the manifest was last written (another process's commit changes it)."""
    try:
        stat = (folder / MANIFEST).stat()
    except OSError:
        return None
    return stat.st_mtime, stat.st_size


def shard(folder: Path, doc_id: str) -> Path:
    return folder / SHARDS / doc_id


def read_document(folder: Path, doc_id: str) -> Document:
    """A document's paragraphs as its shard keeps them.

    Raises:
        OSError, ValueError, KeyError, TypeError: The shard is missing or damaged.
    """
    return Document.from_dict(json.loads((shard(folder, doc_id) / "document.json").read_text("utf-8")))


def write_clauses(folder: Path, doc_id: str, ids: np.ndarray, owner: np.ndarray) -> None:
    """Keep a document's clause ids and their sentences in its shard, so loading the corpus need not split them."""
    buffer = io.BytesIO()
    np.savez(buffer, ids=ids, owner=owner)
    write_bytes(shard(folder, doc_id) / CLAUSES, buffer.getvalue())


def read_clauses(folder: Path, doc_ids: Iterable[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The clause ids and sentences of these documents as their shards keep them; a document whose cache is
    missing or damaged is left out (its table splits it again)."""
    found = {}
    for doc_id in doc_ids:
        try:
            with np.load(shard(folder, doc_id) / CLAUSES) as data:
                found[doc_id] = data["ids"].astype(np.int64), data["owner"].astype(np.int64)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            continue
    return found


def damaged(folder: Path, manifest: dict[str, Any], zip_by_crc: bool = False) -> list[Path]:
    """The files the manifest lists that are missing or whose size or checksum is wrong.

    Args:
        zip_by_crc: Check ``.npz`` files (the vectors, most of the bytes) by size only: reading them checks each
            member's CRC-32, so damage still shows, as an error on loading.
    """
    bad = []
    for name, meta in manifest.get("files", {}).items():
        file = folder / name
        try:
            hashed = not (zip_by_crc and name.endswith(".npz"))
            if not file.is_file() or file.stat().st_size != meta["size"] or \
                    hashed and sha256_file(file) != meta["sha256"]:
                bad.append(file)
        except (OSError, KeyError, TypeError):
            bad.append(file)
    return bad


def checksums(folder: Path, infos: list[DocInfo], lexical: Path, vectors: bool) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of every file a state uses (the vectors' files too when they are in the folder)."""
    files = [folder / BACKGROUND, *sorted(p for p in lexical.rglob("*") if p.is_file())]
    for info in infos:
        files += [shard(folder, info.id) / "document.json", shard(folder, info.id) / info.tokens]
        if vectors:
            files.append(folder / VECTORS / f"{info.id}.npz")
    return {f.relative_to(folder).as_posix(): {"size": f.stat().st_size, "sha256": sha256_file(f)} for f in files}


def recovered(folder: Path) -> list[DocInfo]:
    """Entries for the documents whose shards are still there, when the manifest is lost, in the order they were
    added as far as the files tell."""
    infos = []
    shards = sorted((folder / SHARDS).glob("*/document.json")) if (folder / SHARDS).is_dir() else []
    for path in shards:
        try:
            document = Document.from_dict(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        originals = sorted((folder / ORIGINALS).glob(f"{document.id}.*"))
        digest = hashlib.sha256(originals[0].read_bytes()).hexdigest() if originals else ""
        infos.append(DocInfo(id=document.id, title=document.title, date=document.date,
                             speaker=document.speaker, paragraphs=len(document.paragraphs),
                             file=originals[0].name if originals else "", sha256=digest,
                             added=str(originals[0].stat().st_mtime if originals else path.stat().st_mtime)))
    return sorted(infos, key=lambda i: float(i.added))


def tidy(folder: Path, infos: list[DocInfo], keep: set[str]) -> None:
    """Delete what no committed state uses: older BM25 generations (but those in ``keep``), and the shards,
    token files and originals of documents no longer in the corpus."""
    ids = {i.id for i in infos}
    for entry in folder.glob("lexical-*"):
        if entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)
    for entry in (folder / SHARDS).glob("*") if (folder / SHARDS).is_dir() else ():
        if entry.name not in ids:
            shutil.rmtree(entry, ignore_errors=True)
    tokens = {i.id: i.tokens for i in infos}
    for entry in (folder / SHARDS).glob("*/tokens-*.json"):
        if entry.parent.name in tokens and entry.name != tokens[entry.parent.name]:
            entry.unlink(missing_ok=True)
    originals = {i.file for i in infos}
    for entry in (folder / ORIGINALS).glob("*") if (folder / ORIGINALS).is_dir() else ():
        if entry.name not in originals:
            entry.unlink(missing_ok=True)


def new_id(file: Path, digest: str, taken: set[str]) -> str:
    """A document id from its file name (made safe), unique in the corpus."""
    base = re.sub(r"[^a-z0-9]+", "-", file.stem.lower()).strip("-")[:48] or f"doc-{digest[:8]}"
    doc_id, n = base, 2
    while doc_id in taken:
        doc_id, n = f"{base}-{n}", n + 1
    return doc_id


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def unwritable(folder: Path, exc: OSError) -> StoreError:
    return StoreError(f"Cannot write the corpus at {folder}: {exc.strerror or exc}. "
                      "Pass --corpus (or set QA_CORPUS) to a writable folder.")


Progress = Callable[[str], None]
