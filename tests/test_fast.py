"""The fast query path: same answers as sentence-transformers, clean fallback, a cold CLI without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from qa import bench, embed
from qa.convert import materialize
from qa.embed import DefaultEmbedder, OnnxEmbedder
from qa.errors import ModelError
from qa.retrieve import Retriever

QUESTIONS = ["工匠精神指的是什么？", "快递员的权益怎么保障？", "What is the spirit of craftsmanship?", "十四五"]


@pytest.fixture(scope="module")
def full(embedder):
    """The default model answering through sentence-transformers only (already loaded by the session)."""
    model = DefaultEmbedder(progress=None, fast=False)
    model._full = embedder._full
    return model


def test_fast_path_runs_here(embedder):
    assert embed.fast_path_available(), "onnxruntime is a dependency; the fast path must be on"
    embedder.queries(["工匠精神"])
    assert isinstance(embedder._fast, OnnxEmbedder)


def test_fast_and_full_query_vectors_agree(embedder, full):
    fast = embedder.queries(QUESTIONS)
    slow = full.queries(QUESTIONS)
    assert fast.shape == slow.shape == (len(QUESTIONS), 384)
    assert np.min(np.sum(fast * slow, axis=1)) >= 0.99999, "the same network: the same vectors"


def test_fast_and_full_give_the_same_answers(assistant, full):
    retriever = Retriever(assistant.index, full)
    for question in QUESTIONS:
        fast = assistant.retriever.search(question)
        slow = retriever.search(question)
        assert fast.paragraphs[0][0] == slow.paragraphs[0][0], question
        assert fast.hits[0].passage == slow.hits[0].passage, question


def test_fallback_when_onnxruntime_cannot_run(monkeypatch, embedder):
    def broken(folder):
        raise ModelError("no engine")

    monkeypatch.setattr(embed, "OnnxEmbedder", broken)
    model = DefaultEmbedder(progress=None, fast=True)
    model._full = embedder._full
    vectors = model.queries(["工匠精神"])
    assert model.fast is False and vectors.shape == (1, 384)


def test_env_switch_turns_the_fast_path_off(monkeypatch):
    monkeypatch.setenv(embed.FAST_ENV, "0")
    assert embed.fast_path_available() is False
    assert DefaultEmbedder(progress=None).fast is False


@pytest.mark.parametrize("texts", [["劳动最光荣"], ["劳动最光荣", "labour is glorious", "劳" * 900, ""]])
def test_onnx_embedder_batches_any_lengths(embedder, texts):
    """Mixed lengths are padded per batch, and a text past 512 tokens is truncated as sentence-transformers does."""
    onnx = OnnxEmbedder(materialize(progress=lambda _m: None))
    vectors = onnx.passages(texts)
    assert vectors.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(vectors * embedder.passages(texts), axis=1)) >= 0.99999


def test_broken_onnx_file_is_a_model_error(tmp_path):
    (tmp_path / "onnx").mkdir()
    (tmp_path / "onnx" / "model.onnx").write_bytes(b"not a model")
    for name in ("config_sentence_transformers.json", "sentence_bert_config.json", "tokenizer.json"):
        (tmp_path / name).write_bytes((materialize(progress=lambda _m: None) / name).read_bytes())
    with pytest.raises(ModelError, match="QA_ONNX=0"):
        OnnxEmbedder(tmp_path)


def test_cold_ask_does_not_import_torch(assistant, index_dir):
    assistant.index  # noqa: B018  (built)
    code = (
        "import sys, json; from qa.cli import main; sys.argv=['qa','ask','--json','工匠精神是什么？']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(m for m in ('torch', 'sentence_transformers', 'transformers', 'gradio') "
        "if m in sys.modules)))"
    )
    env = {**os.environ, "QA_INDEX_DIR": str(index_dir)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
    answer_line, modules_line = out.stdout.strip().splitlines()[-2:]
    assert json.loads(answer_line)["citations"][0]["paragraph"] == 10
    assert json.loads(modules_line) == []


def test_synthetic_corpus_is_reproducible_and_new():
    a, b = bench.synthetic_document(30), bench.synthetic_document(30)
    assert a == b and len(a.paragraphs) == 30
    sentences = [s for p in a.paragraphs for s in p.text.split("。") if s]
    assert len(set(sentences)) == len(sentences), "recombined sentences are distinct"


def test_percentiles():
    assert bench.percentiles([float(x) for x in range(1, 101)]) == {"p50": 50.5, "p95": 95.0, "p99": 99.0}


def test_stage_timings_cover_every_stage(assistant):
    timings = bench.stages(assistant.retriever, assistant.document, QUESTIONS[:2], repeats=1)
    assert set(timings) == {"tokenize", "embed_query", "dense_search", "bm25", "fusion", "answer_assembly", "warm_ask"}
    assert all(t["p50"] > 0 for t in timings.values())
    assert timings["warm_ask"]["p50"] >= timings["embed_query"]["p50"]


def test_scale_point_builds_and_answers(embedder):
    point = bench.scale_point(embedder, 40, QUESTIONS[:2])
    assert point["paragraphs"] == 40 and point["index"] == "flat"
    assert point["vectors"] <= point["units"]
    assert point["warm_ask_ms"]["p50"] > 0
