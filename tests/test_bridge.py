"""The English-to-Chinese bridge: real CC-CEDICT, real jieba, real BM25 (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from qa.bridge import Bridge, build_lexicon, english_words
from qa.tokens import Tokenizer


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("The labour of workers", ["labor", "worker"]),  # British spelling folded, stopwords dropped
        ("Honoured unions!", ["honor", "union"]),
        ("organise, organize", ["organiz", "organiz"]),
        ("What is it?", []),
        ("ＴＲＡＤＥ ｕｎｉｏｎｓ", ["trade", "union"]),  # full-width letters are letters
        ("劳模 and 工会", []),  # Chinese is not English
    ],
)
def test_english_words(text, words):
    assert english_words(text) == words


@pytest.fixture(scope="module")
def speech_bridge(document) -> Bridge:
    tokenizer = Tokenizer()
    return Bridge(build_lexicon({t for p in document.paragraphs for t in tokenizer(p.text)}))


def test_lexicon_translates_into_the_speech_own_words(speech_bridge):
    lexicon = speech_bridge.lexicon
    assert "工会" in lexicon["union"]
    assert {"劳动", "劳动者"} <= set(lexicon["labor"])
    assert {"劳模", "劳动模范"} <= set(lexicon["model"]) & set(lexicon["worker"])


def test_lexicon_has_only_speech_words(document):
    tokenizer = Tokenizer()
    vocabulary = {t for p in document.paragraphs for t in tokenizer(p.text)}
    lexicon = build_lexicon(vocabulary)
    targets = {word for words in lexicon.values() for word in words}
    assert targets and targets <= vocabulary
    assert "pizza" not in lexicon  # CC-CEDICT has 比萨饼 for it, which the speech never says
    # A one-word gloss weighs 1, a word of a longer gloss less.
    assert lexicon["happi"]["幸福"] == 1.0
    assert all(0 < weight <= 1 for words in lexicon.values() for weight in words.values())


def test_bridge_groups_translations_by_english_word(speech_bridge):
    groups = speech_bridge("Happiness of trade unions, and happiness")
    assert len(groups) == 3  # happi, trade, union: a repeated word counts once
    assert any("幸福" in g for g in groups) and any("工会" in g for g in groups)
    assert speech_bridge("pizza") == []


def test_english_question_reaches_bm25(assistant):
    """BM25 alone, through the bridge, ranks a trade-union paragraph first for an English question."""
    retriever = assistant.retriever
    question = "What should trade unions do?"
    tokens = retriever.tokenizer(question)
    assert not retriever.lexical_scores(tokens)[1].any()  # jieba's English tokens match nothing
    paragraph = retriever.lexical_scores(tokens, retriever.bridge(question))[1]
    best = int(np.argmax(paragraph)) + 1
    assert "工会" in assistant.document.paragraph(best).text


def test_without_the_dictionary_english_falls_back_to_vectors(monkeypatch):
    monkeypatch.setattr("qa.bridge.CEDICT", ("qa", "data/no-such-dictionary.txt.gz"))
    with pytest.warns(UserWarning, match="CC-CEDICT cannot be read"):
        lexicon = build_lexicon({"工会"})
    assert lexicon == {}
    assert Bridge(lexicon)("trade unions") == []
