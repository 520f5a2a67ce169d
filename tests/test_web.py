"""The web server over HTTP: the JSON API and every error's shape, Gradio's calls, rate limits, the port check,
OpenAPI, the embed page and CORS."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest
import requests
import served

from qa.assistant import Assistant
from qa.config import Settings
from qa.errors import InputError
from ui.api import MAX_BODY_BYTES, AnswerBody
from ui.app import build_app
from ui.edges import MAX_QUERY_BYTES
from ui.embed import web_component_module
from ui.gate import Gate
from ui.server import PortInUse, check_port, create_app

TIMEOUT = 60  # seconds; generous, other test runs share the two cores
ALLOWED = "https://speech.example.org"
DOCS = served.REPO / "tests" / "data" / "docs"



@pytest.fixture(scope="module")
def web(assistant):
    """The real app (JSON API + embed page + Gradio mounted at /) with the real model, one origin allowed."""
    gate = Gate(assistant)
    gate.warm_up()
    with served.BackgroundServer(create_app(assistant, allow_origins=[ALLOWED], gate=gate)) as url:
        yield url.rstrip("/")


@pytest.fixture(scope="module")
def library(fake_speech, tmp_path_factory) -> Assistant:
    """Three documents (the speech, doc_a, doc_b) with the fake embedder."""
    from fakes import FakeEmbedder

    path = tmp_path_factory.mktemp("library") / "corpus"
    shutil.copytree(fake_speech, path)
    helper = Assistant(Settings(corpus=path), embedder=FakeEmbedder(), progress=None)
    helper.corpus.add([DOCS / "doc_a.txt", DOCS / "doc_b.md"])
    return helper


@pytest.fixture(scope="module")
def shelf(library):
    """The app over the three documents (fake embedder: fast)."""
    with served.BackgroundServer(create_app(library)) as url:
        yield url.rstrip("/")


def _from(url: str, address: str, method: str, path: str, body: dict | None = None) -> tuple[int, object, dict]:
    """A request from another loopback address (127.0.0.x): another client as the server sees it."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT, source_address=(address, 0))
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        response = conn.getresponse()
        return response.status, response.headers, json.loads(response.read() or b"{}")
    finally:
        conn.close()


# ---------------------------------------------------------------- answers


def test_get_answers_with_quotes_cited_by_document_and_paragraph(web):
    response = requests.get(f"{web}/api/ask", params={"q": "工匠精神是什么？", "quotes": 2}, timeout=TIMEOUT)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    data = AnswerBody.model_validate(response.json()).model_dump()  # extra="forbid": schema and to_dict() agree
    assert data["answered"] is True and 1 <= len(data["citations"]) <= 2
    first = data["citations"][0]
    assert first["paragraph"] == 10 and first["section"] == "第一部分"
    assert first["document"]["id"] == "speech-2020-11-24"
    assert first["quote"] == first["text"][first["start"]:first["end"]]
    assert "第10段 · 第一部分" in data["answer"]


def test_post_answers_the_same_as_get_and_follows_up_with_history(web):
    question = "工匠精神是什么？"
    got = requests.get(f"{web}/api/ask", params={"q": question}, timeout=TIMEOUT).json()
    posted = requests.post(f"{web}/api/ask", json={"question": question, "quotes": 3}, timeout=TIMEOUT).json()
    assert posted == got
    follow = requests.post(f"{web}/api/ask", json={"question": "它是怎么形成的？", "history": [
        {"question": question, "answer": got}]}, timeout=TIMEOUT).json()
    AnswerBody.model_validate(follow)
    assert follow["interpreted_as"] and "工匠精神" in follow["interpreted_as"]
    assert follow["answer"].startswith("按上文理解为：")


