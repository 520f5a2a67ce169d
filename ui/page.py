"""The chat page's own head and words: ``<html lang>``, link previews, Gradio's strings in Chinese, CSS and script."""

from __future__ import annotations

import html
import re
from pathlib import Path

import gradio as gr
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"

TITLE = "讲话问答"
DESCRIPTION = "向讲话提问，中英文均可：回答只引用原文的句子，并注明出自哪篇、第几段、第几部分。"
LANG = "zh-CN"

# Gradio's strings that its zh-CN (and zh-TW) translation lacks; its keys, overridden as flat dotted keys.
TRANSLATIONS = gr.I18n(**{
    "zh-CN": {"chatbot.copy_message": "复制", "chatbot.copied_message": "已复制"},
    "zh-TW": {"chatbot.copy_message": "複製", "chatbot.copied_message": "已複製"},
})

# Gradio picks its UI language from navigator.language and knows zh-CN and zh-TW only: a browser that says zh,
# zh-Hans or zh-SG would get English. Run before Gradio's module, this names the nearest locale it ships;
# English and every other browser language are left as they are.
LOCALE_SCRIPT = """<script>(() => {
  const lang = navigator.language || "";
  const simplified = /^zh(-(hans|cn|sg|my)\\b.*)?$/i.test(lang), traditional = /^zh-(hant|tw|hk|mo)\\b/i.test(lang);
  const locale = simplified ? "zh-CN" : traditional ? "zh-TW" : null;
  if (!locale || locale === lang) return;
  const nav = Navigator.prototype;
  Object.defineProperty(nav, "language", { get: () => locale, configurable: true });
  Object.defineProperty(nav, "languages", { get: () => [locale], configurable: true });
})();</script>"""

# Every og:* and twitter:* tag of Gradio's template (some span lines), its <html lang>, and where ours go.
_PREVIEW_META = re.compile(r'\s*<meta\s+(?:property="og:[^"]*"|name="twitter:[^"]*")[^>]*/?>', re.DOTALL)
_HTML_LANG = re.compile(r'(<html\b[^>]*?\blang=")[^"]*(")', re.DOTALL)
_CHARSET = re.compile(r"(<meta charset=\"utf-8\"\s*/?>)", re.IGNORECASE)


def preview_meta(title: str = TITLE, description: str = DESCRIPTION) -> str:
    """The page's ``<title>`` and link-preview tags (no og:url or og:image: the public address is not known)."""
    e = lambda s: html.escape(s, quote=True)
    return "\n\t\t".join([
        f"<title>{html.escape(title)}</title>",
        f'<meta name="description" content="{e(description)}" />',
        '<meta property="og:type" content="website" />',
        f'<meta property="og:title" content="{e(title)}" />',
        f'<meta property="og:description" content="{e(description)}" />',
        f'<meta property="og:locale" content="{LANG.replace("-", "_")}" />',
        '<meta name="twitter:card" content="summary" />',
        f'<meta name="twitter:title" content="{e(title)}" />',
        f'<meta name="twitter:description" content="{e(description)}" />',
    ])


def rewrite_index(page: str, lang: str = LANG, head: str | None = None) -> str:
    """Gradio's index page with our ``lang``, our preview tags instead of its own, and the locale script."""
    head = head if head is not None else preview_meta() + "\n\t\t" + LOCALE_SCRIPT
    page = _HTML_LANG.sub(lambda m: m.group(1) + lang + m.group(2), page, count=1)
    page = _PREVIEW_META.sub("", page)
    return _CHARSET.sub(lambda m: m.group(1) + "\n\t\t" + head, page, count=1)


class PageHead:
    """Pure ASGI middleware: rewrites the HTML that Gradio serves at ``/`` with :func:`rewrite_index`.

    Gradio has no option for ``<html lang>`` or the preview tags (its template hard-codes ``lang="en"`` and
    og:title "Gradio"), and ``head=`` is inserted by script after load, which link unfurlers never run.
    """

    def __init__(self, app: ASGIApp, paths: tuple[str, ...] = ("/",)) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        # Uncompressed, so that no compressing middleware inside hands over encoded bytes.
        scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]}
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            headers = MutableHeaders(raw=list(start["headers"]))
            body = b"".join(chunks)
            if start["status"] == 200 and headers.get("content-type", "").startswith("text/html") \
                    and "content-encoding" not in headers:
                body = rewrite_index(body.decode("utf-8")).encode("utf-8")
                headers["content-length"] = str(len(body))
            await send({**start, "headers": headers.raw})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, capture)


def page_options() -> dict:
    """CSS, script and translations for ``gr.mount_gradio_app`` (or ``Blocks.launch``)."""
    return {
        "css": (STATIC / "qa-page.css").read_text(encoding="utf-8"),
        "js": (STATIC / "qa-page.js").read_text(encoding="utf-8"),
        "i18n": TRANSLATIONS,
    }
