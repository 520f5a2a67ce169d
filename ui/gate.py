"""One gate in front of the model: at most one answer per CPU core computes at a time, whichever edge asked."""

from __future__ import annotations

import threading

from qa.assistant import Assistant
from qa.types import Answer

# Two cores: each answer is ~20 ms of CPU-bound embedding and scoring, so a third one at once only slows the others.
MAX_CONCURRENT_ANSWERS = 2


class Gate:
    """``assistant.ask`` behind a semaphore shared by the chat, the Gradio API and the JSON API.

    Args:
        assistant: The assistant whose ``ask`` is guarded.
        limit: How many answers may compute at the same time.
    """

    def __init__(self, assistant: Assistant, limit: int = MAX_CONCURRENT_ANSWERS) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}.")
        self.assistant = assistant
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)
        self.warm = False  # True once an answer has been computed: model and index are loaded

    def warm_up(self) -> None:
        """Load the model and the index and answer once, so the first visitor waits no longer than the next."""
        self.ask("劳动")

    def ask(self, question: object, quotes: object = None, history: object = None, doc: object = None) -> Answer:
        """Answer in the calling thread once a slot is free (blocking: call it from a worker thread).

        Raises:
            InputError: The question, ``quotes``, ``history`` or ``doc`` cannot be used.
        """
        with self._slots:
            answer = self.assistant.ask(question, quotes=quotes, history=history, doc=doc)
        self.warm = True
        return answer
