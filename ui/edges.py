"""The server's HTTP edges: one JSON error shape for every error, HEAD as GET, wrong methods, long URLs."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from gradio.route_utils import FnIndexInferError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No route takes more than a question in its query string (500 characters, 4.5 kB percent-encoded); a longer one is
# refused here with 414. Past about 64 kB uvicorn itself answers with a plain-text 400 before any app code runs.
MAX_QUERY_BYTES = 16 * 1024

# Gradio's own clients read an error's message from "detail"; on its routes the body keeps that field as well.
GRADIO_PREFIX = "/gradio_api/"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 413: "body_too_large", 414: "uri_too_long", 415: "unsupported_media_type",
              422: "invalid_request", 429: "rate_limited", 500: "server_error", 503: "server_error"}


def error(status: int, message: str, code: str, headers: dict[str, str] | None = None,
          detail: object = None) -> JSONResponse:
    """An error response in the server's one shape, ``{"error": …, "code": …}`` (plus Gradio's ``detail``)."""
    body = {"error": message, "code": code}
    if detail is not None:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, headers=headers)


def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Any HTTP error (no such path, a wrong method, an unreadable body) in the server's shape."""
    if exc.status_code == 400 and request.url.path.startswith("/api/"):  # FastAPI cannot parse the body
        return error(400, 'The body cannot be read as UTF-8 JSON. Send {"question": "…", "quotes": 3}.', "bad_json")
    message = str(exc.detail) if exc.detail else "HTTP error"
    hint = {404: f"There is nothing at {request.url.path}. The API is described at /docs.",
            405: f"{request.method} is not allowed here. See /docs for the API."}.get(exc.status_code)
    gradio = request.url.path.startswith(GRADIO_PREFIX)
    return error(exc.status_code, hint or message, HTTP_CODES.get(exc.status_code, "http_error"),
                 headers=getattr(exc, "headers", None), detail=message if gradio else None)


def gradio_validation_error(request: Request, exc: RequestValidationError) -> Response:
    """A malformed request to one of Gradio's routes, in the server's shape (Gradio's clients read ``detail``)."""
    first = (exc.errors() or [{}])[0]
    where = ".".join(str(x) for x in first.get("loc", ()))
    message = f"{where}: {first.get('msg', 'invalid')}." if where else "The request is malformed."
    return error(422, message, "invalid_request", detail=jsonable(exc.errors()))


def jsonable(problems: list) -> list:
    """Validation problems without the raw input values (which may not be JSON)."""
    return [{k: v for k, v in p.items() if k in ("type", "loc", "msg")} for p in problems]


def unknown_endpoint(request: Request, exc: FnIndexInferError) -> Response:
    """A Gradio call of an endpoint that does not exist (Gradio itself fails with a 500)."""
    message = f"{exc}. GET /gradio_api/info lists the endpoints."
    return error(404, message, "not_found", detail=message)


def server_error(request: Request, exc: Exception) -> Response:
    """An unexpected failure: the client gets the shape and no traceback (Starlette re-raises it to the log)."""
    return error(500, "The server failed on this request; try again or report it.", "server_error")


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None if the client went away while sending it."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands on ``body`` (already read) first, then whatever the client sends next."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


# For FastAPI(exception_handlers=…): the parent app, and Gradio's own app through mount_gradio_app(app_kwargs=…).
HANDLERS = {StarletteHTTPException: http_error, Exception: server_error}
GRADIO_HANDLERS = {**HANDLERS, RequestValidationError: gradio_validation_error, FnIndexInferError: unknown_endpoint}


class Edges:
    """Pure ASGI middleware in front of every route.

    * a query string over ``max_query`` bytes: 414 in the server's shape;
    * ``HEAD``: answered as ``GET`` (the server sends the headers only);
    * a method that none of the app's own routes at this path takes: 405 with ``Allow`` (the Gradio app mounted
      at ``/`` would otherwise answer 404 for, say, ``PUT /api/ask``).

    Args:
        app: The app to guard.
        routes_of: The FastAPI app whose own routes (not its mounts) decide which methods a path allows.
        max_query: Longest query string accepted, in bytes.
    """

    def __init__(self, app: ASGIApp, routes_of: FastAPI, max_query: int = MAX_QUERY_BYTES) -> None:
        self.app = app
        self.routes_of = routes_of
        self.max_query = max_query

    def allowed(self, scope: Scope) -> set[str] | None:
        """The methods that the app's own routes take at this path, if they take it but not with this method."""
        routes = [r for r in self.routes_of.routes if not isinstance(r, Mount)]
        matches = [route.matches(dict(scope))[0] for route in routes]
        if Match.FULL in matches or Match.PARTIAL not in matches:
            return None
        return {m for m in METHODS if any(r.matches({**scope, "method": m})[0] is Match.FULL for r in routes)} or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > self.max_query:
            message = f"The query string is over {self.max_query} bytes; send a long question with POST /api/ask."
            await error(414, message, "uri_too_long")(scope, receive, send)
            return
        if scope["method"] == "HEAD":  # uvicorn drops the body, as its own scope still says HEAD
            scope = {**scope, "method": "GET"}
        methods = self.allowed(scope)
        if methods:
            allow = ", ".join(sorted(methods | ({"HEAD"} if "GET" in methods else set())))
            message = f"{scope['method']} is not allowed on {scope['path']}; use {allow}. See /docs for the API."
            await error(405, message, "method_not_allowed", headers={"Allow": allow})(scope, receive, send)
            return
        await self.app(scope, receive, send)
