"""The corpus on Milvus (Milvus Lite's gRPC server, started by the tests): moving, checks, faults, several servers.

The corpus tests themselves run on both stores (tests/test_corpus.py, the ``store`` fixture).
"""

from __future__ import annotations

import json
import shutil
import time
from urllib.parse import quote

import pytest
import requests
from click.testing import CliRunner
from conftest import DOCS
from engines import MilvusLite, free_port
from fakes import FakeEmbedder

from qa import stores
from qa.assistant import Assistant
from qa.cli import cli
from qa.config import Settings
from qa.corpus.folder import MANIFEST, Corpus
from qa.errors import StoreError, StoreUnavailable
from qa.stores import milvus as milvus_store
from qa.stores import uri as store_uri
from qa.tools import baselines
from qa.tools.evaluate import Question

QUESTIONS = ["工匠精神是什么？", "快递员的权益怎么保障？", "讲话分几个部分？", "明天北京会下雨吗？", "What is craftsmanship?"]
DOC_A_QUESTION = "本届职业技能大赛由哪些单位主办？"


def _answers(assistant: Assistant) -> list[tuple]:
    return [(a.answered, [(c.document.id, c.paragraph, c.quote) for c in a.citations])
            for a in (assistant.ask(q) for q in QUESTIONS)]


def test_a_corpus_moved_to_milvus_answers_exactly_as_before_without_embedding_again(fresh_corpus, milvus):
    before = _answers(Assistant(Settings(corpus=fresh_corpus), embedder=FakeEmbedder(), progress=None))
    store, embedder = milvus.collection(), FakeEmbedder()
    with pytest.raises(StoreError, match="keeps its vectors in the corpus folder .*qa build --corpus"):
        Corpus(fresh_corpus, embedder, store=store).index  # noqa: B018  never moved by just reading it
    Corpus(fresh_corpus, embedder, store=store).rebuild()  # qa build --store
    moved = Assistant(Settings(corpus=fresh_corpus, store=store), embedder=embedder, progress=None)
    assert _answers(moved) == before
    assert embedder.embedded == 0  # the vectors moved from the embedded store's files
    assert moved.index.manifest["store"].startswith("milvus:http://127.0.0.1:")
    with pytest.raises(StoreError, match="keeps its vectors in milvus://127.0.0.1:"):
        Corpus(fresh_corpus, FakeEmbedder()).add([DOCS / "doc_a.txt"])  # nor by adding to it without --store


def test_a_collection_keeps_what_it_was_built_with_and_refuses_another_model(tmp_path, milvus):
    uri = milvus.collection()
    Corpus(tmp_path / "c", FakeEmbedder(), store=uri).add([DOCS / "doc_a.txt"])
    spec = store_uri.parse(uri)
    with pytest.raises(StoreError, match="holds vectors of model 'fake-embedder'"):
        milvus_store.MilvusStore.open(spec, "unused", 16, "another-model")


@pytest.mark.parametrize(("uri", "message"), [
    ("milvus://", "milvus://HOST:PORT"), ("milvus-lite://", "milvus-lite://PATH"), ("redis://x:1", "milvus://HOST:PORT or milvus-lite://PATH"),
    ("milvus://h:1?collection=bad-name", "letters, digits"), ("milvus://h:1?index=ivf", "flat or hnsw"),
    ("milvus://h:1?timeout=0", "timeout"), ("milvus://h:1?colection=x", "Unknown store option"),
])
def test_a_store_uri_that_cannot_be_used_is_one_clear_error(uri, message):
    with pytest.raises(Exception, match=message) as caught:
        Settings(store=uri)
    assert getattr(caught.value, "code", None) == "bad_store"


def test_the_engine_down_is_a_clear_error_and_answers_resume_when_it_is_back(tmp_path, fresh_corpus):
    engine = MilvusLite(tmp_path / "engine.db", free_port(), tmp_path / "engine.log").start()
    try:
        store = f"{engine.uri}?collection=fault&timeout=3"
        Corpus(fresh_corpus, FakeEmbedder(), store=store).rebuild()
        assistant = Assistant(Settings(corpus=fresh_corpus, store=store), embedder=FakeEmbedder(), progress=None)
        assert assistant.ask("工匠精神是什么？").answered
        engine.stop()
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="does not answer") as caught:
            assistant.ask("工匠精神是什么？")
        assert caught.value.code == "store_unavailable" and time.monotonic() - started < 10
        # a new process (a server starting while the engine is down) gets the same error, and no rebuild
        with pytest.raises(StoreUnavailable):
            Assistant(Settings(corpus=fresh_corpus, store=store), embedder=FakeEmbedder(), progress=None).index  # noqa: B018
        engine.start()
        assert assistant.ask("工匠精神是什么？").answered  # the same assistant, no restart
    finally:
        engine.stop()


