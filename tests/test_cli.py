"""The command line: corpus commands, ask (one question, stdin lines, follow-ups), errors as one line or one object."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import DOCS, SPEECH_ID
from fakes import FakeEmbedder

from qa.cli import cli
from qa.config import BUNDLED_SOURCE


@pytest.fixture
def run(fresh_corpus, monkeypatch):
    """``qa`` in process on a private corpus of the speech, with the fake embedder."""
    monkeypatch.setattr("qa.assistant.load_embedder", lambda name=None, progress=None: FakeEmbedder())
    monkeypatch.setenv("QA_CORPUS", str(fresh_corpus))

    def invoke(*args, stdin: bytes | None = None):
        return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)

    return invoke


@pytest.fixture
def real(assistant, corpus_dir, embedder, monkeypatch):
    """``qa`` in process on the session's corpus, with the real model."""
    monkeypatch.setattr("qa.assistant.load_embedder", lambda name=None, progress=None: embedder)
    monkeypatch.setenv("QA_CORPUS", str(corpus_dir))

    def invoke(*args, stdin: bytes | None = None):
        return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)

    return invoke


def test_paragraphs_json_of_every_kind_of_file(run, tmp_path):
    data = json.loads(run("paragraphs", "--json").stdout)
    assert data["title"] == "在全国劳动模范和先进工作者表彰大会上的讲话" and len(data["paragraphs"]) == 23
    assert data["paragraphs"][9]["section"] == "第一部分"
    for name, count in (("doc_a.txt", 17), ("doc_b.md", 17), ("doc_c.txt", 15)):
        result = run("paragraphs", "--json", "--source", str(DOCS / name))
        assert result.exit_code == 0 and len(json.loads(result.stdout)["paragraphs"]) == count
    text = run("paragraphs", "--source", str(DOCS / "doc_a.txt")).stdout
    assert text.startswith("在2023年全市职业技能大赛开幕式上的致辞  2023-05-18  王建平") and "[4 · 第一部分] 一、" in text


def test_add_docs_remove(run, fresh_corpus):
    added = run("add", "--json", str(DOCS / "doc_a.txt"), str(DOCS / "doc_b.md"))
    assert added.exit_code == 0, added.output
    rows = [json.loads(line) for line in added.stdout.splitlines()]
    assert [(r["id"], r["paragraphs"], r["new"]) for r in rows] == [("doc-a", 17, True), ("doc-b", 17, True)]
    assert set(rows[1]) == {"id", "title", "date", "speaker", "paragraphs", "new"} and rows[1]["speaker"] == "李晓梅"
    again = run("add", str(DOCS / "doc_a.txt"))
    assert again.stdout.startswith("present doc-a\t《在2023年全市职业技能大赛开幕式上的致辞》")
    listed = json.loads(run("docs", "--json").stdout)
    assert [d["id"] for d in listed] == [SPEECH_ID, "doc-a", "doc-b"]
    assert "doc-b\t《关于柳溪区社区养老服务的调研报告》  2022-09-03 · 李晓梅  17 段" in run("docs").stdout
    removed = run("remove", "doc-a")
    assert removed.exit_code == 0 and removed.stdout.startswith("removed doc-a")
    missing = run("remove", "doc-a")
    assert missing.exit_code == 1 and "No document 'doc-a'" in missing.stderr and SPEECH_ID in missing.stderr


def test_add_with_metadata_flags(run):
    result = run("add", "--json", "--title", "某某讲话", "--date", "2021-01-02", "--speaker", "某人", str(DOCS / "doc_c.txt"))
    row = json.loads(result.stdout)
    assert (row["title"], row["date"], row["speaker"]) == ("某某讲话", "2021-01-02", "某人")
    bad = run("add", "--date", "02/01/2021", str(DOCS / "doc_a.txt"))
    assert bad.exit_code == 1 and "YYYY-MM-DD" in bad.stderr


def test_ask_scoped_to_a_document(run):
    run("add", str(DOCS / "doc_a.txt"))
    data = json.loads(run("ask", "--json", "--doc", "doc-a", "工匠精神").stdout)
    assert {c["document"]["id"] for c in data["citations"]} == {"doc-a"}
    unknown = run("ask", "--json", "--doc", "nope", "工匠精神")
    assert unknown.exit_code == 1 and json.loads(unknown.stdout)["code"] == "unknown_doc"


