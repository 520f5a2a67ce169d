"""An answer as chat messages (quotes, sources, related passage, follow-ups) and documents as the 原文 tab's HTML."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

import gradio as gr

from qa.compose import where
from qa.types import Answer, Citation, Document

# Markdown, HTML and autolink characters, and leading spaces: written as character references, they show literally.
_LITERAL = re.compile(r"[\\`*_{}\[\]()#+\-.!|~$<>&=:]|^ +", re.MULTILINE)
# What qa.compose.escape put before the documents' own characters.
_BACKSLASHED = re.compile(r"\\([\\`*_\[\]<>#|~])")

LABELS = {
    "zh": {"source": "原文", "related": "相关段落", "view": "在「原文」中查看第{n}段 →", "context": "按上文理解为：",
           "next": "接着问：", "colon": "："},
    "en": {"source": "Source:", "related": "Related passage:", "view": "Show paragraph {n} in 原文 →",
           "context": "Read in context as: ", "next": "Ask next: ", "colon": ": "},
}


def labels(answer: Answer) -> dict[str, str]:
    """The chat's own words around an answer, in the answer's language."""
    return LABELS["en" if answer.language == "en" else "zh"]


def as_text(text: str) -> str:
    """Text that the chat's Markdown shows literally, as typed: specials become character references (``&#42;``).

    Escaped once, for Markdown and HTML alike: ``http://x.y/a_b`` stays that text (and no link), ``<b>`` too.
    """
    return _LITERAL.sub(lambda m: "".join(f"&#{ord(c)};" for c in m.group()), text)


def one_line(text: str) -> str:
    """Escaped HTML without a line break in the source (a blank line would end a Markdown HTML block)."""
    return html.escape(text).replace("\n", "&#10;")


def highlight_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
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


def anchor(doc_id: str, paragraph: int | None = None) -> str:
    """The element id of a document (``qa/<doc>``) or of one of its paragraphs (``qa/<doc>/<n>``) in 原文."""
    return f"qa/{doc_id}" if paragraph is None else f"qa/{doc_id}/{paragraph}"


def cite_link(citation: Citation, label: str) -> str:
    """A link to the cited paragraph in the 原文 tab (ui/static/qa-page.js switches tab and document, and scrolls)."""
    href = html.escape("#" + anchor(citation.document.id, citation.paragraph), quote=True)
    return f'<a class="qa-cite" href="{href}">{html.escape(label)}</a>'


def lead_lines(answer: Answer) -> list[str]:
    """The plain text before the quotes (a lead such as 这在《…》第二部分：, or the whole refusal), without the
    "read in context" line, which the chat shows on its own."""
    lines = []
    for part in answer.answer.split("\n\n"):
        if part.startswith(">"):
            break
        if part.strip():
            lines.append(_BACKSLASHED.sub(r"\1", part.strip()))
    if answer.interpreted_as and lines and answer.interpreted_as in lines[0]:
        lines = lines[1:]
    return lines


def copy_text(answer: Answer) -> str:
    """What the copy button copies: the reading in context, the lead or refusal, each quote and where it stands."""
    english = answer.language == "en"
    words = labels(answer)
    parts = [words["context"] + answer.interpreted_as] if answer.interpreted_as else []
    parts += lead_lines(answer)
    parts += [f"「{c.quote}」\n—— {where(c, english)}" if not english else f"“{c.quote}”\n— {where(c, english)}"
              for c in answer.citations]
    return "\n\n".join(parts)


def answer_markdown(answer: Answer) -> str:
    """The reply: the reading in context, then each quote as a blockquote with its linked citation, or the text
    that says why there is none. A hidden copy of it as plain text comes first, for the copy button."""
    english = answer.language == "en"
    blocks = [f'<div class="qa-copy" hidden>{one_line(copy_text(answer))}</div>']
    if answer.interpreted_as:
        blocks.append(f'<div class="qa-context">{one_line(labels(answer)["context"] + answer.interpreted_as)}</div>')
    blocks += [as_text(line) for line in lead_lines(answer)]
    dash = "—" if english else "——"
    blocks += [f"> {as_text(c.quote)}\n\n{dash} {cite_link(c, where(c, english))}" for c in answer.citations]
    return "\n\n".join(blocks)


def source_title(citation: Citation, words: dict[str, str], english: bool, kind: str = "source") -> str:
    """The heading of a collapsible block: 原文 《title》第16段 · 第四部分：<part heading>."""
    heading = f"{words['colon']}{citation.section.heading}" if citation.section and citation.section.heading else ""
    return f"{words[kind]} {where(citation, english)}{heading}"


def source_body(citation: Citation, spans: list[tuple[int, int]], words: dict[str, str]) -> str:
    """A collapsible block's content: the whole paragraph, the quoted spans marked, and a link to it in 原文."""
    whole = spans == [(0, len(citation.text))]
    text = html.escape(citation.text) if whole else highlight_spans(citation.text, spans)
    view = cite_link(citation, words["view"].format(n=citation.paragraph))
    return f'<div class="qa-source"><p>{text}</p><p class="qa-view">{view}</p></div>'


