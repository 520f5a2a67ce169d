"""Frozen records passed between the pipeline's stages: documents, chunks, the analysed query, answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# What kind of text a chunk is: the unit searched and quoted, its parts, and the whole paragraph.
SENTENCE, CLAUSE, PARAGRAPH = "sentence", "clause", "paragraph"
KINDS = (SENTENCE, CLAUSE, PARAGRAPH)


@dataclass(frozen=True)
class Section:
    """One numbered part of a document, opened by a heading such as 第一，…… or 一、……"""

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
class DocRef:
    """What a citation says of its document."""

    id: str
    title: str | None = None
    date: str | None = None
    speaker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "date": self.date, "speaker": self.speaker}


@dataclass(frozen=True)
class Document:
    """A speech or text: its metadata and its paragraphs in reading order.

    ``id`` is given by the corpus (empty until the document is added to one).
    """

    title: str | None
    date: str | None
    speaker: str | None
    paragraphs: tuple[Paragraph, ...]
    id: str = ""

    @property
    def ref(self) -> DocRef:
        return DocRef(self.id, self.title, self.date, self.speaker)

    def paragraph(self, n: int) -> Paragraph:
        """Return paragraph number ``n`` (1-based).

        Raises:
            KeyError: There is no such paragraph.
        """
        if not 1 <= n <= len(self.paragraphs):
            raise KeyError(f"{self.id or 'the document'} has no paragraph {n}")
        return self.paragraphs[n - 1]

    def sections(self) -> list[Section]:
        """The numbered parts in order, each once."""
        seen: dict[int, Section] = {}
        for p in self.paragraphs:
            if p.section and p.section.number not in seen:
                seen[p.section.number] = p.section
        return list(seen.values())

    def with_meta(self, **meta: str | None) -> Document:
        """A copy with ``id``, ``title``, ``date`` or ``speaker`` replaced where given (not None)."""
        fields = {k: v for k, v in meta.items() if v is not None}
        return Document(**{**self._fields(), **fields})

    def _fields(self) -> dict[str, Any]:
        return {"title": self.title, "date": self.date, "speaker": self.speaker, "paragraphs": self.paragraphs,
                "id": self.id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        """Rebuild a document from :meth:`to_dict` output."""
        paragraphs = []
        for p in data["paragraphs"]:
            section = None
            if p.get("section"):
                section = Section(number=p["section_number"], label=p["section"], heading=p["section_heading"])
            paragraphs.append(Paragraph(n=p["n"], text=p["text"], section=section))
        return cls(data.get("title"), data.get("date"), data.get("speaker"), tuple(paragraphs), data.get("id", ""))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "date": self.date,
            "speaker": self.speaker,
            "paragraphs": [p.to_dict() for p in self.paragraphs],
        }


@dataclass(frozen=True)
class Chunk:
    """A span of one paragraph that is embedded and searched: a sentence, a clause or the whole paragraph.

    Its identity is (document, paragraph, start, end, kind), never a position in an array.
    """

    doc: str
    paragraph: int
    start: int
    end: int
    kind: str
    text: str

    @property
    def key(self) -> str:
        return f"{self.doc}/{self.paragraph}/{self.start}-{self.end}/{self.kind}"


@dataclass(frozen=True)
class Entities:
    """The named things of a question."""

    persons: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()
    years: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        """People, places, organisations and titles: the names a document either mentions or does not."""
        return self.persons + self.places + self.organisations + self.titles

    def to_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.__dict__.items() if v}


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation: the question and the answer (its JSON) given then."""

    question: str
    answer: dict[str, Any] = field(default_factory=dict)

    def cited(self) -> list[tuple[str, int]]:
        """The (document id, paragraph) pairs the answer cited, in order."""
        out = []
        for c in list(self.answer.get("citations") or []) + list(self.answer.get("related") or []):
            if isinstance(c, dict) and isinstance(c.get("paragraph"), int):
                doc = c.get("document") if isinstance(c.get("document"), dict) else {}
                out.append((str(doc.get("id") or ""), c["paragraph"]))
        return out


@dataclass(frozen=True)
class Query:
    """A question analysed once and passed down: its language, words, intent, named things and context.

    ``text`` is the question as asked (cleaned); ``search`` is what the retrieval embeds and matches,
    which differs when the question was read in context (``interpreted_as``). ``anchors`` are paragraphs the
    previous answer cited (preferred); ``within`` limits the search to some paragraphs (开场白里…: the opening).
    """

    text: str
    search: str
    language: str
    tokens: tuple[str, ...]
    intent: str
    focus: tuple[str, ...] = ()
    entities: Entities = field(default_factory=Entities)
    structure: StructureAsk | None = None
    interpreted_as: str | None = None
    anchors: tuple[tuple[str, int], ...] = ()
    documents: frozenset[str] | None = None
    within: tuple[tuple[str, int], ...] = ()

    @property
    def english(self) -> bool:
        return self.language == "en"


@dataclass(frozen=True)
class StructureAsk:
    """A question about a document's layout: its outline, some parts, its opening or ending, what it quotes.

    ``parts`` are part numbers (-1: the last part); for ``kind == "paragraph"`` they are paragraph numbers. A
    question of ``kind == "within"`` is answered by search, within the ``region`` (opening, ending …) named; an
    ``outline`` with ``region == "parts"`` asks for the parts alone (how many, which), without the opening and end.
    """

    kind: str
    parts: tuple[int, ...] = ()
    doc: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class Hit:
    """A sentence with its score from each retrieval leg and the fused score."""

    chunk: Chunk
    score: float
    dense: float
    bm25: float


@dataclass(frozen=True)
class Citation:
    """One quoted span of a paragraph, with its character offsets in that paragraph."""

    document: DocRef
    paragraph: int
    section: Section | None
    quote: str
    text: str
    score: float
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "document": self.document.to_dict(),
            "paragraph": self.paragraph,
            "section": self.section.label if self.section else None,
            "section_number": self.section.number if self.section else None,
            "section_heading": self.section.heading if self.section else None,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class Answer:
    """What the assistant says to one question: quotes best first, or an honest "the text does not say".

    ``related`` holds paragraphs on the question's topic when the document discusses the topic but not the
    asked fact (then ``answered`` is False); ``interpreted_as`` is how a follow-up was read in context.
    """

    question: str
    answered: bool
    answer: str
    citations: tuple[Citation, ...] = ()
    confidence: float = 0.0
    related: tuple[Citation, ...] = ()
    interpreted_as: str | None = None
    suggestions: tuple[str, ...] = ()
    language: str = "zh"

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answered": self.answered,
            "answer": self.answer,
            "confidence": round(self.confidence, 4),
            "citations": [c.to_dict() for c in self.citations],
            "related": [c.to_dict() for c in self.related],
            "interpreted_as": self.interpreted_as,
            "suggestions": list(self.suggestions),
            "language": self.language,
        }
