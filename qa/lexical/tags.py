"""jieba's part-of-speech tagger without its 0.5 s start: the word-tag table as two arrays, read in milliseconds.

``jieba.posseg`` reads its whole dictionary file into a dict of 350,000 words when it is imported. Here the
table is kept as sorted 64-bit word hashes and tag codes, made once per machine (beside jieba's own cache)
and memory-mapped, and the import is made to skip its read; taggers look words up in the arrays instead.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

import jieba
import numpy as np

_lock = threading.Lock()
_table: WordTags | None = None
_posseg = None


def _hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


class WordTags(Mapping):
    """A read-only word -> tag mapping over sorted hashes, with the words added later kept in a small dict."""

    def __init__(self, hashes: np.ndarray, codes: np.ndarray, names: list[str]) -> None:
        self._hashes, self._codes, self._names = hashes, codes, names
        self._added: dict[str, str] = {}

    def get(self, word: str, default: str | None = None) -> str | None:
        if word in self._added:
            return self._added[word]
        key = _hash(word)
        at = int(np.searchsorted(self._hashes, key))
        if at < len(self._hashes) and self._hashes[at] == key:
            return self._names[self._codes[at]]
        return default

    def __getitem__(self, word: str) -> str:
        found = self.get(word)
        if found is None:
            raise KeyError(word)
        return found

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.get(word) is not None

    def __iter__(self):
        raise TypeError("WordTags is looked up, not listed")

    def __len__(self) -> int:
        return len(self._hashes) + len(self._added)

    def update(self, words: Mapping[str, str]) -> None:
        """Words a tokenizer added with a tag (jieba's ``makesure_userdict_loaded``)."""
        self._added.update(words)

    def copy(self) -> WordTags:
        fresh = WordTags(self._hashes, self._codes, self._names)
        fresh._added = dict(self._added)
        return fresh


def _lines() -> Iterable[tuple[str, str]]:
    with jieba.get_dict_file() as handle:
        for line in handle:
            parts = line.decode("utf-8").split()
            if len(parts) == 3:
                yield parts[0], parts[2]


def _arrays() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The standard dictionary's words as sorted hashes, with their tag codes and the tag names."""
    pairs = dict(_lines())
    names = sorted(set(pairs.values()))
    index = {n: i for i, n in enumerate(names)}
    hashes = np.array([_hash(w) for w in pairs], dtype=np.int64)
    codes = np.array([index[t] for t in pairs.values()], dtype=np.uint8)
    order = np.argsort(hashes, kind="stable")
    return hashes[order], codes[order], names


def word_tags() -> WordTags:
    """The standard dictionary's word tags (made on first use on this machine, then read from its file)."""
    global _table
    with _lock:
        if _table is None:
            path = Path(tempfile.gettempdir()) / f"qa-jieba-tags-{jieba.__version__}.npz"
            try:
                if not path.is_file():
                    hashes, codes, names = _arrays()
                    buffer = io.BytesIO()
                    np.savez(buffer, hashes=hashes, codes=codes, names=np.array(names))
                    tmp = path.with_name(f"{path.name}.{os.getpid()}.part")
                    tmp.write_bytes(buffer.getvalue())
                    os.replace(tmp, path)
                data = np.load(path)
                _table = WordTags(data["hashes"], data["codes"], [str(n) for n in data["names"]])
            except (OSError, ValueError, KeyError):  # an unwritable or damaged file: made in memory instead
                _table = WordTags(*_arrays())
        return _table


def posseg_module():
    """``jieba.posseg``, imported without reading its dictionary for the default tagger we never use."""
    global _posseg
    with _lock:
        if _posseg is None:
            import sys

            if "jieba.posseg" in sys.modules:
                _posseg = sys.modules["jieba.posseg"]
            else:
                jieba.dt.get_dict_file = lambda: io.BytesIO(b"")  # the default tagger's table stays empty
                try:
                    import jieba.posseg as module
                finally:
                    del jieba.dt.get_dict_file
                _posseg = module
        return _posseg


def tagger(tokenizer: jieba.Tokenizer):
    """A part-of-speech tagger over ``tokenizer`` (its own words included) with the standard word tags."""
    module = posseg_module()
    found = module.POSTokenizer.__new__(module.POSTokenizer)
    found.tokenizer = tokenizer
    found.word_tag_tab = word_tags().copy()
    return found
