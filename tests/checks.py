"""Checks shared by the hostile-input and property tests: a well-formed answer, and a call that must not hang."""

from __future__ import annotations

import json
import threading

import pytest


def within(seconds: float, call, *args, **kwargs):
    """Run ``call`` on a thread and fail the test if it takes longer than ``seconds`` (a hang)."""
    box: dict = {}

    def target():
        try:
            box["value"] = call(*args, **kwargs)
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"{getattr(call, '__name__', call)} did not return within {seconds} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


ANSWER_KEYS = {"question", "answered", "answer", "confidence", "citations", "related", "interpreted_as", "suggestions",
               "language"}


def check_answer(data: dict, document, quotes: int = 3) -> None:
    """The answer JSON is complete and honest: quotes are verbatim spans of their paragraphs, nothing leaks.

    ``quotes`` bounds the citations of an answer found by search; a structure answer (an outline) may cite more.
    """
    assert set(data) == ANSWER_KEYS
    assert isinstance(data["answer"], str) and data["answer"]
    json.dumps(data, ensure_ascii=False).encode("utf-8")  # no lone surrogates left to break a UTF-8 writer
    assert not any(ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF for ch in data["question"])
    assert bool(data["citations"]) == data["answered"]
    assert not (data["answered"] and data["related"])
    assert data["language"] in ("zh", "en")
    assert len(data["suggestions"]) <= 3
    for c in data["citations"] + data["related"]:
        assert c["document"]["id"] == document.id
        assert c["text"] == document.paragraph(c["paragraph"]).text
        assert 0 <= c["start"] < c["end"] <= len(c["text"])
        assert c["text"][c["start"] : c["end"]] == c["quote"]
    # The Markdown answer holds only escaped speech text (or the refusal): no tag from the question survives.
    assert "<" not in data["answer"].replace("\\<", "")
