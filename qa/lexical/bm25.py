"""BM25 over every sentence and paragraph of a corpus, saved in the index folder and loaded memory-mapped."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np

SENTENCES, PARAGRAPHS = "sentences", "paragraphs"
IDS = "ids.npz"
LEXICON = "lexicon.json"
NAMES = "names.json"


def _index(tokens: Sequence[Sequence[str]]) -> bm25s.BM25 | None:
    if not any(tokens):
        return None
    index = bm25s.BM25()
    index.index([list(t) for t in tokens], show_progress=False)
    return index


def _subsequence(short: str, long: str) -> bool:
    at = 0
    for ch in short:
        at = long.find(ch, at) + 1
        if not at:
            return False
    return True


class LexicalIndex:
    """BM25 of sentences and of paragraphs, each row tied to its chunk id, and the English bridge's lexicon.

    Args:
        sentence_ids: Chunk id of each sentence row.
        paragraph_ids: Chunk id of each paragraph row.
        sentences: BM25 over the sentences (None when no sentence has a token).
        paragraphs: BM25 over the paragraphs (None when no paragraph has a token).
        lexicon: English stem -> {Chinese word of the corpus: weight} (see qa.lexical.bridge).
        names: English name -> its Chinese words (see qa.lexical.bridge.build_names).
    """

    def __init__(self, sentence_ids: np.ndarray, paragraph_ids: np.ndarray, sentences: bm25s.BM25 | None,
                 paragraphs: bm25s.BM25 | None, lexicon: dict[str, dict[str, float]],
                 names: dict[str, list[str]] | None = None) -> None:
        self.sentence_ids = sentence_ids
        self.paragraph_ids = paragraph_ids
        self.sentences = sentences
        self.paragraphs = paragraphs
        self.lexicon = lexicon
        self.names = names or {}
        n = len(paragraph_ids)
        self._unseen_idf = math.log(1 + (n + 0.5) / 0.5)

    @classmethod
    def build(cls, sentence_ids: np.ndarray, sentence_tokens: Sequence[Sequence[str]], paragraph_ids: np.ndarray,
              paragraph_tokens: Sequence[Sequence[str]], lexicon: dict[str, dict[str, float]],
              names: dict[str, list[str]] | None = None) -> LexicalIndex:
        """Index tokenized sentences and paragraphs (rows in the order of their ids)."""
        return cls(np.asarray(sentence_ids, np.int64), np.asarray(paragraph_ids, np.int64), _index(sentence_tokens),
                   _index(paragraph_tokens), lexicon, names)

    def save(self, folder: Path) -> None:
        """Write the index into ``folder`` (which must exist)."""
        np.savez(folder / IDS, sentences=self.sentence_ids, paragraphs=self.paragraph_ids)
        for name, index in ((SENTENCES, self.sentences), (PARAGRAPHS, self.paragraphs)):
            if index is not None:
                index.save(str(folder / name))
        (folder / LEXICON).write_text(json.dumps(self.lexicon, ensure_ascii=False), encoding="utf-8")
        (folder / NAMES).write_text(json.dumps(self.names, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """Read an index written by :meth:`save`.

        Raises:
            OSError, ValueError, KeyError: A file is missing or damaged.
        """
        with np.load(folder / IDS) as ids:
            sentence_ids, paragraph_ids = ids["sentences"], ids["paragraphs"]
        loaded = []
        for name in (SENTENCES, PARAGRAPHS):
            if (folder / name).is_dir():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    loaded.append(bm25s.BM25.load(str(folder / name), mmap=True))
            else:
                loaded.append(None)
        lexicon = json.loads((folder / LEXICON).read_text(encoding="utf-8"))
        names = json.loads((folder / NAMES).read_text(encoding="utf-8")) if (folder / NAMES).is_file() else {}
        return cls(sentence_ids, paragraph_ids, loaded[0], loaded[1], lexicon, names)

    def scores(self, tokens: Sequence[str],
               translations: Sequence[dict[str, float]] = ()) -> tuple[np.ndarray, np.ndarray]:
        """BM25 of every sentence row and every paragraph row.

        Args:
            tokens: Terms searched as they are.
            translations: For each English word, its Chinese translations and their weights (see qa.lexical.bridge);
                each adds the weighted BM25 of its best translation in a sentence or paragraph.
        """
        out = []
        for index, size in ((self.sentences, len(self.sentence_ids)), (self.paragraphs, len(self.paragraph_ids))):
            scores = np.zeros(size, np.float32)
            if index is not None:
                if tokens:
                    scores += index.get_scores(list(tokens))
                for words in translations:
                    weights = np.array(list(words.values()), dtype=np.float32)[:, None]
                    scores += (weights * np.stack([index.get_scores([w]) for w in words])).max(axis=0)
            out.append(scores)
        return out[0], out[1]

    def expand(self, tokens: Sequence[str], per_token: int = 3) -> list[str]:
        """The tokens, plus the corpus words that a token no paragraph holds abbreviates (全总 -> 全国总工会,
        社保 -> 社会保障, 职代会 -> 职工代表大会): the first character the same, the rest in order, the word at
        most twice as long."""
        if self.paragraphs is None:
            return list(tokens)
        vocabulary = self.paragraphs.vocab_dict
        out = list(tokens)
        for token in tokens:
            if token in vocabulary or not 2 <= len(token) <= 4 or not all("\u4e00" <= ch <= "\u9fff" for ch in token):
                continue
            found = [w for w in self._by_first.get(token[0], ()) if len(token) < len(w) <= 2 * len(token) + 1
                     and _subsequence(token[1:], w[1:])]
            out += found[:per_token]
        return out

    @property
    def _by_first(self) -> dict[str, list[str]]:
        if not hasattr(self, "_first_index"):
            index: dict[str, list[str]] = {}
            for word in sorted(self.paragraphs.vocab_dict if self.paragraphs is not None else (), key=len):
                if len(word) >= 3:
                    index.setdefault(word[0], []).append(word)
            self._first_index = index
        return self._first_index

    def coverage(self, tokens: Sequence[str], paragraph_rows: np.ndarray) -> np.ndarray:
        """For each paragraph row given, the share of the tokens' IDF weight whose terms occur in it.

        A term no paragraph holds weighs as a term seen in none (the highest IDF).
        """
        rows = np.asarray(paragraph_rows, dtype=np.int64)
        terms = list(dict.fromkeys(tokens))
        if not terms or self.paragraphs is None:
            return np.zeros(len(rows), np.float32)
        n = len(self.paragraph_ids)
        total, found = 0.0, np.zeros(len(rows), np.float64)
        for term in terms:
            present = self.paragraphs.get_scores([term]) > 0
            count = int(present.sum())
            idf = math.log(1 + (n - count + 0.5) / (count + 0.5)) if count else self._unseen_idf
            total += idf
            found += idf * present[rows]
        return (found / total).astype(np.float32)
