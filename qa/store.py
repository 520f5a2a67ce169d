"""The on-disk index: FAISS vectors, passages and a manifest in one folder, written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from qa import source
from qa.embed import Embedder
from qa.errors import StoreError
from qa.folders import alive, swap_in
from qa.tokens import learn_terms
from qa.types import Document, Passage

FORMAT_VERSION = 4
# Up to this many distinct vectors the index is exact (flat); beyond, HNSW (approximate, ~20x faster at 1M).
FLAT_LIMIT = 200_000
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
PASSAGES = "passages.json"
BACKGROUND = Path(__file__).parent / "data" / "background.txt"


def background_sentences() -> list[str]:
    """Everyday sentences on other topics, to tell questions about the speech from the rest."""
    lines = BACKGROUND.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


class StaleIndexError(StoreError):
    """The index was built from another source text, model or format."""


class CorruptIndexError(StoreError):
    """A file of the index is missing, truncated or altered."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Store:
    """A loaded index: the document, its sentences and clauses, their vectors, and the learned terms.

    The vectors are stored in one FAISS index in this order: every sentence,
    every paragraph, then the clauses of sentences that have more than one,
    ``clause_owner[i]`` being the sentence of clause ``i``.
    """

    path: Path
    manifest: dict[str, Any]
    document: Document
    passages: tuple[Passage, ...]
    clauses: tuple[Passage, ...]
    clause_owner: np.ndarray
    vectors: faiss.Index
    terms: tuple[str, ...]
    rows: np.ndarray

    @property
    def model(self) -> str:
        return self.manifest["model"]


def passages_of(document: Document) -> list[Passage]:
    """Every sentence of every paragraph, in reading order."""
    return [s for p in document.paragraphs for s in source.sentences(p)]


def clauses_of(passages: list[Passage] | tuple[Passage, ...]) -> tuple[list[Passage], np.ndarray]:
    """The clauses of every sentence that has more than one, and the sentence each belongs to."""
    clauses, owner = [], []
    for i, sentence in enumerate(passages):
        parts = source.clauses(sentence)
        if len(parts) > 1:
            clauses += parts
            owner += [i] * len(parts)
    return clauses, np.array(owner, dtype=np.int64)


def build(
    document: Document,
    source_hash: str,
    embedder: Embedder,
    dest: Path,
    progress: Callable[[str], None] | None = None,
) -> Store:
    """Embed the document's sentences and write the index folder atomically.

    The folder is written beside ``dest`` under a temporary name and renamed
    into place only when complete, so an interrupted build leaves the previous
    index as it was.

    Raises:
        StoreError: The folder cannot be written (read-only location, full disk).
    """
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    dest = Path(dest)
    tmp = dest.parent / f".tmp-{dest.name}-{os.getpid()}"
    try:  # before the slow part, so that a place that cannot be written fails at once
        dest.parent.mkdir(parents=True, exist_ok=True)
        recover(dest)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        tmp.rmdir()
    except OSError as exc:
        raise _unwritable(dest, exc) from exc
    passages = passages_of(document)
    clauses, owner = clauses_of(passages)
    say(f"Embedding {len(passages)} sentences, {len(clauses)} clauses and {len(document.paragraphs)} paragraphs "
        f"with {embedder.name}…")
    background = background_sentences()
    units = [p.text for p in passages] + [p.text for p in document.paragraphs] + [c.text for c in clauses] + background
    distinct: dict[str, int] = {}
    rows = np.array([distinct.setdefault(text, len(distinct)) for text in units], dtype=np.int64)
    vectors = embedder.passages(list(distinct))
    index = new_index(vectors)
    terms = learn_terms(p.text for p in document.paragraphs)
    payload = {
        "document": document.to_dict(),
        "passages": [{"paragraph": p.paragraph, "start": p.start, "end": p.end} for p in passages],
        "terms": terms,
        "rows": rows.tolist(),
    }
    try:
        tmp.mkdir()
        faiss.write_index(index, str(tmp / VECTORS))
        (tmp / PASSAGES).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        manifest = {
            "format": FORMAT_VERSION,
            "model": embedder.name,
            "dim": int(vectors.shape[1]),
            "source_sha256": source_hash,
            "paragraphs": len(document.paragraphs),
            "passages": len(passages),
            "clauses": len(clauses),
            "background": len(background),
            "vectors": int(index.ntotal),
            "index": "flat" if isinstance(index, faiss.IndexFlat) else "hnsw",
            "int8": bool(getattr(embedder, "int8", False)),  # passages embedded with 8-bit weights
            "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "files": {name: {"size": (tmp / name).stat().st_size, "sha256": _sha256_file(tmp / name)}
                      for name in (VECTORS, PASSAGES)},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        swap_in(tmp, dest)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _unwritable(dest, exc) from exc
    say(f"Index built in {time.perf_counter() - started:.1f} s at {dest}")
    return Store(dest, manifest, document, tuple(passages), tuple(clauses), owner, index, tuple(terms), rows)


