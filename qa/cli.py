"""The ``qa`` command line: paragraphs, build, ask, serve."""

from __future__ import annotations

import json
import sys
from functools import wraps

import click

from qa.config import Settings
from qa.errors import QAError

SOURCE = click.option("--source", type=click.Path(dir_okay=False), envvar="QA_SOURCE",
                      help="Speech text file (default: the bundled speech).")
INDEX = click.option("--index", "index_dir", type=click.Path(file_okay=False), envvar="QA_INDEX_DIR",
                     help="Index folder (default: index/built/<source name>).")
MODEL = click.option("--model", envvar="QA_MODEL",
                     help="sentence-transformers model name or path (default: the bundled multilingual-e5-small).")


def _settings(**flags) -> Settings:
    try:
        return Settings.from_env(**flags)
    except QAError as exc:
        raise click.ClickException(str(exc)) from exc


def _qa_errors(command):
    """Show library errors as one line and a non-zero exit, never a traceback."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except QAError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


def _dump(data) -> str:
    return json.dumps(data, ensure_ascii=False)


@click.group()
@click.version_option(package_name="speech-qa")
def cli() -> None:
    """Ask a Chinese speech questions; get its own sentences back, cited by paragraph."""


@cli.command()
@SOURCE
@click.option("--json", "as_json", is_flag=True, help="Print JSON: title, date, speaker, paragraphs.")
@_qa_errors
def paragraphs(source: str | None, as_json: bool) -> None:
    """Print the speech's rebuilt paragraphs with their numbers and parts."""
    from qa import source as source_mod

    document = source_mod.load(_settings(source=source).source)
    if as_json:
        click.echo(_dump(document.to_dict()))
        return
    click.echo(f"{document.title or ''}  {document.date or ''}  {document.speaker or ''}".strip())
    for p in document.paragraphs:
        where = f" · {p.section.label}" if p.section else ""
        click.echo(f"\n[{p.n}{where}] {p.text}")


@cli.command()
@SOURCE
@INDEX
@MODEL
@click.option("--int8", is_flag=True, help="Embed passages with the bundled model's 8-bit weights: about 1.7x faster "
              "for large corpora, vectors at cosine ~0.997 of the exact ones (questions stay exact).")
@_qa_errors
def build(source: str | None, index_dir: str | None, model: str | None, int8: bool) -> None:
    """Rebuild the index (and materialize the default model if needed)."""
    from qa.assistant import Assistant
    from qa.embed import DEFAULT_MODEL, DefaultEmbedder

    settings = _settings(source=source, index_dir=index_dir, model=model)
    embedder = None
    if int8:
        if settings.model not in (None, "", DEFAULT_MODEL):
            raise click.UsageError("--int8 applies to the bundled default model only.")
        embedder = DefaultEmbedder(int8=True)
    built = Assistant(settings, embedder=embedder).build()
    click.echo(f"{built.manifest['passages']} sentences of {built.manifest['paragraphs']} paragraphs → {built.path}")


@cli.command()
@click.argument("question", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per question.")
@click.option("--quotes", type=click.IntRange(1, 3), envvar="QA_QUOTES", help="Quote at most this many sentences.")
@SOURCE
@INDEX
@MODEL
@_qa_errors
def ask(question: tuple[str, ...], as_json: bool, quotes: int | None, source, index_dir, model) -> None:
    """Answer QUESTION; with "-", answer each line of standard input (model loaded once)."""
    from qa.assistant import Assistant

    assistant = Assistant(_settings(source=source, index_dir=index_dir, model=model, quotes=quotes))
    if question == ("-",):
        stdin = sys.stdin.buffer
        failed = 0
        for raw in stdin:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not line.strip():
                continue
            failed += not _answer_one(assistant, line, as_json, keep_going=True)
        sys.exit(1 if failed else 0)
    _answer_one(assistant, " ".join(question), as_json, keep_going=False)


def _answer_one(assistant, question: str, as_json: bool, keep_going: bool) -> bool:
    from qa.answer import where
    from qa.errors import InputError

    try:
        answer = assistant.ask(question)
    except InputError as exc:
        if not keep_going:
            raise
        click.echo(_dump({"question": question, "error": str(exc), "code": exc.code}) if as_json else f"! {exc}")
        return False
    if as_json:
        click.echo(_dump(answer.to_dict()))
    elif not answer.answered:
        click.echo(answer.answer)
    else:
        for c in answer.citations:
            click.echo(f"「{c.quote}」\n    —— {where(c)}")
    return True


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="QA_HOST", help="Interface to listen on.")
@click.option("--port", default=7860, show_default=True, type=int, envvar="QA_PORT", help="Port to listen on.")
@click.option("--allow-origin", "allow_origins", multiple=True, envvar="QA_ALLOW_ORIGINS",
              help="Let pages from this origin (https://example.org) call the server from the browser; "
                   "repeatable; localhost is always allowed; * allows any.")
