"""Suggested follow-ups: short questions the documents are known to answer, offered after an answer."""

from __future__ import annotations

from qa.corpus.state import Index
from qa.types import Answer, Query


def after(query: Query, answer: Answer, index: Index) -> tuple[str, ...]:
    """Up to three questions to ask next (none for now)."""
    return ()
