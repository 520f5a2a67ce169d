"""What a corpus computes from its documents: chunk vectors, the background's vectors, tokens and BM25."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from qa.corpus.table import ChunkTable, chunks_of
from qa.lexical.bm25 import LexicalIndex
from qa.lexical.bridge import build_lexicon, build_names
from qa.lexical.words import Tokenizer, learn_terms
from qa.models.embedders import Embedder
from qa.stores.base import chunk_id
from qa.types import Document

BACKGROUND_TEXT = Path(__file__).resolve().parent.parent / "data" / "background.txt"
# What embedding costs on this project's 2-core machine, to say how long a build will take before it starts: the
# bundled speech's 440 distinct texts (11,800 characters) took 3.4-15 s there, and 100 paragraphs of the bench's
# synthetic documents (1,100 texts, 39,000 characters) 8-10 s. Machines there swing 2-3x in speed.
TOKENS_PER_SECOND = 3000

Progress = Callable[[str], None]


def background_sentences() -> list[str]:
    """Everyday sentences on other topics, to tell questions about the documents from the rest."""
    lines = BACKGROUND_TEXT.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def estimate_seconds(texts: Sequence[str]) -> float:
    """About how long embedding these texts takes here (CJK characters count about one token each)."""
    return sum(len(t) for t in texts) / TOKENS_PER_SECOND


def embed_document(document: Document, embedder: Embedder, progress: Progress | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The chunk ids of a document and one vector per id (each distinct text embedded once).

    Returns:
        (ids, vectors): int64 ids and float32 unit vectors, sentences first, then paragraphs, then clauses.
    """
    chunks = chunks_of(document).all()
    distinct: dict[str, int] = {}
    rows = np.array([distinct.setdefault(c.text, len(distinct)) for c in chunks], dtype=np.int64)
    if progress:
        _ = embedder.dim  # load the model first (converting it on a first run, which says so), then announce this step
        seconds = estimate_seconds(list(distinct))
        progress(f"Embedding {len(distinct)} texts of 《{document.title or document.id}》 "
                 f"({len(document.paragraphs)} paragraphs; about {max(1, round(seconds))} s)…")
    started = time.perf_counter()
    vectors = embedder.passages(list(distinct)) if distinct else np.empty((0, embedder.dim), np.float32)
    if progress and time.perf_counter() - started > 2:
        progress(f"  embedded in {time.perf_counter() - started:.1f} s")
    ids = np.array([chunk_id(c.key) for c in chunks], dtype=np.int64)
    return ids, np.asarray(vectors, np.float32)[rows]


def paragraph_texts(document: Document) -> dict[int, str]:
    """Each paragraph's text by its chunk id: what an engine's own full-text search indexes."""
    return {chunk_id(p.key): p.text for p in chunks_of(document).paragraphs}


def embed_background(embedder: Embedder) -> np.ndarray:
    """Vectors of the background sentences."""
    return np.asarray(embedder.passages(background_sentences()), np.float32)


def document_terms(document: Document) -> list[str]:
    """The document's own compound terms (items of its 、-lists, short quoted phrases) for jieba's dictionary."""
    return learn_terms(p.text for p in document.paragraphs)


def tokenize(document: Document, tokenizer: Tokenizer) -> dict[str, list[list[str]]]:
    """BM25 tokens of every sentence and every paragraph of a document."""
    chunks = chunks_of(document)
    return {"sentences": [tokenizer(s.text) for s in chunks.sentences],
            "paragraphs": [tokenizer(p.text) for p in chunks.paragraphs]}


def needs_tokens(document: Document, changed_words: set[str]) -> bool:
    """Whether a document's tokens may change when these dictionary words or stopwords are added or removed:
    only text that holds one of them can be cut differently."""
    if not changed_words:
        return False
    text = "\n".join(p.text for p in document.paragraphs)
    return any(word in text for word in changed_words)


def lexical_index(table: ChunkTable, tokens: dict[str, dict[str, list[list[str]]]]) -> LexicalIndex:
    """BM25 over the table's sentences and paragraphs from each document's tokens, and the English bridge."""
    sentence_tokens: list[list[str]] = []
    paragraph_tokens: list[list[str]] = []
    for doc_id in table.documents:
        sentence_tokens += tokens[doc_id]["sentences"]
        paragraph_tokens += tokens[doc_id]["paragraphs"]
    vocabulary = {t for words in paragraph_tokens for t in words}
    return LexicalIndex.build(table.sentence_ids, sentence_tokens, table.paragraph_ids, paragraph_tokens,
                              build_lexicon(vocabulary), build_names())
