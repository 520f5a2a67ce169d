"""Gradio front end: the chat that quotes the documents, the documents in 原文, and the ``ask`` API endpoint."""

from __future__ import annotations

import functools
import logging
import os
import warnings

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Gradio's queue sets pandas options that pandas 3 deprecates: harmless, and nothing a user of the chat can fix.
warnings.filterwarnings("ignore", message=r".*(no_silent_downcasting|The copy keyword is deprecated)", module=r"gradio\.")

import gradio as gr

from qa.analysis import clean_question
from qa.assistant import MAX_HISTORY, Assistant
from qa.errors import InputError, QAError, StoreUnavailable
from qa.types import Document
from ui.chat import as_text, documents_html, header_markdown, to_messages
from ui.gate import MAX_CONCURRENT_ANSWERS, Gate

log = logging.getLogger(__name__)

EXAMPLES = [
    "工匠精神指的是什么？",
    "快递员、网约工的权益怎么保障？",
    "“十四五”从哪一年开始？",
    "劳动者为什么要终身学习？",
    "What does the speech say about labour education in schools?",
    "明天北京会下雨吗？",
]
EXAMPLES_DOC = "speech-2020-11-24"  # the bundled speech, which the examples ask about

INPUT_MESSAGES = {
    "empty": "请输入一个问题。",
    "too_long": "问题太长了（最多 {limit} 个字），请精简后再问。",
    "no_words": "问题里没有可以检索的文字，请用中文或英文提问。",
    "not_text": "问题必须是文字。",
    "bad_quotes": "引用句数只能是 1、2 或 3。",
    "bad_history": "对话记录无法使用，请清空对话后再问。",
    "bad_doc": "请从列表中选择文档。",
    "unknown_doc": "所选的文档已不在文档库中，请刷新页面后重新选择。",
}
SERVER_TROUBLE = "服务暂时出错，请稍后再试。"
API_TROUBLE = "The assistant failed on this request; try again or report it."

ALL_DOCS = "*"  # the scope selector's "all documents" (document ids are [a-z0-9-])

# Gradio's queue: at most two answers run at once (one per core, as in ui.gate), and at most 64 wait in line —
# about a second of work at ~50 answers/s — so a burst gets a prompt "queue full" instead of an ever longer wait.
QUEUE_CONCURRENCY = MAX_CONCURRENT_ANSWERS
QUEUE_MAX_SIZE = 64
CONCURRENCY_ID = "assistant"  # every event that answers a question; the rate limit counts these


def quotes_value(value: object) -> object:
    """The number of quotes as the library wants it: whole floats (2.0 from a JavaScript client) become ints.

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


def api_error(exc: Exception) -> gr.Error:
    """A ``gr.Error`` with a message for any failure of an API endpoint (Gradio sends ``null`` for anything else)."""
    if isinstance(exc, InputError):
        return gr.Error(f"{exc} (code: {exc.code})", print_exception=False)
    if isinstance(exc, QAError):
        return gr.Error(f"{exc or API_TROUBLE} (code: {getattr(exc, 'code', 'server_error')})", print_exception=False)
    log.exception("API endpoint failed", exc_info=exc)
    return gr.Error(f"{API_TROUBLE} (code: server_error)", print_exception=False)


def api_endpoint(fn):
    """``fn`` with every failure turned into a ``gr.Error`` with a message (see :func:`api_error`)."""

    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:
            raise api_error(exc) from exc

    return guarded


def documents_of(assistant: Assistant) -> list[Document]:
    """The corpus's documents in its order (reloaded if the corpus changed)."""
    return list(assistant.index.documents.values())


def scope_choices(documents: list[Document]) -> list[tuple[str, str]]:
    """The chat's document selector: all documents, then each by title."""
    return [("全部文档", ALL_DOCS), *((f"《{d.title or d.id}》", d.id) for d in documents)]


