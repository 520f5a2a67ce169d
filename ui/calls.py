"""Raw calls of Gradio endpoints: optional trailing arguments may be left out, a wrong count gets a message."""

from __future__ import annotations

import inspect
import json
import re

import gradio as gr
from starlette.types import ASGIApp, Receive, Scope, Send

from ui.edges import error, read_body, replay

# The positional routes take {"data": [...]} and do not fill in defaults (Gradio 6.31 wants every value);
# the named one takes {"question": …} and fails with a bare 500 on a missing or unknown name.
_POSITIONAL_CALL = re.compile(r"/gradio_api/(?:call|run|api)/([^/]+)/?")
_NAMED_CALL = re.compile(r"/gradio_api/call/v2/([^/]+)/?")


def endpoint_arity(blocks: gr.Blocks) -> dict[str, tuple[list[str], list]]:
    """For each public named endpoint: its parameter names, and the defaults of the optional (trailing) ones."""
    arity = {}
    for fn in blocks.fns.values():
        if not fn.api_name or fn.api_visibility != "public" or fn.fn is None:
            continue
        parameters = list(inspect.signature(fn.fn).parameters.values())
        required = [p for p in parameters if p.default is inspect.Parameter.empty]
        if len(required) + sum(p.default is not inspect.Parameter.empty for p in parameters) != len(fn.inputs):
            continue  # a function that takes more than the inputs (gr.Request …): leave it to Gradio
        arity[fn.api_name] = ([p.name for p in parameters], [p.default for p in parameters[len(required):]])
    return arity


class PadGradioCalls:
    """Pure ASGI middleware for ``POST /gradio_api/call/<name>`` (also ``run/``, ``api/`` and ``call/v2/``).

    Gradio 6.31 answers ``{"data": ["question"]}`` for ``ask(question, quotes=None, …)`` with a bare
    ``{"error": null}`` on the event stream; here the missing trailing values are filled with their defaults,
    and too few or too many values (or, for ``call/v2``, a missing or unknown name) get a 422 that says what the
    endpoint takes.

    Args:
        app: The app to guard.
        endpoints: ``{api_name: ([parameter names], [defaults of the optional ones])}``, see
            :func:`endpoint_arity`.
    """

    def __init__(self, app: ASGIApp, endpoints: dict[str, tuple[int, list]]) -> None:
        self.app = app
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        match = _NAMED_CALL.fullmatch(path) or _POSITIONAL_CALL.fullmatch(path)
        if not match or scope["method"] != "POST" or match.group(1) not in self.endpoints:
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:
            return
        name = match.group(1)
        names, defaults = self.endpoints[name]
        required = len(names) - len(defaults)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None  # not JSON: Gradio answers it
        problem = None
        if path.startswith("/gradio_api/call/v2/") and isinstance(payload, dict):
            missing = [n for n in names[:required] if n not in payload]
            unknown = [k for k in payload if k not in names]
            if missing or unknown:
                problem = (f"{name} takes {', '.join(names)}; "
                           + (f"{missing[0]!r} is missing." if missing else f"{unknown[0]!r} is not one of them."))
        elif isinstance(payload, dict) and isinstance(payload.get("data"), list):
            data = payload["data"]
            if not required <= len(data) <= len(names):
                most = f"{required}–{len(names)}" if defaults else str(required)
                problem = f"{name} takes {most} values in data ({', '.join(names)}), not {len(data)}."
            elif len(data) < len(names):
                payload["data"] = data + defaults[len(data) - required:]
                body = json.dumps(payload).encode()
                headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
                scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        if problem:
            await error(422, problem, "bad_arguments", detail=problem)(scope, receive, send)
            return
        await self.app(scope, replay(body, receive), send)
