"""The web server: the Gradio chat at ``/``, the JSON API at ``/api``, the embed page at ``/embed``, one FastAPI app."""

from __future__ import annotations

import errno
import re
import socket
import sys

import gradio as gr
import uvicorn
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.middleware.cors import CORSMiddleware

from qa.assistant import Assistant
from qa.config import Settings
from qa.errors import InputError, StoreUnavailable
from ui.api import add_api
from ui.app import answering_events, build_app
from ui.calls import PadGradioCalls, endpoint_arity
from ui.edges import GRADIO_HANDLERS, HANDLERS, Edges
from ui.embed import add_embed
from ui.gate import Gate
from ui.limit import RateLimit, rate
from ui.page import PageHead, page_options

# Pages on this machine may always call the server, as Gradio allows by default; other origins must be named.
LOCAL_ORIGINS = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"

DESCRIPTION = """Ask questions (Chinese or English) about the documents; get their own sentences back, cited by
document and paragraph.

* `GET /api/ask?q=…&quotes=…&doc=…` or `POST /api/ask` with `{"question": "…", "quotes": 3, "doc": "…",
  "history": [{"question": "…", "answer": {…}}]}` answer with the JSON of `qa ask --json`. Every error is
  `{"error": "…", "code": "…"}`: 400, 404, 405, 413, 414, 415, 422, 429 (with `Retry-After`) or 5xx.
* `GET /api/docs` lists the documents; `GET /api/document/{id}` gives one whole.
* The Gradio endpoint `ask` returns the same JSON to `gradio_client`, `@gradio/client` and the two-step
  `POST /gradio_api/call/ask` with `{"data": ["question"]}` + `GET /gradio_api/call/ask/{event_id}`.
* `/` is the chat, `/embed` shows how to put it on another page.
"""


_ORIGIN = re.compile(r"https?://[^/\s]+")


class PortInUse(InputError):
    """The port ``qa serve`` was asked to listen on is taken."""


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


def check_port(host: str, port: int) -> None:
    """Make sure ``host:port`` can be listened on, before anything slow starts.

    Raises:
        PortInUse: Something listens there already (code ``port_in_use``).
        InputError: The host is not an address of this machine, or the port needs privileges.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise InputError(f"Cannot listen on host {host!r}: {exc.strerror}. Pass --host 127.0.0.1 or 0.0.0.0.",
                         code="bad_host") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no conflict
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(f"Port {port} is in use (another qa serve?); pass --port with a free port, "
                                f"such as --port {port + 1}.", code="port_in_use") from None
            if exc.errno == errno.EACCES:
                raise InputError(f"Port {port} needs administrator rights; pass --port 1024 or higher.",
                                 code="port_denied") from None
            raise InputError(f"Cannot listen on {host}:{port}: {exc.strerror}. Check --host and --port.",
                             code="bad_host") from None


def create_app(assistant: Assistant, allow_origins: list[str] | None = None, gate: Gate | None = None,
               rate_limit: str | None = None) -> FastAPI:
    """One app: the JSON API and the embed page first, the Gradio chat mounted at ``/`` behind them.

    Args:
        assistant: Answers every edge's questions.
        allow_origins: Origins besides localhost whose pages may call the server (``["https://example.org"]``,
            or ``["*"]`` for any). This CORS policy replaces Gradio's own for every route.
        gate: The concurrency limit shared by all edges (a new one by default).
        rate_limit: Answers per client address (``10/second``, ``60/minute``) over the JSON API and the chat;
            ``assistant.settings.rate_limit`` by default, no limit if that is None too.

    Raises:
        InputError: An allowed origin is not an origin, or the rate limit is not a rate.
    """
    gate = gate or Gate(assistant)
    limit = rate_limit or assistant.settings.rate_limit
    # FastAPIOffline: /docs and /redoc with Swagger UI and ReDoc served from the package, not from a CDN.
    app = FastAPIOffline(title="讲话问答 API", description=DESCRIPTION, version="2",
                         swagger_ui_parameters={"validatorUrl": None}, exception_handlers=HANDLERS)
    add_api(app, gate)
    add_embed(app)
    blocks = build_app(assistant, gate)
    # Innermost first: each add_middleware wraps the ones before it.
    app.add_middleware(PadGradioCalls, endpoints=endpoint_arity(blocks))
    if limit:
        events, endpoints = answering_events(blocks)
        app.add_middleware(RateLimit, limit=rate(limit), events=events, endpoints=endpoints)
    app.add_middleware(PageHead)
    app.add_middleware(Edges, routes_of=app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins(allow_origins),
        allow_origin_regex=LOCAL_ORIGINS,
        allow_methods=["GET", "POST"],
        allow_headers=["*"],
        expose_headers=["Retry-After"],
        allow_credentials=True,  # @gradio/client sends cookies (credentials: "include") on some calls
    )
    return gr.mount_gradio_app(
        app, blocks, path="/", footer_links=["api", "settings"], run_history=False, show_error=False,
        ssr_mode=False, app_kwargs={"exception_handlers": GRADIO_HANDLERS}, **page_options(),
    )


def serve(settings: Settings | None = None, host: str = "127.0.0.1", port: int = 7860,
          allow_origins: list[str] | None = None) -> None:
    """Load the model and the index, then serve until interrupted.

    Raises:
        QAError: The port is taken, an allowed origin or the rate limit is malformed, or the corpus or the model
            cannot be loaded.
    """
    settings = settings or Settings.from_env()
    # Everything a typo can get wrong is checked before the model loads: it should not cost ten seconds.
    origins(allow_origins)
    if settings.rate_limit:
        rate(settings.rate_limit)
    check_port(host, port)
    assistant = Assistant(settings)
    gate = Gate(assistant)
    try:
        gate.warm_up()
    except StoreUnavailable as exc:  # several servers may start before their engine: answer 503 until it is up
        assistant.embedder.dim  # noqa: B018  the model still loads now
        print(f"Warning: {exc} Serving anyway: questions get 503 (store_unavailable) until it answers.",
              file=sys.stderr, flush=True)
    app = create_app(assistant, allow_origins=allow_origins, gate=gate)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    limited = f", at most {settings.rate_limit} answers per client" if settings.rate_limit else ""
    print(f"讲话问答 on http://{shown}:{port}/  (JSON API /api/ask, docs /docs, embed page /embed{limited})",
          flush=True)
    # Past 128 open connections uvicorn answers 503 at once, rather than letting waits grow without bound. On Ctrl-C
    # it waits 3 s at most for open connections: an open chat tab keeps a heartbeat stream that never ends by itself.
    uvicorn.run(app, host=host, port=port, log_level="warning", limit_concurrency=128, timeout_graceful_shutdown=3)