def examples(assistant: Assistant) -> list[dict]:
    """Example questions for the empty chat: about the bundled speech, or about the corpus's own topics."""
    if EXAMPLES_DOC in assistant.index.documents:
        return [{"text": e} for e in EXAMPLES]
    return [{"text": f"关于「{topic}」讲了什么？"} for topic in assistant.index.topics()[:4]]


def build_app(assistant: Assistant, gate: Gate | None = None) -> gr.Blocks:
    """The Gradio app around one assistant, its queue configured for this machine.

    Args:
        assistant: Answers the questions; its model and corpus load on the first question if not loaded yet.
        gate: Shared with other edges (the JSON API) so they count against the same concurrency limit.
    """
    gate = gate or Gate(assistant)
    try:
        documents, shown_examples = documents_of(assistant), examples(assistant)
    except StoreUnavailable as exc:  # the page starts anyway; refresh() fills it in once the store answers
        log.warning("%s The page starts without the documents.", exc)
        documents, shown_examples = [], [{"text": e} for e in EXAMPLES]

    def check(message: str) -> None:
        # A step of its own without outputs: its gr.Error shows as a toast and leaves the conversation untouched.
        try:
            clean_question(message, assistant.settings.max_question_chars)
        except InputError as exc:
            raise gr.Error(user_message(exc, assistant), print_exception=False) from exc
        except Exception as exc:
            log.exception("checking a question failed")
            raise gr.Error(SERVER_TROUBLE, print_exception=False) from exc

    def respond(message: str, history: list | None, turns: list | None, quotes: int,
                scope: str | None) -> tuple[str, list, list]:
        doc = None if scope in (None, "", ALL_DOCS) else scope
        try:
            answer = gate.ask(message, quotes=quotes_value(quotes), history=turns or None, doc=doc)
        except QAError as exc:
            raise gr.Error(user_message(exc, assistant), print_exception=False) from exc
        except Exception as exc:  # the reader gets a message, the log gets the details
            log.exception("chat failed")
            raise gr.Error(SERVER_TROUBLE, print_exception=False) from exc
        shown = [gr.ChatMessage(role="user", content=as_text(message)), *to_messages(answer)]
        turns = [*(turns or []), {"question": answer.question, "answer": answer.to_dict()}][-MAX_HISTORY:]
        return "", [*(history or []), *shown], turns

    def pick_option(event: gr.SelectData) -> str:
        return event.value if isinstance(event.value, str) else ""

    def pick_example(event: gr.SelectData) -> str:
        return (event.value or {}).get("text", "") if isinstance(event.value, dict) else ""

    def refresh() -> tuple[str, dict, str]:
        try:
            current = documents_of(assistant)
        except Exception as exc:
            log.exception("listing the documents failed")
            raise gr.Error(SERVER_TROUBLE, print_exception=False) from exc
        return (header_markdown(current), gr.update(choices=scope_choices(current), visible=len(current) > 1),
                documents_html(current))

    @api_endpoint
    def ask(question: str, quotes: int | None = None, history: list[dict] | None = None,
            doc: str | None = None) -> dict:
        """Answer a question with at most `quotes` (1–3) quoted sentences, from one document (`doc`, its id) or all.

        `history`: the conversation so far, oldest first, as [{"question": …, "answer": <the answer JSON>}], so that
        a follow-up such as "它是怎么形成的？" is read in context. Returns the answer JSON: question, answered, answer
        (Markdown), confidence, citations, related, interpreted_as, suggestions, language.
        """
        return gate.ask(question, quotes=quotes_value(quotes), history=history, doc=doc).to_dict()

    @api_endpoint
    def docs() -> list[dict]:
        """The documents of the corpus: id, title, date, speaker and number of paragraphs."""
        return [info.to_dict() for info in assistant.index.infos]

    @api_endpoint
    def document(doc: str) -> dict:
        """One document by id: title, date, speaker and numbered paragraphs with their parts."""
        found = assistant.index.documents.get(doc) if isinstance(doc, str) else None
        if found is None:
            raise InputError(f"No document {doc!r}; the endpoint docs lists them.", code="unknown_doc")
        return found.to_dict()

    @api_endpoint
    def speech() -> dict:
        """The first document of the corpus (the speech), as `document` gives it."""
        return document(documents_of(assistant)[0].id)

    answering = {"concurrency_limit": QUEUE_CONCURRENCY, "concurrency_id": CONCURRENCY_ID}
    quiet = {"api_visibility": "private", "show_progress": "hidden"}
    with gr.Blocks(title="讲话问答", analytics_enabled=False) as app:
        header = gr.Markdown(header_markdown(documents), elem_classes="qa-header")
        turns = gr.State([])
        with gr.Tabs(elem_classes="qa-tabs"):
            with gr.Tab("问答", id="chat", elem_id="qa-tab-chat"):
                chatbot = gr.Chatbot(
                    height="min(560px, 62vh)",
                    label="对话",
                    show_label=False,
                    placeholder="**请提出关于这些文档的问题**<br>中英文均可，例如：" if len(documents) > 1 else
                    "**请提出关于这篇讲话的问题**<br>中英文均可，例如：",
                    examples=shown_examples,
                    latex_delimiters=[],
                    buttons=["copy"],
                    layout="panel",
                    autoscroll=False,  # ui/static/qa-page.js scrolls the new question to the top instead
                    elem_classes="qa-chat",
                )
                with gr.Row(elem_classes="qa-ask-row"):
                    scope = gr.Dropdown(scope_choices(documents), value=ALL_DOCS, label="在哪篇文档中找",
                                        show_label=False, container=False, visible=len(documents) > 1, scale=1,
                                        min_width=200, elem_classes="qa-scope")
                    textbox = gr.Textbox(placeholder="例如：工匠精神指的是什么？", label="问题", show_label=False,
                                         submit_btn="提问", lines=1, max_lines=4, scale=4,
                                         elem_classes="qa-question")
                with gr.Accordion("设置", open=False, elem_classes="qa-settings"):
                    quotes = gr.Radio([1, 2, 3], value=assistant.settings.quotes, label="最多引用几句",
                                      info="每个回答引用的原文句数")
            with gr.Tab("原文", id="speech", elem_id="qa-tab-speech"):
                view = gr.HTML(documents_html(documents), elem_id="qa-speech")
        ask_inputs, ask_outputs = [textbox, chatbot, turns, quotes, scope], [textbox, chatbot, turns]
        free = {"concurrency_limit": None, **quiet}
        # A typed question, a suggested follow-up and an example all take one path: into the box, checked, answered.
        checks = [textbox.submit(check, textbox, None, **free)]
        for picked in (chatbot.option_select(pick_option, None, textbox, **free),
                       chatbot.example_select(pick_example, None, textbox, **free)):
            checks.append(picked.success(check, textbox, None, **free))
        for checked in checks:
            checked.success(respond, ask_inputs, ask_outputs, **quiet, **answering)
        chatbot.clear(list, None, turns, **free)
        app.load(refresh, None, [header, scope, view], concurrency_limit=None, **quiet)
        gr.api(ask, api_name="ask", **answering)
        gr.api(docs, api_name="docs", concurrency_limit=None)
        gr.api(document, api_name="document", concurrency_limit=None)
        gr.api(speech, api_name="speech", concurrency_limit=None)
    app.queue(default_concurrency_limit=QUEUE_CONCURRENCY, max_size=QUEUE_MAX_SIZE)
    return app


def answering_events(app: gr.Blocks) -> tuple[set[int], set[str]]:
    """The fn_index of every event that answers a question, and the api_name of every such endpoint."""
    fns = [fn for fn in app.fns.values() if fn.concurrency_id == CONCURRENCY_ID]
    return {fn._id for fn in fns}, {fn.api_name for fn in fns if fn.api_name and fn.api_visibility == "public"}
