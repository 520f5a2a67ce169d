"""The fast query path: same answers as sentence-transformers, clean fallback, a cold CLI without torch; the bench."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from qa import ingest
from qa.assistant import Assistant
from qa.config import Settings
from qa.errors import ModelError
from qa.models import embedders
from qa.models.cache import materialize
from qa.models.embedders import DefaultEmbedder, OnnxEmbedder
from qa.models.onnxexport import ONNX_FILE, WORDS_FILE
from qa.tools import bench

QUESTIONS = ["工匠精神指的是什么？", "快递员的权益怎么保障？", "What is the spirit of craftsmanship?", "十四五"]
SPEECH_ID = "speech-2020-11-24"


@pytest.fixture(scope="module")
def full(embedder):
    """The default model answering through sentence-transformers only (sharing the session's loaded model)."""
    model = DefaultEmbedder(progress=None, fast=False)
    model._full = embedder._full
    return model


@pytest.fixture(scope="module")
def model_dir():
    """The default model's folder in the user cache (the session's embedder materialized it)."""
    return materialize(progress=lambda _m: None)


def test_fast_path_runs_here(embedder):
    assert embedders.fast_path_available(), "onnxruntime is a dependency; the fast path must be on"
    embedder.queries(["工匠精神"])
    assert embedder.fast is True
    assert isinstance(embedder._fast, OnnxEmbedder)


def test_fast_and_full_query_vectors_agree(embedder, full):
    fast = embedder.queries(QUESTIONS)
    slow = full.queries(QUESTIONS)
    assert fast.shape == slow.shape == (len(QUESTIONS), 384)
    assert np.min(np.sum(fast * slow, axis=1)) >= 0.99999, "the same network: the same vectors"


def test_fast_and_full_give_the_same_answers(assistant, full, corpus_dir):
    other = Assistant(Settings(corpus=corpus_dir), embedder=full, progress=None)
    for question in QUESTIONS:
        fast, slow = assistant.trace(question), other.trace(question)
        assert fast.retrieval is not None and slow.retrieval is not None, question
        assert fast.retrieval.paragraphs[0][:2] == slow.retrieval.paragraphs[0][:2], question
        assert fast.retrieval.hits[0].chunk == slow.retrieval.hits[0].chunk, question
        assert fast.answer.answered and slow.answer.answered, question
        assert ([(c.document.id, c.paragraph, c.start, c.end) for c in fast.answer.citations]
                == [(c.document.id, c.paragraph, c.start, c.end) for c in slow.answer.citations]), question


def test_fallback_when_onnxruntime_cannot_run(monkeypatch, embedder):
    def broken(folder):
        raise ModelError("no engine")

    monkeypatch.setattr(embedders, "OnnxEmbedder", broken)
    model = DefaultEmbedder(progress=None, fast=True)
    model._full = embedder._full
    vectors = model.queries(["工匠精神"])
    assert model.fast is False and vectors.shape == (1, 384)
    assert float(vectors[0] @ embedder.queries(["工匠精神"])[0]) >= 0.99999, "the same vectors, more slowly"


@pytest.mark.parametrize(("value", "on"), [("0", False), (" 0 ", False), ("1", True), ("", True)])
def test_env_switch_turns_the_fast_path_off(monkeypatch, value, on):
    monkeypatch.setenv(embedders.FAST_ENV, value)
    assert embedders.fast_path_available() is on
    assert DefaultEmbedder(progress=None).fast is on


def test_int8_embeds_passages_only(embedder):
    """8-bit weights for passages (faster builds); questions stay on the exact graph."""
    texts = ["劳动最光荣", "工匠精神的内涵是执着专注、精益求精、一丝不苟、追求卓越。"]
    model = DefaultEmbedder(progress=None, int8=True)
    assert np.allclose(model.queries(texts), embedder.queries(texts), atol=1e-6)
    cosines = np.sum(model.passages(texts) * embedder.passages(texts), axis=1)
    assert 0.99 <= cosines.min() < 0.99999


@pytest.mark.parametrize("texts", [["劳动最光荣"], ["劳动最光荣", "labour is glorious", "劳" * 900, ""]])
def test_onnx_embedder_batches_any_lengths(model_dir, full, texts):
    """Mixed lengths are padded per batch, and a text past 512 tokens is truncated as sentence-transformers does."""
    onnx = OnnxEmbedder(model_dir)
    vectors = onnx.passages(texts)
    assert vectors.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(vectors * full.passages(texts), axis=1)) >= 0.99999


