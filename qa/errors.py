"""Errors the library raises; each message says what to do about it."""


class QAError(Exception):
    """Base class for every error this package raises on purpose.

    The message is kept to one line (a library's multi-line text inside it is joined), so every edge can show it
    as it is: one line from the CLI, one field in the API's JSON.
    """

    def __init__(self, message: object = "") -> None:
        super().__init__(" ".join(str(message).split()))


class InputError(QAError):
    """A question or setting the user gave cannot be used as it is.

    ``code`` names the problem for front ends that word it their own way.
    """

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


class SourceError(QAError):
    """The speech text is missing or cannot be read."""


class ModelError(QAError):
    """The embedding model is missing, broken or cannot be loaded."""


class StoreError(QAError):
    """The on-disk index is missing, stale, corrupt or cannot be written."""


class StoreUnavailable(StoreError):
    """The vector store's engine does not answer (down, unreachable, or past its timeout): try again later."""

    code = "store_unavailable"
