"""Benchmark: per-stage timings, warm and cold answers, index builds, memory, and how it scales."""

from __future__ import annotations

import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qa import embed, source, store
from qa.answer import compose
from qa.assistant import Assistant
from qa.config import Settings
from qa.embed import DefaultEmbedder
from qa.retrieve import Retriever
from qa.types import Document, Paragraph

QUESTIONS = [
    "工匠精神指的是什么？", "快递员、网约工的权益怎么保障？", "“十四五”从哪一年开始？", "劳动者为什么要终身学习？",
    "工会在党和职工之间起什么作用？", "各级党委应该怎样支持工会？", "学校要不要搞劳动教育？", "技术工人为什么重要？",
    "What is the spirit of craftsmanship?", "What does the speech say about labour education in schools?",
    "明天北京会下雨吗？", "How do I renew my passport?",
]


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """Median, p95 and p99 of a list of milliseconds."""
    ordered = sorted(samples_ms)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

    return {"p50": round(statistics.median(ordered), 3), "p95": round(at(0.95), 3), "p99": round(at(0.99), 3)}


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - started) * 1000


def stages(retriever: Retriever, document: Document, questions: list[str], repeats: int) -> dict[str, Any]:
    """Time each stage of an answer separately, and the whole answer, over ``repeats`` rounds."""
    times: dict[str, list[float]] = {k: [] for k in ("tokenize", "embed_query", "dense_search", "bm25", "fusion",
                                                     "answer_assembly", "warm_ask")}
    for question in questions:  # warm every code path once
        compose(question, retriever.search(question), document)
    for _ in range(repeats):
        for question in questions:
            started = time.perf_counter()
            tokens, t = _timed(lambda: retriever.tokenizer(question))
            times["tokenize"].append(t)
            vector, t = _timed(lambda: retriever.embed(question))
            times["embed_query"].append(t)
            dense, t = _timed(lambda: retriever.dense_scores(vector))
            times["dense_search"].append(t)
            (lexical, weight), t = _timed(lambda: retriever.lexical(question, tokens))
            times["bm25"].append(t)
            found, t = _timed(lambda: retriever.fuse(tokens, dense, lexical, 10, lexical_weight=weight))
            times["fusion"].append(t)
            _, t = _timed(lambda: compose(question, found, document))
            times["answer_assembly"].append(t)
            times["warm_ask"].append((time.perf_counter() - started) * 1000)
    return {k: percentiles(v) for k, v in times.items()}


def cold_ask(index_dir: Path, runs: int = 3, fast: bool = True) -> float:
    """Median wall seconds of ``qa ask --json`` in a new process, model and index already built."""
    env = {**os.environ, "QA_INDEX_DIR": str(index_dir), embed.FAST_ENV: "1" if fast else "0"}
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "qa", "ask", "--json", "工匠精神是什么？"], env=env, check=True,
                       capture_output=True, timeout=300)
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples), 3)


def synthetic_document(paragraphs: int, seed: int = 20201124) -> Document:
    """A reproducible corpus of new sentences: clauses of the speech recombined at random.

    Every sentence is new text (2–5 clauses drawn from the speech's 400-odd
    clauses), so sentences and paragraphs are nearly all distinct; clauses repeat.
    """
    speech = source.load(Settings().source)
    pieces = [c.text.rstrip("，、；：。！？”“") for s in store.passages_of(speech) for c in source.clauses(s)]
    pieces = [p for p in pieces if len(p) >= 2]
    rng = random.Random(seed)
    out = []
    for n in range(1, paragraphs + 1):
        sentences = ["，".join(rng.sample(pieces, rng.randint(2, 5))) + "。" for _ in range(rng.randint(2, 6))]
        out.append(Paragraph(n=n, text="".join(sentences)))
    return Document(title=f"合成语料 {paragraphs}", date=None, speaker=None, paragraphs=tuple(out))


def scale_point(embedder: DefaultEmbedder, paragraphs: int, queries: list[str]) -> dict[str, Any]:
    """Build an index of a synthetic corpus with ``embedder`` and time answers on it."""
    document = synthetic_document(paragraphs)
    with tempfile.TemporaryDirectory() as tmp:
        built, build_ms = _timed(lambda: store.build(document, f"synthetic-{paragraphs}", embedder, Path(tmp) / "x"))
        retriever = Retriever(built, embedder)
        timing = stages(retriever, document, queries, repeats=3)
    return {
        "paragraphs": paragraphs,
        "sentences": built.manifest["passages"],
        "units": len(built.rows),
        "vectors": built.manifest["vectors"],
        "index": built.manifest["index"],
        "int8": built.manifest["int8"],
        "build_s": round(build_ms / 1000, 1),
        "warm_ask_ms": timing["warm_ask"],
        "dense_search_ms": timing["dense_search"],
        "bm25_ms": timing["bm25"],
        "fusion_ms": timing["fusion"],
    }


