"""The plain JSON API: ``/api/ask`` (GET and POST), ``/api/speech`` and ``/api/health``, with JSON errors."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exception_handlers import http_exception_handler as fastapi_http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.errors import InputError, QAError
from ui.gate import Gate

log = logging.getLogger(__name__)

# A question is at most a few hundred characters; a body this large is a mistake or an attack, refused unread.
MAX_BODY_BYTES = 64 * 1024

QUESTION_EXAMPLES = ["工匠精神是什么？", "What does the speech say about labour education?"]
QUOTES_HELP = "Quote at most this many sentences: 1, 2 or 3 (default: the server's setting, normally 3)."


class ErrorBody(BaseModel):
    """What every 4xx and 5xx response of ``/api`` carries."""

    error: str = Field(description="What went wrong and what to do about it.")
    code: str = Field(
        description="Stable machine-readable cause: empty, too_long, no_words, not_text, bad_quotes, "
        "missing_question, bad_json, invalid_request, body_too_large, method_not_allowed, server_error."
    )


class AskBody(BaseModel):
    """The JSON body of ``POST /api/ask``."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"question": "工匠精神是什么？", "quotes": 2}]}
    )

    question: str = Field(description="The question, Chinese or English, at most 500 characters by default.")
    quotes: int | None = Field(default=None, ge=1, le=3, description=QUOTES_HELP)


class CitationBody(BaseModel):
    """One quoted sentence and the paragraph it comes from; ``quote == text[start:end]``."""

    model_config = ConfigDict(extra="forbid")

    paragraph: int = Field(description="Paragraph number, counted from 1 as a reader would.")
    section: str | None = Field(description="The part of the speech, such as 第四部分, or null.")
    section_heading: str | None = Field(description="That part's heading, or null.")
    quote: str
    start: int
    end: int
    text: str = Field(description="The whole paragraph.")
    score: float


class AnswerBody(BaseModel):
    """The answer JSON, the same as ``qa ask --json`` prints and the Gradio endpoint ``ask`` returns."""

    model_config = ConfigDict(extra="forbid")

    question: str
    answered: bool = Field(description="False when the speech does not address the question (no citations then).")
    answer: str = Field(description="The quotes as Markdown blockquotes with their citations, or the refusal.")
    confidence: float
    citations: list[CitationBody]


class HealthBody(BaseModel):
    """Whether the server can answer right away."""

    status: Literal["ok", "loading"]
    model: str
    model_loaded: bool
    index_loaded: bool


ERROR_RESPONSES = {
    400: {"model": ErrorBody, "description": "The question cannot be used (empty, no words, …)."},
    413: {"model": ErrorBody, "description": "The question (or the request body) is too long."},
    422: {"model": ErrorBody, "description": "The request is malformed: missing question, bad JSON, quotes not 1–3."},
}


def error(status: int, message: str, code: str) -> JSONResponse:
    """An error response in the API's one shape."""
    return JSONResponse({"error": message, "code": code}, status_code=status)


def input_error(exc: InputError) -> JSONResponse:
    """A library input error as 413 (too long) or 400 (anything else)."""
    return error(413 if exc.code == "too_long" else 400, str(exc), exc.code)


