"""Benchmark: per-stage timings of the one pipeline, warm and cold answers, builds, memory, and how it scales."""

from __future__ import annotations

import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from qa import ingest
from qa.assistant import Assistant
from qa.config import BUNDLED_SOURCE, Settings
from qa.corpus import build
from qa.corpus.folder import Corpus
from qa.corpus.table import chunks_of
from qa.errors import QAError
from qa.models.embedders import FAST_ENV, DefaultEmbedder
from qa.pipeline import STAGES
from qa.tools.evaluate import load_questions

QUESTIONS = [
    "工匠精神指的是什么？", "快递员、网约工的权益怎么保障？", "“十四五”从哪一年开始？", "劳动者为什么要终身学习？",
    "工会在党和职工之间起什么作用？", "各级党委应该怎样支持工会？", "学校要不要搞劳动教育？", "技术工人为什么重要？",
    "What is the spirit of craftsmanship?", "What does the speech say about labour education in schools?",
    "明天北京会下雨吗？", "How do I renew my passport?",
]
DOCUMENTS = 100
MOVE_TIMEOUT_S = 600  # the engine's timeout while a scale corpus is moved there and timed, unless the URI sets one


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """Median, p95 and p99 of a list of milliseconds."""
    ordered = sorted(samples_ms)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {"p50": round(statistics.median(ordered), 3), "p95": round(at(0.95), 3), "p99": round(at(0.99), 3)}


def stages(assistant: Assistant, questions: list[str], repeats: int) -> dict[str, Any]:
    """Time each stage of the pipeline, and the whole answer, over ``repeats`` rounds (after one warm-up round)."""
    for question in questions:
        assistant.ask(question)
    times: dict[str, list[float]] = {k: [] for k in (*STAGES, "warm_ask")}
    for _ in range(repeats):
        for question in questions:
            started = time.perf_counter()
            trace = assistant.trace(question)
            times["warm_ask"].append((time.perf_counter() - started) * 1000)
            for stage in STAGES:
                times[stage].append(trace.timings.get(stage, 0.0))
    return {k: percentiles(v) for k, v in times.items() if v}


def cold_ask(corpus: Path, runs: int = 3, fast: bool = True, store: str | None = None) -> float:
    """Median wall seconds of ``qa ask --json`` in a new process, model and corpus already built."""
    env = {**os.environ, "QA_CORPUS": str(corpus), FAST_ENV: "1" if fast else "0", "QA_STORE": store or ""}
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "qa", "ask", "--json", "工匠精神是什么？"], env=env, check=True,
                       capture_output=True, timeout=300)
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples), 3)


def synthetic_documents(paragraphs: int, folder: Path, documents: int = DOCUMENTS, seed: int = 20201124) -> list[Path]:
    """A reproducible corpus written as text files: ``documents`` speeches of new sentences made by recombining
    the bundled speech's clauses at random (2–5 clauses a sentence, 2–6 sentences a paragraph)."""
    speech = ingest.read(BUNDLED_SOURCE)
    pieces = [c.text.rstrip("，、；：。！？”“") for c in chunks_of(speech).clauses]
    pieces = [p for p in pieces if len(p) >= 2]
    rng = random.Random(seed)
    documents = max(1, min(documents, paragraphs))
    folder.mkdir(parents=True, exist_ok=True)
    files, per = [], max(1, paragraphs // documents)
    for d in range(documents):
        count = per if d < documents - 1 else paragraphs - per * (documents - 1)
        body = ["".join("，".join(rng.sample(pieces, rng.randint(2, 5))) + "。" for _ in range(rng.randint(2, 6)))
                for _ in range(max(1, count))]
        path = folder / f"synthetic-{d + 1:03d}.txt"
        path.write_text(f"合成讲话第{d + 1}号\n\n2021年{1 + d % 12}月{1 + d % 28}日\n\n张{d}\n\n" + "\n\n".join(body) + "\n",
                        encoding="utf-8")
        files.append(path)
    return files


def own_collection(store: str | None) -> str | None:
    """The store URI without a ``collection`` option: each corpus the benchmark makes gets a collection of its own."""
    if not store:
        return None
    parts = urlsplit(store)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "collection"])
    return urlunsplit(parts._replace(query=query))


