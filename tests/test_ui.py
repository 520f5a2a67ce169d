"""The chat's formatting of an answer, the page's head and words, and the Gradio app's wiring (no server)."""

from __future__ import annotations

import html
import re

import gradio as gr
import pytest

from qa.errors import InputError
from qa.types import Answer, Citation, DocRef, Section
from ui.app import (
    CONCURRENCY_ID,
    INPUT_MESSAGES,
    QUEUE_CONCURRENCY,
    QUEUE_MAX_SIZE,
    answering_events,
    build_app,
    quotes_value,
    user_message,
)
from ui.calls import endpoint_arity
from ui.chat import (
    answer_markdown,
    as_text,
    chinese_date,
    copy_text,
    documents_html,
    header_markdown,
    highlight_spans,
    lead_lines,
    to_messages,
)
from ui.page import TITLE, page_options, preview_meta, rewrite_index

DOC = DocRef("speech-2020-11-24", "在全国劳动模范和先进工作者表彰大会上的讲话", "2020-11-24", "习近平")
PART = Section(4, "第四部分", "切实保障劳动者权益")
TEXT = "要适应新技术新业态新模式的迅猛发展，维护好快递员、网约工的合法权益。要健全维权服务机制。"


def citation(start: int = 0, end: int = 35, paragraph: int = 16) -> Citation:
    return Citation(document=DOC, paragraph=paragraph, section=PART, quote=TEXT[start:end], text=TEXT, score=0.9,
                    start=start, end=end)


def answer(**fields) -> Answer:
    base = {"question": "快递员的权益怎么保障？", "answered": True, "answer": "", "citations": (citation(),)}
    return Answer(**{**base, **fields})


# ---------------------------------------------------------------- answers as chat messages


def test_quotes_cite_title_paragraph_and_part_with_a_link_to_the_paragraph():
    shown = answer_markdown(answer())
    assert '<a class="qa-cite" href="#qa/speech-2020-11-24/16">《在全国劳动模范和先进工作者表彰大会上的讲话》第16段 · 第四部分</a>' \
        in shown
    assert "> " + as_text(TEXT[:35]) in shown


def test_real_answer_has_one_source_block_per_paragraph_with_every_quote_marked(assistant):
    reply = assistant.ask("快递员、网约工的权益怎么保障？", quotes=3)
    messages = to_messages(reply)
    assert "《在全国劳动模范和先进工作者表彰大会上的讲话》第16段 · 第四部分" in messages[0].content
    sources = messages[1:]
    assert len(sources) == len({(c.document.id, c.paragraph) for c in reply.citations})
    for source in sources:
        assert source.metadata == {"title": source.metadata["title"], "status": "done"}
        assert source.metadata["title"].startswith("原文 《在全国劳动模范和先进工作者表彰大会上的讲话》第")
        n = int(re.search(r"第(\d+)段", source.metadata["title"]).group(1))
        quotes = [c.quote for c in reply.citations if c.paragraph == n]
        assert source.content.count("<mark>") == len(quotes)
        assert f'href="#qa/speech-2020-11-24/{n}"' in source.content


def test_related_paragraph_is_a_collapsed_block_never_a_citation():
    related = citation(0, len(TEXT))
    reply = answer(answered=False, citations=(), related=(related,),
                   answer="《在全国劳动模范和先进工作者表彰大会上的讲话》提到了快递员（第16段 · 第四部分），但没有说具体数字。")
    main, block = to_messages(reply)
    assert "提到了快递员" in main.content and "但没有说具体数字" in main.content
    assert "qa-cite" not in main.content and "<blockquote>" not in main.content and "> " not in main.content
    assert block.metadata == {"title": "相关段落 《在全国劳动模范和先进工作者表彰大会上的讲话》第16段 · 第四部分：切实保障劳动者权益",
                              "status": "done"}
    assert "<mark>" not in block.content  # the whole paragraph is related: nothing to single out
    assert "在「原文」中查看第16段" in block.content


