"""Gradio front end: the chat that quotes the speech, the full text in 原文, and the ``ask`` API endpoint."""

from __future__ import annotations

import html
import logging
import os
import re
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from qa.analysis import clean_question  # noqa: E402
from qa.assistant import Assistant  # noqa: E402
from qa.compose import where  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.errors import InputError, QAError  # noqa: E402
from qa.types import Answer, Citation, Document  # noqa: E402
from ui.gate import MAX_CONCURRENT_ANSWERS, Gate  # noqa: E402

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"

EXAMPLES = [
    "工匠精神指的是什么？",
    "快递员、网约工的权益怎么保障？",
    "“十四五”从哪一年开始？",
    "劳动者为什么要终身学习？",
    "What does the speech say about labour education in schools?",
    "明天北京会下雨吗？",
]

INPUT_MESSAGES = {
    "empty": "请输入一个问题。",
    "too_long": "问题太长了（最多 {limit} 个字），请精简后再问。",
    "no_words": "问题里没有可以检索的文字，请用中文或英文提问。",
    "not_text": "问题必须是文字。",
    "bad_quotes": "引用句数只能是 1、2 或 3。",
}
SERVER_TROUBLE = "服务暂时出错，请稍后再试。"

# Gradio's queue: at most two answers run at once (one per core, as in ui.gate), and at most 64 wait in line —
# about a second of work at ~50 answers/s — so a burst gets a prompt "queue full" instead of an ever longer wait.
QUEUE_CONCURRENCY = MAX_CONCURRENT_ANSWERS
QUEUE_MAX_SIZE = 64
CONCURRENCY_ID = "assistant"

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")


def quotes_value(value: object) -> object:
    """The number of quotes as the library wants it: whole floats (2.0 from JSON or a slider) become ints.

    Anything else is passed on unchanged for ``Assistant.ask`` to accept or reject with ``bad_quotes``.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def user_message(exc: QAError, assistant: Assistant) -> str:
    """The Chinese message a reader sees for a library error."""
    if isinstance(exc, InputError):
        template = INPUT_MESSAGES.get(exc.code, "这个问题无法处理：{detail}")
        return template.format(limit=assistant.settings.max_question_chars, detail=exc)
    return f"{SERVER_TROUBLE}（{exc}）"


def as_text(text: str) -> str:
    """Text that the chat's Markdown renderer shows literally: HTML escaped, Markdown punctuation backslashed."""
    return html.escape(_MARKDOWN_SPECIAL.sub(r"\\\1", text), quote=False)


def highlight_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """A paragraph as escaped HTML with each ``(start, end)`` span in ``<mark>``; overlapping spans merge."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, at = [], 0
    for start, end in merged:
        out.append(html.escape(text[at:start]))
        out.append("<mark>" + html.escape(text[start:end]) + "</mark>")
        at = end
    out.append(html.escape(text[at:]))
    return "".join(out)


def highlight(citation: Citation) -> str:
    """The cited paragraph as escaped HTML with the quoted sentence marked."""
    return highlight_spans(citation.text, [(citation.start, citation.end)])


def cite_link(paragraph: int, label: str) -> str:
    """A link to paragraph ``paragraph`` in the 原文 tab (ui/static/cite.js switches the tab and scrolls)."""
    return f'<a class="qa-cite" href="#p-{paragraph}">{html.escape(label)}</a>'


def answer_markdown(answer: Answer) -> str:
    """The reply: each quote as a blockquote followed by its linked citation, or the refusal."""
    if not answer.answered:
        return as_text(answer.answer)
    blocks = [f"> {as_text(c.quote)}\n\n—— {cite_link(c.paragraph, where(c))}" for c in answer.citations]
    return "\n\n".join(blocks)


def source_title(citation: Citation) -> str:
    """The heading of a collapsible source block: 原文 第16段 · 第四部分：<part heading>."""
    heading = f"：{citation.section_heading}" if citation.section_heading else ""
    return f"原文 {where(citation)}{heading}"


def to_messages(answer: Answer) -> list[gr.ChatMessage]:
    """An answer as chat messages: the quotes, then each cited paragraph in a collapsible block."""
    messages = [gr.ChatMessage(role="assistant", content=answer_markdown(answer))]
    spans: dict[int, list[tuple[int, int]]] = {}
    first: dict[int, Citation] = {}
    for citation in answer.citations:
        spans.setdefault(citation.paragraph, []).append((citation.start, citation.end))
        first.setdefault(citation.paragraph, citation)
    for n, citation in first.items():
        body = (
            f'<div class="qa-source"><p>{highlight_spans(citation.text, spans[n])}</p>'
            f"<p>{cite_link(n, f'在「原文」中查看第{n}段 →')}</p></div>"
        )
        messages.append(
            gr.ChatMessage(role="assistant", content=body, metadata={"title": source_title(citation), "status": "done"})
        )
    return messages


def chinese_date(iso: str | None) -> str:
    """2020-11-24 as 2020年11月24日; anything else as it is."""
    match = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", iso or "")
    if not match:
        return iso or ""
    year, month, day = match.groups()
    return f"{year}年{int(month)}月{int(day)}日"


def speech_html(document: Document) -> str:
    """The whole speech with paragraph numbers and parts, each paragraph addressable as #p-N."""
    meta = "　".join(x for x in (document.speaker or "", chinese_date(document.date)) if x)
    parts = [
        '<div class="qa-speech">',
        f"<h2>{html.escape(document.title or '')}</h2>",
        f"<p class='meta'>{html.escape(meta)}</p>",
    ]
    current = None
    for p in document.paragraphs:
        if p.section != current:
            if p.section:
                parts.append(f"<h3>{html.escape(p.section.label)}　{html.escape(p.section.heading)}</h3>")
            else:
                parts.append("<hr>")
        current = p.section
        parts.append(f"<p id='p-{p.n}'><span class='pn'>{p.n}</span>{html.escape(p.text)}</p>")
    parts.append("</div>")
    return "\n".join(parts)