def test_documents_are_listed_and_served_and_scope_questions(shelf, library):
    docs = requests.get(f"{shelf}/api/docs", timeout=TIMEOUT).json()
    assert [d["id"] for d in docs] == list(library.index.documents)
    assert set(docs[0]) == {"id", "title", "date", "speaker", "paragraphs"}
    doc_b = requests.get(f"{shelf}/api/document/doc-b", timeout=TIMEOUT).json()
    assert doc_b["title"] == "关于柳溪区社区养老服务的调研报告" and doc_b["paragraphs"][0]["n"] == 1
    assert requests.get(f"{shelf}/api/speech", timeout=TIMEOUT).json()["id"] == docs[0]["id"]
    for doc in ("doc-a", "doc-b"):
        for data in (requests.get(f"{shelf}/api/ask", params={"q": "养老服务", "doc": doc}, timeout=TIMEOUT).json(),
                     requests.post(f"{shelf}/api/ask", json={"question": "养老服务", "doc": doc}, timeout=TIMEOUT).json()):
            assert {c["document"]["id"] for c in data["citations"] + data["related"]} <= {doc}


# ---------------------------------------------------------------- errors: always {"error", "code"}


@pytest.mark.parametrize(
    ("method", "kwargs", "status", "code"),
    [
        ("GET", {"params": {"q": ""}}, 400, "empty"),
        ("GET", {"params": {"q": "   \u200b "}}, 400, "empty"),
        ("GET", {}, 422, "missing_question"),
        ("GET", {"params": {"q": "劳" * 501}}, 413, "too_long"),
        ("GET", {"params": {"q": "工匠精神", "quotes": 9}}, 422, "bad_quotes"),
        ("GET", {"params": {"q": "工匠精神", "quotes": "three"}}, 422, "bad_quotes"),
        ("GET", {"params": {"q": "？！……"}}, 400, "no_words"),
        ("GET", {"params": {"q": "工匠精神", "doc": "nope"}}, 400, "unknown_doc"),
        ("POST", {"json": {"question": ""}}, 400, "empty"),
        ("POST", {"json": {"question": "工匠精神", "quotes": 0}}, 422, "bad_quotes"),
        ("POST", {"json": {"question": "工匠精神", "quotes": "2"}}, 422, "bad_quotes"),
        ("POST", {"json": {"question": "工匠精神", "quotes": True}}, 422, "bad_quotes"),
        ("POST", {"json": {"question": "工匠精神", "quotes": 2.0}}, 422, "bad_quotes"),
        ("POST", {"json": {"question": "工匠精神", "history": "earlier"}}, 422, "bad_history"),
        ("POST", {"json": {"question": "工匠精神", "history": [{"q": "x"}]}}, 422, "bad_history"),
        ("POST", {"json": {"question": "工匠精神", "history": [{"question": "x", "answer": 3}]}}, 422, "bad_history"),
        ("POST", {"json": {"question": "工匠精神", "doc": 5}}, 422, "bad_doc"),
        ("POST", {"json": {"question": "工匠精神", "doc": "nope"}}, 400, "unknown_doc"),
        ("POST", {"json": {"question": "工匠精神", "extra": 1}}, 422, "invalid_request"),
        ("POST", {"json": {"quotes": 2}}, 422, "missing_question"),
        ("POST", {"json": {"question": 5}}, 422, "not_text"),
        ("POST", {"json": ["工匠精神"]}, 422, "bad_json"),
        ("POST", {"data": '{"question": "工匠', "headers": {"Content-Type": "application/json"}}, 422, "bad_json"),
        ("POST", {"data": '{"question": "工匠精神"}'.encode(), "headers": {"Content-Type": "text/plain"}}, 415,
         "unsupported_media_type"),
        ("POST", {"data": {"question": "工匠精神"}}, 415, "unsupported_media_type"),  # a form
        ("POST", {"json": {"question": "劳" * 501}}, 413, "too_long"),
        ("POST", {"json": {"question": "x" * (MAX_BODY_BYTES + 1)}}, 413, "body_too_large"),
        ("POST", {"data": iter([b'{"question": "', b"x" * (MAX_BODY_BYTES + 1), b'"}'])}, 413, "body_too_large"),
        ("POST", {"data": b'{"question": "\xff\xfe"}', "headers": {"Content-Type": "application/json"}}, 400,
         "bad_json"),
        ("PUT", {"json": {"question": "工匠精神"}}, 405, "method_not_allowed"),
        ("DELETE", {}, 405, "method_not_allowed"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_requests_get_a_json_error(web, method, kwargs, status, code):
    response = requests.request(method, f"{web}/api/ask", timeout=TIMEOUT, **kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "code"} and body["code"] == code
    assert body["error"] and "Traceback" not in body["error"]
    if status == 405:
        assert response.headers["allow"] == "GET, HEAD, POST"


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "allow"),
    [
        ("GET", "/nope", 404, "not_found", None),
        ("GET", "/api/nope", 404, "not_found", None),
        ("GET", "/api/document/nope", 404, "unknown_doc", None),
        ("POST", "/api/health", 405, "method_not_allowed", "GET, HEAD"),
        ("DELETE", "/embed", 405, "method_not_allowed", "GET, HEAD"),
        ("PATCH", "/api/docs", 405, "method_not_allowed", "GET, HEAD"),
        ("GET", "/api/ask?q=" + "a" * (MAX_QUERY_BYTES + 1), 414, "uri_too_long", None),
        ("GET", "/embed/static/nope.js", 404, "not_found", None),
    ],
)
def test_every_path_answers_errors_in_the_same_shape(web, method, path, status, code, allow):
    response = requests.request(method, f"{web}{path}", timeout=TIMEOUT)
    assert response.status_code == status, response.text
    assert response.json() == {"error": response.json()["error"], "code": code}
    assert response.headers.get("allow") == allow


@pytest.mark.parametrize("path", ["/", "/api/health", "/api/docs", "/embed", "/api/ask?q=%E5%8A%B3%E5%8A%A8",
                                  "/embed/gradio.js", "/docs"])
def test_head_is_answered_like_get_without_a_body(web, path):
    head = requests.head(f"{web}{path}", timeout=TIMEOUT)
    get = requests.get(f"{web}{path}", timeout=TIMEOUT)
    assert head.status_code == get.status_code == 200
    assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]