def test_the_compact_tokenizer_gives_the_models_own_ids(model_dir, speech_text, questions, tmp_path):
    from tokenizers import Tokenizer

    from qa.models.vocab import FastTokenizer

    full = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    full.enable_truncation(512)
    fast = FastTokenizer(model_dir, 512)
    texts = [f"passage: {line}" for line in speech_text.splitlines() if line.strip()]
    texts += [f"query: {q['question']}" for q in questions] + ["query: ｆｕｌｌ　ｗｉｄｔｈ ＡＢＣ１２３，。", "query: x" * 600]
    assert fast.encode_batch(texts) == [e.ids for e in full.encode_batch(texts)]
    assert fast._full is None  # Chinese and English never needed the full vocabulary
    for other in ("query: Привет, мир", "query: 日本語のかなと工匠精神", "query: 🙂 emoji", "query: 㐀 extension A"):
        assert fast.encode_batch([other]) == [full.encode(other).ids], other
    # damaged compact files: the full tokenizer alone, same ids
    folder = tmp_path / "model"
    (folder / "onnx").mkdir(parents=True)
    (folder / "tokenizer.json").write_bytes((model_dir / "tokenizer.json").read_bytes())
    FastTokenizer(folder, 512)
    (folder / "onnx" / "tokenizer-zh-en.json").write_text("{broken", encoding="utf-8")
    assert FastTokenizer(folder, 512).encode_batch(texts[:5]) == [e.ids for e in full.encode_batch(texts[:5])]


def test_length_batches_group_similar_lengths():
    tokens = [200] * 10 + [5] * 40  # ten long texts first, then forty short ones
    batches = embedders._length_batches(tokens)
    assert sorted(i for batch in batches for i in batch) == list(range(50)), "every text once"
    assert [len(batch) for batch in batches] == [32, 8, 8, 2], "32 short texts a batch, 8 long ones"
    assert all(len({tokens[i] for i in batch}) == 1 for batch in batches), "no short text padded to a long one"
    assert embedders._length_batches([]) == []


@pytest.mark.parametrize("broken", [ONNX_FILE, WORDS_FILE])
def test_broken_onnx_folder_is_a_model_error(model_dir, tmp_path, broken):
    for name in ("config_sentence_transformers.json", "sentence_bert_config.json", "tokenizer.json"):
        (tmp_path / name).write_bytes((model_dir / name).read_bytes())
    (tmp_path / "onnx").mkdir()
    for name in (ONNX_FILE, WORDS_FILE):
        if name != broken:
            (tmp_path / name).symlink_to(model_dir / name)
    (tmp_path / broken).write_bytes(b"not a model")
    with pytest.raises(ModelError, match="QA_ONNX=0") as caught:
        OnnxEmbedder(tmp_path)
    assert str(tmp_path) in str(caught.value)


