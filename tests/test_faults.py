"""Faults on disk: a writer killed at any moment, damaged or lost index files, read-only or unwritable corpora, a
broken model cache, a model that does not exist."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import served
from click.testing import CliRunner
from conftest import DOCS, SPEECH_ID
from fakes import FakeEmbedder

from qa.assistant import Assistant
from qa.cli import cli
from qa.config import Settings
from qa.corpus.folder import MANIFEST, Corpus
from qa.models import cache


def _answers(path: Path) -> None:
    answer = Assistant(Settings(corpus=path), embedder=FakeEmbedder(), progress=None).ask("工匠精神是什么？")
    assert answer.answered and answer.citations[0].document.id == SPEECH_ID


def _ids(path: Path) -> list[str]:
    return [d["id"] for d in json.loads((path / MANIFEST).read_text(encoding="utf-8"))["documents"]]


# -------------------------------------------------------------- killed writers

SLOW_ADD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from fakes import FakeEmbedder
    from qa.corpus.folder import Corpus

    class Slow(FakeEmbedder):
        def passages(self, texts):
            print("EMBEDDING", flush=True)
            time.sleep(0.02 * len(texts))
            return super().passages(texts)

    Corpus({corpus!r}, Slow()).add([{file!r}])
    print("DONE", flush=True)
""")


@pytest.mark.parametrize("delay", [0.0, 0.3, 1.5])
def test_a_writer_killed_while_adding_leaves_the_corpus_as_it_was(fresh_corpus, tmp_path, delay):
    before = (fresh_corpus / MANIFEST).read_bytes()
    script = SLOW_ADD.format(tests=str(Path(__file__).parent), corpus=str(fresh_corpus), file=str(DOCS / "doc_a.txt"))
    writer = subprocess.Popen([sys.executable, "-c", script], cwd=served.REPO, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, **served.QUIET_ENV})
    try:
        assert writer.stdout.readline().strip() == "EMBEDDING"
        time.sleep(delay)
        assert writer.poll() is None, "the add finished before it could be killed"
        writer.send_signal(signal.SIGKILL)
        assert writer.wait(30) == -signal.SIGKILL
    finally:
        writer.kill()
        writer.wait()
    assert (fresh_corpus / MANIFEST).read_bytes() == before
    _answers(fresh_corpus)
    corpus = Corpus(fresh_corpus, FakeEmbedder())
    assert [a.new for a in corpus.add([DOCS / "doc_a.txt"])] == [True]  # the next writer finishes the job
    assert _ids(fresh_corpus) == [SPEECH_ID, "doc-a"]


def test_what_a_writer_killed_before_its_commit_wrote_is_ignored_then_tidied(fresh_corpus):
    """Shard, vectors and BM25 of a document that never reached the manifest: readers do not see them."""
    scratch = fresh_corpus.parent / "scratch"
    shutil.copytree(fresh_corpus, scratch)
    Corpus(scratch, FakeEmbedder()).add([DOCS / "doc_a.txt"])
    manifest = json.loads((scratch / MANIFEST).read_text(encoding="utf-8"))
    shutil.copytree(scratch / "shards" / "doc-a", fresh_corpus / "shards" / "doc-a")
    shutil.copyfile(scratch / "vectors" / "doc-a.npz", fresh_corpus / "vectors" / "doc-a.npz")
    shutil.copytree(scratch / manifest["lexical"], fresh_corpus / "lexical-99")
    assert _ids(fresh_corpus) == [SPEECH_ID]
    _answers(fresh_corpus)
    Corpus(fresh_corpus, FakeEmbedder()).add([DOCS / "doc_b.md"])
    assert not (fresh_corpus / "shards" / "doc-a").exists() and not (fresh_corpus / "vectors" / "doc-a.npz").exists()
    assert not (fresh_corpus / "lexical-99").exists()


