"""The English-to-Chinese bridge: real CC-CEDICT, real jieba, real BM25 (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from qa.lexical.bridge import Bridge, asks_something, build_lexicon, build_names, english_words
from qa.lexical.words import Tokenizer


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("The labour of workers", ["labor", "worker"]),  # British spelling folded, stopwords dropped
        ("Honoured unions!", ["honor", "union"]),
        ("organise, organize", ["organiz", "organiz"]),
        ("What is it?", []),
        ("ＴＲＡＤＥ ｕｎｉｏｎｓ", ["trade", "union"]),  # full-width letters are letters
        ("Don't workers' rights", ["worker", "right"]),  # contractions leave no stray "don"
        ("craftsmanship, leadership", ["craftsman", "leader"]),  # the dictionary glosses the person
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
    assert "pizza" not in lexicon  # CC-CEDICT has 比萨饼 for it, which the speech never says
    # A one-word gloss weighs 1, a word of a longer gloss less.
    assert lexicon["happi"]["幸福"] == 1.0
    assert all(0 < weight <= 1 for words in lexicon.values() for weight in words.values())


@pytest.mark.parametrize(
    ("text", "asks"),
    [("hi", False), ("ok, thanks!", False), ("Ｈｅｌｌｏ", False), ("labour", True), ("1950", True),
     ("Что говорится о профсоюзах?", True), ("노동", True)],
)
def test_asks_something_judges_english_greetings_only(text, asks):
    assert asks_something(text) is asks


def test_bridge_groups_translations_by_english_word(speech_bridge):
    groups = speech_bridge("Happiness of trade unions, and happiness")
    assert len(groups) == 3  # happi, trade, union: a repeated word counts once
    assert any("幸福" in g for g in groups) and any("工会" in g for g in groups)
    assert speech_bridge("pizza") == []


def test_english_question_reaches_bm25(assistant):
    """BM25 alone, through the bridge, ranks a trade-union paragraph first for an English question."""
    index = assistant.index
    question = "What should trade unions do?"
    tokens = index.tokenizer(question)
    assert not index.lexical.scores(tokens)[1].any()  # jieba's English tokens match nothing
    paragraph = index.lexical.scores(tokens, index.bridge(question))[1]
    best = index.table.paragraphs[int(np.argmax(paragraph))]
    assert "工会" in best.text


def test_names_are_read_from_cc_cedict_for_people_and_places():
    names = build_names()
    assert names["li keqiang"] == ["李克强"] and "上海" in names["shanghai"] and "湖北" in names["hubei"]
    assert "xi jinping" in names and "november" not in names and "five-year plan" not in names


def _gzip_bytes(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot be read"),  # no file at all
        (b"", "is empty"),  # zero bytes read as an empty gzip stream
        (b"plain text", "cannot be read"),  # not gzip
        (b"\x1f\x8b\x08\x00garbage", "cannot be read"),  # a broken gzip stream
        (_gzip_bytes("工会 工会 [gong1 hui4] /labor union/".encode("gbk")), "cannot be read"),  # not UTF-8
        (_gzip_bytes(b""), "is empty"),
    ],
    ids=["missing", "zero-bytes", "not-gzip", "broken-gzip", "not-utf8", "empty"],
)
def test_a_bad_dictionary_warns_and_english_falls_back_to_vectors(monkeypatch, tmp_path, content, message):
    dictionary = tmp_path / "cedict.txt.gz"
    if content is not None:
        dictionary.write_bytes(content)
    monkeypatch.setattr("qa.lexical.bridge._dictionary", lambda: dictionary)
    with pytest.warns(UserWarning, match=message):
        lexicon = build_lexicon({"工会"})
    assert lexicon == {}
    assert Bridge(lexicon)("trade unions") == []


def test_a_small_dictionary_is_read_as_cc_cedict(monkeypatch, tmp_path):
    dictionary = tmp_path / "cedict.txt.gz"
    lines = "# comment\n工會 工会 [gong1 hui4] /labor union/trade union/CL:個|个[ge4]/\n勞動 劳动 [lao2 dong4] /work/labor/\n"
    dictionary.write_bytes(_gzip_bytes(lines.encode("utf-8")))
    monkeypatch.setattr("qa.lexical.bridge._dictionary", lambda: dictionary)
    lexicon = build_lexicon({"工会", "劳动"})
    assert lexicon == {"labor": {"工会": 0.5, "劳动": 1.0}, "union": {"工会": 0.5}, "trade": {"工会": 0.5},
                       "work": {"劳动": 1.0}}


def test_english_words_are_stemmed_the_same_by_answers_running_at_once():
    import threading

    text = "How should the rights of delivery workers and their craftsmanship be protected by unions?"
    expected = english_words(text)
    results, errors = [], []

    def run() -> None:
        try:
            results.extend(english_words(text) for _ in range(2000))
        except Exception as exc:  # noqa: BLE001  a shared stemmer broke here with IndexError
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and all(r == expected for r in results) and len(results) == 8000
