"""One Settings object: defaults, then QA_* environment variables, then explicit flags."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from qa.errors import InputError
from qa.models.cache import DEFAULT_MODEL_NAME

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_SOURCE = ROOT / "index" / "speech-2020-11-24.txt"
DEFAULT_CORPUS = ROOT / "index" / "corpus"
MAX_QUESTION_CHARS = 500
MAX_QUOTES = 3


class Settings(BaseSettings):
    """Which corpus to answer from, which model embeds, and the limits of an answer.

    Every field can be set by a ``QA_``-prefixed environment variable (``QA_CORPUS``, ``QA_QUOTES`` …);
    values passed to the constructor (the command line's flags) win over the environment.
    """

    model_config = SettingsConfigDict(env_prefix="QA_", frozen=True, extra="ignore")

    corpus: Path = Field(DEFAULT_CORPUS, description="The corpus folder (documents and index).")
    model: str = Field(DEFAULT_MODEL_NAME, description="sentence-transformers model name or folder.")
    quotes: int = Field(MAX_QUOTES, ge=1, le=MAX_QUOTES, description="Sentences quoted at most per answer.")
    max_question_chars: int = Field(MAX_QUESTION_CHARS, ge=1, description="Longest question accepted.")
    rate_limit: str | None = Field(None, description="Answers per client, such as 10/second or 60/minute.")
    store: str | None = Field(None, description="Where the vectors are: milvus://HOST:PORT or milvus-lite://PATH "
                                                "(default: the embedded store in the corpus folder).")

    @field_validator("corpus", mode="before")
    @classmethod
    def _expand(cls, value: object) -> object:
        return Path(value).expanduser() if isinstance(value, str | Path) and str(value).strip() else DEFAULT_CORPUS

    @field_validator("store", mode="before")
    @classmethod
    def _store(cls, value: object) -> object:
        if isinstance(value, str) and value.strip():
            from qa import stores

            stores.check(value.strip())  # InputError for a URI that cannot be used
            return value.strip()
        return None

    @field_validator("model", mode="before")
    @classmethod
    def _model(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) and value.strip() else DEFAULT_MODEL_NAME

    @property
    def seed(self) -> tuple[Path, ...]:
        """What a new corpus starts with: the bundled speech for the default corpus, nothing for another."""
        return (BUNDLED_SOURCE,) if self.corpus.resolve() == DEFAULT_CORPUS.resolve() else ()

    @classmethod
    def from_env(cls, **flags) -> Settings:
        """Defaults overridden by QA_* environment variables, then by the flags that are not None.

        Raises:
            InputError: A value is out of range or of the wrong kind.
        """
        try:
            return cls(**{k: v for k, v in flags.items() if v is not None})
        except ValidationError as exc:
            problem = exc.errors()[0]
            name = ".".join(str(x) for x in problem.get("loc", ())) or "setting"
            raise InputError(f"{name} (QA_{name.upper()}): {problem.get('msg', 'invalid')}.", code="bad_setting") \
                from None
