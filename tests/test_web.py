"""The web server over HTTP: the JSON API and its errors, Gradio's two-step call, OpenAPI, the embed page and CORS."""

from __future__ import annotations

import json
import time

import pytest
import requests

from qa.errors import InputError
from ui.api import MAX_BODY_BYTES, AnswerBody
from ui.embed import web_component_module
from ui.gate import Gate
from ui.server import BackgroundServer, create_app

TIMEOUT = 60  # seconds; generous, other test runs share the two cores
ALLOWED = "https://speech.example.org"


@pytest.fixture(scope="module")
def web(assistant):
    """The real app (JSON API + embed page + Gradio mounted at /) on a free port, one named origin allowed."""
    gate = Gate(assistant)
    gate.warm_up()
    with BackgroundServer(create_app(assistant, allow_origins=[ALLOWED], gate=gate)) as url:
        yield url.rstrip("/")


def test_get_answers_with_quotes_cited_by_paragraph(web):
    response = requests.get(f"{web}/api/ask", params={"q": "工匠精神是什么？", "quotes": 2}, timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    data = response.json()
    assert data["answered"] is True and data["question"] == "工匠精神是什么？"
    assert 1 <= len(data["citations"]) <= 2
    first = data["citations"][0]
    assert first["paragraph"] == 10 and first["section"] == "第一部分"
    assert first["quote"] == first["text"][first["start"]:first["end"]]
    assert "第10段 · 第一部分" in data["answer"]


def test_post_answers_the_same_as_get(web):
    question = "快递员、网约工的权益怎么保障？"
    got = requests.get(f"{web}/api/ask", params={"q": question}, timeout=TIMEOUT).json()
    posted = requests.post(f"{web}/api/ask", json={"question": question, "quotes": 3}, timeout=TIMEOUT).json()
    assert posted == got
    assert posted["citations"][0]["paragraph"] == 16


def test_answer_matches_the_documented_schema(web):
    for question in ("工匠精神是什么？", "明天北京会下雨吗？"):
        data = requests.get(f"{web}/api/ask", params={"q": question}, timeout=TIMEOUT).json()
        AnswerBody.model_validate(data)  # extra="forbid": the OpenAPI schema and Answer.to_dict() agree


def test_refusal_is_a_200_answer_without_citations(web):
    data = requests.get(f"{web}/api/ask", params={"q": "明天北京会下雨吗？"}, timeout=TIMEOUT).json()
    assert data["answered"] is False and data["citations"] == []
    assert "没有谈到" in data["answer"]


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
        ("POST", {"json": {"question": ""}}, 400, "empty"),
        ("POST", {"json": {"question": "工匠精神", "quotes": 0}}, 422, "bad_quotes"),
        ("POST", {"json": {"quotes": 2}}, 422, "missing_question"),
        ("POST", {"json": {"question": 5}}, 422, "not_text"),
        ("POST", {"json": ["工匠精神"]}, 422, "bad_json"),
        ("POST", {"data": '{"question": "工匠', "headers": {"Content-Type": "application/json"}}, 422, "bad_json"),
        ("POST", {"json": {"question": "劳" * 501}}, 413, "too_long"),
        ("POST", {"json": {"question": "x" * (MAX_BODY_BYTES + 1)}}, 413, "body_too_large"),
        ("POST", {"data": iter([b'{"question": "', b"x" * (MAX_BODY_BYTES + 1), b'"}'])}, 413, "body_too_large"),
        ("POST", {"data": b'{"question": "\xff\xfe"}', "headers": {"Content-Type": "application/json"}}, 400,
         "bad_json"),
    ],
    ids=["empty", "invisible-only", "missing-q", "too-long", "quotes-9", "quotes-not-int", "no-words", "post-empty",
         "post-quotes-0", "post-missing", "post-number", "post-list", "post-broken-json", "post-too-long",
         "post-huge-body", "post-huge-chunked-body", "post-not-utf8"],
)
def test_bad_input_is_a_4xx_json_error(web, method, kwargs, status, code):
    response = requests.request(method, f"{web}/api/ask", timeout=TIMEOUT, **kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "code"}
    assert body["code"] == code
    assert body["error"] and "Traceback" not in body["error"]


def test_speech_and_health(web):
    speech = requests.get(f"{web}/api/speech", timeout=TIMEOUT).json()
    assert speech["title"] == "在全国劳动模范和先进工作者表彰大会上的讲话"
    assert [p["n"] for p in speech["paragraphs"]] == list(range(1, 24))
    health = requests.get(f"{web}/api/health", timeout=TIMEOUT).json()
    assert health == {"status": "ok", "model": health["model"], "model_loaded": True, "index_loaded": True}