def faiss_series(dim: int = 384, sizes: tuple[int, ...] = (1_000, 10_000, 100_000), queries: int = 50) -> list[dict]:
    """Search time of an exact (flat) and an HNSW index at several sizes, and HNSW's recall@10 against flat."""
    import faiss

    rng = np.random.default_rng(7)
    rows = []
    for size in sizes:
        # Clustered unit vectors, roughly like sentence embeddings (which are far from uniform).
        centers = rng.standard_normal((max(size // 50, 1), dim)).astype(np.float32)
        data = centers[rng.integers(0, len(centers), size)] + 0.5 * rng.standard_normal((size, dim)).astype(np.float32)
        data /= np.linalg.norm(data, axis=1, keepdims=True)
        probe = data[rng.integers(0, size, queries)] + 0.1 * rng.standard_normal((queries, dim)).astype(np.float32)
        probe /= np.linalg.norm(probe, axis=1, keepdims=True)
        flat = faiss.IndexFlatIP(dim)
        flat.add(data)
        hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        _, hnsw_build = _timed(lambda: hnsw.add(data))
        hnsw.hnsw.efSearch = 256
        row: dict[str, Any] = {"vectors": size, "hnsw_build_s": round(hnsw_build / 1000, 2)}
        truth = None
        for name, index in (("flat", flat), ("hnsw", hnsw)):
            samples, found = [], []
            for q in probe:
                (_, ids), t = _timed(lambda: index.search(q.reshape(1, -1), 10))
                samples.append(t)
                found.append(set(ids[0].tolist()))
            if name == "flat":
                truth = found
            else:
                row["hnsw_recall@10"] = round(float(np.mean([len(a & b) / 10 for a, b in zip(found, truth)])), 3)
            row[f"{name}_search_ms"] = percentiles(samples)["p50"]
        matrix = faiss.rev_swig_ptr(flat.get_xb(), size * dim).reshape(size, dim)
        row["numpy_scan_ms"] = percentiles([_timed(lambda: matrix @ q)[1] for q in probe])["p50"]
        rows.append(row)
    return rows


def _build_seconds(document: Document, embedder: DefaultEmbedder) -> float:
    """Seconds to embed and write an index of ``document``, the model already loaded."""
    with tempfile.TemporaryDirectory() as tmp:
        _, build_ms = _timed(lambda: store.build(document, "bench", embedder, Path(tmp) / "index"))
    return round(build_ms / 1000, 2)


def run(settings: Settings, repeats: int = 10, scale: tuple[int, ...] = (), progress=None,
        int8: bool = False) -> dict[str, Any]:
    """The whole benchmark; see ``qa bench --help``. ``int8`` builds the scale corpora with 8-bit passage vectors."""
    say = progress or (lambda _m: None)
    embedder = DefaultEmbedder(progress=None)
    assistant = Assistant(settings, embedder=embedder, progress=None)
    say("loading the index…")
    retriever = assistant.retriever
    document = assistant.document
    result: dict[str, Any] = {"questions": len(QUESTIONS), "repeats": repeats, "fast_path": embedder.fast}
    say("timing warm answers…")
    fast = stages(retriever, document, QUESTIONS, repeats)
    result["stages_ms"] = fast
    result["warm_ask_ms"] = fast["warm_ask"]
    result["embed_query_ms"] = fast["embed_query"]
    result["warm_over_embed"] = round(fast["warm_ask"]["p50"] / fast["embed_query"]["p50"], 3)
    say("timing an index build of the speech…")
    speech = source.load(settings.source)
    result["build_s"] = _build_seconds(speech, embedder)
    say("loading sentence-transformers and timing it for comparison…")
    full_embedder = DefaultEmbedder(progress=None, fast=False)
    _, load_ms = _timed(lambda: full_embedder.dim)
    result["sentence_transformers_load_s"] = round(load_ms / 1000, 2)
    full = stages(Retriever(assistant.index, full_embedder), document, QUESTIONS, max(2, repeats // 3))
    result["without_fast_path"] = {"warm_ask_ms": full["warm_ask"], "embed_query_ms": full["embed_query"],
                                   "build_s": _build_seconds(speech, full_embedder)}
    say("timing cold answers in new processes…")
    result["cold_ask_s"] = cold_ask(settings.index_path)
    result["cold_ask_without_fast_path_s"] = cold_ask(settings.index_path, runs=1, fast=False)
    builder = DefaultEmbedder(progress=None, int8=True) if int8 else embedder
    for size in scale:
        say(f"scale: building and querying {size} synthetic paragraphs…")
        result.setdefault("scale", []).append(scale_point(builder, size, QUESTIONS))
    if scale:
        say("scale: FAISS flat vs HNSW…")
        result["faiss"] = faiss_series()
    result["rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result
