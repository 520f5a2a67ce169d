"""The analysis stage: a question checked and read once, into a Query that every later stage uses."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from qa.analysis import context, entities, intent
from qa.errors import InputError
from qa.lexical.bridge import english_words
from qa.lexical.words import Tokenizer
from qa.types import Query, StructureAsk, Turn

# Raw text may be this many times the limit (whitespace and invisible characters are dropped before counting).
RAW_LIMIT_FACTOR = 10
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[a-zA-Z\uff21-\uff3a\uff41-\uff5a]")


def clean_question(question: object, max_chars: int) -> str:
    """Check a question and make it safe to search.

    Control, format (zero-width, bidi) and lone-surrogate characters are dropped; whitespace runs become one
    space. ``max_chars`` applies to the cleaned text; raw text over ``RAW_LIMIT_FACTOR`` times that is
    refused unread. Messages never repeat the question.

    Raises:
        InputError: Not text, empty, too long, or without any letter, digit or CJK character.
    """
    if not isinstance(question, str):
        raise InputError("The question must be text.", code="not_text")
    if len(question) > RAW_LIMIT_FACTOR * max_chars:  # refused before the per-character scan below
        raise InputError(f"The question has {len(question)} characters; the limit is {max_chars}. Shorten it.",
                         code="too_long")
    kept = []
    for ch in question:
        category = unicodedata.category(ch)
        if category in ("Cc", "Zl", "Zp"):
            kept.append(" ")
        elif category not in ("Cf", "Cs", "Co", "Cn"):
            kept.append(ch)
    text = " ".join("".join(kept).split())
    if not text:
        raise InputError("The question is empty. Ask something about the documents.", code="empty")
    if len(text) > max_chars:
        raise InputError(f"The question has {len(text)} characters; the limit is {max_chars}. Shorten it.",
                         code="too_long")
    if not any(unicodedata.category(ch)[0] in "LN" for ch in text):
        raise InputError("The question has no words to search for (only punctuation or symbols).", code="no_words")
    return text


def language_of(text: str) -> str:
    """"zh" for Chinese, "en" for English (also English that quotes a Chinese term: What about 十四五?), else
    "other"."""
    chinese = len(CJK.findall(text))
    english = len(re.findall(r"[a-zA-Z\uff21-\uff3a\uff41-\uff5a]{2,}", text))
    if chinese and not (english >= 3 and chinese <= 2 * english):
        return "zh"
    return "en" if _LATIN.search(text) else "other"


def uncapped(question: str) -> str:
    """The question in sentence case if its letters are all capitals (WHAT IS CRAFTSMANSHIP? -> What is
    craftsmanship?): the model is case-sensitive, and caps lock should not change the answer."""
    if CJK.search(question):
        return question
    letters = [ch for ch in question if ch.isalpha()]
    return question.capitalize() if len(letters) >= 4 and all(ch.isupper() for ch in letters) else question


def content_words(text: str, language: str, tokenizer: Tokenizer) -> list[str]:
    """The words of a question that name something: jieba tokens without stopwords, or English stems."""
    if language == "zh":
        return [w for w in tokenizer(text) if len(w) > 1 or CJK.match(w)]
    return english_words(text)


def analyse(question: str, tokenizer: Tokenizer, history: Sequence[Turn] = (),
            documents: frozenset[str] | None = None) -> Query:
    """Read a cleaned question once: language, tokens, intent, named things, structure asked, and context.

    Args:
        question: The question, already checked by :func:`clean_question`.
        tokenizer: The corpus's tokenizer (its dictionary and stopwords).
        history: Earlier turns of the conversation, oldest first; a follow-up is read against the last one.
        documents: The documents the question is limited to (None: all).
    """
    language = language_of(question)
    words = content_words(question, language, tokenizer)
    reading = context.resolve(question, language, words, history, tokenizer) if history else None
    text = reading.text if reading else question
    if reading:
        words = content_words(text, language, tokenizer)
    kind = reading.intent if reading and reading.intent else intent.intent_of(text)
    structure = reading.structure if reading and reading.structure else intent.structure_of(text, words)
    if structure is not None and kind in intent.TYPED and structure.kind in ("song", "sayings"):
        structure = None  # 这首歌是谁写的？ asks who wrote the song, not which songs the speech names
    plain = [w for w in tokenizer._jieba.lcut(text, HMM=False) if w not in tokenizer.stopwords] if language == "zh" \
        else words
    if intent.scoped(structure, plain):
        structure = StructureAsk("within", (), None, structure.kind)
    elif structure is not None:
        kind = intent.STRUCTURE
    search = uncapped(text)
    focus = context.topic_of(text, language, tokenizer)
    return Query(
        text=question,
        search=search,
        language=language,
        tokens=tuple(tokenizer(search)),
        intent=kind,
        focus=(focus,) if focus else (),
        entities=entities.find(text, tokenizer),
        structure=structure,
        interpreted_as=reading.interpreted_as if reading else None,
        anchors=reading.anchors if reading else (),
        documents=documents,
    )