def header_markdown(document: Document) -> str:
    """Title, speaker and date of the speech, and one line on how the chat answers."""
    meta = " · ".join(as_text(x) for x in (document.speaker or "", chinese_date(document.date)) if x)
    return (
        f"# 讲话问答\n**《{as_text(document.title or '讲话')}》** {meta}\n\n"
        "用中文或英文提问，回答只引用讲话原文，并注明出自第几段、第几部分；点击出处可跳到「原文」中的那一段。"
    )


def page_options() -> dict:
    """The page's CSS and JavaScript, for ``Blocks.launch`` and ``gr.mount_gradio_app`` alike."""
    return {
        "css": (STATIC / "app.css").read_text(encoding="utf-8"),
        "js": (STATIC / "cite.js").read_text(encoding="utf-8"),
    }


def build_app(assistant: Assistant, gate: Gate | None = None) -> gr.Blocks:
    """The Gradio app around one assistant, its queue configured for this machine.

    Args:
        assistant: Answers the questions; its model and index load on the first question if not loaded yet.
        gate: Shared with other edges (the JSON API) so they count against the same concurrency limit.
    """
    gate = gate or Gate(assistant)
    document = next(iter(assistant.index.documents.values()))

    def check(message: str) -> None:
        # A separate step without outputs: its gr.Error shows as a toast and leaves the conversation untouched
        # (an error in `respond` would also lay an error badge over the chat).
        try:
            clean_question(message, assistant.settings.max_question_chars)
        except InputError as exc:
            raise gr.Error(user_message(exc, assistant), print_exception=False) from exc

    def respond(message: str, history: list | None, quotes: int) -> tuple[str, list]:
        try:
            answer = gate.ask(message, quotes=quotes_value(quotes))
        except QAError as exc:
            raise gr.Error(user_message(exc, assistant), print_exception=False) from exc
        except Exception as exc:  # the reader gets a message, the log gets the details
            log.exception("chat failed")
            raise gr.Error(SERVER_TROUBLE, print_exception=False) from exc
        shown = [gr.ChatMessage(role="user", content=as_text(message)), *to_messages(answer)]
        return "", [*(history or []), *shown]

    def respond_example(history: list | None, quotes: int, event: gr.SelectData) -> tuple[str, list]:
        return respond(event.value["text"], history, quotes)

    def ask(question: str, quotes: int | None = None) -> dict:
        """Answer a question about the speech with at most `quotes` (1–3) quoted sentences.

        Returns the answer JSON: question, answered, answer (Markdown), confidence, citations.
        """
        try:
            return gate.ask(question, quotes=quotes_value(quotes)).to_dict()
        except InputError as exc:
            raise gr.Error(f"{exc} (code: {exc.code})", print_exception=False) from exc
        except QAError as exc:
            raise gr.Error(str(exc)) from exc

    def speech() -> dict:
        """The speech: title, date, speaker and numbered paragraphs with their parts."""
        return document.to_dict()

    events = {"concurrency_limit": QUEUE_CONCURRENCY, "concurrency_id": CONCURRENCY_ID}
    with gr.Blocks(title="讲话问答", analytics_enabled=False) as app:
        gr.Markdown(header_markdown(document), elem_classes="qa-header")
        with gr.Tabs(elem_classes="qa-tabs"):
            with gr.Tab("问答", id="chat"):
                chatbot = gr.Chatbot(
                    height="min(560px, 62vh)",
                    label="对话",
                    show_label=False,
                    placeholder="**请提出关于这篇讲话的问题**<br>中英文均可，例如：",
                    examples=[{"text": e} for e in EXAMPLES],
                    latex_delimiters=[],
                    buttons=["copy"],
                    layout="panel",
                    elem_classes="qa-chat",
                )
                textbox = gr.Textbox(
                    placeholder="例如：工匠精神指的是什么？",
                    show_label=False,
                    submit_btn="提问",
                    lines=1,
                    max_lines=4,
                    autofocus=True,
                    elem_classes="qa-question",
                )
                with gr.Accordion("设置", open=False, elem_classes="qa-settings"):
                    quotes = gr.Radio(
                        [1, 2, 3], value=assistant.settings.quotes, label="最多引用几句", info="每个回答引用的原文句数"
                    )
            with gr.Tab("原文", id="speech"):
                gr.HTML(speech_html(document), js_on_load=None, elem_id="qa-speech")
        checked = textbox.submit(check, textbox, None, api_visibility="private", concurrency_limit=None,
                                 show_progress="hidden")
        checked.success(respond, [textbox, chatbot, quotes], [textbox, chatbot], api_visibility="private",
                        show_progress="hidden", **events)
        chatbot.example_select(respond_example, [chatbot, quotes], [textbox, chatbot], api_visibility="private",
                               show_progress="hidden", **events)
        gr.api(ask, api_name="ask", **events)
        gr.api(speech, api_name="speech", concurrency_limit=None)
    app.queue(default_concurrency_limit=QUEUE_CONCURRENCY, max_size=QUEUE_MAX_SIZE)
    return app