def test_a_writer_killed_after_its_commit_left_the_new_state(fresh_corpus):
    """The manifest replaced, the old BM25 generation not yet deleted: the new state is whole."""
    old = json.loads((fresh_corpus / MANIFEST).read_text(encoding="utf-8"))["lexical"]
    keep = fresh_corpus.parent / "old-lexical"
    shutil.copytree(fresh_corpus / old, keep)
    corpus = Corpus(fresh_corpus, FakeEmbedder())
    corpus.add([DOCS / "doc_a.txt"])
    if not (fresh_corpus / old).exists():
        shutil.copytree(keep, fresh_corpus / old)
    assert _ids(fresh_corpus) == [SPEECH_ID, "doc-a"]
    _answers(fresh_corpus)


# ------------------------------------------------------------- damaged files


@pytest.fixture
def run(monkeypatch):
    """``qa`` in process, with the fake embedder in place of the real model."""
    monkeypatch.setattr("qa.assistant.load_embedder", lambda name=None, progress=None: FakeEmbedder())

    def invoke(*args):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {
    "vectors": lambda c: _flip(c / "vectors" / f"{SPEECH_ID}.npz"),
    "paragraphs": lambda c: (c / "shards" / SPEECH_ID / "document.json").write_text("{", encoding="utf-8"),
    "bm25": lambda c: _flip(next((c / json.loads((c / MANIFEST).read_text("utf-8"))["lexical"]).rglob("*.npy"))),
    "background": lambda c: (c / "background.npy").unlink(),
    "manifest": lambda c: (c / MANIFEST).write_text("not json", encoding="utf-8"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damage_is_reported_in_one_line_and_repaired(run, fresh_corpus, damage):
    DAMAGE[damage](fresh_corpus)
    result = run("ask", "--json", "--corpus", str(fresh_corpus), "工匠精神是什么？")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert any(word in result.stderr for word in ("damaged", "unreadable", "Repairing", "Rebuilding")), result.stderr
    (line,) = result.stdout.splitlines()
    assert json.loads(line)["citations"][0]["document"]["id"] == SPEECH_ID
    Corpus(fresh_corpus, FakeEmbedder())._load(json.loads((fresh_corpus / MANIFEST).read_text(encoding="utf-8")))


def test_a_lost_manifest_is_rebuilt_from_the_shards(run, fresh_corpus):
    Corpus(fresh_corpus, FakeEmbedder()).add([DOCS / "doc_a.txt"])
    (fresh_corpus / MANIFEST).unlink()
    result = run("docs", "--json", "--corpus", str(fresh_corpus))
    assert result.exit_code == 0, result.output
    assert [d["id"] for d in json.loads(result.stdout)] == [SPEECH_ID, "doc-a"]


def test_a_document_whose_text_and_file_are_both_lost_is_dropped_with_a_message(fresh_corpus):
    corpus = Corpus(fresh_corpus, FakeEmbedder())
    corpus.add([DOCS / "doc_a.txt"])
    shutil.rmtree(fresh_corpus / "shards" / "doc-a")
    (fresh_corpus / "documents" / "doc-a.txt").unlink()
    messages: list[str] = []
    again = Corpus(fresh_corpus, FakeEmbedder(), progress=messages.append)
    assert [i.id for i in again.docs()] == [SPEECH_ID]
    assert any("doc-a" in m and "lost" in m for m in messages), messages


# ---------------------------------------------------- unwritable or read-only


def test_adding_to_an_unwritable_place_names_the_setting_before_embedding(run, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    started = time.monotonic()
    result = run("add", "--corpus", str(blocker / "corpus"), str(DOCS / "doc_a.txt"))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: ") and "QA_CORPUS" in lines[-1] and "--corpus" in lines[-1]
    assert not any("Embedding" in line for line in lines)
    assert time.monotonic() - started < 5


def _in_read_only_mount(folder: Path, args: list[str]) -> subprocess.CompletedProcess:
    """``python -m qa ARGS`` in a private mount namespace where ``folder`` is mounted read-only."""
    script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
    command = ["unshare", "-m", "sh", "-c", script, "sh", str(folder), sys.executable, "-m", "qa", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=served.REPO,
                          env={**os.environ, **served.QUIET_ENV})


@pytest.fixture
def read_only_mounts():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) for a private read-only bind mount")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -m is not permitted here: {probe.stderr.decode(errors='replace').strip()}")


def test_a_read_only_corpus_still_answers_and_adding_there_names_the_setting(read_only_mounts, assistant,
                                                                               corpus_dir, tmp_path):
    copy = tmp_path / "ro" / "corpus"
    shutil.copytree(corpus_dir, copy)
    asked = _in_read_only_mount(copy.parent, ["ask", "--json", "--corpus", str(copy), "工匠精神"])
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["citations"][0]["paragraph"] == 10
    added = _in_read_only_mount(copy.parent, ["add", "--corpus", str(copy), str(DOCS / "doc_a.txt")])
    assert added.returncode == 1
    last = added.stderr.strip().splitlines()[-1]
    assert "Read-only file system" in last and "QA_CORPUS" in last, added.stderr
    assert "Traceback" not in added.stderr and "Embedding" not in added.stderr


# ------------------------------------------------------------------ the model


def test_a_deleted_model_file_is_detected_and_the_model_converted_again(embedder, assistant, tmp_path, monkeypatch):
    from qa.models import DEFAULT_MODEL
    from qa.models.embedders import SentenceTransformerEmbedder

    root = tmp_path / "models"
    copy = cache.default_model_dir(root)
    shutil.copytree(cache.default_model_dir(), copy, copy_function=os.link)  # hard links: only unlink in it
    (copy / "tokenizer.json").unlink()
    original = cache.default_model_dir()
    monkeypatch.setenv(cache.MODEL_ENV, str(root))
    # The conversion itself is tested in test_convert; here a copy of its result stands in for it (10 s less).
    monkeypatch.setattr(cache, "convert", lambda _source, dest, _progress=None: shutil.copytree(
        original, dest, copy_function=os.link))
    messages: list[str] = []
    fresh = SentenceTransformerEmbedder(DEFAULT_MODEL, progress=messages.append)
    vector = fresh.passages(["工匠精神是以爱国主义为核心的民族精神"])
    assert any("incomplete" in m for m in messages), messages
    assert cache.is_materialized(copy)
    reference = embedder.passages(["工匠精神是以爱国主义为核心的民族精神"])
    assert float(np.dot(vector[0], reference[0])) > 0.9999


def test_a_damaged_model_file_of_the_right_size_is_detected(embedder, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(cache.default_model_dir(), copy, copy_function=os.link)
    assert cache.is_intact(copy)
    config = copy / "config.json"
    size = config.stat().st_size
    config.unlink()  # a hard link: replace it, never write into it
    config.write_bytes(b"{" + b" " * (size - 1))
    assert cache.is_materialized(copy)  # the fast check sees only sizes
    assert not cache.is_intact(copy)


@pytest.mark.parametrize("model", ["/nonexistent", "./no/such/model", "~/no-such-model"])
@pytest.mark.parametrize("command", ["ask", "build"])
def test_a_model_folder_that_does_not_exist_is_one_clear_line(tmp_path, model, command):
    args = [command, "--model", model, "--corpus", str(tmp_path / "corpus")] + (["工匠精神"] if command == "ask" else [])
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and model in lines[0] and "does not exist" in lines[0] and "--model" in lines[0]
    assert not (tmp_path / "corpus").exists()


def test_a_model_missing_from_the_offline_cache_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["add", "--model", "no-such-org/no-such-model", "--corpus", str(tmp_path / "c"),
                                      str(DOCS / "doc_a.txt")], catch_exceptions=False)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "no-such-org/no-such-model" in errors[0]
    assert result.stderr.strip().splitlines()[-1] == errors[0]
