"""Gradio front end: a chat that quotes the speech, the full text, and the ``ask`` API."""

from __future__ import annotations

import html
import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from qa.answer import where  # noqa: E402
from qa.assistant import Assistant  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.errors import InputError, QAError  # noqa: E402
from qa.types import Answer, Citation, Document  # noqa: E402

log = logging.getLogger(__name__)

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


def user_message(exc: QAError, assistant: Assistant) -> str:
    """The Chinese message a reader sees for a library error."""
    if isinstance(exc, InputError):
        template = INPUT_MESSAGES.get(exc.code, "这个问题无法处理：{detail}")
        return template.format(limit=assistant.settings.max_question_chars, detail=exc)
    return f"服务暂时出错，请稍后再试。（{exc}）"


def highlight(citation: Citation) -> str:
    """The cited paragraph as escaped HTML with the quoted sentence marked."""
    text = citation.text
    return (
        html.escape(text[: citation.start])
        + "<mark>" + html.escape(text[citation.start : citation.end]) + "</mark>"
        + html.escape(text[citation.end :])
    )


def to_messages(answer: Answer) -> list[gr.ChatMessage]:
    """An answer as chat messages: the quotes, then each cited paragraph in a collapsible block."""
    messages = [gr.ChatMessage(role="assistant", content=answer.answer)]
    shown = set()
    for citation in answer.citations:
        if citation.paragraph in shown:
            continue
        shown.add(citation.paragraph)
        heading = f"：{citation.section_heading}" if citation.section_heading else ""
        messages.append(
            gr.ChatMessage(
                role="assistant",
                content=highlight(citation),
                metadata={"title": f"原文 {where(citation)}{heading}", "status": "done"},
            )
        )
    return messages


def speech_html(document: Document) -> str:
    """The whole speech with paragraph numbers and parts, each paragraph addressable as #p-N."""
    parts = [f"<h2>{html.escape(document.title or '')}</h2>",
             f"<p class='meta'>{html.escape(document.speaker or '')}　{html.escape(document.date or '')}</p>"]
    current = None
    for p in document.paragraphs:
        if p.section and p.section != current:
            parts.append(f"<h3>{html.escape(p.section.label)}　{html.escape(p.section.heading)}</h3>")
        current = p.section
        parts.append(f"<p id='p-{p.n}'><b>[{p.n}]</b> {html.escape(p.text)}</p>")
    return "\n".join(parts)


def build_app(assistant: Assistant) -> gr.Blocks:
    """The Gradio app around one assistant."""
    document = assistant.document

    def chat(message: str, history: list, quotes: int = 3) -> list[gr.ChatMessage]:
        try:
            return to_messages(assistant.ask(message, quotes=int(quotes)))
        except QAError as exc:
            raise gr.Error(user_message(exc, assistant)) from exc
        except Exception as exc:  # the reader gets a message, the log gets the details
            log.exception("chat failed")
            raise gr.Error("服务暂时出错，请稍后再试。") from exc

    def ask(question: str, quotes: int = 3) -> dict:
        """Answer a question about the speech; returns the answer JSON (question, answered, answer, citations)."""
        try:
            return assistant.ask(question, quotes=int(quotes)).to_dict()
        except QAError as exc:
            raise gr.Error(str(exc)) from exc

    description = f"{document.speaker or ''}　{document.date or ''}　·　提问后，回答只引用讲话原文，并注明出自第几段。"
    with gr.Blocks(title="讲话问答") as app:
        gr.Markdown(f"# 讲话问答\n**《{document.title}》**　{description}")
        with gr.Tab("问答"):
            quotes = gr.Slider(1, 3, value=assistant.settings.quotes, step=1, label="引用句数", render=False)
            gr.ChatInterface(
                chat,
                examples=[[e] for e in EXAMPLES],
                additional_inputs=[quotes],
                additional_inputs_accordion=gr.Accordion("设置", open=False),
                chatbot=gr.Chatbot(height=520, label="对话", placeholder="请输入关于这篇讲话的问题，中英文均可。"),
                textbox=gr.Textbox(placeholder="例如：工匠精神指的是什么？", submit_btn="提问", max_length=None),
                api_visibility="private",
            )
        with gr.Tab("原文"):
            gr.HTML(speech_html(document))
        gr.api(ask, api_name="ask")
    return app


def launch(settings: Settings | None = None, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Load the model and index, then serve the chat until interrupted."""
    assistant = Assistant(settings)
    assistant.retriever  # load model and index before the first visitor  # noqa: B018
    assistant.ask("劳动")  # warm the model
    app = build_app(assistant)
    app.queue(default_concurrency_limit=2, max_size=64)
    app.launch(server_name=host, server_port=port, show_error=False)


if __name__ == "__main__":
    launch()