def _sse_events(text: str) -> list[tuple[str, str]]:
    """(event, data) pairs of a text/event-stream body."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append((fields["event"], fields.get("data", "")))
    return events


def _two_step(web: str, data: list) -> list[tuple[str, str]]:
    started = requests.post(f"{web}/gradio_api/call/ask", json={"data": data}, timeout=TIMEOUT)
    assert started.status_code == 200, started.text
    event_id = started.json()["event_id"]
    stream = requests.get(f"{web}/gradio_api/call/ask/{event_id}", timeout=TIMEOUT)
    assert stream.status_code == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    return _sse_events(stream.text)


def test_gradio_two_step_call_returns_the_answer_json(web):
    events = _two_step(web, ["工匠精神是什么？", 2])
    kind, data = events[-1]
    assert kind == "complete"
    (answer,) = json.loads(data)
    assert answer["answered"] is True and answer["citations"][0]["paragraph"] == 10
    AnswerBody.model_validate(answer)


def test_gradio_two_step_call_takes_whole_json_numbers(web):
    kind, data = _two_step(web, ["工匠精神是什么？", 1.0])[-1]
    assert kind == "complete" and len(json.loads(data)[0]["citations"]) == 1


@pytest.mark.parametrize(("data", "code"), [(["", 2], "empty"), (["工匠精神", 9], "bad_quotes"),
                                             (["劳" * 501, 2], "too_long")])
def test_gradio_two_step_call_reports_bad_input(web, data, code):
    kind, payload = _two_step(web, data)[-1]
    assert kind == "error"
    assert f"(code: {code})" in payload and "Traceback" not in payload


def test_gradio_client_on_the_mounted_app(web):
    from gradio_client import Client

    client = Client(f"{web}/", verbose=False)
    answer = client.predict("What does the speech say about labour education in schools?", 1, api_name="/ask")
    assert len(answer["citations"]) <= 1
    assert client.predict(api_name="/speech")["speaker"] == "习近平"
    assert client.predict("工匠精神是什么？", api_name="/ask")["citations"][0]["paragraph"] == 10  # default quotes


def test_openapi_documents_the_json_api(web):
    spec = requests.get(f"{web}/openapi.json", timeout=TIMEOUT).json()
    ask = spec["paths"]["/api/ask"]
    assert set(ask) >= {"get", "post"}
    assert {"200", "400", "413", "422"} <= set(ask["get"]["responses"])
    assert [p["name"] for p in ask["get"]["parameters"]] == ["q", "quotes"]
    assert "/api/health" in spec["paths"] and "/api/speech" in spec["paths"]
    assert not any(path.startswith(("/embed", "/gradio_api")) for path in spec["paths"])


def test_docs_pages_load_their_assets_from_this_server(web):
    for page in ("/docs", "/redoc"):
        html = requests.get(f"{web}{page}", timeout=TIMEOUT).text
        assert "/static-offline-docs/" in html
        assert "cdn.jsdelivr.net" not in html and "fonts.googleapis.com" not in html
    bundle = requests.get(f"{web}/static-offline-docs/swagger-ui-bundle.js", timeout=TIMEOUT)
    assert bundle.status_code == 200 and len(bundle.content) > 100_000


def test_embed_page_points_every_snippet_at_this_server(web):
    response = requests.get(f"{web}/embed", timeout=TIMEOUT)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "$origin" not in page
    assert f'<iframe src="{web}/"' in page
    assert f'<script type="module" src="{web}/embed/gradio.js"></script>' in page
    assert f'<gradio-app src="{web}/"></gradio-app>' in page
    assert f'<qa-widget id="widget-fetch-demo" src="{web}" transport="fetch">' in page
    assert "--allow-origin" in page
    assert requests.get(f"{web}/embed/", timeout=TIMEOUT).status_code == 200


def test_embed_module_url_is_stable_and_resolves_offline(web):
    module = web_component_module()
    loader = requests.get(f"{web}/embed/gradio.js", timeout=TIMEOUT)
    assert loader.status_code == 200
    assert loader.headers["content-type"].startswith("text/javascript")
    assert loader.text.strip() == f'import("../assets/{module}");'
    target = requests.get(f"{web}/assets/{module}", timeout=TIMEOUT)
    assert target.status_code == 200 and "customElements" in target.text


@pytest.mark.parametrize("name", ["qa-widget.js", "gradio-client.js", "gradio-client.LICENSE", "NOTICE"])
def test_widget_files_are_served(web, name):
    response = requests.get(f"{web}/embed/static/{name}", timeout=TIMEOUT)
    assert response.status_code == 200 and response.content


def test_vendored_gradio_client_speaks_gradio_6_protocol():
    from pathlib import Path

    import gradio

    client = (Path(__file__).parent.parent / "ui" / "static" / "gradio-client.js").read_text(encoding="utf-8")
    assert gradio.__version__.startswith("6.")
    assert "sse_v3" in client  # the protocol Gradio 6 announces in its config


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [(ALLOWED, True), ("http://localhost:5173", True), ("http://127.0.0.1:8000", True),
     ("https://elsewhere.example.com", False)],
)
def test_cors_allows_localhost_and_named_origins_only(web, origin, allowed):
    for path in ("/api/ask?q=%E5%8A%B3%E5%8A%A8", "/gradio_api/info"):
        response = requests.get(f"{web}{path}", headers={"Origin": origin}, timeout=TIMEOUT)
        assert (response.headers.get("access-control-allow-origin") == origin) is allowed, path
    preflight = requests.options(
        f"{web}/gradio_api/call/ask",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"},
        timeout=TIMEOUT,
    )
    assert (preflight.headers.get("access-control-allow-origin") == origin) is allowed


def test_gate_lets_two_answers_compute_at_once_not_more():
    import threading
    from concurrent.futures import ThreadPoolExecutor

    class SlowAssistant:
        running = peak = 0
        lock = threading.Lock()

        def ask(self, question, quotes=None):
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
    assert slow.peak == 2
    assert gate.warm is True
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