def test_suggestions_are_options_of_the_last_message():
    messages = to_messages(answer(suggestions=("工匠精神是什么？", "劳模精神是什么？")))
    assert not any(m.options for m in messages[:-1])
    assert messages[-1].options == [{"value": "工匠精神是什么？", "label": "接着问：工匠精神是什么？"},
                                    {"value": "劳模精神是什么？", "label": "接着问：劳模精神是什么？"}]
    refusal = to_messages(answer(answered=False, citations=(), answer="没有谈到。", suggestions=("工匠精神？",)))
    assert len(refusal) == 1 and refusal[0].options[0]["value"] == "工匠精神？"


def test_reading_in_context_is_shown_once_above_the_quotes():
    reply = answer(interpreted_as="快递员的权益怎么保障？", question="那快递员呢？",
                   answer="按上文理解为：快递员的权益怎么保障？\n\n> x\n\n—— y")
    shown = answer_markdown(reply)
    assert shown.count("按上文理解为：快递员的权益怎么保障？") == 2  # the hidden copy text and the visible line
    assert shown.index('<div class="qa-context">按上文理解为') < shown.index("> ")
    assert lead_lines(reply) == []
    refusal = answer(answered=False, citations=(), interpreted_as="工匠精神是怎么形成的？",
                     answer="按上文理解为：工匠精神是怎么形成的？\n\n讲话中没有谈到这个问题。")
    assert lead_lines(refusal) == ["讲话中没有谈到这个问题。"]


def test_english_answers_get_english_framing():
    reply = answer(language="en", question="How are couriers protected?", suggestions=("What is craftsmanship?",),
                   interpreted_as="How are couriers' rights protected?")
    messages = to_messages(reply)
    assert "— <a class=\"qa-cite\"" in messages[0].content
    assert "“在全国劳动模范和先进工作者表彰大会上的讲话”, paragraph 16, part 4" in messages[0].content
    assert "Read in context as: How are couriers" in messages[0].content
    assert messages[1].metadata["title"].startswith("Source: “在全国劳动模范和先进工作者表彰大会上的讲话”, paragraph 16")
    assert "Show paragraph 16 in 原文" in messages[1].content
    assert messages[-1].options[0]["label"] == "Ask next: What is craftsmanship?"


def test_copy_text_is_the_quotes_and_where_they_stand_without_markup():
    reply = answer(citations=(citation(0, 35), citation(35, len(TEXT))), interpreted_as="快递员的权益？")
    assert copy_text(reply) == (f"按上文理解为：快递员的权益？\n\n「{TEXT[:35]}」\n—— 《在全国劳动模范和先进工作者表彰大会上的讲话》第16段 · 第四部分"
                                f"\n\n「{TEXT[35:]}」\n—— 《在全国劳动模范和先进工作者表彰大会上的讲话》第16段 · 第四部分")
    hidden = re.search(r'<div class="qa-copy" hidden>(.*?)</div>', answer_markdown(reply)).group(1)
    assert "\n" not in hidden and "&#10;" in hidden  # one line: a blank line would end the HTML block


# ---------------------------------------------------------------- escaping


@pytest.mark.parametrize(
    "text",
    ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>", "**bold** _it_ [link](javascript:alert(1))",
     "$$x$$ `code` # heading", "a & b &amp; c", "> quote\n- item\n1. one", "see http://example.com/a_b?c=1",
     "   indented code", "x\n===", "| a | b |"],
)
def test_as_text_leaves_only_literal_text(text):
    shown = as_text(text)
    assert html.unescape(shown) == text  # one escape, undone by the browser's one unescape
    bare = re.sub(r"&#\d+;", "", shown)
    assert not re.search(r"[\\`*_{}\[\]()#+\-.!|~$<>&=:]", bare), bare  # nothing Markdown could read
    assert not re.search(r"^ ", shown, re.MULTILINE)  # nor an indented code block


def test_highlight_spans_marks_each_and_merges_overlaps():
    assert highlight_spans("abcdef", [(4, 6), (0, 2)]) == "<mark>ab</mark>cd<mark>ef</mark>"
    assert highlight_spans("abcdef", [(0, 3), (2, 5)]) == "<mark>abcde</mark>f"
    assert highlight_spans("a<b", []) == "a&lt;b"


def test_document_text_is_escaped_everywhere():
    nasty = "<b>x</b> & *y*"
    reply = answer(citations=(Citation(DOC, 1, None, nasty, nasty, 1.0, 0, len(nasty)),))
    for message in to_messages(reply):
        assert "<b>" not in message.content


