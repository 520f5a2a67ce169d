"""The corpus's vectors on Milvus: a cluster or standalone server (milvus://HOST:PORT) or Milvus Lite
(milvus-lite://PATH, one process; serve it with ``milvus-lite server`` for several).

One collection per corpus: the chunk id as primary key, its document, its vector, and for paragraph rows the
paragraph's text with Milvus's own BM25 (jieba analyzer) so the engine's hybrid search can be compared with
the project's fusion (`qa eval --compare`). The collection's properties hold what it was built with (format,
model, dimension), checked by every process that opens it.

Every call has a timeout; an engine that does not answer raises :class:`StoreUnavailable` (the HTTP API's 503),
never a hang, and the next call tries again.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

import numpy as np

from qa.errors import StoreError, StoreUnavailable
from qa.stores.base import Filter, checked
from qa.stores.uri import MAX_LIMIT, MilvusSpec

FORMAT = 1
INSERT_BATCH = 2_000
# jieba emits punctuation as tokens; BM25 should not count them.
_STOP = ["，", "。", "、", "；", "：", "！", "？", "“", "”", "‘", "’", "（", "）", "《", "》", "…", "—", "的", " "]
_RELEASED = 101  # "collection is in state 'released'": after an engine restart, load it again
T = TypeVar("T")


class MilvusStore:
    """The :class:`~qa.stores.base.VectorStore` calls on one Milvus collection (see the module docstring).

    Args:
        spec: Where the engine is.
        collection: The collection (``spec.collection`` wins).
        dim: Vector dimension.
        model: The embedding model's name, kept in the collection's properties and checked on open.
    """

    def __init__(self, spec: MilvusSpec, collection: str, dim: int, model: str) -> None:
        self.spec = spec
        self.name = spec.collection or collection
        self.dim = dim
        self.model = model
        self.candidates = spec.candidates
        self._client = None

    # ------------------------------------------------------------------ connecting

    @classmethod
    def open(cls, spec: MilvusSpec, collection: str, dim: int, model: str, create: bool = True,
             fresh: bool = False) -> MilvusStore:
        """Connect, create the collection if it is missing (``create``), check what it was built with; ``fresh``:
        drop the collection first and make it again (a rebuild, another model).

        Raises:
            StoreUnavailable: The engine does not answer.
            StoreError: The collection holds vectors of another model or dimension, or is missing.
        """
        store = cls(spec, collection, dim, model)
        if fresh:
            store._call(lambda: store.client.drop_collection(store.name, timeout=spec.timeout))
        store._check(create)
        return store

    @property
    def client(self):
        if self._client is None:
            try:
                from pymilvus import MilvusClient
            except ImportError as exc:
                raise StoreError("The Milvus store needs pymilvus (and milvus-lite for milvus-lite://): "
                                 "pip install 'speech-qa[milvus]'.") from exc
            where = self.spec.uri
            self._client = self._call(lambda: MilvusClient(
                uri=where, timeout=self.spec.timeout,
                # Reconnect at once when the engine is back (gRPC's shared back-off waited seconds), and send no
                # keepalive pings on an idle connection (a server idle for minutes answered them with GOAWAY and
                # filled the log with "too_many_pings").
                grpc_options={"grpc.use_local_subchannel_pool": 1, "grpc.keepalive_permit_without_calls": 0}),
                retry=False)
        return self._client

    def _call(self, action: Callable[[], T], retry: bool = True) -> T:
        """Run one engine call; turn the engine's failures into the project's errors."""
        from pymilvus.exceptions import MilvusException

        try:
            import grpc
            rpc_error: type[BaseException] = grpc.RpcError
        except ImportError:  # pragma: no cover - grpc comes with pymilvus
            rpc_error = OSError
        try:
            return action()
        except MilvusException as exc:
            if retry and getattr(exc, "code", None) == _RELEASED:
                self._client.load_collection(self.name, timeout=self.spec.timeout)
                return self._call(action, retry=False)
            message = getattr(exc, "message", str(exc))
            if getattr(exc, "code", None) in (1, 2) or "connect" in str(message).lower():
                self._client = None  # a fresh client next time
                raise StoreUnavailable(f"The Milvus store at {self.spec.uri} does not answer ({message}). "
                                       "Start it, or check --store / QA_STORE.") from exc
            raise StoreError(f"The Milvus store at {self.spec.uri} refused a call: {message}") from exc
        except rpc_error as exc:  # a hung engine: the call's deadline passed
            self._client = None
            raise StoreUnavailable(f"The Milvus store at {self.spec.uri} did not answer within "
                                   f"{self.spec.timeout:g} s. Check that it is running.") from exc

    def _check(self, create: bool) -> None:
        t = self.spec.timeout
        exists = self._call(lambda: self.client.has_collection(self.name, timeout=t))
        if not exists:
            if not create:
                raise StoreError(f"The Milvus store has no collection {self.name}; add a document to build it.")
            self._create()
            return
        kept = self._call(lambda: self.client.describe_collection(self.name, timeout=t)).get("properties", {})
        built = json.loads(kept.get("qa_manifest", "{}") or "{}")
        if built.get("model") != self.model or int(built.get("dim", self.dim)) != self.dim:
            raise StoreError(f"The Milvus collection {self.name} holds vectors of model {built.get('model')!r} "
                             f"(dimension {built.get('dim')}), not {self.model!r}: rebuild with `qa build`, or pass "
                             "another ?collection=.")
        self._call(lambda: self.client.load_collection(self.name, timeout=t))

    def _create(self) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("doc", DataType.VARCHAR, max_length=256)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_field("text", DataType.VARCHAR, max_length=65_535, enable_analyzer=True,
                         analyzer_params={"tokenizer": "jieba", "filter": [{"type": "stop", "stop_words": _STOP}]})
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                     output_field_names=["sparse"]))
        index = self.client.prepare_index_params()
        params = {"M": 16, "efConstruction": 200} if self.spec.index == "HNSW" else {}
        index.add_index("vector", index_type=self.spec.index, metric_type="COSINE", params=params)
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        index.add_index("doc", index_type="INVERTED")
        manifest = json.dumps({"format": FORMAT, "model": self.model, "dim": self.dim})
        t = self.spec.timeout
        self._call(lambda: self.client.create_collection(self.name, schema=schema, properties={"qa_manifest": manifest},
                                                         timeout=t))
        # Not waiting for the indexes to be built (pymilvus polls every 0.5 s): the collection is empty.
        self._call(lambda: self.client.create_index(self.name, index, timeout=t, sync=False))
        self._call(lambda: self.client.load_collection(self.name, timeout=t))

    # ------------------------------------------------------------------ writing

    def add(self, document: str, ids: np.ndarray, vectors: np.ndarray, texts: Mapping[int, str] | None = None) -> None:
        """Add one document's vectors (replacing any it had); ``texts`` gives paragraph rows their text for BM25.

        Raises:
            ValueError: Ids and vectors differ in number, or the vectors have another dimension.
        """
        ids, vectors = checked(ids, vectors, self.dim)
        self.delete(document)
        texts = texts or {}
        unique, first = np.unique(ids, return_index=True)
        for start in range(0, len(unique), INSERT_BATCH):
            rows = [{"id": int(i), "doc": document, "vector": vectors[j].tolist(), "text": texts.get(int(i), "")}
                    for i, j in zip(unique[start:start + INSERT_BATCH], first[start:start + INSERT_BATCH])]
            self._call(lambda rows=rows: self.client.insert(self.name, rows, timeout=self.spec.timeout))

    def delete(self, document: str) -> int:
        """Remove every vector of a document; returns how many there were."""
        found = self.count(document)
        if found:
            self._call(lambda: self.client.delete(self.name, filter=_doc_is(document), timeout=self.spec.timeout))
        return found

    def tidy(self, keep: Iterable[str]) -> None:
        """Delete the rows of documents not in ``keep`` (left by a writer that died before its commit)."""
        keep = sorted(keep)
        rule = f"doc not in {json.dumps(keep, ensure_ascii=False)}" if keep else "id >= 0 or id < 0"
        self._call(lambda: self.client.delete(self.name, filter=rule, timeout=self.spec.timeout))

    def save(self) -> None:
        """Flush: make the inserts durable and searchable through the index."""
        self._call(lambda: self.client.flush(self.name, timeout=self.spec.timeout))

    def drop(self) -> None:
        """Delete the whole collection."""
        self._call(lambda: self.client.drop_collection(self.name, timeout=self.spec.timeout))

    # ------------------------------------------------------------------ reading

    def count(self, document: str | None = None) -> int:
        rule = _doc_is(document) if document is not None else ""
        rows = self._call(lambda: self.client.query(self.name, filter=rule, output_fields=["count(*)"],
                                                    timeout=self.spec.timeout))
        return int(rows[0]["count(*)"]) if rows else 0

    def distinct(self) -> int:
        return self.count()

    def kind(self) -> str:
        """The engine and its index, as the benchmark reports them."""
        return f"milvus {self.spec.index.lower()}"

    def documents(self) -> list[str]:
        """The documents that have vectors here (read in pages)."""
        seen: dict[str, None] = {}
        iterator = self._call(lambda: self.client.query_iterator(self.name, batch_size=MAX_LIMIT // 2, filter="",
                                                                 output_fields=["doc"], timeout=self.spec.timeout))
        while True:
            page = self._call(iterator.next)
            if not page:
                break
            seen.update((row["doc"], None) for row in page)
        iterator.close()
        return list(seen)

    def search(self, vector: np.ndarray, k: int, where: Filter | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ids and cosines of the ``k`` nearest chunks (at most Milvus's top-k cap), best first."""
        k = min(int(k), MAX_LIMIT)
        if k <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        rule = "" if where is None or where.admits_all() else _docs_in(where.documents)
        params = {"metric_type": "COSINE", "params": {"ef": max(k, 64)} if self.spec.index == "HNSW" else {}}
        query = np.asarray(vector, np.float32).reshape(-1).tolist()
        found = self._call(lambda: self.client.search(self.name, data=[query], anns_field="vector", limit=k,
                                                      filter=rule, search_params=params, output_fields=[],
                                                      timeout=self.spec.timeout))
        hits = found[0] if found else []
        return (np.array([h["id"] for h in hits], np.int64), np.array([h["distance"] for h in hits], np.float32))

    def hybrid(self, vector: np.ndarray, text: str, k: int, where: Filter | None = None) -> np.ndarray:
        """The engine's own hybrid search: its dense and BM25 results fused by RRF; chunk ids, best first."""
        from pymilvus import AnnSearchRequest, RRFRanker

        k = min(int(k), MAX_LIMIT)
        rule = "" if where is None or where.admits_all() else _docs_in(where.documents)
        dense = AnnSearchRequest(data=[np.asarray(vector, np.float32).reshape(-1).tolist()], anns_field="vector",
                                 param={"metric_type": "COSINE"}, limit=k, expr=rule)
        sparse = AnnSearchRequest(data=[text], anns_field="sparse", param={"metric_type": "BM25"}, limit=k, expr=rule)
        found = self._call(lambda: self.client.hybrid_search(self.name, reqs=[dense, sparse], ranker=RRFRanker(60),
                                                             limit=k, output_fields=[], timeout=self.spec.timeout))
        return np.array([h["id"] for h in (found[0] if found else [])], np.int64)

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(Exception):  # closing a client whose engine is gone is not worth an error
                client.close()


def _doc_is(document: str) -> str:
    return f"doc == {json.dumps(document, ensure_ascii=False)}"


def _docs_in(documents: Iterable[str]) -> str:
    return f"doc in {json.dumps(sorted(documents), ensure_ascii=False)}"


__all__ = ["MilvusStore"]