def test_a_url_longer_than_uvicorn_reads_is_refused_and_serving_goes_on(web):
    """Past ~100 kB uvicorn itself answers a plain-text 400 (no app code runs); the server keeps serving."""
    status = _raw_status(web, b"GET /api/ask?q=" + b"a" * 300_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status is None or 400 <= status < 500
    assert requests.get(f"{web}/api/health", timeout=TIMEOUT).status_code == 200


def _raw_status(url: str, request: bytes) -> int | None:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        try:
            sock.sendall(request)
            return int(sock.recv(1024).split(b" ", 2)[1])
        except (ConnectionError, IndexError, ValueError):
            return None  # closed without a reply: refused


# ---------------------------------------------------------------- Gradio's endpoints


def _sse_events(text: str) -> list[tuple[str, str]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append((fields["event"], fields.get("data", "")))
    return events


def _two_step(web: str, payload: dict, name: str = "ask") -> tuple[str, object]:
    """``curl -X POST /gradio_api/call/ask -d '{"data": [...]}'`` and then read the event stream: (event, data)."""
    started = requests.post(f"{web}/gradio_api/call/{name}", json=payload, timeout=TIMEOUT)
    assert started.status_code == 200, started.text
    stream = requests.get(f"{web}/gradio_api/call/{name}/{started.json()['event_id']}", timeout=TIMEOUT)
    assert stream.headers["content-type"].startswith("text/event-stream")
    kind, data = _sse_events(stream.text)[-1]
    return kind, json.loads(data)


def test_gradio_ask_takes_the_question_alone(web):
    kind, (answer,) = _two_step(web, {"data": ["工匠精神是什么？"]})
    assert kind == "complete" and answer["citations"][0]["paragraph"] == 10
    AnswerBody.model_validate(answer)
    kind, (follow,) = _two_step(web, {"data": ["它是怎么形成的？", 1, [{"question": "工匠精神是什么？", "answer": answer}]]})
    assert kind == "complete" and follow["interpreted_as"] and len(follow["citations"]) <= 1
    kind, (whole,) = _two_step(web, {"data": ["工匠精神是什么？", 1.0, None, "speech-2020-11-24"]})
    assert kind == "complete" and len(whole["citations"]) == 1


@pytest.mark.parametrize(("data", "code"), [([""], "empty"), (["工匠精神", 9], "bad_quotes"),
                                             (["工匠精神", "2"], "bad_quotes"), (["劳" * 501], "too_long"),
                                             ([5], "not_text"), (["工匠精神", None, "earlier"], "bad_history"),
                                             (["工匠精神", None, None, "nope"], "unknown_doc"),
                                             (["工匠精神", None, None, 5], "bad_doc")])
def test_gradio_ask_errors_always_carry_a_message(web, data, code):
    kind, payload = _two_step(web, {"data": data})
    assert kind == "error"
    assert payload["error"] and f"(code: {code})" in payload["error"] and "Traceback" not in payload["error"]


@pytest.mark.parametrize(("path", "payload", "status"), [
    ("/gradio_api/call/ask", {"data": []}, 422),
    ("/gradio_api/call/ask", {"data": ["a", 1, None, None, "extra"]}, 422),
    ("/gradio_api/call/v2/ask", {"quotes": 2}, 422),
    ("/gradio_api/call/v2/ask", {"question": "a", "bogus": 1}, 422),
    ("/gradio_api/call/nope", {"data": []}, 404),
])
def test_gradio_calls_it_cannot_run_are_refused_with_a_message(web, path, payload, status):
    response = requests.post(f"{web}{path}", json=payload, timeout=TIMEOUT)
    assert response.status_code == status
    body = response.json()
    assert body["error"] and body["code"] and body["detail"] == body["error"]  # Gradio's clients read "detail"


def test_gradio_client_on_the_mounted_app(web):
    from gradio_client import Client

    client = Client(f"{web}/", verbose=False)
    request = client.close
    first = client.predict("工匠精神是什么？", api_name="/ask")
    assert first["citations"][0]["paragraph"] == 10
    follow = client.predict("它是怎么形成的？", 1, [{"question": "工匠精神是什么？", "answer": first}], api_name="/ask")
    assert follow["interpreted_as"] and len(follow["citations"]) <= 1
    assert client.predict(api_name="/docs")[0]["id"] == "speech-2020-11-24"
    assert client.predict("speech-2020-11-24", api_name="/document")["speaker"] == "习近平"
    assert client.predict(api_name="/speech")["speaker"] == "习近平"
    with pytest.raises(Exception, match=r"\(code: empty\)"):
        client.predict("", api_name="/ask")
    request()  # its open event stream would hold up the server's shutdown


# ---------------------------------------------------------------- rate limit


def test_rate_limit_answers_429_with_retry_after_and_serves_other_clients(library):
    app = create_app(library, rate_limit="3/minute")
    blocks = app.routes[-1].app.get_blocks()
    respond = next(fn._id for fn in blocks.fns.values() if fn.name == "respond")
    check = next(fn._id for fn in blocks.fns.values() if fn.name == "check")
    with served.BackgroundServer(app) as url:
        url = url.rstrip("/")
        ask = "/api/ask?q=%E5%B7%A5%E5%8C%A0%E7%B2%BE%E7%A5%9E"
        assert [_from(url, "127.0.0.2", "GET", ask)[0] for _ in range(3)] == [200] * 3
        status, headers, body = _from(url, "127.0.0.2", "POST", "/api/ask", {"question": "工匠精神"})
        assert status == 429 and set(body) == {"error", "code"} and body["code"] == "rate_limited"
        assert 1 <= int(headers["Retry-After"]) <= 60 and "try again in" in body["error"]
        assert _from(url, "127.0.0.3", "GET", ask)[0] == 200  # another address is served
        assert _from(url, "127.0.0.2", "GET", "/api/docs")[0] == 200  # only answers are counted

        call = {"data": ["工匠精神"]}
        assert [_from(url, "127.0.0.4", "POST", "/gradio_api/call/ask", call)[0] for _ in range(3)] == [200] * 3
        status, headers, body = _from(url, "127.0.0.4", "POST", "/gradio_api/call/ask", call)
        assert status == 429 and body["code"] == "rate_limited" and int(headers["Retry-After"]) >= 1

        join = {"data": ["工匠精神", [], None, 3, "*"], "fn_index": respond, "session_hash": "limit-test"}
        for _ in range(3):
            assert _from(url, "127.0.0.5", "POST", "/gradio_api/queue/join", join)[0] == 200
        status, headers, body = _from(url, "127.0.0.5", "POST", "/gradio_api/queue/join", join)
        assert status == 429 and "秒后再试" in body["error"]  # shown in the chat's toast
        checked = {**join, "fn_index": check, "data": ["工匠精神"]}
        assert _from(url, "127.0.0.5", "POST", "/gradio_api/queue/join", checked)[0] == 200  # not an answer


def test_rate_limit_must_be_a_rate(library):
    with pytest.raises(InputError, match="is not a rate limit") as caught:
        create_app(library, rate_limit="fast")
    assert caught.value.code == "bad_rate_limit"


# ---------------------------------------------------------------- qa serve: the port


def test_port_in_use_is_reported_before_anything_loads():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse, match=f"Port {port} is in use") as caught:
            check_port("127.0.0.1", port)
        assert caught.value.code == "port_in_use"
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "qa", "serve", "--port", str(port)], capture_output=True,
                                check=False, text=True, timeout=60, cwd=served.REPO,
                                env={**os.environ, **served.QUIET_ENV, "QA_CORPUS": "/nonexistent/corpus"})
    assert result.returncode != 0 and result.stdout == ""  # no banner
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"Port {port} is in use" in lines[0] and "--port" in lines[0], result.stderr
    assert time.perf_counter() - started < 30  # no model was loaded
    check_port("127.0.0.1", served.free_port())  # a free port passes


