"""The plain JSON API: ``/api/ask`` (GET and POST), ``/api/docs``, ``/api/document/{id}``, ``/api/speech`` and
``/api/health``, with JSON errors and a body limit."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from qa.errors import InputError, QAError
from ui.edges import error, replay
from ui.gate import Gate

log = logging.getLogger(__name__)

# A question and a conversation's last answers fit in a few dozen kB; a larger body is a mistake or an attack.
MAX_BODY_BYTES = 256 * 1024

QUESTION_EXAMPLES = ["工匠精神是什么？", "What does the speech say about labour education?"]
QUOTES_HELP = "Quote at most this many sentences: 1, 2 or 3 (default: the server's setting, normally 3)."
DOC_HELP = "Answer from this document only (its id, see /api/docs); default: all documents."
# Input errors that mean a malformed request rather than an unusable question.
MALFORMED = {"bad_quotes", "bad_history", "bad_doc"}


class ErrorBody(BaseModel):
    """What every 4xx and 5xx response carries."""

    error: str = Field(description="What went wrong and what to do about it.")
    code: str = Field(
        description="Stable machine-readable cause: empty, too_long, no_words, not_text, bad_quotes, bad_history, "
        "bad_doc, unknown_doc, missing_question, bad_json, unsupported_media_type, invalid_request, "
        "body_too_large, uri_too_long, not_found, method_not_allowed, rate_limited, store_unavailable (the vector "
        "store's engine does not answer: try again shortly), server_error."
    )


class TurnBody(BaseModel):
    """One earlier exchange: the question and the answer JSON given to it."""

    question: StrictStr
    answer: dict[str, Any] | None = Field(default=None, description="The answer JSON returned then.")


class AskBody(BaseModel):
    """The JSON body of ``POST /api/ask``."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"question": "工匠精神是什么？", "quotes": 2}]}
    )

    question: str = Field(description="The question, Chinese or English, at most 500 characters by default.")
    quotes: Annotated[int | None, Field(strict=True, ge=1, le=3, description=QUOTES_HELP)] = None
    history: list[TurnBody] | None = Field(
        default=None, description="The conversation so far, oldest first, so a follow-up is read in context.")
    doc: StrictStr | None = Field(default=None, description=DOC_HELP)


class DocumentRef(BaseModel):
    """The document a citation comes from."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str | None
    date: str | None
    speaker: str | None


class CitationBody(BaseModel):
    """One quoted span and the paragraph it comes from; ``quote == text[start:end]``."""

    model_config = ConfigDict(extra="forbid")

    document: DocumentRef
    paragraph: int = Field(description="Paragraph number in its document, counted from 1 as a reader would.")
    section: str | None = Field(description="The part of the document, such as 第四部分, or null.")
    section_number: int | None
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
    answered: bool = Field(description="False when the documents do not give the answer (no citations then).")
    answer: str = Field(description="The quotes as Markdown blockquotes with their citations, or why there are none.")
    confidence: float
    citations: list[CitationBody]
    related: list[CitationBody] = Field(description="When not answered: paragraphs on the topic that do not give "
                                                    "the asked fact.")
    interpreted_as: str | None = Field(description="How a follow-up was read in the context of `history`.")
    suggestions: list[str] = Field(description="Up to three short questions to ask next.")
    language: Literal["zh", "en"]


class HealthBody(BaseModel):
    """Whether the server can answer right away."""

    status: Literal["ok", "loading"]
    model: str
    model_loaded: bool
    index_loaded: bool


ERROR_RESPONSES = {
    400: {"model": ErrorBody, "description": "The question cannot be used (empty, no words, unknown document …)."},
    413: {"model": ErrorBody, "description": "The question (or the request body) is too long."},
    415: {"model": ErrorBody, "description": "The body is not sent as JSON (Content-Type: application/json)."},
    422: {"model": ErrorBody, "description": "The request is malformed: missing question, bad JSON, quotes not "
                                             "1–3, history not a list of turns."},
    429: {"model": ErrorBody, "description": "Too many questions from this address (with --rate-limit)."},
}


def input_error(exc: InputError) -> JSONResponse:
    """A library input error: 413 too long, 422 a malformed value, 400 anything else."""
    status = 413 if exc.code == "too_long" else 422 if exc.code in MALFORMED else 400
    return error(status, str(exc), exc.code)


def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's request validation errors in the API's shape, with a message that says what to send."""
    first = (exc.errors() or [{}])[0]
    kind, loc = first.get("type", ""), [str(x) for x in first.get("loc", ())]
    field = loc[1] if len(loc) > 1 else loc[0] if loc else ""
    if kind == "json_invalid":
        return error(422, 'The body is not valid JSON. Send {"question": "…", "quotes": 3}.', "bad_json")
    if field == "quotes":
        return error(422, "quotes must be the number 1, 2 or 3.", "bad_quotes")
    if field == "history":
        return error(422, 'history must be a list of {"question": "…", "answer": {…}} objects, oldest first.',
                     "bad_history")
    if field == "doc":
        return error(422, "doc must be a document id (a string); see /api/docs.", "bad_doc")
    if kind == "missing" and field in ("q", "question", "body"):
        hint = "?q=…" if request.method == "GET" else 'a JSON body {"question": "…"}'
        return error(422, f"No question given. Send {hint}.", "missing_question")
    if kind == "string_type" and field == "question":
        return error(422, "The question must be text (a JSON string).", "not_text")
    if kind in ("model_attributes_type", "dict_type") or field == "body":
        return error(422, 'The body must be a JSON object: {"question": "…", "quotes": 3}.', "bad_json")
    if kind == "extra_forbidden":
        return error(422, f"Unknown field {field!r}: send question, quotes, history and doc only.", "invalid_request")
    return error(422, f"{'.'.join(loc)}: {first.get('msg', 'invalid')}. See /docs for the request format.",
                 "invalid_request")