def test_ask_json_prints_exactly_one_object(real):
    result = real("ask", "--json", "网约工的权益")
    assert result.exit_code == 0
    (line,) = result.stdout.strip().splitlines()
    data = json.loads(line)
    assert data["answered"] and data["citations"][0]["paragraph"] == 16


def test_ask_for_people(real):
    result = real("ask", "工匠精神", "是什么")
    assert result.exit_code == 0
    assert "《在全国劳动模范和先进工作者表彰大会上的讲话》第10段 · 第一部分" in result.stdout


@pytest.mark.parametrize(("args", "code"), [(["ask", "--json", ""], "empty"), (["ask", "--json", "劳" * 6000], "too_long"),
                                            (["ask", "--json", "？？"], "no_words")])
def test_ask_json_errors_are_one_object_on_stdout(run, args, code):
    result = run(*args)
    assert result.exit_code == 1
    (line,) = result.stdout.strip().splitlines()
    data = json.loads(line)
    assert data["code"] == code and set(data) == {"error", "code"} and "劳劳劳" not in data["error"]


def test_ask_from_stdin_one_object_per_line(real):
    stdin = "工匠精神\n\n明天天气如何？\n十四五\n".encode()
    result = real("ask", "--json", "-", stdin=stdin)
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r["question"] for r in rows] == ["工匠精神", "明天天气如何？", "十四五"]
    assert [r["answered"] for r in rows] == [True, False, True]
    assert result.exit_code == 0


def test_stdin_follow_ups_carry_the_conversation(real):
    first = json.loads(real("ask", "--json", "第一点讲的是什么？").stdout)
    line = json.dumps({"question": "下一点呢？", "history": [{"question": "第一点讲的是什么？", "answer": first}]},
                      ensure_ascii=False)
    row = json.loads(real("ask", "--json", "-", stdin=(line + "\n").encode()).stdout)
    assert row["interpreted_as"] and row["citations"][0]["paragraph"] == 13


def test_stdin_with_invalid_utf8_bad_json_and_long_lines(run):
    stdin = b"\xff\xfe\xfa\n" + "？？？\n{bad json\n".encode() + ("劳" * 6000 + "\n").encode() + "工匠精神\n".encode()
    result = run("ask", "--json", "-", stdin=stdin)
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r.get("code") for r in rows] == ["no_words", "no_words", "bad_json", "too_long", None]
    assert rows[3]["question"].endswith("…") and len(rows[3]["question"]) < 60
    assert rows[4]["answered"] is True
    assert result.exit_code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", ""], "empty"),
        (["ask", "劳" * 2000], "limit is"),
        (["ask", "--quotes", "9", "x"], "--quotes"),
        (["paragraphs", "--source", "/nonexistent/speech.txt"], "does not exist"),
        (["build", "--int8", "--model", "some/other-model"], "bundled default model only"),
        (["add", "/nonexistent/file.txt"], "does not exist"),
    ],
)
def test_errors_are_one_line_and_nonzero(run, args, message):
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_build_embeds_everything_again(run, fresh_corpus):
    before = json.loads((fresh_corpus / "corpus.json").read_text(encoding="utf-8"))["generation"]
    result = run("build")
    assert result.exit_code == 0, result.output
    assert "1 documents, 23 paragraphs" in result.stdout
    assert json.loads((fresh_corpus / "corpus.json").read_text(encoding="utf-8"))["generation"] == before + 1


def test_int8_builds_answer(embedder, tmp_path, monkeypatch):
    from qa.assistant import Assistant
    from qa.config import Settings
    from qa.models.embedders import DefaultEmbedder

    int8 = DefaultEmbedder(progress=None, int8=True)
    assistant = Assistant(Settings(corpus=tmp_path / "c"), embedder=int8, progress=None)
    assistant.corpus.seed = (BUNDLED_SOURCE,)
    manifest = assistant.index.manifest
    assert manifest["documents"][0]["int8"] is True
    assert assistant.ask("网约工的权益").citations[0].paragraph == 16