# ---------------------------------------------------------------- the page, OpenAPI, embed, CORS


def test_index_page_is_chinese_with_its_own_link_preview(web):
    page = requests.get(f"{web}/", headers={"Accept-Encoding": "gzip, br"}, timeout=TIMEOUT).text
    assert re.search(r'<html[^>]*\blang="zh-CN"', page)
    assert page.count("<title>") == 1 and "<title>讲话问答</title>" in page
    for tag in ('property="og:title" content="讲话问答"', 'property="og:description"', 'name="twitter:title"',
                'name="twitter:card"'):
        assert page.count(tag.split(" content")[0]) == 1, tag
        assert tag in page
    previews = re.findall(r'<meta\s+(?:property="og:|name="twitter:)[^>]*>', page)
    assert len(previews) == 7 and not any("Gradio" in tag or "gradio.app" in tag for tag in previews)
    assert "{url}" not in page


def test_openapi_documents_the_json_api(web):
    spec = requests.get(f"{web}/openapi.json", timeout=TIMEOUT).json()
    ask = spec["paths"]["/api/ask"]
    assert {"200", "400", "413", "415", "422", "429"} <= set(ask["get"]["responses"]) and "post" in ask
    assert [p["name"] for p in ask["get"]["parameters"]] == ["q", "quotes", "doc"]
    assert {"/api/health", "/api/speech", "/api/docs", "/api/document/{doc_id}"} <= set(spec["paths"])
    assert not any(path.startswith(("/embed", "/gradio_api")) for path in spec["paths"])