def new_index(vectors: np.ndarray) -> faiss.Index:
    """An exact inner-product index up to FLAT_LIMIT vectors, an HNSW graph beyond."""
    dim = vectors.shape[1]
    if len(vectors) <= FLAT_LIMIT:
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 256
    index.add(vectors)
    return index


def _unwritable(dest: Path, exc: OSError) -> StoreError:
    return StoreError(f"Cannot write the index to {dest.parent}: {exc.strerror}. "
                      "Set QA_INDEX_DIR (or pass --index) to a writable folder.")


def recover(dest: Path) -> None:
    """Tidy what builds killed midway left beside ``dest``: the previous folder if it was renamed aside and never
    replaced is put back; their temporary folders are deleted. Folders of builds still running are left alone."""
    dest = Path(dest)
    pattern = re.compile(rf"^\.(tmp|old)-{re.escape(dest.name)}-(\d+)$")
    try:
        stale = sorted((p for p in dest.parent.iterdir() if (m := pattern.match(p.name)) and not alive(int(m[2]))),
                       key=lambda p: p.name.startswith(".tmp-"))  # an .old- folder first: it may be the index
    except OSError:
        return
    for leftover in stale:
        try:
            if leftover.name.startswith(".old-") and not dest.exists():
                os.rename(leftover, dest)
            else:
                shutil.rmtree(leftover)
        except OSError:
            pass  # a read-only place: nothing to tidy up there


def load(path: Path, source_hash: str | None = None, model: str | None = None) -> Store:
    """Load and verify an index folder.

    Args:
        path: The index folder.
        source_hash: If given, the sha256 the source text must have.
        model: If given, the model that must have built the index.

    Raises:
        StaleIndexError: Built from another source, model or format version.
        CorruptIndexError: Missing, truncated or altered files.
    """
    path = Path(path)
    recover(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise CorruptIndexError(f"No index at {path} (manifest missing). Run `qa build`.")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptIndexError(f"The index manifest at {manifest_path} is unreadable. Run `qa build`.") from exc
    if manifest.get("format") != FORMAT_VERSION:
        raise StaleIndexError(f"The index at {path} has format {manifest.get('format')}, not {FORMAT_VERSION}.")
    if source_hash and manifest.get("source_sha256") != source_hash:
        raise StaleIndexError(f"The index at {path} was built from another version of the speech.")
    if model and manifest.get("model") != model:
        raise StaleIndexError(f"The index at {path} was built with model {manifest.get('model')!r}, not {model!r}.")
    for name, meta in files.items():
        file = path / name
        if not file.is_file() or file.stat().st_size != meta["size"] or _sha256_file(file) != meta["sha256"]:
            raise CorruptIndexError(f"The index file {file} is missing or damaged (checksum mismatch). "
                                    "Run `qa build`.")
    try:
        payload = json.loads((path / PASSAGES).read_text(encoding="utf-8"))
        document = Document.from_dict(payload["document"])
        passages = tuple(
            Passage(paragraph=p["paragraph"], start=p["start"], end=p["end"],
                    text=document.paragraph(p["paragraph"]).text[p["start"] : p["end"]])
            for p in payload["passages"]
        )
        vectors = faiss.read_index(str(path / VECTORS))
    except (ValueError, KeyError, TypeError, IndexError, RuntimeError) as exc:
        raise CorruptIndexError(f"The index at {path} cannot be read ({exc}). Run `qa build`.") from exc
    clauses, owner = clauses_of(passages)
    units = len(passages) + len(document.paragraphs) + len(clauses) + manifest.get("background", 0)
    rows = np.asarray(payload.get("rows", ()), dtype=np.int64)
    if len(rows) != units or (units and (rows.min() < 0 or rows.max() >= vectors.ntotal)) or vectors.d != manifest["dim"]:
        raise CorruptIndexError(f"The index at {path} does not match its passages ({vectors.ntotal} vectors, "
                                f"{units} passages). Run `qa build`.")
    if isinstance(vectors, faiss.IndexHNSW):
        vectors.hnsw.efSearch = 256
    return Store(path, manifest, document, passages, tuple(clauses), owner, vectors, tuple(payload.get("terms", ())),
                 rows)


def flat_matrix(store: Store) -> np.ndarray | None:
    """The stored vectors as a read-only matrix when the index is exact (flat), else None."""
    index = store.vectors
    if not isinstance(index, faiss.IndexFlat):
        return None
    return faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d)


def search(store: Store, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Inner-product search: (scores, unit ids) of the ``k`` nearest sentences, paragraphs or clauses."""
    k = min(k, store.vectors.ntotal)
    scores, ids = store.vectors.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
    return scores[0], ids[0]
