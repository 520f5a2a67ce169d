"""Hostile questions through the library, the CLI, the JSON API and the Gradio endpoint: a proper answer or the
documented error, fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass

import pytest
import served
from checks import check_answer, within
from click.testing import CliRunner

from qa.analysis import clean_question
from qa.cli import cli
from qa.config import MAX_QUESTION_CHARS
from qa.errors import InputError

# Seconds one question may take anywhere (a normal answer takes ~0.02 s; the limit only catches hangs).
HANG = 20.0


@dataclass(frozen=True)
class Case:
    """A question and what must come of it: an InputError code, a paragraph the first quote comes from, or any
    well-formed answer (``error`` and ``paragraph`` both None)."""

    question: str
    error: str | None = None
    paragraph: int | None = None


CASES = {
    "empty": Case("", error="empty"),
    "whitespace": Case(" \t\n\r\u3000\u00a0\u2028 ", error="empty"),
    "punctuation": Case("？？！！。，、……——“”《》", error="no_words"),
    "ascii-punctuation": Case("?!.,;:'\"()[]{}<>/\\|-_=+*&^%$#@~`", error="no_words"),
    "emoji": Case("😀🎉👍🏽🇨🇳❤️‍🔥", error="no_words"),
    "one-cjk": Case("劳"),
    "one-latin": Case("a"),
    "one-digit": Case("7"),
    "at-limit": Case("劳" * MAX_QUESTION_CHARS),
    "over-limit": Case("劳" * (MAX_QUESTION_CHARS + 1), error="too_long"),
    "2000": Case("劳动" * 1000, error="too_long"),
    "100000": Case("工" * 100_000, error="too_long"),
    "padded-with-spaces": Case("工匠精神" + " " * 100_000, error="too_long"),
    "padded-with-zero-width": Case("工匠精神" + "\u200b" * 100_000, error="too_long"),
    "nul": Case("工匠\x00精神", paragraph=10),
    "only-nul": Case("\x00\x00\x00", error="empty"),
    "control": Case("\x01\x1b[31m工匠精神\x7f\x08\x0c", paragraph=10),
    "lone-surrogates": Case("\ud800工匠\udfff精神\udc80", paragraph=10),
    "only-surrogates": Case("\udc80\ud800", error="empty"),  # low before high: no pair, even in JSON
    "rtl-override": Case("\u202e工匠精神是什么\u202c", paragraph=10),
    "rtl-scripts": Case("שלום ما هو 工匠精神"),
    "zero-width": Case("工\u200b匠\u200c精\u200d神\ufeff\u2060", paragraph=10),
    "full-width-ascii": Case("ｗｈａｔ ｉｓ ｔｈｅ ｓｐｉｒｉｔ ｏｆ ｃｒａｆｔｓｍａｎｓｈｉｐ？", paragraph=10),
    "traditional": Case("工匠精神是什麼？", paragraph=10),
    "mixed-scripts": Case("工匠精神 craftsman spirit ремесло 職人 장인정신", paragraph=10),
    "combining-marks": Case("a" + "\u0301" * 400),
    "private-use": Case("\ue000\uf8ff工匠精神", paragraph=10),
    "script-tag": Case("<script>alert(1)</script>工匠精神", paragraph=10),
    "img-onerror": Case('<img src=x onerror="alert(1)">劳模精神'),
    "markdown-link": Case("[x](javascript:alert(1)) 工匠精神", paragraph=10),
    "markdown-heading": Case("# 工匠精神\n```\n**劳模**\n```", paragraph=10),
    "jinja": Case("{{7*7}}"),
    "template-literal": Case("${7*7} 工匠精神", paragraph=10),
    "format-string": Case("%s%s%n{0}{__class__} 工匠精神", paragraph=10),
    "sql": Case("'; DROP TABLE passages; -- 工匠精神", paragraph=10),
    "path": Case("../../etc/passwd"),
}
IDS = list(CASES)


def check_case(case: Case, data: dict, document) -> None:
    check_answer(data, document)
    if case.paragraph is not None:
        assert data["answered"], f"{case.question[:40]!r} was not answered"
        assert data["citations"][0]["paragraph"] == case.paragraph


# ------------------------------------------------------------------ library


@pytest.mark.parametrize("name", IDS)
def test_library(assistant, document, name):
    case = CASES[name]
    if case.error:
        with pytest.raises(InputError) as caught:
            within(HANG, assistant.ask, case.question)
        assert caught.value.code == case.error
        assert "\n" not in str(caught.value)
    else:
        check_case(case, within(HANG, assistant.ask, case.question).to_dict(), document)


def test_oversized_input_is_refused_before_it_is_scanned():
    started = time.perf_counter()
    with pytest.raises(InputError, match="limit is 500") as caught:
        clean_question(" " * 20_000_000 + "工匠精神", 500)
    assert caught.value.code == "too_long"
    assert time.perf_counter() - started < 0.5


def test_full_width_ascii_is_asked_as_ascii(assistant):
    wide = assistant.ask(CASES["full-width-ascii"].question)
    narrow = assistant.ask("What is the spirit of craftsmanship?")
    assert (wide.answered, [c.quote for c in wide.citations]) == (narrow.answered, [c.quote for c in narrow.citations])


def test_template_syntax_is_never_evaluated(assistant):
    for question in ("{{7*7}}", "${7*7} 工匠精神"):
        answer = assistant.ask(question)
        assert answer.question == question
        assert "49" not in answer.answer


@pytest.mark.parametrize("question", [None, 42, b"\xe5\xb7\xa5", ["工匠精神"], {"q": 1}])
def test_non_text_is_refused(assistant, question):
    with pytest.raises(InputError) as caught:
        assistant.ask(question)
    assert caught.value.code == "not_text"


@pytest.mark.parametrize("quotes", [0, 4, -1, "2", 2.0, True])
def test_bad_quotes_are_refused(assistant, quotes):
    with pytest.raises(InputError) as caught:
        assistant.ask("工匠精神", quotes=quotes)
    assert caught.value.code == "bad_quotes"


def test_every_input_error_has_a_chinese_message(assistant):
    from ui.app import INPUT_MESSAGES, user_message

    codes = {case.error for case in CASES.values() if case.error} | {"not_text", "bad_quotes"}
    assert codes <= set(INPUT_MESSAGES)
    for code in codes:
        message = user_message(InputError("x", code=code), assistant)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in message) and "Traceback" not in message


# ---------------------------------------------------------------------- CLI


@pytest.fixture
def run(assistant, corpus_dir, monkeypatch):
    """``qa`` in process against the session's corpus, with its real model."""
    assistant.index  # noqa: B018
    monkeypatch.setenv("QA_CORPUS", str(corpus_dir))

    def invoke(*args):
        return within(HANG, CliRunner().invoke, cli, list(args), catch_exceptions=False)

    return invoke