def test_docs_pages_load_their_assets_from_this_server(web):
    for page in ("/docs", "/redoc"):
        html = requests.get(f"{web}{page}", timeout=TIMEOUT).text
        assert "/static-offline-docs/" in html
        assert "cdn.jsdelivr.net" not in html and "fonts.googleapis.com" not in html


def test_embed_page_points_every_snippet_at_this_server(web):
    response = requests.get(f"{web}/embed", timeout=TIMEOUT)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "$origin" not in page
    assert f'<iframe id="qa-frame" src="{web}/"' in page
    assert f'<script src="{web}/embed/static/iframeResizer.min.js"></script>' in page
    assert f'iFrameResize({{ checkOrigin: ["{web}"] }}, "#qa-frame")' in page
    assert f'<gradio-app src="{web}/"></gradio-app>' in page
    assert f'<qa-widget id="widget-fetch-demo" src="{web}" transport="fetch">' in page
    loader = requests.get(f"{web}/embed/gradio.js", timeout=TIMEOUT)
    assert loader.text.strip() == f'import("../assets/{web_component_module()}");'


@pytest.mark.parametrize("name", ["qa-widget.js", "gradio-client.js", "gradio-client.LICENSE", "NOTICE",
                                  "iframeResizer.min.js", "iframeResizer.LICENSE"])
