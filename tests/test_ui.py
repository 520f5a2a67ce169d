"""The Gradio app: chat messages, the ``ask`` API through gradio_client, and errors shown in Chinese."""

from __future__ import annotations

import socket

import gradio as gr
import pytest

from qa.errors import InputError
from qa.types import Answer, Citation
from ui.app import (
    QUEUE_CONCURRENCY,
    QUEUE_MAX_SIZE,
    answer_markdown,
    as_text,
    build_app,
    chinese_date,
    header_markdown,
    highlight,
    highlight_spans,
    launch,
    page_options,
    speech_html,
    to_messages,
    user_message,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(assistant):
    app = build_app(assistant)
    port = _free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **page_options())
    yield f"http://127.0.0.1:{port}/"
    app.close()


def test_chat_messages_quote_and_cite(assistant):
    messages = to_messages(assistant.ask("快递员、网约工的权益怎么保障？"))
    first = messages[0]
    assert first.content.startswith(">") and "第16段 · 第四部分" in first.content
    assert '<a class="qa-cite" href="#p-16">第16段 · 第四部分</a>' in first.content
    sources = [m for m in messages[1:] if m.metadata.get("title", "").startswith("原文")]
    assert sources and "第16段" in sources[0].metadata["title"]
    assert "<mark>" in sources[0].content and "网约工" in sources[0].content
    assert 'href="#p-16"' in sources[0].content


def test_one_source_block_per_paragraph_with_every_quote_marked(assistant):
    answer = assistant.ask("快递员、网约工的权益怎么保障？", quotes=3)
    paragraphs = {c.paragraph for c in answer.citations}
    sources = to_messages(answer)[1:]
    assert len(sources) == len(paragraphs)
    for source in sources:
        n = int(source.metadata["title"].split("第")[1].split("段")[0])
        quotes = [c.quote for c in answer.citations if c.paragraph == n]
        assert source.content.count("<mark>") == len(quotes)
        for quote in quotes:
            assert f"<mark>{quote}</mark>" in source.content


def test_refusal_is_one_friendly_message(assistant):
    messages = to_messages(assistant.ask("明天上海的天气怎么样？"))
    assert len(messages) == 1 and "没有谈到" in messages[0].content


def test_highlight_marks_the_quote_and_escapes_html():
    text = "a<script>b</script><b>x</b>c"
    citation = Citation(paragraph=1, section=None, quote="<b>x</b>", text=text, score=1.0, start=19, end=27)
    assert highlight(citation) == "a&lt;script&gt;b&lt;/script&gt;<mark>&lt;b&gt;x&lt;/b&gt;</mark>c"


def test_highlight_spans_marks_each_and_merges_overlaps():
    assert highlight_spans("abcdef", [(4, 6), (0, 2)]) == "<mark>ab</mark>cd<mark>ef</mark>"
    assert highlight_spans("abcdef", [(0, 2), (2, 4)]) == "<mark>ab</mark><mark>cd</mark>ef"
    assert highlight_spans("abcdef", [(0, 3), (2, 5)]) == "<mark>abcde</mark>f"
    assert highlight_spans("a<b", []) == "a&lt;b"


@pytest.mark.parametrize(
    "text",
    ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "**bold** _it_ [link](javascript:alert(1))",
     "$$x$$ `code` # heading", "a & b &amp; c", "> quote\n- item"],
)
def test_as_text_leaves_no_markup(text):
    shown = as_text(text)
    assert "<" not in shown and ">" not in shown.replace("&gt;", "")
    for ch in "*_[]()`#$":
        assert shown.count(ch) == shown.count("\\" + ch)


def test_refusal_text_is_escaped_and_has_no_link():
    answer = Answer(question="<b>x</b>", answered=False, answer="讲话中没有谈到这个问题。<b>")
    assert answer_markdown(answer) == "讲话中没有谈到这个问题。&lt;b&gt;"


@pytest.mark.parametrize(
    ("code", "expected"),
    [("empty", "请输入一个问题"), ("too_long", "最多 500 个字"), ("no_words", "没有可以检索的文字"),
     ("not_text", "必须是文字"), ("bad_quotes", "1、2 或 3"), ("other", "无法处理")],
)
def test_library_errors_become_chinese_messages(assistant, code, expected):
    assert expected in user_message(InputError("x", code=code), assistant)


def test_header_names_the_speech(document):
    header = header_markdown(document)
    assert "《在全国劳动模范和先进工作者表彰大会上的讲话》" in header
    assert "习近平" in header and "2020年11月24日" in header
    assert chinese_date("2020-11-24") == "2020年11月24日" and chinese_date("11/24") == "11/24"


def test_page_options_bring_the_css_and_the_citation_script():
    options = page_options()
    assert "qa-speech" in options["css"]
    assert options["js"].lstrip().startswith("() =>") and 'a[href^="#p-"]' in options["js"]


def test_queue_is_configured_for_two_cores(assistant):
    app = build_app(assistant)
    assert app._queue.max_size == QUEUE_MAX_SIZE
    assert QUEUE_CONCURRENCY == 2
    limits = {fn.concurrency_id: fn.concurrency_limit for fn in app.fns.values() if fn.name in ("respond", "ask")}
    assert limits == {"assistant": QUEUE_CONCURRENCY}


def test_launch_keeps_the_cli_signature():
    import inspect

    parameters = inspect.signature(launch).parameters
    assert list(parameters)[:3] == ["settings", "host", "port"]
    assert parameters["allow_origins"].default is None


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
