"""Vector stores: the interface every store offers (base), the exact in-process store used by default (exact),
and Milvus (milvus), chosen by a URI: none for the embedded store, milvus://HOST:PORT or milvus-lite://PATH."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from qa.stores.base import VectorStore

EMBEDDED = "embedded"


def check(uri: str | None) -> None:
    """Raise :class:`~qa.errors.InputError` early for a store URI that cannot be used."""
    if uri:
        from qa.stores import uri as parsed

        parsed.parse(uri)


def describe(uri: str | None, corpus: Path) -> str:
    """Which store a corpus's vectors are in, as its manifest records it (a change means re-embedding)."""
    if not uri:
        return EMBEDDED
    from qa.stores.uri import collection_for, parse

    spec = parse(uri)
    return f"{spec.describe()}/{spec.collection or collection_for(corpus)}"


def open_store(uri: str | None, corpus: Path, folder: Path, dim: int, model: str, documents: Iterable[str],
               strict: bool = True, fresh: bool = False) -> VectorStore:
    """The store of a corpus: the embedded one reads ``documents``' files from ``folder`` (``strict``: raise on a
    missing one); Milvus connects, and creates the collection when it is missing. ``fresh``: start empty (an
    engine's collection is made again, for this model and dimension).

    Raises:
        StoreError: A file is missing or damaged (strict), or the engine's collection holds another model.
        StoreUnavailable: The engine does not answer.
    """
    if not uri:
        from qa.stores.exact import ExactStore

        return ExactStore.load(folder, dim, [] if fresh else documents, strict=strict)
    from qa.stores.milvus import MilvusStore
    from qa.stores.uri import collection_for, parse

    return MilvusStore.open(parse(uri), collection_for(corpus), dim, model, fresh=fresh)


__all__ = ["EMBEDDED", "VectorStore", "check", "describe", "open_store"]