def test_widget_files_are_served(web, name):
    response = requests.get(f"{web}/embed/static/{name}", timeout=TIMEOUT)
    assert response.status_code == 200 and response.content


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [(ALLOWED, True), ("http://localhost:5173", True), ("http://127.0.0.1:8000", True),
     ("https://elsewhere.example.com", False)],
)
def test_cors_allows_localhost_and_named_origins_only(web, origin, allowed):
    for path in ("/api/ask?q=%E5%8A%B3%E5%8A%A8", "/gradio_api/info", "/api/nope"):
        response = requests.get(f"{web}{path}", headers={"Origin": origin}, timeout=TIMEOUT)
        assert (response.headers.get("access-control-allow-origin") == origin) is allowed, path
    preflight = requests.options(
        f"{web}/api/ask",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"},
        timeout=TIMEOUT,
    )
    assert (preflight.headers.get("access-control-allow-origin") == origin) is allowed


# ---------------------------------------------------------------- pieces


def test_gate_lets_two_answers_compute_at_once_not_more():
    import threading
    from concurrent.futures import ThreadPoolExecutor

    class SlowAssistant:
        running = peak = 0
        lock = threading.Lock()

        def ask(self, question, quotes=None, history=None, doc=None):
            with self.lock:
                self.running += 1
                self.peak = max(self.peak, self.running)
            time.sleep(0.05)
            with self.lock:
                self.running -= 1
            return question

    slow = SlowAssistant()
    gate = Gate(slow, limit=2)
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(gate.ask, map(str, range(16)))) == list(map(str, range(16)))
    assert slow.peak == 2 and gate.warm is True
    with pytest.raises(ValueError, match="at least 1"):
        Gate(slow, limit=0)


def test_allowed_origins_are_checked_and_normalized():
    from ui.server import origins

    assert origins(["https://example.org/", " http://localhost:8000 ", "*"]) == [
        "https://example.org", "http://localhost:8000", "*"]
    assert origins(None) == []
    for bad in ("example.org", "https://example.org/page", "ftp://example.org", ""):
        with pytest.raises(InputError, match="is not an origin"):
            origins([bad])


def test_the_app_builds_over_one_document(fake_assistant):
    app = build_app(fake_assistant)
    scope = next(b for b in app.blocks.values() if "qa-scope" in (getattr(b, "elem_classes", None) or []))
    assert scope.visible is False  # no document selector for a corpus of one