# Every case goes through the real CLI in test_cli_stdin_answers_every_hostile_line; here, a sample of refusals and
# answers go through argv (a new Assistant each time costs ~0.6 s).
CLI_IDS = ["empty", "punctuation", "over-limit", "nul", "lone-surrogates", "script-tag"]


@pytest.mark.parametrize("name", CLI_IDS)
def test_cli(run, document, name):
    case = CASES[name]
    result = run("ask", "--json", case.question)
    assert "Traceback" not in result.output
    if case.error:  # with --json the error is the one JSON line
        assert result.exit_code == 1
        (line,) = result.stdout.strip().splitlines()
        assert json.loads(line)["code"] == case.error
    else:
        assert result.exit_code == 0, result.output
        lines = result.stdout.strip().splitlines()
        assert len(lines) == 1
        check_case(case, json.loads(lines[0]), document)


def _qa(args: list, stdin: bytes | None = None, env: dict | None = None, timeout: float = 90.0):
    """The installed ``qa`` as a user runs it: a child process with its own argv and stdin bytes."""
    return subprocess.run([sys.executable, "-m", "qa", *args], input=stdin, capture_output=True, timeout=timeout,
                          check=False, env={**os.environ, **served.QUIET_ENV, **(env or {})}, cwd=served.REPO)


