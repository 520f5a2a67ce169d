"""Jieba tokens for BM25: the speech's own terms, stopwords and punctuation dropped, width-folded."""

from __future__ import annotations

import pytest

from qa.lexical.words import Tokenizer, learn_terms, normalize


@pytest.fixture(scope="module")
def terms(document):
    return learn_terms(p.text for p in document.paragraphs)


@pytest.fixture(scope="module")
def plain():
    return Tokenizer()


def test_terms_come_from_the_speech(terms, document):
    for term in ("工匠精神", "劳模精神", "劳动精神", "网约工", "快递员", "学以增智", "中国梦·劳动美"):
        assert term in terms
    text = "".join(p.text for p in document.paragraphs)
    assert all(term in text for term in terms)
    assert all(3 <= len(term) <= 8 for term in terms)


def test_learned_terms_become_tokens(terms, plain):
    learned = Tokenizer(terms)
    assert "工匠精神" not in plain("工匠精神是什么？")
    assert "工匠精神" in learned("工匠精神是什么？")
    assert {"工匠", "精神"} <= set(learned("工匠精神是什么？")), "search mode keeps the parts too"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("讲话中提到了什么？", []),
        ("！？。，……", []),
        ("ＡＢＣ１２３ 劳动", ["abc123", "劳动"]),
        ("What is the spirit of craftsmanship?", ["spirit", "craftsmanship"]),
        ("劳\u200b动", ["劳动"]),
    ],
)
def test_tokens(plain, text, expected):
    assert plain(text) == expected


def test_normalize_folds_width_and_drops_invisible_characters():
    assert normalize("Ｑ：\u202e十四五\x00") == "q:十四五"


def test_the_documents_speakers_are_stopwords():
    """A question that names the speaker asks about the speech, not about the name."""
    assert "习近平" in Tokenizer()("习近平讲了什么？")
    assert Tokenizer(stopwords=["习近平"])("习近平讲了什么？") == []


@pytest.mark.parametrize("text", ["李克强在会上说了什么？", "上海的劳模有哪些？", "全国总工会成立多少周年？",
                                  "习近平总书记在北京人民大会堂讲话", "《劳动合同法》对试用期怎么规定？", "Tesla在上海建厂"])
def test_the_compact_tag_table_tags_as_jieba_does(text):
    import jieba.posseg

    from qa.lexical.tags import tagger

    tokenizer = Tokenizer(["工匠精神"])
    reference = jieba.posseg.POSTokenizer(tokenizer._jieba)  # reads the dictionary file itself
    for hmm in (False, True):
        assert [tuple(p) for p in tagger(tokenizer._jieba).lcut(text, HMM=hmm)] == \
            [tuple(p) for p in reference.lcut(text, HMM=hmm)]

