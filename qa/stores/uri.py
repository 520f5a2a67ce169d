"""Where a Milvus store is: ``milvus://HOST:PORT`` (a server or cluster) or ``milvus-lite://PATH`` (Milvus Lite),
with options ``?collection=NAME&index=flat|hnsw&timeout=SECONDS&candidates=N``."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from qa.errors import InputError

# Milvus's own cap on top-k.
MAX_LIMIT = 16_384
DEFAULT_TIMEOUT = 10.0
# Nearest chunks a question takes from the engine: 2,000 as from the embedded store, so answers are the same
# (qa eval on the speech: identical in every category). Each result travels over gRPC, so time grows with it
# (Milvus Lite, the speech: 2,000 -> 56 ms, 200 -> 29 ms); ?candidates=200 answered 3 more out-of-scope tuning
# questions and changed 1-2 answers in five other categories.
DEFAULT_CANDIDATES = 2_000
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")


@dataclass(frozen=True)
class MilvusSpec:
    """Where a Milvus store lives: the client's URI, the collection (None: named after the corpus), options."""

    uri: str
    collection: str | None = None
    index: str = "FLAT"
    timeout: float = DEFAULT_TIMEOUT
    lite: bool = False
    candidates: int = DEFAULT_CANDIDATES

    def describe(self) -> str:
        return f"{'milvus-lite' if self.lite else 'milvus'}:{self.uri}"


def parse(text: str) -> MilvusSpec:
    """A ``milvus://HOST:PORT`` or ``milvus-lite://PATH`` URI, with options
    ``?collection=NAME&index=flat|hnsw&timeout=SECONDS&candidates=N``.

    Raises:
        InputError: Not such a URI.
    """
    parts = urlsplit(text)
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(options) - {"collection", "index", "timeout", "candidates"}
    if unknown:
        raise InputError(f"Unknown store option {min(unknown)!r} in {text}; use collection, index, timeout or "
                         "candidates.", code="bad_store")
    candidates = options.get("candidates", str(DEFAULT_CANDIDATES))
    if not candidates.isdigit() or not 1 <= int(candidates) <= MAX_LIMIT:
        raise InputError(f"The store's candidates must be a number from 1 to {MAX_LIMIT}, not {candidates!r}.",
                         code="bad_store")
    collection = options.get("collection")
    if collection is not None and not _NAME.fullmatch(collection):
        raise InputError(f"The collection name {collection!r} must be letters, digits and _.", code="bad_store")
    index = options.get("index", "flat").upper()
    if index not in ("FLAT", "HNSW"):
        raise InputError(f"The store index must be flat or hnsw, not {options['index']!r}.", code="bad_store")
    try:
        timeout = float(options.get("timeout", DEFAULT_TIMEOUT))
    except ValueError:
        timeout = -1.0
    if not 0 < timeout <= 600:
        raise InputError(f"The store timeout must be seconds between 0 and 600, not {options['timeout']!r}.",
                         code="bad_store")
    if parts.scheme == "milvus":
        if not parts.hostname or not parts.port:
            raise InputError(f"Write a Milvus server as milvus://HOST:PORT, not {text}.", code="bad_store")
        return MilvusSpec(f"http://{parts.hostname}:{parts.port}", collection, index, timeout,
                          candidates=int(candidates))
    if parts.scheme != "milvus-lite":
        raise InputError(f"Write the store as milvus://HOST:PORT or milvus-lite://PATH, not {text}.", code="bad_store")
    location = parts.netloc + parts.path
    if not location:
        raise InputError(f"Write a Milvus Lite store as milvus-lite://PATH, not {text}.", code="bad_store")
    return MilvusSpec(str(Path(location).expanduser().resolve()), collection, index, timeout, lite=True,
                      candidates=int(candidates))


def collection_for(corpus: Path) -> str:
    """The default collection of a corpus folder: its name, made safe, and a hash of its full path."""
    slug = re.sub(r"[^A-Za-z0-9_]+", "_", corpus.name).strip("_")[:40] or "corpus"
    return f"qa_{slug}_{hashlib.sha1(str(corpus.resolve()).encode()).hexdigest()[:8]}"