# ---------------------------------------------------------------- documents, header, messages


def test_documents_html_shows_the_first_and_offers_a_selector(fake_assistant, document):
    one = documents_html([document])
    assert "<select" not in one and one.count("<article") == 1
    for p in document.paragraphs:
        assert f"id='qa/speech-2020-11-24/{p.n}'" in one
    assert one.count("<h3>") == len(document.sections())
    other = document.with_meta(id="doc-a", title="<致辞>")
    several = documents_html([document, other])
    assert '<select class="qa-doc-select">' in several and '<option value="doc-a">&lt;致辞&gt;' in several
    assert '<article class="qa-speech" id="qa/doc-a" hidden>' in several


def test_header_names_the_document_or_counts_them(document):
    header = header_markdown([document])
    assert "《在全国劳动模范和先进工作者表彰大会上的讲话》" in header and "2020年11月24日" in header
    assert "共 2 篇文档" in header_markdown([document, document.with_meta(id="b", title="B")])
    assert chinese_date("2020-11-24") == "2020年11月24日" and chinese_date("11/24") == "11/24"


@pytest.mark.parametrize(("code", "expected"), [(c, m[:6]) for c, m in INPUT_MESSAGES.items() if "{" not in m[:6]]
                         + [("too_long", "最多 500 个字"), ("other", "无法处理")])
def test_library_errors_become_chinese_messages(fake_assistant, code, expected):
    assert expected in user_message(InputError("x", code=code), fake_assistant)


@pytest.mark.parametrize(("value", "expected"), [(2.0, 2), (2, 2), ("2", "2"), (True, True), (2.5, 2.5), (None, None)])
def test_quotes_value_only_turns_whole_floats_into_ints(value, expected):
    assert quotes_value(value) == expected and type(quotes_value(value)) is type(expected)


# ---------------------------------------------------------------- the page


def test_index_page_gets_our_language_preview_tags_and_title():
    page = ('<!doctype html>\n<html\n\tlang="en"\n\tstyle="x">\n<head>\n<meta charset="utf-8" />\n'
            '<meta property="og:title" content="Gradio" />\n<meta\n  name="twitter:card"\n  content="x"\n/>\n'
            '<meta property="og:url" content="{url}" />\n</head></html>')
    out = rewrite_index(page)
    assert 'lang="zh-CN"' in out and 'lang="en"' not in out
    assert "Gradio" not in out and "{url}" not in out
    assert out.count("<title>") == 1 and f"<title>{TITLE}</title>" in out
    for tag in ('property="og:title"', 'property="og:description"', 'name="twitter:title"',
                'name="twitter:description"', 'name="twitter:card"'):
        assert out.count(tag) == 1, tag
    assert "Navigator.prototype" in out  # the locale script, before Gradio's own
    assert preview_meta("a&b", '"q"').count("&amp;") == 3


def test_page_options_bring_css_script_and_translations():
    options = page_options()
    assert "qa-speech" in options["css"] and 'content: "错误"' in options["css"]
    assert options["js"].lstrip().startswith("() =>") and 'a[href^="#qa/"]' in options["js"]
    assert isinstance(options["i18n"], gr.I18n)


# ---------------------------------------------------------------- the Gradio app


def test_queue_and_answering_events(fake_assistant):
    app = build_app(fake_assistant)
    assert app._queue.max_size == QUEUE_MAX_SIZE and QUEUE_CONCURRENCY == 2
    answering = [fn for fn in app.fns.values() if fn.concurrency_id == CONCURRENCY_ID]
    assert {fn.name for fn in answering} == {"respond", "ask"}
    assert {fn.concurrency_limit for fn in answering} == {QUEUE_CONCURRENCY}
    events, endpoints = answering_events(app)
    assert endpoints == {"ask"} and len(events) == len(answering)


def test_endpoints_take_the_question_alone(fake_assistant):
    arity = endpoint_arity(build_app(fake_assistant))
    assert arity["ask"] == (["question", "quotes", "history", "doc"], [None, None, None])
    assert arity["document"] == (["doc"], []) and arity["docs"] == ([], [])
