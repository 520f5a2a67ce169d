"""The web server: the Gradio chat at ``/``, the JSON API at ``/api``, the embed page at ``/embed``, one FastAPI app."""

from __future__ import annotations

import re

import gradio as gr
import uvicorn
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.middleware.cors import CORSMiddleware

from qa.assistant import Assistant
from qa.config import Settings
from qa.errors import InputError
from ui.api import add_api
from ui.app import build_app, page_options
from ui.embed import add_embed
from ui.gate import Gate

# Pages on this machine may always call the server, as Gradio allows by default; other origins must be named.
LOCAL_ORIGINS = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"

DESCRIPTION = """Ask questions (Chinese or English) about one speech; get its own sentences back, cited by paragraph.

* `GET /api/ask?q=…&quotes=…` or `POST /api/ask` with `{"question": "…", "quotes": 3}` answer with the JSON of
  `qa ask --json`. Errors are `{"error": "…", "code": "…"}` with status 400, 413 (too long) or 422 (malformed).
* The Gradio endpoint `ask` returns the same JSON to `gradio_client`, `@gradio/client` and the two-step
  `POST /gradio_api/call/ask` + `GET /gradio_api/call/ask/{event_id}`.
* `/` is the chat, `/embed` shows how to put it on another page.
"""


_ORIGIN = re.compile(r"https?://[^/\s]+")


def origins(values: list[str] | None) -> list[str]:
    """Check and normalize allowed origins: ``scheme://host[:port]`` (a trailing slash is dropped) or ``*``.

    Raises:
        InputError: A value is not an origin.
    """
    checked = []
    for value in values or []:
        origin = value.strip().rstrip("/")
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise InputError(
                f"{value!r} is not an origin. Give scheme, host and port if not 80/443, without a path: "
                "--allow-origin https://www.example.org (or * for any site).",
                code="bad_origin",
            )
        checked.append(origin)
    return checked


def create_app(assistant: Assistant, allow_origins: list[str] | None = None, gate: Gate | None = None) -> FastAPI:
    """One app: the JSON API and the embed page first, the Gradio chat mounted at ``/`` behind them.

    Args:
        assistant: Answers every edge's questions.
        allow_origins: Origins besides localhost whose pages may call the server (``["https://example.org"]``,
            or ``["*"]`` for any). This CORS policy replaces Gradio's own for every route.
        gate: The concurrency limit shared by all edges (a new one by default).
    """
    gate = gate or Gate(assistant)
    # FastAPIOffline: /docs and /redoc with Swagger UI and ReDoc served from the package, not from a CDN.
    app = FastAPIOffline(title="讲话问答 API", description=DESCRIPTION, version="1",
                         swagger_ui_parameters={"validatorUrl": None})
    add_api(app, gate)
    add_embed(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins(allow_origins),
        allow_origin_regex=LOCAL_ORIGINS,
        allow_methods=["GET", "POST"],
        allow_headers=["*"],
        allow_credentials=True,  # @gradio/client sends cookies (credentials: "include") on some calls
    )
    blocks = build_app(assistant, gate)
    return gr.mount_gradio_app(
        app, blocks, path="/", footer_links=["api"], run_history=False, show_error=False, ssr_mode=False,
        **page_options(),
    )


def serve(settings: Settings | None = None, host: str = "127.0.0.1", port: int = 7860,
          allow_origins: list[str] | None = None) -> None:
    """Load the model and the index, then serve until interrupted.

    Raises:
        QAError: The speech, the model or the index cannot be loaded, or an allowed origin is not an origin.
    """
    origins(allow_origins)  # before the model loads: a typo should not cost ten seconds
    assistant = Assistant(settings)
    gate = Gate(assistant)
    gate.warm_up()
    app = create_app(assistant, allow_origins=allow_origins, gate=gate)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(f"讲话问答 on http://{shown}:{port}/  (JSON API /api/ask, docs /docs, embed page /embed)", flush=True)
    # Past 128 open connections uvicorn answers 503 at once, rather than letting waits grow without bound.
    uvicorn.run(app, host=host, port=port, log_level="warning", limit_concurrency=128)
