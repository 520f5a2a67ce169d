"""The embed page (``/embed``), a stable URL for Gradio's ``<gradio-app>`` module, and the widget's static files."""

from __future__ import annotations

import html
import re
from pathlib import Path
from string import Template

import gradio
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

HERE = Path(__file__).parent
PAGE = HERE / "embed.html"
STATIC = HERE / "static"
# Gradio's own loader for the web component: one line, import("./assets/index-<hash>.js").
GRADIO_LOADER = Path(gradio.__file__).parent / "templates" / "frontend" / "gradio.js"

_MODULE = re.compile(r"""["']\./assets/(index-[\w-]+\.js)["']""")


class EmbedError(RuntimeError):
    """The installed Gradio does not ship the ``<gradio-app>`` module where this page expects it."""


def web_component_module(loader: Path = GRADIO_LOADER) -> str:
    """The file name of the module that defines ``<gradio-app>`` (``index-<hash>.js``; the hash changes per version).

    Raises:
        EmbedError: The loader or the module it names is missing.
    """
    fix = "Reinstall Gradio: .venv/bin/pip install --force-reinstall 'gradio>=6.31,<7'."
    try:
        match = _MODULE.search(loader.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EmbedError(f"Cannot read Gradio's web component loader {loader}: {exc}. {fix}") from exc
    if not match:
        raise EmbedError(f"{loader} does not name an assets/index-<hash>.js module; this Gradio is unexpected. {fix}")
    if not (loader.parent / "assets" / match.group(1)).is_file():
        raise EmbedError(f"{loader} names assets/{match.group(1)}, which is not installed. {fix}")
    return match.group(1)


def embed_page(origin: str) -> str:
    """The demo host page with every snippet pointing at ``origin`` (``http://host:port``)."""
    return Template(PAGE.read_text(encoding="utf-8")).safe_substitute(origin=html.escape(origin, quote=True))


def router(module: str) -> APIRouter:
    """``/embed`` (the demo page) and ``/embed/gradio.js`` (a module that loads ``/assets/<module>``)."""
    embed = APIRouter(prefix="/embed", include_in_schema=False)

    @embed.get("/gradio.js")
    async def gradio_js() -> Response:
        # A one-line loader, like Gradio's own gradio.js. Not a redirect: the module's chunks import it back by its
        # real URL, and a module first loaded under another URL would run twice (two Svelte runtimes, a dead app).
        # Relative, so it also works under a proxy's path prefix; no-cache, as the target changes with Gradio.
        return Response(f'import("../assets/{module}");\n', media_type="text/javascript",
                         headers={"Cache-Control": "no-cache"})

    @embed.get("", response_class=HTMLResponse)
    @embed.get("/", response_class=HTMLResponse)
    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(embed_page(str(request.base_url).rstrip("/")))

    return embed


def add_embed(app: FastAPI) -> None:
    """Add ``/embed``, ``/embed/gradio.js`` and ``/embed/static/…`` (the widget and the vendored @gradio/client)."""
    app.include_router(router(web_component_module()))
    app.mount("/embed/static", StaticFiles(directory=STATIC), name="embed-static")