def patient(store: str, seconds: int = MOVE_TIMEOUT_S) -> str:
    """The store URI with a long timeout, unless it sets one: after a bulk move of many thousand vectors an engine
    may take far longer than an answer's timeout to count them, while it indexes them."""
    parts = urlsplit(store)
    options = parse_qsl(parts.query)
    if any(k == "timeout" for k, _ in options):
        return store
    return urlunsplit(parts._replace(query=urlencode([*options, ("timeout", str(seconds))])))


def _drop(assistant: Assistant) -> None:
    """Delete an engine's collection made for the benchmark (the embedded store's files go with the folder)."""
    drop = getattr(assistant.index.store, "drop", None)
    if drop is not None and assistant.settings.store:
        drop()


def scale_point(embedder: DefaultEmbedder, paragraphs: int, progress: Callable[[str], None],
                store: str | None = None) -> dict[str, Any]:
    """Build a corpus of ``DOCUMENTS`` synthetic documents in the embedded store, add one more of 50 paragraphs,
    and time answers; with ``store``, then move its vectors there (no embedding again) and time the same."""
    with tempfile.TemporaryDirectory() as tmp:
        files = synthetic_documents(paragraphs, Path(tmp) / "files")
        extra = synthetic_documents(50, Path(tmp) / "extra", documents=1, seed=7)[0]
        extra = extra.rename(extra.with_name("extra-50.txt"))
        folder = Path(tmp) / "corpus"
        started = time.perf_counter()
        Corpus(folder, embedder, progress=None).add(files)
        build_s = time.perf_counter() - started
        progress(f"  built {paragraphs} paragraphs in {build_s:.0f} s; adding one 50-paragraph document…")
        result = _time_corpus(folder, embedder, extra, None)
        result["build_s"] = round(build_s, 1)
        progress(f"  embedded store: add {result['add_s']} s, warm p50 {result['warm_ask_ms']['p50']:.1f} ms, "
                 f"cold ask {result['cold_ask_s']} s")
        if store:
            store = patient(store)
            progress(f"  moving its vectors to {store} and timing it there…")
            started = time.perf_counter()
            try:
                Corpus(folder, embedder, progress=None, store=store).rebuild()
                moved = _time_corpus(folder, embedder, extra, store, remove_first=True)
                moved["move_s"] = round(time.perf_counter() - started, 1)
            except QAError as exc:  # the embedded numbers stand; say what the engine did
                moved = {"error": str(exc), "after_s": round(time.perf_counter() - started, 1)}
                progress(f"  the engine failed: {exc}")
            result["on_store"] = moved
        shutil.rmtree(folder, ignore_errors=True)
    return result


