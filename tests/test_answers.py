"""End to end with the real model: questions in my own words cite the right paragraph, verbatim."""

from __future__ import annotations

import pytest

from qa.errors import InputError

# Questions written for this test (not the evaluation set), with the paragraph a reader would point to.
QUESTIONS = [
    ("为什么说劳模是共和国的功臣？", 4),
    ("第一次表彰劳模是在哪一年？", 5),
    ("疫情期间涌现出的先进人物铸就了什么精神？", 6),
    ("我国的经济和科技实力现在怎么样？", 8),
    ("从哪一年起进入十四五时期？", 9),
    ("劳模精神包含哪些内容？", 10),
    ("获表彰的劳模应该如何保持本色？", 11),
    ("怎样在大中小学开展劳动教育？", 12),
    ("工人阶级要学习哪些历史？", 14),
    ("为什么要培养大国工匠和高技能人才？", 15),
    ("货车司机这些新就业群体的权益怎么维护？", 16),
    ("中华全国总工会成立多少周年？", 18),
    ("讲话向哪些工会工作者表示慰问？", 19),
    ("各级党委应该怎样领导工会工作？", 21),
    ("Why are skilled workers important?", 15),
]
OUT_OF_SCOPE = ["明天上海的天气怎么样？", "How do I renew my passport?", "红烧肉怎么做才好吃？", "Recommend a good pizza recipe."]
# What people type into a chat box before asking anything: no quotes for these.
SMALL_TALK = ["你好", "谢谢", "在吗", "hello", "hi", "thanks!", "ok", "good morning", "bye", "okay, thank you"]
# Single words the speech is about, in English: still answered next to the small talk.
ENGLISH_KEYWORDS = ["labour", "craftsmanship", "trade unions", "lifelong learning"]


@pytest.mark.parametrize(("question", "paragraph"), QUESTIONS)
def test_question_cites_its_paragraph(assistant, question, paragraph):
    answer = assistant.ask(question)
    assert answer.answered, question
    assert answer.citations[0].paragraph == paragraph, [c.paragraph for c in answer.citations]


@pytest.mark.parametrize("question", OUT_OF_SCOPE)
def test_out_of_scope_is_not_answered(assistant, question):
    answer = assistant.ask(question)
    assert answer.answered is False
    assert answer.citations == ()
    assert "没有" in answer.answer


@pytest.mark.parametrize("question", SMALL_TALK)
def test_small_talk_is_not_answered_with_quotes(assistant, question):
    assert assistant.ask(question).answered is False


@pytest.mark.parametrize("question", ENGLISH_KEYWORDS)
def test_english_keywords_are_answered(assistant, question):
    assert assistant.ask(question).answered is True


@pytest.mark.parametrize(
    ("question", "foreign"),
    [("1950 年发生了什么？", 0), ("What begins in 2021?", 0), ("讲话是哪一年发表的？2020 年吗？", 0),
     ("1990 年的表彰大会讲了什么？", 1), ("Compare 1990 and 2008 with 1950.", 2)],
)
def test_years_the_speech_never_mentions_are_counted(assistant, question, foreign):
    assert assistant.retriever.search(question).evidence.foreign_years == foreign


@pytest.mark.parametrize("question", ["同志们", "讲话开头怎么称呼大家？", "<img src=x onerror=alert(1)>", "Comrades!"])
def test_salutations_are_never_the_answer(assistant, document, question):
    """同志们！ paragraphs address the audience and say nothing: they rank, and are quoted, after every other."""
    salutations = {p.n for p in document.paragraphs if p.text in ("同志们：", "同志们！")}
    assert len(salutations) == 4
    found = assistant.retriever.search(question, k=len(document.paragraphs))
    ranked = [n for n, _ in found.paragraphs]
    assert set(ranked[-len(salutations):]) == salutations
    assert found.hits[0].passage.paragraph not in salutations
    assert all(c.paragraph not in salutations for c in assistant.ask(question).citations)


@pytest.mark.parametrize("question", ["What is craftsmanship?", "How should the rights of delivery workers be protected?"])
def test_caps_lock_does_not_change_the_answer(assistant, question):
    shouted, asked = assistant.ask(question.upper()), assistant.ask(question)
    assert shouted.answered and [c.quote for c in shouted.citations] == [c.quote for c in asked.citations]


@pytest.mark.parametrize("question", ["trade unions", "劳动光荣吗？", "同志们"])
def test_salutations_rank_last_in_a_short_speech_too(embedder, tmp_path, question):
    """With one content paragraph among salutations, the penalty still outranks any score (it once did not)."""
    from qa import source, store
    from qa.answer import compose
    from qa.retrieve import Retriever

    text = "讲话\n\n同志们：\n\n劳动创造幸福。劳动光荣。\n\n同志们！\n\n各位来宾：\n"
    document = source.parse(text)
    assert [p.text for p in document.paragraphs] == ["同志们：", "劳动创造幸福。劳动光荣。", "同志们！", "各位来宾："]
    retriever = Retriever(store.build(document, "digest", embedder, tmp_path / "index", progress=None), embedder)
    found = retriever.search(question, k=4)
    assert found.paragraphs[0][0] == 2
    assert {h.passage.paragraph for h in found.hits} == {2}
    assert all(c.paragraph == 2 for c in compose(question, found, document).citations)
    assert retriever.search(question, k=0).paragraphs == []


def test_json_contract(assistant, document):
    data = assistant.ask("工匠精神是什么？").to_dict()
    assert set(data) >= {"question", "answered", "answer", "citations"}
    assert data["question"] == "工匠精神是什么？" and data["answered"] is True
    assert isinstance(data["answer"], str) and data["answer"].startswith(">")
    assert 1 <= len(data["citations"]) <= 3
    scores = [c["score"] for c in data["citations"]]
    assert scores == sorted(scores, reverse=True)
    for c in data["citations"]:
        assert set(c) >= {"paragraph", "section", "quote", "text", "score", "start", "end"}
        paragraph = document.paragraph(c["paragraph"])
        assert c["text"] == paragraph.text
        assert c["text"][c["start"] : c["end"]] == c["quote"]
        assert c["section"] == (paragraph.section.label if paragraph.section else None)
        assert c["quote"] in data["answer"].replace("\\", "")
        assert f"第{c['paragraph']}段" in data["answer"]
    assert data["citations"][0]["section"] == "第一部分"


@pytest.mark.parametrize("quotes", [1, 2, 3])
def test_quote_count_is_respected(assistant, quotes):
    assert len(assistant.ask("劳动者的合法权益如何保障？", quotes=quotes).citations) <= quotes


@pytest.mark.parametrize(
    ("question", "code"),
    [("", "empty"), ("   \n\t ", "empty"), ("？！。", "no_words"), ("😀😀", "no_words"), ("劳" * 600, "too_long"),
     (None, "not_text")],
)
def test_unusable_questions_get_a_clear_error(assistant, question, code):
    with pytest.raises(InputError) as caught:
        assistant.ask(question)
    assert caught.value.code == code


def test_html_in_a_question_is_not_echoed_as_markup(assistant):
    answer = assistant.ask("<img src=x onerror=alert(1)> 工匠精神")
    assert "<img" not in answer.answer
