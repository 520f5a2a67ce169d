"""The ``qa`` command line: corpus commands (add, docs, remove, build, paragraphs), ask, serve, eval, bench."""

from __future__ import annotations

import sys

import click

from qa.commands.ask import ask
from qa.commands.options import CORPUS, JSON, MODEL, STORE, dump, progress, qa_errors
from qa.commands.options import assistant as _assistant
from qa.commands.options import settings as _settings


@click.group()
@click.version_option(package_name="speech-qa")
def cli() -> None:
    """Ask Chinese speeches and texts questions; get their own sentences back, cited by document and paragraph."""


@cli.command()
@click.option("--source", type=click.Path(dir_okay=False, exists=True), help="A .txt, .md, .pdf or .docx file "
              "(default: the bundled speech).")
@JSON
@qa_errors
def paragraphs(source: str | None, as_json: bool) -> None:
    """Print a document's rebuilt paragraphs with their numbers and parts."""
    import hashlib
    from pathlib import Path

    from qa import ingest
    from qa.config import BUNDLED_SOURCE
    from qa.corpus.files import new_id

    path = Path(source or BUNDLED_SOURCE)
    document = ingest.read(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    document = document.with_meta(id=new_id(path, digest, set()))  # the id `qa add` gives it in a new corpus
    if as_json:
        click.echo(dump(document.to_dict()))
        return
    click.echo(f"{document.title or ''}  {document.date or ''}  {document.speaker or ''}".strip())
    for p in document.paragraphs:
        where = f" · {p.section.label}" if p.section else ""
        click.echo(f"\n[{p.n}{where}] {p.text}")


def _doc_line(info) -> str:
    meta = " · ".join(x for x in (info.date, info.speaker) if x)
    return f"{info.id}\t《{info.title or '（无标题）'}》{'  ' + meta if meta else ''}  {info.paragraphs} 段"


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--title", help="The title, instead of the one the layout shows.")
@click.option("--date", help="The date (YYYY-MM-DD), instead of the one the layout shows.")
@click.option("--speaker", help="The speaker or author, instead of the one the layout shows.")
@click.option("--int8", is_flag=True, help="Embed with the bundled model's 8-bit weights (about twice as fast).")
@CORPUS
@STORE
@MODEL
@JSON
@qa_errors
def add(files, title, date, speaker, int8, corpus, store, model, as_json) -> None:
    """Add documents (.txt, .md, .pdf, .docx) to the corpus; a file already there is not added twice."""
    assistant = _assistant(_settings(corpus=corpus, store=store, model=model), int8=int8)
    for added in assistant.corpus.add(files, title=title, date=date, speaker=speaker):
        if as_json:
            click.echo(dump({**added.info.to_dict(), "new": added.new}))
        else:
            click.echo(("added   " if added.new else "present ") + _doc_line(added.info))


@cli.command()
@CORPUS
@STORE
@MODEL
@JSON
@qa_errors
def docs(corpus, store, model, as_json) -> None:
    """List the corpus's documents."""
    infos = _assistant(_settings(corpus=corpus, store=store, model=model)).corpus.docs()
    if as_json:
        click.echo(dump([i.to_dict() for i in infos]))
        return
    for info in infos:
        click.echo(_doc_line(info))


@cli.command()
@click.argument("doc_id")
@CORPUS
@STORE
@MODEL
@qa_errors
def remove(doc_id, corpus, store, model) -> None:
    """Remove the document DOC_ID (see `qa docs`) from the corpus."""
    assistant = _assistant(_settings(corpus=corpus, store=store, model=model))
    try:
        gone = assistant.corpus.remove(doc_id)
    except KeyError:
        known = ", ".join(i.id for i in assistant.corpus.docs())
        raise click.ClickException(f"No document {doc_id!r} in the corpus. Its documents: {known}.") from None
    click.echo(f"removed {_doc_line(gone)}")


@cli.command()
@click.option("--int8", is_flag=True, help="Embed with the bundled model's 8-bit weights: about twice as fast, "
              "vectors at cosine ~0.997 of the exact ones (questions stay exact).")
@CORPUS
@STORE
@MODEL
@qa_errors
def build(int8, corpus, store, model) -> None:
    """Embed every document of the corpus again (and convert the default model if needed); with a --store other
    than the corpus's, move its vectors there instead (embedding only what the old store cannot give)."""
    assistant = _assistant(_settings(corpus=corpus, store=store, model=model), int8=int8)
    index = assistant.corpus.rebuild()
    where = assistant.settings.corpus if not assistant.settings.store else index.manifest.get("store")
    click.echo(f"{len(index.infos)} documents, {len(index.table.paragraphs)} paragraphs, "
               f"{len(index.table.sentences)} sentences → {where}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="QA_HOST", help="Interface to listen on.")
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535), envvar="QA_PORT",
              help="Port to listen on.")
