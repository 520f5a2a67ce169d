"""The Gradio app: chat messages, the ``ask`` API through gradio_client, and errors shown in Chinese."""

from __future__ import annotations

import socket

import gradio as gr
import pytest

from qa.types import Citation
from ui.app import build_app, highlight, speech_html, to_messages


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(assistant):
    app = build_app(assistant)
    app.queue(default_concurrency_limit=2)
    port = _free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    app.close()


def test_chat_messages_quote_and_cite(assistant):
    messages = to_messages(assistant.ask("快递员、网约工的权益怎么保障？"))
    first = messages[0]
    assert first.content.startswith(">") and "第16段 · 第四部分" in first.content
    sources = [m for m in messages[1:] if m.metadata.get("title", "").startswith("原文")]
    assert sources and "第16段" in sources[0].metadata["title"]
    assert "<mark>" in sources[0].content and "网约工" in sources[0].content


def test_refusal_is_one_friendly_message(assistant):
    messages = to_messages(assistant.ask("明天上海的天气怎么样？"))
    assert len(messages) == 1 and "没有谈到" in messages[0].content


def test_highlight_marks_the_quote_and_escapes_html():
    text = "a<script>b</script><b>x</b>c"
    citation = Citation(paragraph=1, section=None, quote="<b>x</b>", text=text, score=1.0, start=19, end=27)
    assert highlight(citation) == "a&lt;script&gt;b&lt;/script&gt;<mark>&lt;b&gt;x&lt;/b&gt;</mark>c"


def test_speech_tab_has_every_paragraph(document):
    page = speech_html(document)
    for p in document.paragraphs:
        assert f"id='p-{p.n}'" in page
    assert page.count("<h3>") == 4


def test_ask_api_with_gradio_client(server):
    from gradio_client import Client

    client = Client(server, verbose=False)
    data = client.predict("工匠精神是什么？", 2, api_name="/ask")
    assert data["answered"] is True
    assert 1 <= len(data["citations"]) <= 2
    assert data["citations"][0]["paragraph"] == 10


def test_api_error_is_clear_not_a_traceback(server):
    from gradio_client import Client

    client = Client(server, verbose=False)
    with pytest.raises(Exception) as caught:
        client.predict("", 3, api_name="/ask")
    assert "empty" in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_app_builds_as_blocks(assistant):
    assert isinstance(build_app(assistant), gr.Blocks)
