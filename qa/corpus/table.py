"""Every chunk of a corpus in memory, in arrays the retrieval can fuse over: sentences, paragraphs, clauses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from qa.ingest.structure import PART_HEADING, clauses, is_salutation, sentences
from qa.stores.base import chunk_id, ranges
from qa.types import PARAGRAPH, Chunk, Document

SENTENCE_CODE, PARAGRAPH_CODE, CLAUSE_CODE = 0, 1, 2


@dataclass(frozen=True)
class Chunks:
    """One document's searchable chunks: every sentence, every paragraph, and the clauses of every sentence
    that has more than one (``clause_owner[i]`` is the sentence of clause ``i``)."""

    sentences: list[Chunk]
    paragraphs: list[Chunk]
    clauses: list[Chunk]
    clause_owner: list[int]

    def all(self) -> list[Chunk]:
        return self.sentences + self.paragraphs + self.clauses


def clause_index(document: Document) -> tuple[np.ndarray, np.ndarray]:
    """The ids of a document's clauses and, for each, the number of its sentence in the document: all a
    :class:`ChunkTable` keeps of them (what a corpus caches, since splitting clauses is most of a table's cost)."""
    chunks = chunks_of(document)
    return (np.array([chunk_id(c.key) for c in chunks.clauses], dtype=np.int64),
            np.array(chunks.clause_owner, dtype=np.int64))


def chunks_of(document: Document) -> Chunks:
    """Split a document into the chunks that are embedded and searched."""
    found = [s for p in document.paragraphs for s in sentences(p, document.id)]
    parts, owner = [], []
    for i, sentence in enumerate(found):
        pieces = clauses(sentence)
        if len(pieces) > 1:
            parts += pieces
            owner += [i] * len(pieces)
    whole = [Chunk(document.id, p.n, 0, len(p.text), PARAGRAPH, p.text) for p in document.paragraphs]
    return Chunks(found, whole, parts, owner)


class ChunkTable:
    """The chunks of several documents in reading order, with what fusion needs as arrays.

    Rows are positions in this table, rebuilt at every load; a chunk's identity is its id.

    Args:
        documents: The corpus's documents, in the corpus's order.
        clauses: For some documents, their :func:`clause_index` as a corpus cached it (the others are split).
    """

    def __init__(self, documents: Iterable[Document],
                 clauses: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        self.documents = {d.id: d for d in documents}
        self.sentences: list[Chunk] = []
        self.paragraphs: list[Chunk] = []
        clause_ids, clause_owner, sentence_paragraph = [], [], []
        for doc in self.documents.values():
            found = [s for p in doc.paragraphs for s in sentences(p, doc.id)]
            cached = (clauses or {}).get(doc.id)
            ids, owner = cached if cached is not None and _fits(cached, len(found)) else clause_index(doc)
            base_s = len(self.sentences)
            sentence_paragraph += [len(self.paragraphs) + s.paragraph - 1 for s in found]
            self.sentences += found
            self.paragraphs += [Chunk(doc.id, p.n, 0, len(p.text), PARAGRAPH, p.text) for p in doc.paragraphs]
            clause_ids.append(ids)
            clause_owner.append(owner + base_s)
        self.doc_index = {doc_id: i for i, doc_id in enumerate(self.documents)}
        self.sentence_ids = np.array([chunk_id(s.key) for s in self.sentences], dtype=np.int64)
        self.paragraph_ids = np.array([chunk_id(p.key) for p in self.paragraphs], dtype=np.int64)
        self.clause_ids = np.concatenate(clause_ids) if clause_ids else np.empty(0, np.int64)
        self.clause_owner = np.concatenate(clause_owner) if clause_owner else np.empty(0, np.int64)
        self.sentence_paragraph = np.array(sentence_paragraph, dtype=np.int64)
        self.paragraph_doc = np.array([self.doc_index[p.doc] for p in self.paragraphs], dtype=np.int32)
        # Part headings (第一，……。) are titles: they count for their paragraph but are quoted last.
        self.heading = np.array([s.start == 0 and bool(PART_HEADING.match(s.text)) for s in self.sentences],
                                dtype=bool)
        # Paragraphs that only address the audience (同志们！) say nothing a question could ask about.
        self.content = np.array([not is_salutation(p.text) for p in self.paragraphs], dtype=bool)
        if len(self.content) and not self.content.any():
            self.content[:] = True
        n_p = len(self.paragraphs)
        self.first_sentence = np.searchsorted(self.sentence_paragraph, np.arange(n_p + 1), side="left")
        self.paragraph_row = {(p.doc, p.paragraph): i for i, p in enumerate(self.paragraphs)}
        every = np.concatenate([self.sentence_ids, self.paragraph_ids, self.clause_ids])
        codes = np.concatenate([np.full(len(self.sentence_ids), SENTENCE_CODE, np.int8),
                                np.full(n_p, PARAGRAPH_CODE, np.int8),
                                np.full(len(self.clause_ids), CLAUSE_CODE, np.int8)])
        rows = np.concatenate([np.arange(len(self.sentence_ids)), np.arange(n_p), np.arange(len(self.clause_ids))])
        order = np.argsort(every, kind="stable")
        self._sorted_ids, self._codes, self._rows = every[order], codes[order], rows[order]

    def __len__(self) -> int:
        return len(self._sorted_ids)

    def locate(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For chunk ids: whether each is known, its kind code and its row within its kind."""
        ids = np.asarray(ids, dtype=np.int64)
        at = np.searchsorted(self._sorted_ids, ids)
        at = np.minimum(at, max(len(self._sorted_ids) - 1, 0))
        known = (self._sorted_ids[at] == ids) if len(self._sorted_ids) else np.zeros(len(ids), bool)
        return known, self._codes[at], self._rows[at]

    def sentence_rows(self, paragraph_rows: np.ndarray) -> np.ndarray:
        """The sentence rows of some paragraph rows, in order."""
        return ranges(self.first_sentence[paragraph_rows], self.first_sentence[paragraph_rows + 1])


def _fits(cached: tuple[np.ndarray, np.ndarray], sentences: int) -> bool:
    ids, owner = cached
    return ids.ndim == owner.ndim == 1 and len(ids) == len(owner) and (
        not len(owner) or (owner.min() >= 0 and owner.max() < sentences))