def _time_corpus(folder: Path, embedder, extra: Path, store: str | None, remove_first: bool = False) -> dict[str, Any]:
    """Add ``extra`` (removed first if asked), then time warm and cold answers on the corpus."""
    corpus = Corpus(folder, embedder, progress=None, store=store)
    if remove_first:
        corpus.remove(extra.stem)
    started = time.perf_counter()
    corpus.add([extra])
    add_s = time.perf_counter() - started
    assistant = Assistant(Settings(corpus=folder, store=store), embedder=embedder, progress=None)
    timing = stages(assistant, QUESTIONS, repeats=3)
    index = assistant.index
    result = {
        "documents": len(index.infos), "paragraphs": len(index.table.paragraphs),
        "sentences": len(index.table.sentences), "units": len(index.table), "vectors": index.store.distinct(),
        "index": index.store.kind(), "int8": bool(getattr(embedder, "int8", False)),
        "add_paragraphs": 50, "add_s": round(add_s, 1),
        "warm_ask_ms": timing["warm_ask"], "retrieve_ms": timing["retrieve"],
        "cold_ask_s": cold_ask(folder, runs=3, store=store),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if index.store.kind() == "ivf":
        result["same_as_exact"] = same_as_exact(assistant)
    if store:
        _drop(assistant)
    return result


def same_as_exact(assistant: Assistant, count: int = 300) -> dict[str, Any]:
    """How many questions (the question set's first ``count``, asked of this corpus) get the same first
    citation, or the same refusal, from the IVF index as from an exact scan of every vector."""
    try:
        questions = [q.question for q in load_questions()[:count]]
    except QAError:
        questions = QUESTIONS
    store = assistant.index.store

    def firsts() -> list[tuple]:
        answers = [assistant.ask(q) for q in questions]
        return [(a.answered, (a.citations[0].document.id, a.citations[0].paragraph) if a.citations else None)
                for a in answers]

    approximate = firsts()
    kept, store.ann_from = store.ann_from, sys.maxsize
    try:
        exact = firsts()
    finally:
        store.ann_from = kept
    same = sum(a == b for a, b in zip(approximate, exact))
    return {"questions": len(questions), "same": same, "share": round(same / len(questions), 3)}


def _build_seconds(embedder, store: str | None = None) -> float:
    """Seconds to embed and write a corpus of the bundled speech, the model already loaded."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        corpus = Corpus(Path(tmp) / "c", embedder, store=store)
        corpus.add([BUNDLED_SOURCE])
        seconds = round(time.perf_counter() - started, 2)
        drop = getattr(corpus.index.store, "drop", None)
        if store and drop is not None:
            drop()
        return seconds


def run(settings: Settings, repeats: int = 10, scale: tuple[int, ...] = (), progress=None,
        int8: bool = False, engines: bool = True) -> dict[str, Any]:
    """The whole benchmark; see ``qa bench --help``. ``int8`` builds the scale corpora with 8-bit passage vectors."""
    say = progress or (lambda _m: None)
    embedder = DefaultEmbedder(progress=None)
    store = own_collection(settings.store)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "speech"
        assistant = Assistant(Settings(corpus=corpus, store=store), embedder=embedder, progress=None)
        assistant.corpus.seed = (BUNDLED_SOURCE,)
        say("building the speech's corpus…")
        assistant.index  # noqa: B018
        result: dict[str, Any] = {"questions": len(QUESTIONS), "repeats": repeats, "fast_path": embedder.fast,
                                  "store": assistant.index.store.kind()}
        say("timing warm answers…")
        timing = stages(assistant, QUESTIONS, repeats)
        result["stages_ms"] = timing
        result["warm_ask_ms"] = timing["warm_ask"]
        result["embed_query_ms"] = timing["embed"]
        result["warm_over_embed"] = round(timing["warm_ask"]["p50"] / timing["embed"]["p50"], 3)
        say("timing a build of the speech…")
        result["build_s"] = _build_seconds(embedder, store)
        if engines and not store:
            say("loading sentence-transformers and timing it for comparison…")
            full = DefaultEmbedder(progress=None, fast=False)
            started = time.perf_counter()
            full.dim  # noqa: B018
            result["sentence_transformers_load_s"] = round(time.perf_counter() - started, 2)
            other = Assistant(Settings(corpus=corpus, store=store), embedder=full, progress=None)
            slow = stages(other, QUESTIONS, max(2, repeats // 3))
            result["without_fast_path"] = {"warm_ask_ms": slow["warm_ask"], "embed_query_ms": slow["embed"]}
        say("timing cold answers in new processes…")
        result["cold_ask_s"] = cold_ask(corpus, store=store)
        _drop(assistant)
    builder = DefaultEmbedder(progress=None, int8=True) if int8 else embedder
    for size in scale:
        say(f"scale: building and querying {DOCUMENTS} documents of {size} paragraphs in all "
            f"(about {round(build.estimate_seconds(['x' * 390] * size) / (2 if int8 else 1) / 60)} min)…")
        result.setdefault("scale", []).append(scale_point(builder, size, say, store))
    result["rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result
