"""One loaded state of a corpus, read by every answer: documents, chunk table, vectors, BM25, calibration."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from qa.corpus.table import ChunkTable
from qa.ingest.structure import YEAR
from qa.lexical.bm25 import LexicalIndex
from qa.lexical.bridge import Bridge
from qa.lexical.words import Tokenizer
from qa.models.calibration import Calibration
from qa.stores.base import VectorStore
from qa.types import Document


@dataclass(frozen=True)
class DocInfo:
    """A document as the corpus lists it."""

    id: str
    title: str | None
    date: str | None
    speaker: str | None
    paragraphs: int
    file: str = ""
    sha256: str = ""
    added: str = ""
    int8: bool = False
    tokens: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The public listing: ``qa docs --json`` and ``/api/docs``."""
        return {"id": self.id, "title": self.title, "date": self.date, "speaker": self.speaker,
                "paragraphs": self.paragraphs}

    def record(self) -> dict[str, Any]:
        """Everything, as the manifest keeps it."""
        return dict(self.__dict__)

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> DocInfo:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(eq=False)
class Index:
    """A corpus as one generation of its folder holds it; answers read it and never change it."""

    manifest: dict[str, Any]
    infos: list[DocInfo]
    table: ChunkTable
    store: VectorStore
    lexical: LexicalIndex
    background: np.ndarray
    calibration: Calibration
    terms: tuple[str, ...] = ()
    stopwords: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def generation(self) -> int:
        return int(self.manifest.get("generation", 0))

    @property
    def documents(self) -> dict[str, Document]:
        return self.table.documents

    def document(self, doc_id: str) -> Document:
        """The document with this id.

        Raises:
            KeyError: No such document in the corpus.
        """
        return self.table.documents[doc_id]

    @cached_property
    def years(self) -> frozenset[str]:
        """Every year the documents mention, in their text or their date."""
        texts = [d.date or "" for d in self.documents.values()] + [p.text for p in self.table.paragraphs]
        return frozenset(y for text in texts for y in YEAR.findall(text))

    @cached_property
    def text(self) -> str:
        """Every title, speaker and paragraph, without spaces: where a name the question gives is looked for."""
        meta = [x for d in self.documents.values() for x in (d.title, d.speaker) if x]
        return "\n".join(meta + [p.text for p in self.table.paragraphs]).replace(" ", "")

    @cached_property
    def name_words(self) -> frozenset[str]:
        """English words of the names (CC-CEDICT) of people, places and organisations the documents mention, or
        whose documents' speakers they are: "Xi" alone stands for Xi Jinping in a speech by 习近平."""
        vocabulary = set(self.lexical.paragraphs.vocab_dict) if self.lexical.paragraphs is not None else set()
        meta = "".join(x for d in self.documents.values() for x in (d.title, d.speaker) if x)
        found: set[str] = set()
        for key, words in self.lexical.names.items():
            if any(w in vocabulary or w in meta for w in words):
                found.update(key.split())
        return frozenset(found)

    def topics(self, documents: frozenset[str] | None = None) -> list[str]:
        """A few things the documents talk about, for the hint in a refusal: their own terms that head a part,
        most frequent first, else their most frequent terms."""
        chosen = [d for d in self.documents.values() if documents is None or d.id in documents]
        text = "\n".join(p.text for d in chosen for p in d.paragraphs)
        headings = "\n".join(s.heading for d in chosen for s in d.sections())
        ranked = sorted(self.terms, key=lambda t: (-text.count(t), t))
        headed = [t for t in ranked if t in headings]
        return (headed or ranked)[:5]

    @cached_property
    def tokenizer(self) -> Tokenizer:
        return Tokenizer(self.terms, self.stopwords)

    @cached_property
    def bridge(self) -> Bridge:
        return Bridge(self.lexical.lexicon)