def to_messages(answer: Answer) -> list[gr.ChatMessage]:
    """An answer as chat messages: the reply, each cited (or related) paragraph in a collapsed block, and the
    suggested follow-ups as buttons on the last message (Gradio shows options of the last message only)."""
    english = answer.language == "en"
    words = labels(answer)
    messages = [gr.ChatMessage(role="assistant", content=answer_markdown(answer))]
    cited: dict[tuple[str, int], tuple[Citation, list[tuple[int, int]]]] = {}
    for citation in answer.citations:
        key = (citation.document.id, citation.paragraph)
        cited.setdefault(key, (citation, []))[1].append((citation.start, citation.end))
    for citation, spans in cited.values():
        messages.append(gr.ChatMessage(role="assistant", content=source_body(citation, spans, words),
                                       metadata={"title": source_title(citation, words, english), "status": "done"}))
    for citation in answer.related:
        messages.append(gr.ChatMessage(
            role="assistant", content=source_body(citation, [(citation.start, citation.end)], words),
            metadata={"title": source_title(citation, words, english, "related"), "status": "done"}))
    if answer.suggestions:
        messages[-1].options = [{"value": s, "label": words["next"] + s} for s in answer.suggestions]
    return messages


def chinese_date(iso: str | None) -> str:
    """2020-11-24 as 2020年11月24日; anything else as it is."""
    match = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", iso or "")
    if not match:
        return iso or ""
    year, month, day = match.groups()
    return f"{year}年{int(month)}月{int(day)}日"


def byline(document: Document) -> str:
    """Speaker and date: 习近平　2020年11月24日."""
    return "　".join(x for x in (document.speaker or "", chinese_date(document.date)) if x)


def document_html(document: Document, shown: bool = True) -> str:
    """One document with paragraph numbers and parts, each paragraph addressable as ``#qa/<doc>/<n>``."""
    hidden = "" if shown else " hidden"
    parts = [
        f'<article class="qa-speech" id="{html.escape(anchor(document.id), quote=True)}"{hidden}>',
        f"<h2>{html.escape(document.title or document.id)}</h2>",
        f"<p class='meta'>{html.escape(byline(document))}</p>",
    ]
    current = None
    for p in document.paragraphs:
        if p.section != current:
            if p.section:
                parts.append(f"<h3>{html.escape(p.section.label)}　{html.escape(p.section.heading)}</h3>")
            else:
                parts.append("<hr>")
        current = p.section
        paragraph_id = html.escape(anchor(document.id, p.n), quote=True)
        parts.append(f"<p id='{paragraph_id}'><span class='pn'>{p.n}</span>{html.escape(p.text)}</p>")
    parts.append("</article>")
    return "\n".join(parts)


def documents_html(documents: list[Document]) -> str:
    """The 原文 tab: every document, the first one shown, and a selector when there are several."""
    parts = ['<div class="qa-docs" lang="zh-CN">']
    if len(documents) > 1:
        options = "".join(f'<option value="{html.escape(d.id, quote=True)}">'
                          f"{html.escape(d.title or d.id)}{'　' + html.escape(byline(d)) if byline(d) else ''}"
                          "</option>" for d in documents)
        parts.append(f'<label class="qa-doc-pick">文档 <select class="qa-doc-select">{options}</select></label>')
    parts += [document_html(d, shown=i == 0) for i, d in enumerate(documents)]
    parts.append("</div>")
    return "\n".join(parts)


def header_markdown(documents: list[Document]) -> str:
    """The page's heading: the one document's title, speaker and date, or how many documents; how the chat answers."""
    if len(documents) == 1:
        document = documents[0]
        meta = " · ".join(as_text(x) for x in (document.speaker or "", chinese_date(document.date)) if x)
        about = f"**《{as_text(document.title or '讲话')}》** {meta}"
        scope = "讲话原文"
    else:
        about = f"共 {len(documents)} 篇文档：" + "、".join(f"《{as_text(d.title or d.id)}》" for d in documents)
        scope = "文档原文"
    return (f"# 讲话问答\n{about}\n\n用中文或英文提问，回答只引用{scope}，并注明出自哪篇、第几段、第几部分；"
            "点击出处可跳到「原文」中的那一段。")
