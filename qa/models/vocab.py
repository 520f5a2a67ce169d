"""A fast-loading tokenizer for Chinese and English text: the model's own, without the pieces of other scripts.

The bundled model's tokenizer (XLM-R's Unigram vocabulary, 250,002 pieces) takes about 1 s to load: most of a
cold ``qa ask``. Its pieces made only of CJK ideographs, ASCII and CJK punctuation are 100,256 and load in 0.2 s.
A piece holding any other character can never match text without that character, so on such text the
smaller vocabulary finds exactly the same pieces; their ids are mapped back to the full vocabulary's. Text with
any other character after normalisation (kana, Cyrillic, emoji…) goes to the full tokenizer, loaded then.
So every text gets exactly the ids of the model's own tokenizer (tested on the speech and the question set).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

COMPACT_FILE = "onnx/tokenizer-zh-en.json"
IDS_FILE = "onnx/tokenizer-zh-en-ids.npy"
_KEPT = "\u4e00-\u9fff\x00-\x7f\u3000-\u303f\uff00-\uffef，。、；：？！“”‘’（）《》【】—…·▁"
_OTHER = re.compile(f"[^{_KEPT}]")


def _kept(piece: str) -> bool:
    return not _OTHER.search(piece)


def write_compact(folder: Path) -> None:
    """Write the compact tokenizer and its id map beside the model's ``tokenizer.json`` (atomically)."""
    data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    model = data["model"]
    if model.get("type") != "Unigram":
        raise ValueError(f"expected a Unigram tokenizer, not {model.get('type')}")
    kept = [i for i, (piece, _score) in enumerate(model["vocab"]) if _kept(piece)]
    new_id = {old: new for new, old in enumerate(kept)}
    model["vocab"] = [model["vocab"][i] for i in kept]
    if model.get("unk_id") is not None:
        model["unk_id"] = new_id[model["unk_id"]]
    for token in data.get("added_tokens", []):
        token["id"] = new_id[token["id"]]
    for special in ((data.get("post_processor") or {}).get("special_tokens") or {}).values():
        special["ids"] = [new_id[i] for i in special["ids"]]
    suffix = f".{os.getpid()}.part"
    target, ids = folder / COMPACT_FILE, folder / IDS_FILE
    with open(str(ids) + suffix, "wb") as handle:
        np.save(handle, np.array(kept, dtype=np.int64))
    Path(str(target) + suffix).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(str(ids) + suffix, ids)
    os.replace(str(target) + suffix, target)


class FastTokenizer:
    """``encode_batch`` with the full tokenizer's ids, from the compact one whenever the text allows it.

    Args:
        folder: The model folder (holding ``tokenizer.json``; the compact files are made on first use).
        max_tokens: Truncate to this many tokens, as the model does.
    """

    def __init__(self, folder: Path, max_tokens: int) -> None:
        from tokenizers import Tokenizer

        self.folder = Path(folder)
        self.max_tokens = max_tokens
        self._full = None
        self._lock = threading.Lock()
        try:
            if not (self.folder / COMPACT_FILE).is_file() or not (self.folder / IDS_FILE).is_file():
                write_compact(self.folder)
            self._compact = Tokenizer.from_file(str(self.folder / COMPACT_FILE))
            self._ids = np.load(self.folder / IDS_FILE)
        except Exception:  # noqa: BLE001  damaged, unwritable, or tokenizers' own error: the full one only
            self._compact = None
            self._ids = None
        if self._compact is not None:
            self._compact.enable_truncation(max_tokens)

    @property
    def full(self):
        with self._lock:
            if self._full is None:
                from tokenizers import Tokenizer

                self._full = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
                self._full.enable_truncation(self.max_tokens)
            return self._full

    def token_to_id(self, token: str) -> int | None:
        return self.full.token_to_id(token) if self._compact is None else \
            (None if (i := self._compact.token_to_id(token)) is None else int(self._ids[i]))

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids in the model's vocabulary (special tokens included)."""
        if self._compact is not None:
            normalizer = self._compact.normalizer
            if not any(_OTHER.search(normalizer.normalize_str(t) if normalizer else t) for t in texts):
                return [self._ids[e.ids].tolist() for e in self._compact.encode_batch(list(texts))]
        return [e.ids for e in self.full.encode_batch(list(texts))]