class BodyLimit:
    """``/api`` requests: a body over ``limit`` bytes gets 413 (chunked bodies are counted as they arrive), and a
    body not sent as JSON gets 415.

    A larger body is read on and thrown away, up to ``DRAIN_BYTES``, so a client still sending reads the 413
    instead of a broken pipe.
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
        message = f"The request body is over {self.limit} bytes; send only the question and a short history."
        await error(413, message, "body_too_large")(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
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
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if body and not (kind == b"application/json" or kind.endswith(b"+json")):
            shown = kind.decode("latin-1") or "none"
            await error(415, f"The body must be JSON, sent with Content-Type: application/json (not {shown}).",
                        "unsupported_media_type")(scope, receive, send)
            return
        await self.app(scope, replay(body, receive), send)


def router(gate: Gate) -> APIRouter:
    """The ``/api`` routes over one gate (and so one assistant)."""
    assistant = gate.assistant
    api = APIRouter(prefix="/api", tags=["api"])
    answers = {200: {"model": AnswerBody}, **ERROR_RESPONSES}

    async def answer(question: str, quotes: int | None, history: list | None, doc: str | None) -> JSONResponse:
        try:  # CPU-bound: never on the event loop
            result = await run_in_threadpool(gate.ask, question, quotes, history, doc)
        except InputError as exc:
            return input_error(exc)
        except QAError as exc:
            return error(503, f"The assistant cannot answer right now: {exc}", getattr(exc, "code", "server_error"))
        except Exception:  # the client gets the API's error shape, the log gets the details
            log.exception("/api/ask failed")
            return error(500, "The assistant failed on this question; try again or report it.", "server_error")
        return JSONResponse(result.to_dict())

    @api.get("/ask", response_model=None, responses=answers, summary="Answer a question (query string)")
    async def ask_get(
        q: Annotated[str, Query(description="The question, Chinese or English.", examples=QUESTION_EXAMPLES)],
        quotes: Annotated[int | None, Query(ge=1, le=3, description=QUOTES_HELP)] = None,
        doc: Annotated[str | None, Query(description=DOC_HELP)] = None,
    ) -> JSONResponse:
        """Quote the documents' own sentences that answer `q`, each cited by document and paragraph."""
        return await answer(q, quotes, None, doc)

    @api.post("/ask", response_model=None, responses=answers, summary="Answer a question (JSON body)")
    async def ask_post(body: AskBody) -> JSONResponse:
        """The same as `GET /api/ask`, with the question in a JSON body, and `history` for follow-ups."""
        history = None if body.history is None else [t.model_dump() for t in body.history]
        return await answer(body.question, body.quotes, history, body.doc)

    async def loaded() -> Any:
        """The corpus as loaded (loading it off the event loop), or the 503 to send when it cannot be."""
        try:
            return await run_in_threadpool(lambda: assistant.index)
        except QAError as exc:
            return error(503, f"The documents cannot be read right now: {exc}", getattr(exc, "code", "server_error"))

    @api.get("/docs", summary="The documents of the corpus")
    async def docs():
        """Each document's id, title, date, speaker and number of paragraphs."""
        index = await loaded()
        return index if isinstance(index, JSONResponse) else [info.to_dict() for info in index.infos]

    @api.get("/document/{doc_id}", responses={404: {"model": ErrorBody}}, summary="One whole document")
    async def document(doc_id: Annotated[str, Path(description="The document's id, see /api/docs.")]):
        """Title, date, speaker and every paragraph with its number and part."""
        index = await loaded()
        if isinstance(index, JSONResponse):
            return index
        found = index.documents.get(doc_id)
        if found is None:
            return error(404, f"No document {doc_id!r}; GET /api/docs lists them.", "unknown_doc")
        return found.to_dict()

    @api.get("/speech", summary="The first document (the speech)")
    async def speech():
        """The corpus's first document, as `/api/document/{id}` gives it."""
        index = await loaded()
        return index if isinstance(index, JSONResponse) else next(iter(index.documents.values())).to_dict()

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
    app.add_middleware(BodyLimit)
