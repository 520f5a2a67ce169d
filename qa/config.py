"""One Settings object: defaults, then environment variables, then explicit flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from qa.embed import DEFAULT_MODEL
from qa.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_SOURCE = ROOT / "index" / "speech-2020-11-24.txt"
MAX_QUESTION_CHARS = 500
MAX_QUOTES = 3


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        return int(value)
    except ValueError:
        raise InputError(f"{name}={value!r} is not a whole number.") from None


@dataclass(frozen=True)
class Settings:
    """Where the speech and index live, which model embeds, and answer limits."""

    source: Path = BUNDLED_SOURCE
    index_dir: Path | None = None
    model: str = DEFAULT_MODEL
    quotes: int = MAX_QUOTES
    max_question_chars: int = MAX_QUESTION_CHARS

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", Path(self.source))  # a str from a caller works as well as a Path
        if self.index_dir is not None:
            object.__setattr__(self, "index_dir", Path(self.index_dir))
        if not 1 <= self.quotes <= MAX_QUOTES:
            raise InputError(f"quotes must be between 1 and {MAX_QUOTES}, not {self.quotes}.")
        if self.max_question_chars < 1:
            raise InputError("The maximum question length must be at least 1 character.")

    @property
    def index_path(self) -> Path:
        """The index folder: the one given, or index/built/<source name> beside the bundled speech."""
        return self.index_dir or ROOT / "index" / "built" / Path(self.source).stem

    @classmethod
    def from_env(cls, **flags) -> Settings:
        """Defaults overridden by QA_* environment variables, then by the flags that are not None."""
        env = {
            "source": os.environ.get("QA_SOURCE") or None,
            "index_dir": os.environ.get("QA_INDEX_DIR") or None,
            "model": os.environ.get("QA_MODEL") or None,
            "quotes": _env_int("QA_QUOTES", MAX_QUOTES),
            "max_question_chars": _env_int("QA_MAX_QUESTION_CHARS", MAX_QUESTION_CHARS),
        }
        merged = {k: v for k, v in env.items() if v is not None}
        merged.update({k: v for k, v in flags.items() if v is not None})
        for key in ("source", "index_dir"):
            if key in merged:
                merged[key] = Path(merged[key]).expanduser()
        return replace(cls(), **merged)