@SOURCE
@INDEX
@MODEL
@_qa_errors
def serve(host: str, port: int, allow_origins: tuple[str, ...], source, index_dir, model) -> None:
    """Start the chat, its JSON API and the embed page on the speech."""
    from ui.app import launch

    launch(_settings(source=source, index_dir=index_dir, model=model), host=host, port=port,
           allow_origins=list(allow_origins) or None)


@cli.command("eval")
@click.option("--set", "question_set", type=click.Path(dir_okay=False), help="Question set (JSON lines).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@click.option("--compare", is_flag=True, help="Also rank with BM25 only, dense only and plain RRF.")
@SOURCE
@INDEX
@MODEL
@_qa_errors
def eval_(question_set, as_json: bool, compare: bool, source, index_dir, model) -> None:
    """Measure recall, quote precision and abstention on the tuning and held-out halves."""
    from qa import evaluate
    from qa.assistant import Assistant

    assistant = Assistant(_settings(source=source, index_dir=index_dir, model=model))
    questions = evaluate.load_questions(question_set or evaluate.DEFAULT_SET)
    outcomes = evaluate.run_shipped(assistant, questions)
    result = {split: evaluate.report(outcomes, split) for split in ("tune", "test")}
    result["tradeoff"] = evaluate.tradeoff(assistant, outcomes)
    if compare:
        result["compare"] = evaluate.compare(assistant, questions, outcomes)
    if as_json:
        click.echo(_dump(result))
        return
    click.echo(_eval_text(result))


def _eval_text(result: dict) -> str:
    from qa.answer import MIN_MARGIN_CJK, MIN_MARGIN_LATIN

    lines = []
    for split, title in (("tune", "tuning half"), ("test", "held-out half")):
        r = result[split]
        lines.append(f"== {title} ({r['questions']} questions)")
        lines.append(f"{'category':10} {'n':>3} {'Hit@1':>6} {'Hit@3':>6} {'Hit@5':>6} {'R@1':>6} {'R@3':>6} "
                     f"{'R@5':>6} {'MRR@10':>7}")
        for category, m in r["categories"].items():
            lines.append(f"{category:10} {m['n']:>3} " + " ".join(
                f"{m[k]:6.2f}" for k in ("hit_rate@1", "hit_rate@3", "hit_rate@5", "recall@1", "recall@3", "recall@5"))
                + f" {m['mrr@10']:7.2f}")
        lines.append(f"out-of-scope refused {r['abstention_oos']:.0%} · in-scope refused {r['false_refusals']:.0%}"
                     f" · first quote holds the answer {r['quote_precision']:.0%}"
                     f" (some quote: {r['any_quote_precision']:.0%})")
        for f in r["failures"]:
            lines.append(f"  ✗ {f['id']:<11} {f['question'][:34]:<34} expected {f['expected']:<24} got {f['got']}")
        lines.append("")
    lines.append(f"abstention trade-off on the tuning half (background margin ≥ {MIN_MARGIN_CJK:+.2f} for Chinese, "
                 f"{MIN_MARGIN_LATIN:+.2f} for English, shifted by):")
    for row in result["tradeoff"]:
        lines.append(f"  {row['margin_shift']:+.2f}: out-of-scope refused {row['abstention_oos']:.0%}, "
                     f"in-scope refused {row['false_refusals']:.0%}")
    if "compare" in result:
        lines.append("")
        lines.append(f"{'method':17} {'split':5} " + " ".join(f"{c + ' Hit@1/Hit@3':>19}" for c in ("zh", "keyword", "en")))
        for method, splits in result["compare"].items():
            for split, cats in splits.items():
                cells = " ".join(f"{cats[c]['hit_rate@1']:>10.2f} / {cats[c]['hit_rate@3']:.2f}"
                                 for c in ("zh", "keyword", "en"))
                lines.append(f"{method:17} {split:5} {cells}")
    return "\n".join(lines)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the measurements as JSON.")
@click.option("--repeats", default=10, show_default=True, type=click.IntRange(1, 1000),
              help="Rounds over the benchmark questions for warm timings.")
@click.option("--scale", multiple=True, type=click.IntRange(10, 1_000_000),
              help="Also build and query a synthetic corpus of this many paragraphs (repeatable).")
@click.option("--int8", is_flag=True, help="Build the --scale corpora as `qa build --int8` does.")
@SOURCE
@INDEX
@_qa_errors
def bench(as_json: bool, repeats: int, scale: tuple[int, ...], int8: bool, source, index_dir) -> None:
    """Time every stage of an answer, warm and cold answers, index builds, memory and scale."""
    from qa import bench as bench_mod
    from qa.assistant import Assistant

    settings = _settings(source=source, index_dir=index_dir)
    Assistant(settings).index  # build the index first if needed, outside the timings  # noqa: B018
    result = bench_mod.run(settings, repeats=repeats, scale=scale, progress=lambda m: click.echo(m, err=True),
                           int8=int8)
    click.echo(_dump(result) if as_json else _bench_text(result))


def _bench_text(r: dict) -> str:
    lines = [f"{'stage':18} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"]
    for stage, p in r["stages_ms"].items():
        lines.append(f"{stage:18} {p['p50']:8.2f} {p['p95']:8.2f} {p['p99']:8.2f}")
    w = r["without_fast_path"]
    lines += [
        f"warm answer / query embedding (p50): {r['warm_over_embed']:.2f}x  (onnxruntime: {r['fast_path']})",
        f"with sentence-transformers instead: warm p50 {w['warm_ask_ms']['p50']:.1f} ms, embedding p50 "
        f"{w['embed_query_ms']['p50']:.1f} ms, speech build {w['build_s']} s; "
        f"it loads in {r['sentence_transformers_load_s']} s",
        f"cold qa ask: {r['cold_ask_s']} s (with sentence-transformers: {r['cold_ask_without_fast_path_s']} s)",
        f"index build of the speech (model loaded): {r['build_s']} s · peak RSS {r['rss_mb']} MB",
    ]
    for p in r.get("scale", []):
        lines.append(f"scale {p['paragraphs']:>7} paragraphs: {p['vectors']} vectors ({p['index']}"
                     f"{', int8' if p['int8'] else ''}), "
                     f"build {p['build_s']} s, warm p50 {p['warm_ask_ms']['p50']:.1f} ms")
    for f in r.get("faiss", []):
        lines.append(f"faiss {f['vectors']:>7} vectors: flat {f['flat_search_ms']:.2f} ms, hnsw {f['hnsw_search_ms']:.2f} ms "
                     f"(recall@10 {f['hnsw_recall@10']}, build {f['hnsw_build_s']} s), numpy scan {f['numpy_scan_ms']:.2f} ms")
    return "\n".join(lines)


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
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@_qa_errors
def loadtest(url, clients, duration, max_requests, timeout, pid, as_json) -> None:
    """Ask a running server's JSON API from concurrent clients; report throughput, latency and memory."""
    from qa import loadtest as load

    result = load.run(url, clients=clients, duration=duration, max_requests=max_requests, timeout=timeout, pid=pid)
    click.echo(_dump(result) if as_json else load.describe(result))
    sys.exit(0 if load.passed(result) else 1)


def main() -> None:
    cli(prog_name="qa")
