"""The measuring tools' results as text for people: evaluation, benchmark, calibration, load test."""

from __future__ import annotations

from typing import Any

from qa.tools import loadtest

_COLUMNS = (("right_paragraph_first", "¶ first"), ("first_quote_answers", "quote"), ("some_quote_answers", "any q"),
            ("hit_rate@3", "Hit@3"), ("refused_wrongly", "refused!"), ("cites_every_part", "all parts"),
            ("refused", "refused"), ("related_right", "related"))


def _cell(value: Any) -> str:
    return f"{value:7.2f}" if isinstance(value, float | int) and not isinstance(value, bool) else f"{'':>7}"


def evaluation(result: dict[str, Any]) -> str:
    """`qa eval`'s report: per half and category, then the failures and the trade-off curve."""
    lines = []
    for split, title in (("tune", "tuning half"), ("test", "held-out half")):
        r = result[split]
        lines.append(f"== {title} ({r['questions']} questions; in scope refused {r['in_scope_refused'] or 0:.0%})")
        lines.append(f"{'category':19} {'n':>3} " + " ".join(f"{name:>7}" for _, name in _COLUMNS))
        for category, m in r["categories"].items():
            lines.append(f"{category:19} {m['n']:>3} " + " ".join(_cell(m.get(key)) for key, _ in _COLUMNS))
            langs = [f"{lang} {m[f'right_paragraph_first_{lang}']:.2f}" for lang in ("zh", "en")
                     if f"right_paragraph_first_{lang}" in m]
            if langs:
                lines.append(f"{'':19}     ¶ first by language: " + ", ".join(langs))
        for f in r["failures"]:
            question = f["question"] if len(f["question"]) <= 34 else f["question"][:33] + "…"
            lines.append(f"  ✗ {f['id']:<8} {question:<34} expected {f['expected'][:26]:<26} got {f['got']}")
        lines.append("")
    if result.get("tradeoff"):
        lines.append("abstention trade-off on the tuning half (background-margin bars shifted by):")
        for row in result["tradeoff"]:
            lines.append(f"  {row['margin_shift']:+.2f}: out of scope refused {row['out_of_scope_refused'] or 0:.0%}, "
                         f"in scope refused {row['in_scope_refused'] or 0:.0%}")
    if "compare" in result:
        shown = ("zh", "keyword", "en", "type")
        lines.append("")
        lines.append("paragraph ranking, Hit@1 / Hit@3, by method (questions asked without history):")
        lines.append(f"{'method':17} {'half':5} " + " ".join(f"{c:>13}" for c in shown))
        for method, splits in result["compare"].items():
            for split, cats in splits.items():
                cells = " ".join(f"{cats[c]['hit_rate@1']:>6.2f} / {cats[c]['hit_rate@3']:.2f}" if c in cats else
                                 f"{'':>13}" for c in shown)
                lines.append(f"{method:17} {split:5} {cells}")
    return "\n".join(lines)


def benchmark(r: dict[str, Any]) -> str:
    """`qa bench`'s report."""
    lines = [f"vector store: {r.get('store', 'flat')}", f"{'stage':18} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"]
    for stage, p in r["stages_ms"].items():
        lines.append(f"{stage:18} {p['p50']:8.2f} {p['p95']:8.2f} {p['p99']:8.2f}")
    lines.append(f"warm answer / query embedding (p50): {r['warm_over_embed']:.2f}x  (onnxruntime: {r['fast_path']})")
    if "without_fast_path" in r:
        w = r["without_fast_path"]
        lines.append(f"with sentence-transformers instead: warm p50 {w['warm_ask_ms']['p50']:.1f} ms, embedding p50 "
                     f"{w['embed_query_ms']['p50']:.1f} ms; it loads in {r['sentence_transformers_load_s']} s")
    lines.append(f"cold qa ask: {r['cold_ask_s']} s · index build of the speech (model loaded): {r['build_s']} s · "
                 f"peak RSS {r['rss_mb']} MB")
    for p in r.get("scale", []):
        lines.append(f"scale {p['documents']:>4} documents, {p['paragraphs']:>6} paragraphs: {p['vectors']} vectors "
                     f"({p['index']}{', int8' if p['int8'] else ''}), build {p['build_s']} s, add one "
                     f"{p['add_paragraphs']}-paragraph document {p['add_s']} s, warm p50 {p['warm_ask_ms']['p50']:.1f} ms, "
                     f"p95 {p['warm_ask_ms']['p95']:.1f} ms, cold ask {p['cold_ask_s']} s")
        if "same_as_exact" in p:
            same = p["same_as_exact"]
            lines.append(f"      the IVF index and an exact scan agree on {same['same']} of {same['questions']} questions "
                         f"(first citation, or refusal)")
        m = p.get("on_store")
        if m and "error" in m:
            lines.append(f"      on the engine: failed after {m['after_s']} s: {m['error']}")
        elif m:
            lines.append(f"      on {m['index']}: vectors moved in {m['move_s']} s, add one {m['add_paragraphs']}-paragraph "
                         f"document {m['add_s']} s, warm p50 {m['warm_ask_ms']['p50']:.1f} ms, p95 "
                         f"{m['warm_ask_ms']['p95']:.1f} ms, cold ask {m['cold_ask_s']} s")
    for f in r.get("faiss", []):
        lines.append(f"faiss {f['vectors']:>7} vectors: flat {f['flat_search_ms']:.2f} ms, hnsw {f['hnsw_search_ms']:.2f} ms"
                     f" (recall@10 {f['hnsw_recall@10']}, build {f['hnsw_build_s']} s), numpy scan {f['numpy_scan_ms']:.2f} ms")
    return "\n".join(lines)


def calibration(found: dict[str, Any]) -> str:
    """`qa eval --calibrate`'s report."""
    lines = [f"calibration for {found['model']} (tuning half; saved in the corpus: {found['saved']}):"]
    for key, value in found["calibration"].items():
        if key not in ("model", "calibrated"):
            lines.append(f"  {key:16} {value}")
    before = found["before"]
    lines.append(f"on the {found['questions']} tuning questions it decides: out of scope refused "
                 f"{found['out_of_scope_refused']:.0%}, in scope refused {found['in_scope_refused']:.0%} "
                 f"(with the bars before: {before['out_of_scope_refused']:.0%} and {before['in_scope_refused']:.0%})")
    return "\n".join(lines)


def load(result: dict[str, Any]) -> str:
    """`qa loadtest`'s report: a run's figures for people, a few lines."""
    memory = (f"server RSS {result['rss_start_mb']} MB → {result['rss_end_mb']} MB (max {result['rss_max_mb']} MB)"
              if result["rss_start_mb"] is not None else "server RSS unknown (pass --pid)")
    clients = f"{result['clients']} client{'s' if result['clients'] != 1 else ''}"
    lines = [
        f"{result['requests']} requests from {clients} in {result['seconds']} s: {result['throughput']} replies/s",
        (f"latency p50 {result['p50_ms']} ms · p95 {result['p95_ms']} ms · p99 {result['p99_ms']} ms · "
         f"max {result['max_ms']} ms"),
        (f"answered {result['answered']} · refused {result['refused']} · expected 4xx {result['expected_4xx']} · "
         f"errors {result['errors']} · dropped {result['dropped']} · timeouts {result['timeouts']}"),
        memory,
        *(f"  ! {p}" for p in result["problems"]),
        "PASS" if loadtest.passed(result) else "FAIL",
    ]
    return "\n".join(lines)