def test_cli_stdin_answers_every_hostile_line(assistant, corpus_dir, document):
    """One process, every case as a stdin line (plus bytes no str can hold): one JSON object per line."""
    assistant.index  # noqa: B018
    lines = [
        b"\xff\xfe\xfa",  # invalid UTF-8
        b"\xed\xa0\x80\xe5\xb7\xa5\xe5\x8c\xa0\xe7\xb2\xbe\xe7\xa5\x9e",  # a UTF-8-encoded lone surrogate, then 工匠精神
        b"\xc0\xaf\xe5\xb7\xa5\xe5\x8c\xa0",  # an overlong encoding
        "工匠精神\r".encode(),  # a CRLF line ending
    ]
    # A line that starts like JSON is read as a request object ({"question": …, "history": …}): not this test's.
    kept = [name for name in IDS if "\n" not in CASES[name].question.strip() and CASES[name].question.strip()
            and not CASES[name].question.lstrip().startswith(("{", "["))]
    lines += [CASES[name].question.encode("utf-8", "surrogatepass") for name in kept]
    result = _qa(["ask", "--json", "-"], stdin=b"\n".join(lines) + b"\n", env={"QA_CORPUS": str(corpus_dir),
                                                                             "LC_ALL": "C", "LANG": ""})
    assert "Traceback" not in result.stderr.decode("utf-8", "replace")
    rows = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    assert len(rows) == len(lines)
    assert result.returncode == 1  # some lines were refused
    assert rows[0]["code"] == "no_words"
    for row in rows[1:4]:
        check_answer(row, document)
        assert row["answered"] and row["citations"][0]["paragraph"] == 10
    for name, row in zip(kept, rows[4:]):
        case = CASES[name]
        if case.error:
            # Surrogates cannot be UTF-8: as bytes they decode to U+FFFD, a symbol, so "no words" rather than empty.
            expected = "no_words" if name == "only-surrogates" else case.error
            assert set(row) == {"question", "error", "code"} and row["code"] == expected, name
        else:
            check_case(case, row, document)


def test_cli_argv_with_invalid_utf8(assistant, corpus_dir, document):
    assistant.index  # noqa: B018
    result = _qa(["ask", "--json", b"\xff\xfe\xe5\xb7\xa5\xe5\x8c\xa0\xe7\xb2\xbe\xe7\xa5\x9e"],
                 env={"QA_CORPUS": str(corpus_dir)})
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.decode("utf-8").splitlines()
    data = json.loads(line)
    check_answer(data, document)
    assert data["question"] == "工匠精神" and data["citations"][0]["paragraph"] == 10


@pytest.mark.parametrize("args", [["ask", ""], ["ask", "？？？"], ["ask", "a" * 100_000]],
                         ids=["empty", "punctuation", "100000"])
def test_cli_errors_are_one_line_on_stderr(corpus_dir, args):
    result = _qa(args, env={"QA_CORPUS": str(corpus_dir)}, timeout=60)
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 1
    assert result.stdout == b""
    assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("Error: "), stderr


# ----------------------------------------------------------------- JSON API and Gradio endpoint



@pytest.fixture(scope="module")
def server(assistant):
    """The whole app (JSON API, Gradio) over the session's corpus and real model, on a free port in this process."""
    from types import SimpleNamespace

    from ui.gate import Gate
    from ui.server import create_app

    gate = Gate(assistant)
    gate.warm_up()
    with served.BackgroundServer(create_app(assistant, gate=gate)) as url:
        yield SimpleNamespace(url=url.rstrip("/"))


def _post(url: str, body: bytes, timeout: float = HANG) -> tuple[int, dict | str]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def _check_api(case: Case, status: int, body, document) -> None:
    if case.error:
        assert 400 <= status < 500, (status, body)
        assert isinstance(body, dict) and set(body) == {"error", "code"}, body
        assert body["code"] in (case.error, "body_too_large")
        assert "Traceback" not in body["error"]
    else:
        assert status == 200, (status, body)
        check_case(case, body, document)


@pytest.mark.parametrize("name", IDS)
def test_api_post(server, document, name):
    case = CASES[name]
    body = json.dumps({"question": case.question}).encode()  # lone surrogates travel as \ud800 escapes
    status, data = _post(f"{server.url}/api/ask", body)
    _check_api(case, status, data, document)


