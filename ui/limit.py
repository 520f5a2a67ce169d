"""Answers per client address for public deployments: ``/api/ask`` and the Gradio events that answer, with 429."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Collection

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from qa.errors import InputError
from ui.edges import error, read_body, replay

# Gradio routes that run a named endpoint: /gradio_api/call/ask, /gradio_api/call/v2/ask, /gradio_api/run/ask …
_GRADIO_CALL = re.compile(r"/gradio_api/(?:call/v2|call|run|api)/([^/]+)/?")
QUEUE_JOIN = "/gradio_api/queue/join"


def rate(value: str) -> RateLimitItem:
    """A rate such as ``10/second`` or ``60/minute`` (also ``100/hour``, ``5 per 10 seconds``).

    Raises:
        InputError: Not a rate (code ``bad_rate_limit``).
    """
    try:
        return parse(value)
    except ValueError:
        raise InputError(f"{value!r} is not a rate limit. Give answers per client address, such as "
                         "--rate-limit 10/second or --rate-limit 60/minute.", code="bad_rate_limit") from None


class RateLimit:
    """Pure ASGI middleware: at most ``limit`` answers per client address in a moving window.

    Counted: ``/api/ask`` (GET and POST), Gradio's queue joins for the events in ``events`` (the chat) and calls of
    the endpoints in ``endpoints`` (``ask``). Anything else passes uncounted. Over the limit a request gets 429 with
    ``Retry-After`` and the server's JSON error; other addresses are served as usual. Behind a reverse proxy on this
    machine, uvicorn takes the address from ``X-Forwarded-For`` (it trusts that header from 127.0.0.1 only).

    Args:
        app: The app to guard.
        limit: The rate, from :func:`rate`.
        events: Gradio ``fn_index`` values of the events that answer.
        endpoints: Gradio ``api_name`` values of the endpoints that answer.
    """

    def __init__(self, app: ASGIApp, limit: RateLimitItem, events: Collection[int] = (),
                 endpoints: Collection[str] = ()) -> None:
        self.app = app
        self.limit = limit
        self.events = set(events)
        self.endpoints = set(endpoints)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        counted = False
        if path.rstrip("/") == "/api/ask" and method in ("GET", "POST"):
            counted = True
        elif method == "POST" and (match := _GRADIO_CALL.fullmatch(path)):
            counted = match.group(1) in self.endpoints
        elif method == "POST" and path.rstrip("/") == QUEUE_JOIN:
            body = await read_body(receive)
            if body is None:
                return
            receive = replay(body, receive)
            counted = self._answering(body)
        if counted and not await self.limiter.hit(self.limit, self._client(scope)):
            await self._refuse(scope, receive, send, chat=path.startswith(QUEUE_JOIN))
            return
        await self.app(scope, receive, send)

    def _answering(self, body: bytes) -> bool:
        try:
            fn_index = json.loads(body).get("fn_index")
        except (ValueError, AttributeError):
            return False
        return fn_index in self.events

    @staticmethod
    def _client(scope: Scope) -> str:
        client = scope.get("client")
        return client[0] if client else "unknown"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, chat: bool) -> None:
        stats = await self.limiter.get_window_stats(self.limit, self._client(scope))
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        if chat:  # shown to a reader in the chat's toast
            message = f"提问太频繁了，请 {wait} 秒后再试。"
        else:
            message = f"Too many questions from this address (the limit is {self.limit}); try again in {wait} s."
        await error(429, message, "rate_limited", headers={"Retry-After": str(wait)})(scope, receive, send)