def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's request validation errors in the API's shape, with a message that says what to send."""
    problems = exc.errors()
    first = problems[0] if problems else {}
    kind, field = first.get("type", ""), str((first.get("loc") or ("",))[-1])
    if kind == "json_invalid":
        return error(422, 'The body is not valid JSON. Send {"question": "…", "quotes": 3}.', "bad_json")
    if field == "quotes":
        return error(422, "quotes must be 1, 2 or 3.", "bad_quotes")
    if kind == "missing" and field in ("q", "question", "body"):
        hint = "?q=…" if request.method == "GET" else 'a JSON body {"question": "…"}'
        return error(422, f"No question given. Send {hint}.", "missing_question")
    if kind == "string_type" and field == "question":
        return error(422, "The question must be text (a JSON string).", "not_text")
    if kind in ("model_attributes_type", "dict_type") or field == "body":
        return error(422, 'The body must be a JSON object: {"question": "…", "quotes": 3}.', "bad_json")
    where = ".".join(str(x) for x in first.get("loc", ()))
    return error(422, f"{where}: {first.get('msg', 'invalid')}. See /docs for the request format.", "invalid_request")


class BodyLimit:
    """Refuse ``/api`` requests whose body is over ``limit`` bytes, counting what arrives (chunked bodies too).

    A body within the limit is read here and handed on whole. A larger one is read on and thrown away, up to
    ``DRAIN_BYTES``, so that a client still sending gets to read the 413 instead of a broken pipe.
    """

    DRAIN_BYTES = 16 * 1024 * 1024

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def refuse(self, scope: Scope, receive: Receive, send: Send, more: bool) -> None:
        drained = 0
        while more and drained < self.DRAIN_BYTES:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            drained += len(message.get("body", b""))
            more = message.get("more_body", False)
        message = f"The request body is over {self.limit} bytes; send only the question."
        await error(413, message, "body_too_large")(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self.refuse(scope, receive, send, more=True)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await self.refuse(scope, receive, send, more=more)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """HTTP errors of ``/api`` routes (an unreadable body, a wrong method) in the API's shape; others as FastAPI's."""
    if not request.url.path.startswith("/api/"):
        return await fastapi_http_exception_handler(request, exc)
    if exc.status_code == 400:  # FastAPI's "There was an error parsing the body": not UTF-8, not JSON
        return error(400, 'The body cannot be read as UTF-8 JSON. Send {"question": "…", "quotes": 3}.', "bad_json")
    codes = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}
    return error(exc.status_code, f"{exc.detail}. See /docs for the API.", codes.get(exc.status_code, "http_error"))


def router(gate: Gate) -> APIRouter:
    """The ``/api`` routes over one gate (and so one assistant)."""
    assistant = gate.assistant
    api = APIRouter(prefix="/api", tags=["api"])

    async def answer(question: str, quotes: int | None) -> JSONResponse:
        try:
            result = await run_in_threadpool(gate.ask, question, quotes)  # CPU-bound: never on the event loop
        except InputError as exc:
            return input_error(exc)
        except QAError as exc:
            return error(503, f"The assistant cannot answer right now: {exc}", "server_error")
        except Exception:  # the client gets the API's error shape, the log gets the details
            log.exception("/api/ask failed")
            return error(500, "The assistant failed on this question; try again or report it.", "server_error")
        return JSONResponse(result.to_dict())

    @api.get("/ask", response_model=None, responses={200: {"model": AnswerBody}, **ERROR_RESPONSES},
             summary="Answer a question (query string)")
    async def ask_get(
        q: Annotated[str, Query(description="The question, Chinese or English.", examples=QUESTION_EXAMPLES)],
        quotes: Annotated[int | None, Query(ge=1, le=3, description=QUOTES_HELP)] = None,
    ) -> JSONResponse:
        """Quote the speech's own sentences that answer `q`, each cited by paragraph."""
        return await answer(q, quotes)

    @api.post("/ask", response_model=None, responses={200: {"model": AnswerBody}, **ERROR_RESPONSES},
              summary="Answer a question (JSON body)")
    async def ask_post(body: AskBody) -> JSONResponse:
        """The same as `GET /api/ask`, with the question in a JSON body."""
        return await answer(body.question, body.quotes)

    @api.get("/speech", summary="The whole speech")
    async def speech() -> dict:
        """Title, date, speaker and every paragraph with its number and part."""
        return next(iter(assistant.index.documents.values())).to_dict()

    @api.get("/health", response_model=HealthBody, summary="Are the model and index loaded?")
    async def health() -> HealthBody:
        """`ok` once the model and the index are loaded and questions are answered at full speed."""
        index = assistant.loaded
        model = gate.warm
        return HealthBody(status="ok" if index and model else "loading", model=assistant.settings.model,
                          model_loaded=model, index_loaded=index)

    return api


def add_api(app: FastAPI, gate: Gate) -> None:
    """Add the ``/api`` routes, their error format and their body limit to ``app``."""
    app.include_router(router(gate))
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_middleware(BodyLimit)