def test_the_engine_down_gives_http_503_and_a_one_line_cli_error(tmp_path, fresh_corpus):
    import served

    from ui.server import create_app

    dead = f"milvus://127.0.0.1:{free_port()}?timeout=2"
    manifest = json.loads((fresh_corpus / MANIFEST).read_text(encoding="utf-8"))
    manifest["store"] = stores.describe(dead, fresh_corpus)  # as if it had been moved there before the engine died
    (fresh_corpus / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    assistant = Assistant(Settings(corpus=fresh_corpus, store=dead), embedder=FakeEmbedder(), progress=None)
    with served.BackgroundServer(create_app(assistant)) as url:
        reply = requests.get(f"{url.rstrip('/')}/api/ask", params={"q": "工匠精神是什么？"}, timeout=30)
        listing = requests.get(f"{url.rstrip('/')}/api/docs", timeout=30)
    for response in (reply, listing):
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "store_unavailable" and "does not answer" in response.json()["error"]
    result = CliRunner().invoke(cli, ["docs", "--corpus", str(fresh_corpus), "--store", dead])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith("Error: The Milvus store at http://127.0.0.1:")


def test_the_engines_own_hybrid_search_is_compared(fresh_corpus, milvus):
    store = milvus.collection()
    Corpus(fresh_corpus, FakeEmbedder(), store=store).rebuild()
    assistant = Assistant(Settings(corpus=fresh_corpus, store=store), embedder=FakeEmbedder(), progress=None)
    question = Question("k", "keyword", "快递员", (16,), "快递员", "tune")
    result = baselines.compare(assistant, [question])
    assert result["engine hybrid"]["tune"]["keyword"]["hit_rate@3"] == 1.0


@pytest.mark.slow
def test_two_servers_share_one_store_and_see_a_new_document_without_a_restart(assistant, tmp_path, milvus):
    import served

    corpus = tmp_path / "shared"
    shutil.copytree(assistant.settings.corpus, corpus)
    store = milvus.collection()
    Corpus(corpus, assistant.embedder, store=store).rebuild()  # moved once, before the servers start
    env = {"QA_STORE": store}
    launched = [served.launch(corpus, tmp_path / f"serve-{n}.log", extra_env=env) for n in (1, 2)]  # load at once
    servers = [served.ready(server) for server in launched]
    try:
        for server in servers:
            status, body = served.get(f"{server.url}/api/ask?q={quote('工匠精神是什么？')}")
            assert status == 200 and body["citations"][0]["paragraph"] == 10
        Corpus(corpus, assistant.embedder, store=store).add([DOCS / "doc_a.txt"])  # as `qa add` would, elsewhere
        added = time.monotonic()
        for server in servers:
            while True:
                status, body = served.get(f"{server.url}/api/ask?q={quote(DOC_A_QUESTION)}")
                if status == 200 and body["citations"] and body["citations"][0]["document"]["id"] == "doc-a":
                    break
                assert time.monotonic() - added < 30, body
                time.sleep(0.2)
            assert "市总工会" in body["citations"][0]["text"]
        print(f"a new document answered by both servers {time.monotonic() - added:.1f} s after it was committed")
    finally:
        for server in servers:
            server.stop()


def test_the_bench_times_the_same_corpus_on_the_engine_without_embedding_it_again(milvus, monkeypatch):
    from qa.tools import bench

    embedder, stores_asked = FakeEmbedder(), []
    monkeypatch.setattr(bench, "cold_ask", lambda corpus, runs=3, fast=True, store=None: stores_asked.append(store) or 1.5)
    point = bench.scale_point(embedder, 10, lambda _m: None, milvus.uri)
    moved = point["on_store"]
    assert moved["index"] == "milvus flat" and moved["paragraphs"] == point["paragraphs"] == 60
    assert moved["vectors"] == point["units"] and moved["warm_ask_ms"]["p50"] > 0 and moved["move_s"] >= 0
    assert stores_asked == [None, bench.patient(milvus.uri)], "the same engine, waited on longer while it indexes"
