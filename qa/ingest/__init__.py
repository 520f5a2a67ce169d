"""Files to Documents: plain text (as PDF extraction lays it out, or in blank-line blocks), Markdown, PDF, DOCX."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import SourceError
from qa.ingest import header, layout, structure
from qa.ingest.clean import clean
from qa.types import Document

# File name endings and the reader of each.
KINDS = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown", ".pdf": "pdf", ".docx": "docx"}


@dataclass(frozen=True)
class Laid:
    """What a reader found in a file: paragraph texts in order, part headings that stand on their own
    (by the index of the paragraph each opens), and what the layout shows of title, date and speaker."""

    texts: list[str]
    headings: dict[int, str] = field(default_factory=dict)
    title: str | None = None
    date: str | None = None
    speaker: str | None = None


def kind_of(path: Path) -> str:
    """The reader for a file, by its name.

    Raises:
        SourceError: Not a kind of file that can be read.
    """
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        known = ", ".join(sorted(KINDS))
        raise SourceError(f"{path.name}: cannot read {path.suffix or 'files without an extension'} files; "
                          f"give one of {known}.")
    return kind


def read(path: str | Path, *, title: str | None = None, date: str | None = None,
         speaker: str | None = None) -> Document:
    """Read a file into a document: paragraphs, parts, title, date and speaker.

    Args:
        path: A .txt, .md, .pdf or .docx file.
        title: The title to use instead of the one the layout shows.
        date: The date (YYYY-MM-DD) to use instead of the one the layout shows.
        speaker: The speaker or author to use instead of the one the layout shows.

    Raises:
        SourceError: The file is missing, unreadable, of an unknown kind, damaged, or holds no text.
    """
    path = Path(path)
    kind = kind_of(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"Cannot read {path}: {exc.strerror}.") from exc
    if kind == "text":
        laid = plain(decode(raw, path))
    elif kind == "markdown":
        from qa.ingest import markdown

        laid = markdown.lay(clean(decode(raw, path)))
    elif kind == "pdf":
        from qa.ingest import pdf

        laid = pdf.lay(raw, path)
    else:
        from qa.ingest import docx

        laid = docx.lay(raw, path)
    return document(laid, title=title, date=date, speaker=speaker, name=path.name)


def parse(text: str, **meta: str | None) -> Document:
    """A document from plain text (see :func:`plain`); ``meta`` as for :func:`read`.

    Raises:
        SourceError: There is no paragraph text.
    """
    return document(plain(text), **meta)


def decode(raw: bytes, path: Path) -> str:
    """Bytes of a text file as text.

    Raises:
        SourceError: Not UTF-8 (a byte order mark is allowed).
    """
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path.name} is not UTF-8 text (byte {exc.start}). Save it as UTF-8.") from exc


def plain(text: str) -> Laid:
    """Plain text: a header (title, date, speaker), then hard-wrapped lines or blank-line paragraphs."""
    lines = [line if line == layout.PAGE_BREAK else line.strip() for line in clean(text).split("\n")]
    top = header.find(lines)
    # The lines above the body (a title) may come back as running headers at the top of later pages.
    known = [line for line in lines[: top.body_start] if line.strip()] + ([top.title] if top.title else [])
    return Laid(layout.paragraphs(lines[top.body_start :], furniture=known), title=top.title, date=top.date,
                speaker=top.speaker)


def document(laid: Laid, title: str | None = None, date: str | None = None, speaker: str | None = None,
             name: str = "the document") -> Document:
    """Number the paragraphs, find their parts, and apply the metadata given over what the layout shows.

    Raises:
        SourceError: No paragraph text, or a date that is not YYYY-MM-DD.
    """
    texts = [t for t in (t.strip() for t in laid.texts) if t]
    if not texts:
        raise SourceError(f"{name} has no paragraphs: it is empty or holds only a title.")
    if date is not None and header.iso_date(date) != date:
        raise SourceError(f"The date {date!r} is not a date written YYYY-MM-DD.")
    headings = {i: h for i, h in laid.headings.items() if 0 <= i < len(texts)}
    return Document(
        title=title or laid.title,
        date=date or laid.date,
        speaker=speaker or laid.speaker,
        paragraphs=structure.sections(texts, headings or None),
    )