def test_cold_ask_does_not_import_torch(assistant, corpus_dir):
    assistant.index  # noqa: B018  (built)
    code = (
        "import sys, json; from qa.cli import main; sys.argv=['qa','ask','--json','工匠精神是什么？']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(m for m in ('torch', 'sentence_transformers', 'transformers', 'gradio', "
        "'onnxruntime') if m in sys.modules)))"
    )
    env = {**os.environ, "QA_CORPUS": str(corpus_dir), embedders.FAST_ENV: "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
    answer_line, modules_line = out.stdout.strip().splitlines()[-2:]
    answer = json.loads(answer_line)
    assert answer["answered"], answer
    assert answer["citations"][0]["document"]["id"] == SPEECH_ID
    assert answer["citations"][0]["paragraph"] == 10
    assert json.loads(modules_line) == ["onnxruntime"], "onnxruntime answered, and nothing heavier was imported"
    assert "Embedding" not in out.stderr and "Converting" not in out.stderr, "the corpus and model were reused"


# -------------------------------------------------------------------- the benchmark (qa.tools.bench)


def _paragraphs(files) -> list[str]:
    return [p.text for f in files for p in ingest.read(f).paragraphs]


def test_synthetic_corpus_is_reproducible_and_new(tmp_path):
    a = bench.synthetic_documents(30, tmp_path / "a", documents=3)
    b = bench.synthetic_documents(30, tmp_path / "b", documents=3)
    assert [f.read_text(encoding="utf-8") for f in a] == [f.read_text(encoding="utf-8") for f in b]
    assert len(a) == 3 and len(_paragraphs(a)) == 30
    first = ingest.read(a[0])
    assert first.title == "合成讲话第1号" and first.speaker == "张0", "the header is read as the document's"
    sentences = [s for p in _paragraphs(a) for s in p.split("。") if s]
    assert len(set(sentences)) == len(sentences), "recombined sentences are distinct"
    c = bench.synthetic_documents(30, tmp_path / "c", documents=3, seed=1)
    assert _paragraphs(c) != _paragraphs(a), "another seed, another corpus"


@pytest.mark.parametrize("paragraphs", [30, 250])
def test_synthetic_corpus_holds_the_paragraphs_asked_for(tmp_path, paragraphs):
    files = bench.synthetic_documents(paragraphs, tmp_path)
    assert len(_paragraphs(files)) == paragraphs
    assert len(files) <= bench.DOCUMENTS


def test_percentiles():
    assert bench.percentiles([float(x) for x in range(1, 101)]) == {"p50": 50.5, "p95": 95.0, "p99": 99.0}


def test_stage_timings_cover_every_stage(assistant):
    timings = bench.stages(assistant, QUESTIONS[:2], repeats=1)
    assert set(timings) == {"analyse", "embed", "retrieve", "rerank", "decide", "compose", "suggest", "warm_ask"}
    assert all(t["p50"] > 0 for t in timings.values()), timings
    assert timings["warm_ask"]["p50"] >= timings["embed"]["p50"]


def test_cold_ask_times_a_new_process(assistant, corpus_dir):
    assistant.index  # noqa: B018  (built)
    seconds = bench.cold_ask(corpus_dir, runs=1)
    assert 0 < seconds < 120


def test_scale_point_builds_and_answers(fake_embedder, monkeypatch):
    """The bench's mechanics with the fake model (fast); a cold answer needs the real one and is tested above."""
    from qa.corpus.folder import Corpus

    cold = []

    def cold_ask(corpus, runs=3, fast=True, store=None):
        cold.append(([info.id for info in Corpus(corpus, fake_embedder).docs()], runs))
        return 1.5

    monkeypatch.setattr(bench, "cold_ask", cold_ask)
    fake_embedder.int8 = False
    messages: list[str] = []
    point = bench.scale_point(fake_embedder, 10, messages.append)
    ((asked, runs),) = cold
    assert runs == 3 and len(asked) == point["documents"] and asked[-1].startswith("extra-50"), "the whole corpus"
    assert point["add_paragraphs"] == 50
    assert point["paragraphs"] == 10 + 50, "the synthetic documents, then one more of 50 paragraphs"
    assert point["index"] == "flat" and point["int8"] is False and point["cold_ask_s"] == 1.5
    assert point["paragraphs"] <= point["sentences"] and point["vectors"] <= point["units"]
    assert point["warm_ask_ms"]["p50"] > 0 and point["retrieve_ms"]["p50"] > 0
    assert point["build_s"] >= 0 and point["add_s"] >= 0
    assert messages and "built 10 paragraphs" in messages[0]


def test_scale_point_keeps_its_numbers_when_the_engine_fails(fake_embedder, monkeypatch):
    """A move to an engine that does not answer is reported with its error; the embedded store's numbers stand."""
    pytest.importorskip("pymilvus")
    from engines import free_port

    monkeypatch.setattr(bench, "cold_ask", lambda corpus, runs=3, fast=True, store=None: 1.5)
    fake_embedder.int8 = False
    messages: list[str] = []
    point = bench.scale_point(fake_embedder, 10, messages.append, store=f"milvus://127.0.0.1:{free_port()}?timeout=2")
    assert point["warm_ask_ms"]["p50"] > 0 and point["paragraphs"] == 60
    assert "does not answer" in point["on_store"]["error"] and point["on_store"]["after_s"] < 60
    assert any("embedded store: add" in m for m in messages) and "the engine failed" in messages[-1]


def test_a_moved_scale_corpus_gets_a_long_timeout_unless_the_uri_sets_one():
    assert bench.patient("milvus://h:1?collection=c") == f"milvus://h:1?collection=c&timeout={bench.MOVE_TIMEOUT_S}"
    assert bench.patient("milvus://h:1?timeout=3") == "milvus://h:1?timeout=3"


def test_scale_point_past_the_exact_scan_says_how_often_the_ivf_index_agrees_with_it(fake_embedder, monkeypatch):
    from qa.stores import exact

    monkeypatch.setattr(exact, "ANN_FROM", 300)
    monkeypatch.setattr(bench, "cold_ask", lambda corpus, runs=3, fast=True, store=None: 1.5)
    fake_embedder.int8 = False
    point = bench.scale_point(fake_embedder, 60, lambda _m: None)
    same = point["same_as_exact"]
    assert point["index"] == "ivf" and same["questions"] == 300
    assert 0.5 * same["questions"] <= same["same"] <= same["questions"] and same["share"] == round(same["same"] / 300, 3)
