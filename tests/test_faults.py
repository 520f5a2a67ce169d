"""Faults on disk: a killed build, damaged or stale indexes through the CLI, a broken model cache, a read-only or
unwritable index location, a model that does not exist."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import served
from qa import convert, store
from qa.assistant import Assistant
from qa.cli import cli
from qa.config import BUNDLED_SOURCE, Settings

DIGEST = store.sha256_bytes(BUNDLED_SOURCE.read_bytes())


@pytest.fixture
def good_index(assistant, index_dir, tmp_path) -> Path:
    """A private copy of the session's sound, current index, as ``<tmp>/built/speech``."""
    assistant.index  # noqa: B018
    copy = tmp_path / "built" / "speech"
    shutil.copytree(index_dir, copy)
    return copy


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _answers(path: Path, embedder) -> None:
    answer = Assistant(Settings(index_dir=path), embedder=embedder, progress=None).ask("工匠精神是什么？")
    assert answer.answered and answer.citations[0].paragraph == 10


def _leftovers(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


# -------------------------------------------------------------- killed builds


def test_build_killed_while_embedding_leaves_the_previous_index(good_index, embedder, tmp_path):
    before = (good_index / store.MANIFEST).read_text(encoding="utf-8")
    log = tmp_path / "build.log"
    with log.open("wb") as out:
        build = subprocess.Popen([sys.executable, "-m", "qa", "build"], cwd=served.REPO, stdout=out, stderr=out,
                                 env={**os.environ, **served.QUIET_ENV, "QA_INDEX_DIR": str(good_index)})
    try:
        deadline = time.monotonic() + 120
        while "Embedding" not in log.read_text(errors="replace") and time.monotonic() < deadline:
            assert build.poll() is None, log.read_text(errors="replace")
            time.sleep(0.05)
        time.sleep(2.0)  # loading the model and embedding take several seconds more
        assert build.poll() is None, "the build finished before it could be killed"
        build.send_signal(signal.SIGKILL)
        assert build.wait(30) == -signal.SIGKILL
    finally:
        build.kill()
        build.wait()
    assert (good_index / store.MANIFEST).read_text(encoding="utf-8") == before
    store.load(good_index, source_hash=DIGEST, model=embedder.name)
    _answers(good_index, embedder)
    assert _leftovers(good_index) == []  # whatever the killed build left beside it is gone


def _assert_previous_index_is_back(index, embedder, manifest_before: str) -> None:
    """The next load finds the previous index, clears what the dead build left, and answers."""
    loaded = store.load(index, source_hash=DIGEST, model=embedder.name)
    assert json.dumps(loaded.manifest, ensure_ascii=False, indent=2) == manifest_before
    assert _leftovers(index) == []
    _answers(index, embedder)


def test_build_killed_before_its_rename_leaves_the_previous_index(good_index, embedder):
    """What a SIGKILL leaves after the new folder is written, before it is renamed in: a complete stray folder."""
    before = (good_index / store.MANIFEST).read_text(encoding="utf-8")
    shutil.copytree(good_index, good_index.parent / f".tmp-speech-{_dead_pid()}")
    _assert_previous_index_is_back(good_index, embedder, before)


def test_build_killed_between_its_renames_restores_the_previous_index(good_index, embedder):
    """The old folder renamed aside, the new one not yet renamed in: the next load puts the old one back."""
    before = (good_index / store.MANIFEST).read_text(encoding="utf-8")
    pid = _dead_pid()
    shutil.copytree(good_index, good_index.parent / f".tmp-speech-{pid}")
    os.rename(good_index, good_index.parent / f".old-speech-{pid}")
    _assert_previous_index_is_back(good_index, embedder, before)


def test_a_live_build_is_left_alone(good_index, embedder):
    """Another process still writing its folder: a load must not touch it."""
    busy = good_index.parent / f".tmp-speech-{os.getpid()}"
    busy.mkdir()
    store.load(good_index, source_hash=DIGEST, model=embedder.name)
    assert busy.is_dir()


# ---------------------------------------------------- damaged or stale, via CLI


@pytest.fixture
def run(embedder, monkeypatch):
    """``qa`` in process, with the session's model (so a rebuild does not load a second copy)."""
    monkeypatch.setattr("qa.assistant.load_embedder", lambda name=None, progress=None: embedder)

    def invoke(*args):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_cli_reports_a_damaged_index_in_one_line_and_rebuilds_it(run, good_index, embedder):
    (good_index / store.VECTORS).write_bytes((good_index / store.VECTORS).read_bytes()[:500])  # truncated
    result = run("ask", "--json", "--index", str(good_index), "工匠精神是什么？")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    first = result.stderr.splitlines()[0]
    assert "vectors.faiss is missing or damaged" in first and first.endswith("Rebuilding.")
    (line,) = result.stdout.splitlines()
    assert json.loads(line)["citations"][0]["paragraph"] == 10
    store.load(good_index, source_hash=DIGEST, model=embedder.name)  # sound on disk again


def _set_model(path: Path, name: str) -> None:
    manifest = json.loads((path / store.MANIFEST).read_text(encoding="utf-8"))
    manifest["model"] = name
    (path / store.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


# Without the source text there is nothing to rebuild from: the CLI says what is wrong, in one line.
DAMAGE = {
    "missing-passages": (lambda p: (p / store.PASSAGES).unlink(), "passages.json is missing or damaged"),
    "other-model": (lambda p: _set_model(p, "some-other-model"), "built with model 'some-other-model'"),
    "no-manifest": (lambda p: (p / store.MANIFEST).unlink(), "manifest missing"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_cli_with_a_bad_index_and_no_source_says_so_in_one_line(run, good_index, damage):
    harm, said = DAMAGE[damage]
    harm(good_index)
    result = run("ask", "--index", str(good_index), "--source", str(good_index / "gone.txt"), "工匠精神")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0], lines


# ------------------------------------------------------------ unwritable index


def test_cli_build_into_an_unwritable_place_names_the_setting_before_embedding(run, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    started = time.monotonic()
    result = run("build", "--index", str(blocker / "speech"))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: ") and "QA_INDEX_DIR" in lines[-1] and "--index" in lines[-1]
    assert not any("Embedding" in line for line in lines)  # refused before the slow part
    assert time.monotonic() - started < 5


def _in_read_only_mount(folder: Path, args: list[str]) -> subprocess.CompletedProcess:
    """``python -m qa ARGS`` in a private mount namespace where ``folder`` is mounted read-only."""
    script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
    command = ["unshare", "-m", "sh", "-c", script, "sh", str(folder), sys.executable, "-m", "qa", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=served.REPO,
                          env={**os.environ, **served.QUIET_ENV})


@pytest.fixture
def read_only_mounts():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) for a private read-only bind mount")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -m is not permitted here: {probe.stderr.decode(errors='replace').strip()}")


def test_read_only_index_still_answers_and_a_build_there_names_the_setting(read_only_mounts, good_index):
    folder = good_index.parent
    asked = _in_read_only_mount(folder, ["ask", "--json", "--index", str(good_index), "工匠精神"])
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["citations"][0]["paragraph"] == 10
    built = _in_read_only_mount(folder, ["build", "--index", str(good_index)])
    assert built.returncode == 1
    last = built.stderr.strip().splitlines()[-1]
    assert "Read-only file system" in last and "QA_INDEX_DIR" in last and "--index" in last, built.stderr
    assert "Traceback" not in built.stderr and "Embedding" not in built.stderr
    store.load(good_index, source_hash=DIGEST)  # untouched


# ------------------------------------------------------------------ the model


def test_a_deleted_model_file_is_detected_and_the_model_converted_again(embedder, assistant, tmp_path, monkeypatch):
    from qa.embed import DEFAULT_MODEL, SentenceTransformerEmbedder

    assistant.index  # noqa: B018  (the shared cache holds a complete model by now)
    root = tmp_path / "models"
    copy = convert.default_model_dir(root)
    shutil.copytree(convert.default_model_dir(), copy, copy_function=os.link)  # hard links: only unlink in it
    (copy / "tokenizer.json").unlink()
    monkeypatch.setenv(convert.MODEL_ENV, str(root))
    messages: list[str] = []
    fresh = SentenceTransformerEmbedder(DEFAULT_MODEL, progress=messages.append)
    vector = fresh.passages(["工匠精神是以爱国主义为核心的民族精神"])
    assert any("incomplete" in m for m in messages), messages
    assert convert.is_materialized(copy)
    reference = embedder.passages(["工匠精神是以爱国主义为核心的民族精神"])
    assert float(np.dot(vector[0], reference[0])) > 0.9999


def test_a_damaged_model_file_of_the_right_size_is_detected(tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(convert.default_model_dir(), copy, copy_function=os.link)
    assert convert.is_intact(copy)
    config = copy / "config.json"
    size = config.stat().st_size
    config.unlink()  # a hard link: replace it, never write into it
    config.write_bytes(b"{" + b" " * (size - 1))
    assert convert.is_materialized(copy)  # the fast check sees only sizes
    assert not convert.is_intact(copy)


@pytest.mark.parametrize("model", ["/nonexistent", "./no/such/model", "~/no-such-model"])
@pytest.mark.parametrize("command", ["ask", "build"])
def test_a_model_folder_that_does_not_exist_is_one_clear_line(tmp_path, model, command):
    args = [command, "--model", model, "--index", str(tmp_path / "index")] + (["工匠精神"] if command == "ask" else [])
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and model in lines[0] and "does not exist" in lines[0] and "--model" in lines[0]
    assert not (tmp_path / "index").exists()


def test_a_model_missing_from_the_offline_cache_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["build", "--model", "no-such-org/no-such-model", "--index",
                                      str(tmp_path / "index")], catch_exceptions=False)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "no-such-org/no-such-model" in errors[0]
    assert result.stderr.strip().splitlines()[-1] == errors[0]
