"""What the ``qa`` commands share: their common options, settings, the assistant, and JSON output."""

from __future__ import annotations

import json
from functools import wraps

import click

from qa.config import Settings
from qa.errors import QAError

CORPUS = click.option("--corpus", type=click.Path(file_okay=False), envvar="QA_CORPUS",
                      help="Corpus folder (default: index/corpus, which starts with the bundled speech).")
STORE = click.option("--store", envvar="QA_STORE",
                     help="Where the vectors are: milvus://HOST:PORT or milvus-lite://PATH (default: in the corpus "
                          "folder).")
MODEL = click.option("--model", envvar="QA_MODEL",
                     help="sentence-transformers model name or folder (default: the bundled multilingual-e5-small).")
JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def settings(**flags) -> Settings:
    try:
        return Settings.from_env(**flags)
    except QAError as exc:
        raise click.ClickException(str(exc)) from exc


def qa_errors(command):
    """Show library errors as one line and a non-zero exit, never a traceback."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except QAError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


def dump(data) -> str:
    return json.dumps(data, ensure_ascii=False)


def progress(message: str) -> None:
    click.echo(message, err=True)


def assistant(settings: Settings, int8: bool = False):
    from qa.assistant import Assistant

    embedder = None
    if int8:
        from qa.models import DEFAULT_MODEL
        from qa.models.embedders import DefaultEmbedder

        if settings.model != DEFAULT_MODEL:
            raise click.UsageError("--int8 applies to the bundled default model only.")
        embedder = DefaultEmbedder(progress=progress, int8=True)
    return Assistant(settings, embedder=embedder, progress=progress)