@pytest.mark.parametrize("name", [n for n in IDS if len(CASES[n].question) <= 2 * MAX_QUESTION_CHARS])
def test_api_get(server, document, name):
    case = CASES[name]
    query = urllib.parse.quote(case.question.encode("utf-8", "surrogatepass"), safe="")
    status, data = served.get(f"{server.url}/api/ask?q={query}", timeout=HANG)
    if name.startswith(("lone-", "only-surrogates")):  # %ED%A0%80 decodes to U+FFFD, a symbol: not a word
        assert status in (200, 400) and isinstance(data, dict), (status, data)
        return
    _check_api(case, status, data, document)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"question": 42}', None),
        (b'{"question": null}', None),
        (b'{"quotes": 2}', "missing_question"),
        ('["工匠精神"]'.encode(), "bad_json"),
        (b'{"question": ', "bad_json"),
        (b"", None),
        (b'{"question": "\xff\xfe"}', None),  # not UTF-8
        (b'{"question": "\\u5de5\\u5320\\u7cbe\\u795e", "quotes": 9}', "bad_quotes"),
        (json.dumps({"question": "工" * 100_000}).encode(), "body_too_large"),
    ],
    ids=["number", "null", "missing", "array", "truncated", "empty-body", "invalid-utf8", "quotes-9", "huge"],
)
def test_api_malformed_bodies_get_json_errors(server, body, code):
    status, data = _post(f"{server.url}/api/ask", body)
    assert 400 <= status < 500, (status, data)
    assert isinstance(data, dict) and {"error", "code"} <= set(data), data
    if code:
        assert data["code"] == code


def test_api_huge_query_string_is_refused_not_hung(server):
    """A 900 kB URL: the HTTP layer refuses it (4xx or a closed connection), promptly."""
    import http.client

    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]), timeout=HANG)
    try:
        conn.request("GET", "/api/ask?q=" + urllib.parse.quote("工" * 100_000))
        status = conn.getresponse().status
        assert 400 <= status < 500
    except (ConnectionError, http.client.HTTPException):
        pass  # closed without a reply: refused
    finally:
        conn.close()
    assert time.perf_counter() - started < HANG
    assert served.get(f"{server.url}/api/ask?q=%E5%B7%A5%E5%8C%A0%E7%B2%BE%E7%A5%9E")[0] == 200  # still serving


def _raw_request(url: str, request: bytes, timeout: float = HANG) -> bytes:
    """Send raw bytes to the server and return what it answers until it closes or goes quiet."""
    import socket

    host, port = url.removeprefix("http://").split(":")
    reply = b""
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        try:
            sock.sendall(request)
            while chunk := sock.recv(65536):
                reply += chunk
                if b"\r\n\r\n" in reply:
                    head, _, body = reply.partition(b"\r\n\r\n")
                    length = [int(v) for k, v in (line.split(b":", 1) for line in head.split(b"\r\n")[1:])
                              if k.strip().lower() == b"content-length"]
                    if length and len(body) >= length[0]:
                        break
        except (ConnectionError, TimeoutError):
            pass
    return reply


def test_api_raw_utf8_request_line_is_refused_promptly(server):
    """``curl 'http://…/api/ask?q=工匠精神'`` sends unencoded UTF-8, which HTTP/1.1 does not allow: a prompt 4xx."""
    reply = _raw_request(server.url, "GET /api/ask?q=工匠精神 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    status = int(reply.split(b" ", 2)[1])
    assert 400 <= status < 500 or status == 200


def test_api_chunked_body_over_the_limit_is_refused(server):
    body = json.dumps({"question": "工匠精神" + " " * 2_000_000}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i : i + 65536]), body[i : i + 65536])
                      for i in range(0, len(body), 65536))
    head = (b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    reply = _raw_request(server.url, head + chunks + b"0\r\n\r\n")
    assert int(reply.split(b" ", 2)[1]) == 413
    assert json.loads(reply.partition(b"\r\n\r\n")[2])["code"] == "body_too_large"  # refused unread


@pytest.mark.parametrize("name", [n for n in IDS if len(CASES[n].question) <= 2 * MAX_QUESTION_CHARS])
def test_gradio_endpoint(server, document, name):
    """``POST /gradio_api/call/ask {"data": [question]}``, then its event stream: the answer, or an error with its
    code (Gradio itself would send a bare null for most failures)."""
    case = CASES[name]
    status, started = _post(f"{server.url}/gradio_api/call/ask", json.dumps({"data": [case.question]}).encode())
    assert status == 200, started
    status, stream = served.get(f"{server.url}/gradio_api/call/ask/{started['event_id']}", timeout=HANG)
    events = [block.split("\ndata: ", 1) for block in stream.replace("\r\n", "\n").strip().split("\n\n")]
    kind, data = events[-1][0].removeprefix("event: "), json.loads(events[-1][1])
    if case.error:
        assert kind == "error" and data["error"], data
        assert f"(code: {case.error})" in data["error"] or "(code: no_words)" in data["error"]
    else:
        assert kind == "complete", data
        check_case(case, data[0], document)
