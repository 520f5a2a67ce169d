"""``qa ask``: one question, or every line of standard input (plain questions, or JSON with history)."""

from __future__ import annotations

import json
import sys

import click

from qa.commands.options import CORPUS, JSON, MODEL, STORE, assistant, dump, settings
from qa.errors import InputError, QAError


@click.command()
@click.argument("question", nargs=-1, required=True)
@click.option("--quotes", type=click.IntRange(1, 3), envvar="QA_QUOTES", help="Quote at most this many sentences.")
@click.option("--doc", "doc_id", help="Answer from this document only (its id, see `qa docs`).")
@CORPUS
@STORE
@MODEL
@JSON
def ask(question, quotes, doc_id, corpus, store, model, as_json) -> None:
    """Answer QUESTION; with "-", answer each line of standard input (model loaded once).

    A line of standard input is a question, or a JSON object {"question": …, "history": [{"question": …,
    "answer": {…}}, …], "doc": …} to ask a follow-up in the context of earlier turns.
    """
    try:
        helper = assistant(settings(corpus=corpus, store=store, model=model, quotes=quotes))
    except click.ClickException as exc:
        _fail(exc, as_json)
        sys.exit(1)
    if question == ("-",):
        failed = 0
        for raw in sys.stdin.buffer:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if line.strip():
                failed += not _answer_line(helper, line, doc_id, as_json)
        sys.exit(1 if failed else 0)
    if not _answer_one(helper, " ".join(question), None, doc_id, as_json, one=True):
        sys.exit(1)


def _fail(exc: Exception, as_json: bool, question: object = None, one: bool = True) -> None:
    """Report one failed question: one JSON object with --json (``{"error", "code"}``, and in the stdin mode the
    question, shortened if long), else one line; a single question's failure ends the command."""
    message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
    code = getattr(exc, "code", None) if isinstance(getattr(exc, "code", None), str) else "error"
    if as_json:
        record = {"error": message, "code": code}
        if not one:
            shown = question if isinstance(question, str) else None
            record = {"question": shown if shown is None or len(shown) <= 200 else shown[:50] + "…", **record}
        click.echo(dump(record))
    elif one:
        click.echo(f"Error: {message}", err=True)
    else:
        click.echo(f"! {message}")


def _answer_line(assistant, line: str, doc_id: str | None, as_json: bool) -> bool:
    question, history, doc = line, None, doc_id
    if line.lstrip().startswith("{"):
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError
        except ValueError:
            _fail(InputError("The line starts like JSON but is not a JSON object.", code="bad_json"), as_json, line,
                  one=False)
            return False
        question, history, doc = data.get("question"), data.get("history"), data.get("doc", doc_id)
    return _answer_one(assistant, question, history, doc, as_json)


def _answer_one(assistant, question, history, doc, as_json: bool, one: bool = False) -> bool:
    from qa.compose import where

    try:
        answer = assistant.ask(question, history=history, doc=doc)
    except QAError as exc:
        _fail(exc, as_json, question, one=one)
        return False
    if as_json:
        click.echo(dump(answer.to_dict()))
        return True
    english = answer.language == "en"
    if answer.interpreted_as:
        click.echo(("Read in context as: " if english else "按上文理解为：") + answer.interpreted_as)
    if not answer.answered:
        click.echo(answer.answer.split("\n\n")[0])
    for c in answer.citations:
        click.echo(f"「{c.quote}」\n    —— {where(c, english)}")
    for suggestion in answer.suggestions:
        click.echo(f"  → {suggestion}")
    return True
