"""Hybrid retrieval: jieba BM25 and dense vectors of sentences, clauses and paragraphs, fused in two levels.

A sentence scores by its own dense match, its best clause's dense match and
its BM25; a paragraph scores by its best sentence, its own dense match and
its BM25. Quotes come from the best paragraphs, best sentence first. Scores
are min-max normalized per question, so a leg that finds nothing (BM25 on an
English question) adds nothing instead of noise.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import bm25s
import numpy as np

from qa import store as store_mod
from qa.embed import Embedder
from qa.source import PART_HEADING
from qa.store import Store
from qa.tokens import Tokenizer
from qa.types import Hit

# Sentence level: own dense match, best clause's dense match, sentence BM25.
SENTENCE_DENSE, CLAUSE_DENSE, SENTENCE_BM25 = 1.0, 1.0, 0.5
# Paragraph level: best sentence, own dense match, paragraph BM25.
BEST_SENTENCE, PARAGRAPH_DENSE, PARAGRAPH_BM25 = 1.0, 1.0, 0.25
# Final order of sentences: their paragraph's score plus this share of their own.
SENTENCE_SHARE = 0.2
# Beyond this many vectors, dense search looks at the nearest ones only.
EXACT_LIMIT = 50_000
DENSE_CANDIDATES = 2_000


@dataclass(frozen=True)
class Evidence:
    """How strongly the speech speaks to a question, from both legs."""

    dense_top: float
    background_top: float
    dense_z: float
    paragraph_z: float
    coverage: float
    bm25_top: float

    @property
    def margin(self) -> float:
        """How much closer the question is to the speech than to everyday text."""
        return self.dense_top - self.background_top

    def to_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Retrieval:
    """What one search found: sentences best first, paragraphs best first, and the evidence."""

    hits: list[Hit]
    paragraphs: list[tuple[int, float]]
    evidence: Evidence


def _bm25(corpus: list[list[str]]) -> bm25s.BM25:
    index = bm25s.BM25()
    index.index(corpus, show_progress=False)
    return index


def _unit(scores: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] by the largest score; all zeros stay zeros."""
    top = float(scores.max()) if scores.size else 0.0
    return scores / top if top > 0 else np.zeros_like(scores)


def _minmax(scores: np.ndarray) -> np.ndarray:
    span = float(scores.max() - scores.min()) if scores.size else 0.0
    return (scores - scores.min()) / span if span > 0 else np.zeros_like(scores)


def _z(scores: np.ndarray, value: float) -> float:
    std = float(scores.std())
    return (value - float(scores.mean())) / std if std > 0 else 0.0


class Retriever:
    """Scores every sentence and paragraph of an index against a question."""

    def __init__(self, store: Store, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder
        self.tokenizer = Tokenizer(store.terms)
        passages = store.passages
        self._n_sentences = len(passages)
        self._n_paragraphs = len(store.document.paragraphs)
        self._para_of = np.array([p.paragraph - 1 for p in passages], dtype=np.int64)
        self._heading = np.array([p.start == 0 and bool(PART_HEADING.match(p.text)) for p in passages])
        paragraph_tokens = [self.tokenizer(p.text) for p in store.document.paragraphs]
        self._bm25_sentences = _bm25([self.tokenizer(p.text) for p in passages])
        self._bm25_paragraphs = _bm25(paragraph_tokens)
        n = len(paragraph_tokens)
        df = Counter(t for tokens in paragraph_tokens for t in set(tokens))
        self._idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self._unseen_idf = math.log(1 + (n + 0.5) / 0.5)
        self._paragraph_terms = [set(tokens) for tokens in paragraph_tokens]

    def dense_scores(self, question: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Cosine of the question with every sentence, its best clause, every paragraph, and the best background."""
        vector = self.embedder.queries([question])[0]
        total = self.store.vectors.ntotal
        k = total if total <= EXACT_LIMIT else DENSE_CANDIDATES
        scores, ids = store_mod.search(self.store, vector, k)
        keep = ids >= 0
        every = np.full(total, float(scores[keep].min()) if keep.any() else 0.0, dtype=np.float32)
        every[ids[keep]] = scores[keep]
        s, p, c = self._n_sentences, self._n_paragraphs, len(self.store.clauses)
        sentence, paragraph, clause, background = every[:s], every[s : s + p], every[s + p : s + p + c], every[s + p + c :]
        best_clause = sentence.copy()
        np.maximum.at(best_clause, self.store.clause_owner, clause)
        return sentence, best_clause, paragraph, float(background.max()) if background.size else -1.0

    def lexical_scores(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """BM25 of every sentence and of every paragraph."""
        if not tokens:
            return np.zeros(self._n_sentences, np.float32), np.zeros(self._n_paragraphs, np.float32)
        sentence = self._bm25_sentences.get_scores(tokens).astype(np.float32)
        paragraph = self._bm25_paragraphs.get_scores(tokens).astype(np.float32)
        return sentence, paragraph

    def coverage(self, tokens: list[str], paragraph: int) -> float:
        """Share of the question's IDF weight whose terms occur in the paragraph."""
        if not tokens:
            return 0.0
        terms = set(tokens)
        total = sum(self._idf.get(t, self._unseen_idf) for t in terms)
        found = sum(self._idf[t] for t in terms if t in self._paragraph_terms[paragraph - 1])
        return found / total

    def search(self, question: str, k: int = 10) -> Retrieval:
        """The ``k`` best sentences and paragraphs, best first, and the evidence for answering at all.

        Part headings (第一，……。) are titles, not answers: they count for their
        paragraph but are quoted only after every other sentence.
        """
        tokens = self.tokenizer(question)
        dense, clause, paragraph_dense, background = self.dense_scores(question)
        sentence_bm25, paragraph_bm25 = self.lexical_scores(tokens)
        sentence = (
            SENTENCE_DENSE * _minmax(dense) + CLAUSE_DENSE * _minmax(clause) + SENTENCE_BM25 * _unit(sentence_bm25)
        )
        best_sentence = np.full(self._n_paragraphs, -np.inf, dtype=np.float32)
        np.maximum.at(best_sentence, self._para_of, sentence)
        paragraph = (
            BEST_SENTENCE * best_sentence
            + PARAGRAPH_DENSE * _minmax(paragraph_dense)
            + PARAGRAPH_BM25 * _unit(paragraph_bm25)
        )
        top_paragraph, top_sentence = float(paragraph.max()), float(sentence.max())
        fused = paragraph[self._para_of] / (top_paragraph or 1.0) + SENTENCE_SHARE * sentence / (top_sentence or 1.0)
        order = np.lexsort((-fused, self._heading))[:k]
        hits = [
            Hit(passage=self.store.passages[i], score=float(fused[i]), dense=float(dense[i]),
                bm25=float(sentence_bm25[i]))
            for i in order
        ]
        best = int(np.argmax(paragraph))
        evidence = Evidence(
            dense_top=float(dense.max()),
            background_top=background,
            dense_z=_z(dense, float(dense.max())),
            paragraph_z=_z(paragraph, float(paragraph[best])),
            coverage=self.coverage(tokens, best + 1),
            bm25_top=float(paragraph_bm25.max()),
        )
        ranked = np.argsort(-paragraph, kind="stable")[:k]
        return Retrieval(hits, [(int(i) + 1, float(paragraph[i])) for i in ranked], evidence)