@click.option("--allow-origin", "allow_origins", multiple=True, envvar="QA_ALLOW_ORIGINS",
              help="Let pages from this origin (https://example.org) call the server from the browser; "
                   "repeatable; localhost is always allowed; * allows any.")
@click.option("--rate-limit", envvar="QA_RATE_LIMIT",
              help="Answers per client address, such as 10/second or 60/minute (default: no limit).")
@CORPUS
@STORE
@MODEL
@qa_errors
def serve(host, port, allow_origins, rate_limit, corpus, store, model) -> None:
    """Start the chat, its JSON API and the embed page on the corpus."""
    from ui.server import serve as run_server

    run_server(_settings(corpus=corpus, store=store, model=model, rate_limit=rate_limit), host=host, port=port,
               allow_origins=list(allow_origins) or None)


@cli.command("eval")
@click.option("--set", "question_set", type=click.Path(dir_okay=False), help="Question set (JSON lines).")
@click.option("--compare", is_flag=True, help="Also rank with BM25 only, dense only and plain RRF.")
@click.option("--calibrate", is_flag=True, help="Measure the model's decision bars on the tuning half and keep them "
              "in the corpus (for a model other than the default one).")
@click.option("--corpus", type=click.Path(file_okay=False), envvar="QA_CORPUS",
              help="A corpus holding the bundled speech (default: index/built/eval, built from the speech alone).")
@STORE
@MODEL
@JSON
@qa_errors
def eval_(question_set, compare, calibrate, corpus, store, model, as_json) -> None:
    """Measure answers per category on the tuning and held-out halves of the question set."""
    from qa.tools import describe, evaluate

    settings = _settings(corpus=corpus or evaluate.EVAL_CORPUS, store=store, model=model)
    assistant = _assistant(settings)
    if not corpus:
        assistant.corpus.seed = evaluate.EVAL_SEED
    questions = evaluate.load_questions(question_set or evaluate.DEFAULT_SET)
    if calibrate:
        from qa.tools import calibrate as calibration

        found = calibration.calibrate(assistant, questions, progress=progress)
        click.echo(dump(found) if as_json else describe.calibration(found))
        return
    result = evaluate.evaluate(assistant, questions, progress=progress)
    if compare:
        from qa.tools import baselines

        result["compare"] = baselines.compare(assistant, questions)
    click.echo(dump(result) if as_json else describe.evaluation(result))


@cli.command()
@click.option("--repeats", default=10, show_default=True, type=click.IntRange(1, 1000),
              help="Rounds over the benchmark questions for warm timings.")
@click.option("--scale", multiple=True, type=click.IntRange(10, 1_000_000),
              help="Also build and query a synthetic corpus of this many paragraphs (repeatable).")
@click.option("--int8", is_flag=True, help="Build the --scale corpora with 8-bit passage vectors.")
@STORE
@JSON
@qa_errors
def bench(repeats, scale, int8, store, as_json) -> None:
    """Time every stage of an answer, warm and cold answers, builds, memory and scale (on corpora it makes: the
    bundled speech, and --scale synthetic ones; with --store, in collections of their own, dropped after)."""
    from qa.tools import bench as bench_mod
    from qa.tools import describe

    settings = _settings(store=store)
    result = bench_mod.run(settings, repeats=repeats, scale=scale, progress=progress, int8=int8)
    click.echo(dump(result) if as_json else describe.benchmark(result))


@cli.command()
@click.option("--url", default="http://127.0.0.1:7860", show_default=True, help="Server base URL (this machine only).")
@click.option("--clients", default=20, show_default=True, type=click.IntRange(1, 500), help="Concurrent clients.")
@click.option("--duration", default=60.0, show_default=True, type=click.FloatRange(0, min_open=True),
              help="Seconds to run.")
@click.option("--max-requests", default=20000, show_default=True, type=click.IntRange(1),
              help="Stop after this many requests.")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(0, min_open=True),
              help="Seconds to wait for one reply.")
@click.option("--pid", type=int, help="Server process id, for its memory (default: found from the port).")
@JSON
@qa_errors
def loadtest(url, clients, duration, max_requests, timeout, pid, as_json) -> None:
    """Ask a running server's JSON API from concurrent clients; report throughput, latency and memory."""
    from qa.tools import describe
    from qa.tools import loadtest as load

    result = load.run(url, clients=clients, duration=duration, max_requests=max_requests, timeout=timeout, pid=pid)
    click.echo(dump(result) if as_json else describe.load(result))
    sys.exit(0 if load.passed(result) else 1)


cli.add_command(ask)


def main() -> None:
    cli(prog_name="qa")
