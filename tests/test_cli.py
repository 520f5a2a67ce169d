"""The command line, run for real with click's CliRunner."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from qa.cli import cli


@pytest.fixture
def run(assistant, index_dir, monkeypatch):
    """Run ``qa`` against the session's index (already built by the assistant fixture)."""
    assistant.index  # noqa: B018
    monkeypatch.setenv("QA_INDEX_DIR", str(index_dir))

    def invoke(*args, stdin: bytes | None = None):
        return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)

    return invoke


def test_paragraphs_json(run):
    result = run("paragraphs", "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 0
    assert (data["title"], data["date"], data["speaker"]) == (
        "在全国劳动模范和先进工作者表彰大会上的讲话", "2020-11-24", "习近平")
    assert [p["n"] for p in data["paragraphs"]] == list(range(1, 24))
    assert {"n", "section", "text"} <= set(data["paragraphs"][0])


def test_paragraphs_from_another_source(run, tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("题目\n\n第一段。\n\n第二段。\n", encoding="utf-8")
    data = json.loads(run("paragraphs", "--source", str(path), "--json").stdout)
    assert [p["text"] for p in data["paragraphs"]] == ["第一段。", "第二段。"]


def test_ask_json_prints_exactly_one_object(run):
    result = run("ask", "--json", "网约工的权益")
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert data["answered"] and data["citations"][0]["paragraph"] == 16


def test_ask_for_people(run):
    result = run("ask", "工匠精神", "是什么")
    assert result.exit_code == 0
    assert "第10段 · 第一部分" in result.output


def test_ask_from_stdin_one_object_per_line(run):
    stdin = "工匠精神\n\n明天天气如何？\n十四五\n".encode()
    result = run("ask", "--json", "-", stdin=stdin)
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r["question"] for r in rows] == ["工匠精神", "明天天气如何？", "十四五"]
    assert [r["answered"] for r in rows] == [True, False, True]
    assert result.exit_code == 0


def test_stdin_with_invalid_utf8_and_bad_lines(run):
    stdin = b"\xff\xfe\xfa\n" + "？？？\n工匠精神\n".encode()
    result = run("ask", "--json", "-", stdin=stdin)
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r.get("code") for r in rows] == ["no_words", "no_words", None]
    assert rows[2]["answered"] is True
    assert result.exit_code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", ""], "empty"),
        (["ask", "劳" * 2000], "limit is"),
        (["ask", "--quotes", "9", "x"], "--quotes"),
        (["paragraphs", "--source", "/nonexistent/speech.txt"], "Cannot read"),
        (["build", "--int8", "--model", "some/other-model"], "bundled default model only"),
    ],
)
def test_errors_are_one_line_and_nonzero(run, args, message):
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_build_int8_writes_an_index_that_answers(run, tmp_path):
    index = tmp_path / "int8"
    result = run("build", "--int8", "--index", str(index))
    assert result.exit_code == 0, result.output
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["int8"] is True and manifest["vectors"] > 400
    answer = json.loads(run("ask", "--json", "--index", str(index), "网约工的权益").stdout)
    assert answer["citations"][0]["paragraph"] == 16
