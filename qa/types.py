"""Frozen records passed between the pipeline's stages."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Section:
    """One numbered part of the speech, such as 第一，大力弘扬劳模精神……"""

    number: int
    label: str
    heading: str

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "label": self.label, "heading": self.heading}


@dataclass(frozen=True)
class Paragraph:
    """A paragraph as a reader counts it: number from 1, its text, its part."""

    n: int
    text: str
    section: Section | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "section": self.section.label if self.section else None,
            "section_number": self.section.number if self.section else None,
            "section_heading": self.section.heading if self.section else None,
            "text": self.text,
        }


@dataclass(frozen=True)
class Document:
    """A speech: its metadata and its paragraphs in reading order."""

    title: str | None
    date: str | None
    speaker: str | None
    paragraphs: tuple[Paragraph, ...]

    def paragraph(self, n: int) -> Paragraph:
        """Return paragraph number ``n`` (1-based)."""
        return self.paragraphs[n - 1]

    def sections(self) -> list[Section]:
        """The numbered parts in order, each once."""
        seen: dict[int, Section] = {}
        for p in self.paragraphs:
            if p.section and p.section.number not in seen:
                seen[p.section.number] = p.section
        return list(seen.values())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        """Rebuild a document from :meth:`to_dict` output."""
        paragraphs = []
        for p in data["paragraphs"]:
            section = None
            if p["section"]:
                section = Section(number=p["section_number"], label=p["section"], heading=p["section_heading"])
            paragraphs.append(Paragraph(n=p["n"], text=p["text"], section=section))
        return cls(data["title"], data["date"], data["speaker"], tuple(paragraphs))

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "date": self.date,
            "speaker": self.speaker,
            "paragraphs": [p.to_dict() for p in self.paragraphs],
        }


@dataclass(frozen=True)
class Passage:
    """A sentence: the unit that is searched and quoted, inside its paragraph."""

    paragraph: int
    start: int
    end: int
    text: str
    id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.id:
            digest = hashlib.sha1(f"{self.paragraph}:{self.text}".encode()).hexdigest()[:16]
            object.__setattr__(self, "id", digest)


@dataclass(frozen=True)
class Hit:
    """A passage with its score from each retrieval leg and the fused score."""

    passage: Passage
    score: float
    dense: float
    bm25: float


@dataclass(frozen=True)
class Citation:
    """One quoted span of a paragraph, with its character offsets in that paragraph."""

    paragraph: int
    section: str | None
    quote: str
    text: str
    score: float
    start: int
    end: int
    section_heading: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "paragraph": self.paragraph,
            "section": self.section,
            "section_heading": self.section_heading,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class Answer:
    """What the assistant says to one question: quotes best first, or a plain refusal."""

    question: str
    answered: bool
    answer: str
    citations: tuple[Citation, ...] = ()
    confidence: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answered": self.answered,
            "answer": self.answer,
            "confidence": round(self.confidence, 4),
            "citations": [c.to_dict() for c in self.citations],
        }
