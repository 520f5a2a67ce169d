"""Hybrid retrieval: jieba BM25 and dense vectors of sentences, clauses and paragraphs, fused in two levels.

A sentence scores by its own dense match, its best clause's dense match and
its BM25; a paragraph scores by its best sentence, its own dense match and
its BM25. Quotes come from the best paragraphs, best sentence first. Scores
are min-max normalized per question, so a leg that finds nothing (BM25 on an
English question) adds nothing instead of noise.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import bm25s
import numpy as np

from qa import store as store_mod
from qa.bridge import Bridge, build_lexicon
from qa.embed import Embedder
from qa.source import PART_HEADING, is_salutation
from qa.store import Store
from qa.tokens import Tokenizer
from qa.types import Hit

# Sentence level: own dense match, best clause's dense match, sentence BM25.
SENTENCE_DENSE, CLAUSE_DENSE, SENTENCE_BM25 = 1.0, 1.0, 0.5
# Paragraph level: best sentence, own dense match, paragraph BM25.
BEST_SENTENCE, PARAGRAPH_DENSE, PARAGRAPH_BM25 = 1.0, 1.0, 0.25
# Final order of sentences: their paragraph's score plus this share of their own. Small enough that the
# first quote comes from the best paragraph (the one ranked first) rather than a strong sentence of a
# close second; 0.2 let that happen on the tuning half (zh-01), 0.02-0.1 measured the same.
SENTENCE_SHARE = 0.05
# Questions without Chinese search BM25 through the bridge's translated terms, whose legs weigh this many
# times more: on the tuning half's 35 English questions Hit@3 rose 0.74 -> 0.89 (weights 1.5-4 measured alike).
BRIDGED_BM25 = 2.0
# With an approximate index (large corpora), dense search scores this many nearest units.
DENSE_CANDIDATES = 2_000
# A year written in digits (1950, 2021): one the speech never mentions means the question is about something else.
YEAR = re.compile(r"(?<!\d)(1[6-9]\d\d|20\d\d)(?!\d)")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Evidence:
    """How strongly the speech speaks to a question, from both legs.

    ``foreign_years`` counts the years the question names in digits that the
    speech (text or date) never mentions.
    """

    dense_top: float
    background_top: float
    dense_z: float
    paragraph_z: float
    coverage: float
    bm25_top: float
    foreign_years: int = 0

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


class Dense(NamedTuple):
    """Dense scores of one question: per sentence, per sentence's best clause, per paragraph; best background."""

    sentence: np.ndarray
    clause: np.ndarray
    paragraph: np.ndarray
    background: float


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest scores, largest first, ties in index order."""
    if k < len(scores):
        part = np.argpartition(-scores, k - 1)[:k]
        return part[np.lexsort((part, -scores[part]))]
    return np.argsort(-scores, kind="stable")


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


def _uncapped(question: str) -> str:
    """The question in sentence case if its letters are all capitals (WHAT IS CRAFTSMANSHIP? -> What is
    craftsmanship?): the model is case-sensitive, and caps lock should not change the answer."""
    if CJK.search(question):
        return question
    letters = [ch for ch in question if ch.isalpha()]
    return question.capitalize() if len(letters) >= 4 and all(ch.isupper() for ch in letters) else question


def _beyond(scores: np.ndarray) -> float:
    """A penalty that puts any score below every unpenalized one."""
    return 1.0 + float(np.ptp(scores)) if scores.size else 1.0


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
        # Paragraphs that only address the audience (同志们！) say nothing a question could ask about.
        salutation = np.array([is_salutation(p.text) for p in store.document.paragraphs], dtype=bool)
        self._content = ~salutation if not salutation.all() else np.ones_like(salutation)
        self._content_sentence = self._content[self._para_of]
        paragraph_tokens = [self.tokenizer(p.text) for p in store.document.paragraphs]
        self._bm25_sentences = _bm25([self.tokenizer(p.text) for p in passages])
        self._bm25_paragraphs = _bm25(paragraph_tokens)
        n = len(paragraph_tokens)
        df = Counter(t for tokens in paragraph_tokens for t in set(tokens))
        self._idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self._unseen_idf = math.log(1 + (n + 0.5) / 0.5)
        self._paragraph_terms = [set(tokens) for tokens in paragraph_tokens]
        self.bridge = Bridge(build_lexicon(set().union(*self._paragraph_terms)))
        # Sentences and clauses are stored grouped by paragraph and sentence: reduce by group starts.
        self._sentence_starts = np.flatnonzero(np.r_[True, np.diff(self._para_of) != 0])
        owner = store.clause_owner
        self._clause_starts = np.flatnonzero(np.r_[True, np.diff(owner) != 0]) if len(owner) else owner
        self._clause_sentences = owner[self._clause_starts] if len(owner) else owner
        self._matrix = store_mod.flat_matrix(store)
        dated = [store.document.date or ""] + [p.text for p in store.document.paragraphs]
        self._years = {y for text in dated for y in YEAR.findall(text)}

    def embed(self, question: str) -> np.ndarray:
        """The question's vector."""
        return self.embedder.queries([question])[0]

    def dense_scores(self, vector: np.ndarray) -> Dense:
        """Cosine of a question vector with every sentence, its best clause, every paragraph, and the background.

        On an exact (flat) index every unit is scored; on an approximate one (beyond
        store.FLAT_LIMIT vectors) the index returns the nearest DENSE_CANDIDATES and
        the rest count as the least of those.
        """
        if self._matrix is not None:
            # Not `matrix @ vector`: OpenBLAS would spread this memory-bound scan over its own threads, which
            # then spin against onnxruntime's and doubled the next question's embedding time (3,000 paragraphs:
            # answer p50 17.9 -> 8.3 ms). einsum scans in this thread about as fast as BLAS does with two.
            distinct = np.einsum("ij,j->i", self._matrix, vector)
        else:
            total = self.store.vectors.ntotal
            scores, ids = store_mod.search(self.store, vector, min(DENSE_CANDIDATES, total))
            keep = ids >= 0
            distinct = np.full(total, float(scores[keep].min()) if keep.any() else 0.0, dtype=np.float32)
            distinct[ids[keep]] = scores[keep]
        every = distinct[self.store.rows]
        s, p, c = self._n_sentences, self._n_paragraphs, len(self.store.clauses)
        sentence, paragraph, clause, background = every[:s], every[s : s + p], every[s + p : s + p + c], every[s + p + c :]
        best_clause = sentence.copy()
        if c:
            grouped = np.maximum.reduceat(clause, self._clause_starts)
            best_clause[self._clause_sentences] = np.maximum(sentence[self._clause_sentences], grouped)
        return Dense(sentence, best_clause, paragraph, float(background.max()) if background.size else -1.0)

    def lexical_scores(
        self, tokens: list[str], translations: Sequence[dict[str, float]] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        """BM25 of every sentence and of every paragraph.

        Args:
            tokens: Terms searched as they are.
            translations: For each English word, its Chinese translations and their weights (see qa.bridge);
                each adds the weighted BM25 of its best translation in a sentence or paragraph.
        """
        sentence, paragraph = np.zeros(self._n_sentences, np.float32), np.zeros(self._n_paragraphs, np.float32)
        if tokens:
            sentence += self._bm25_sentences.get_scores(tokens)
            paragraph += self._bm25_paragraphs.get_scores(tokens)
        for words in translations:
            weights = np.array(list(words.values()), dtype=np.float32)[:, None]
            sentence += (weights * np.stack([self._bm25_sentences.get_scores([w]) for w in words])).max(axis=0)
            paragraph += (weights * np.stack([self._bm25_paragraphs.get_scores([w]) for w in words])).max(axis=0)
        return sentence, paragraph

    def lexical(self, question: str, tokens: list[str]) -> tuple[tuple[np.ndarray, np.ndarray], float]:
        """BM25 of every sentence and paragraph for a question, and the weight fusion gives it.

        A question without Chinese reaches BM25 through the bridge's translations of its English words.
        """
        translations = [] if CJK.search(question) else self.bridge(question)
        return self.lexical_scores(tokens, translations), BRIDGED_BM25 if translations else 1.0

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
        paragraph but are quoted only after every other sentence. Paragraphs that
        only address the audience (同志们！) rank and are quoted last.
        """
        tokens = self.tokenizer(question)
        lexical, weight = self.lexical(question, tokens)
        found = self.fuse(tokens, self.dense_scores(self.embed(_uncapped(question))), lexical, k,
                          lexical_weight=weight)
        foreign = len(set(YEAR.findall(question)) - self._years)
        return replace(found, evidence=replace(found.evidence, foreign_years=foreign)) if foreign else found

    def fuse(self, tokens: list[str], dense_scores: Dense, lexical: tuple[np.ndarray, np.ndarray], k: int,
             lexical_weight: float = 1.0) -> Retrieval:
        """Combine both legs into sentence and paragraph rankings (see the module docstring).

        ``lexical_weight`` scales both BM25 legs; ``tokens`` give the lexical coverage of the evidence.
        """
        dense, clause, paragraph_dense, background = dense_scores
        sentence_bm25, paragraph_bm25 = lexical
        sentence = (
            SENTENCE_DENSE * _minmax(dense)
            + CLAUSE_DENSE * _minmax(clause)
            + lexical_weight * SENTENCE_BM25 * _unit(sentence_bm25)
        )
        best_sentence = np.full(self._n_paragraphs, -np.inf, dtype=np.float32)
        best_sentence[self._para_of[self._sentence_starts]] = np.maximum.reduceat(sentence, self._sentence_starts)
        paragraph = (
            BEST_SENTENCE * best_sentence
            + PARAGRAPH_DENSE * _minmax(paragraph_dense)
            + lexical_weight * PARAGRAPH_BM25 * _unit(paragraph_bm25)
        )
        content, content_sentence = self._content, self._content_sentence
        top_paragraph, top_sentence = float(paragraph[content].max()), float(sentence[content_sentence].max())
        fused = paragraph[self._para_of] / (top_paragraph or 1.0) + SENTENCE_SHARE * sentence / (top_sentence or 1.0)
        # Part headings come after every other sentence, salutations are never quoted: a penalty wider than
        # the scores' whole range ranks them last whatever the scale.
        order = _top(fused - _beyond(fused) * (self._heading | ~content_sentence), k)
        hits = [
            Hit(passage=self.store.passages[i], score=float(fused[i]), dense=float(dense[i]),
                bm25=float(sentence_bm25[i]))
            for i in order
            if content_sentence[i]
        ]
        ranked = _top(paragraph - _beyond(paragraph) * ~content, k)
        best = int(np.flatnonzero(content)[np.argmax(paragraph[content])])
        dense_top = float(dense[content_sentence].max())
        evidence = Evidence(
            dense_top=dense_top,
            background_top=background,
            dense_z=_z(dense[content_sentence], dense_top),
            paragraph_z=_z(paragraph[content], float(paragraph[best])),
            coverage=self.coverage(tokens, best + 1),
            bm25_top=float(paragraph_bm25[content].max()),
        )
        return Retrieval(hits, [(int(i) + 1, float(paragraph[i])) for i in ranked], evidence)
