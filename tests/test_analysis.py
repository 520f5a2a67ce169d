"""Reading a question: language, intent and answer type, structure asked, named things, follow-ups."""

from __future__ import annotations

import pytest

from qa.analysis import analyse, clean_question, context, entities, intent, language_of
from qa.errors import InputError
from qa.lexical.words import Tokenizer
from qa.types import StructureAsk, Turn


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer(["工匠精神", "劳模精神"], ["习近平"])


@pytest.mark.parametrize(("text", "language"), [
    ("工匠精神是什么？", "zh"), ("What is craftsmanship?", "en"), ("What does Xi say about 十四五?", "en"),
    ("讲话里 AI 怎么说", "zh"), ("Привет", "other"), ("１２３", "other"),
])
def test_language(text, language):
    assert language_of(text) == language


@pytest.mark.parametrize(("text", "kind"), [
    ("工匠精神是什么？", intent.DEFINITION), ("为什么要终身学习？", intent.REASON), ("怎样提高劳动者素质？", intent.METHOD),
    ("谁是历史的创造者？", intent.PERSON), ("大会在哪里举行？", intent.PLACE), ("第一次表彰劳模是哪一年？", intent.TIME),
    ("总工会成立多少周年？", intent.QUANTITY), ("讲话提到了劳动教育吗", intent.YESNO), ("你好", intent.SMALLTALK),
    ("讲话怎么评价劳模？", intent.DEFINITION), ("劳模精神体现在哪里？", intent.OTHER),
    ("Who presided over the meeting?", intent.PERSON), ("How many people were honoured?", intent.QUANTITY),
    ("Why does skill matter?", intent.REASON), ("How should unions work?", intent.METHOD),
    ("What was the GDP growth rate?", intent.QUANTITY), ("thanks!", intent.SMALLTALK),
])
def test_intent(text, kind):
    assert intent.intent_of(text) == kind


@pytest.mark.parametrize(("text", "ask"), [
    ("这篇讲话主要讲了哪几个方面？", StructureAsk("outline", region="parts")),
    ("讲话分几个部分？", StructureAsk("outline", region="parts")),
    ("How many main points does Xi make?", StructureAsk("outline", region="parts")), ("讲了什么", StructureAsk("outline")),
    ("讲话的结构是怎么安排的？", StructureAsk("outline")), ("How is the speech organised?", StructureAsk("outline")),
    ("讲第一点之前紧挨着的那段说了啥", StructureAsk("before-part", (1,))),
    ("讲几点要求之前，前面说了什么？", StructureAsk("preamble")),
    ("第三部分讲什么？", StructureAsk("part", (3,))), ("第二点和第四点分别说了什么", StructureAsk("part", (2, 4))),
    ("最后一点是什么", StructureAsk("part", (-1,))), ("What is the second section about?", StructureAsk("part", (2,))),
    ("讲话是怎么开头的？", StructureAsk("opening")), ("结尾说了什么", StructureAsk("ending")),
    ("讲话引用了哪句古语？", StructureAsk("sayings")), ("提到了哪首歌", StructureAsk("song")),
    ("Which years are mentioned in the speech?", StructureAsk("years")), ("哪一部分讲职业教育？", StructureAsk("which")),
    ("讲四点之前铺垫了什么", StructureAsk("preamble")), ("After the four points, what follows?", StructureAsk("postamble")),
    ("讲第一点之前那段说了啥", StructureAsk("before-part", (1,))), ("第五段讲了什么", StructureAsk("paragraph", (5,))),
    ("“同志们”一共出现几次", StructureAsk("address")),
])
def test_structure_questions(text, ask):
    assert intent.structure_of(text, []) == ask


@pytest.mark.parametrize("text", ["工会讲了哪些要求？", "快递员的权益怎么保障？", "抗疫精神一共概括成了几条？",
                                  "大会几点开始？", "典礼是几点钟开的？"])
def test_content_questions_are_not_structure_questions(text, tokenizer):
    assert analyse(text, tokenizer).structure is None


def test_a_question_about_a_region_s_content_is_searched_within_it(tokenizer):
    query = analyse("开场白里说今天开会是为了什么？", tokenizer)
    assert query.structure == StructureAsk("within", (), None, "opening") and query.intent != intent.STRUCTURE


def test_named_things(tokenizer):
    found = entities.find("李克强和钟南山在北京的人民大会堂谈《劳动合同法》和工会法，1950 年表彰 2 千人", tokenizer)
    assert "李克强" in found.persons and "北京" in found.places and "劳动合同法" in found.titles
    assert "工会法" in found.organisations and found.years == ("1950",)
    assert not entities.find("讲话人是代表谁来向劳模道贺的？", tokenizer).persons  # 道贺 is tagged nr, but is no name
    assert entities.find("国务院总理讲了什么", tokenizer).persons == ("总理",)
    assert entities.find("现任主席是谁", tokenizer).persons == ()


def _turn(question: str, parts=(), paragraphs=()):
    citations = [{"document": {"id": "d"}, "paragraph": p, "section_number": s} for p, s in zip(paragraphs, parts)]
    return Turn(question, {"citations": citations})


@pytest.mark.parametrize(("question", "turn", "expected"), [
    ("下一点呢？", _turn("第一点讲的是什么？", [1], [10]), StructureAsk("part", (2,), "d")),
    ("上一部分讲的什么？", _turn("第三部分说的啥？", [3], [15]), StructureAsk("part", (2,), "d")),
    ("And the next one?", _turn("What is the first section about?", [1], [10]), StructureAsk("part", (2,), "d")),
    ("Tell me more about the second one.", _turn("What are the main points?", [1, 2, 3], [10, 13, 15]),
     StructureAsk("part", (2,), "d")),
    ("接着说了啥？", _turn("讲话怎么开头的？", [None, None], [1, 2]), StructureAsk("paragraph", (3,), "d")),
    ("And the third?", _turn("What does the second part say?", [2], [13]), StructureAsk("part", (3,), "d")),
])
def test_moving_through_the_document(tokenizer, question, turn, expected):
    query = analyse(question, tokenizer, [turn])
    assert query.structure == expected and query.interpreted_as
    assert query.anchors == tuple(("d", n) for n in [c["paragraph"] for c in turn.answer["citations"]][:3])


@pytest.mark.parametrize(("question", "before", "read"), [
    ("那工匠精神呢？", "讲话里说的劳模精神是什么？", "讲话里说的工匠精神是什么？"),
    ("原因呢？", "工匠精神是什么？", "为什么要工匠精神？"),
    ("它的意义在哪？", "工匠精神是什么？", "工匠精神的意义在哪？"),
    ("What about trade unions?", "What does the speech say about model workers?",
     "What does it say about trade unions?"),
    ("那对工会呢？", "讲话对劳模提了什么希望？", "讲话对工会提了什么希望？"),
    ("对这些人有什么希望？", "劳动模范是什么？", "对劳动模范有什么希望？"),
    # the new topic takes the whole object of the preposition, not just the old topic's word inside it
    ("那对各级政府呢", "讲话对获奖的劳模本人有什么期待？", "讲话对各级政府有什么期待？"),
    # "they" stands for the previous topic even when the question has words of its own
    ("And what should they protect?", "What does the speech ask of trade unions?",
     "And what should trade unions protect?"),
])
def test_follow_ups_are_read_in_context(tokenizer, question, before, read):
    query = analyse(question, tokenizer, [Turn(before, {"citations": [{"document": {"id": "d"}, "paragraph": 10}]})])
    assert query.interpreted_as == read and query.search == read and query.anchors == (("d", 10),)


@pytest.mark.parametrize("question", ["快递员的权益怎么保障？", "What does the speech say about unions?", "劳动教育",
                                      "这些年工人们做出了什么成绩？", "And what does it say about couriers?"])
def test_a_question_that_stands_alone_is_read_alone(tokenizer, question):
    turn = Turn("第一点讲的是什么？", {"citations": [{"document": {"id": "d"}, "paragraph": 10, "section_number": 1}]})
    assert analyse(question, tokenizer, [turn]) == analyse(question, tokenizer)


def test_topic_of_a_question(tokenizer):
    assert context.topic_of("讲话里说的劳模精神是什么？", "zh", tokenizer) == "劳模精神"
    assert context.topic_of("为什么要打造一支高素质的劳动队伍？", "zh", tokenizer) == "高素质的劳动队伍"
    assert context.topic_of("讲话提到的“十四五”从什么时候开始？", "zh", tokenizer) == "“十四五”"


@pytest.mark.parametrize(("question", "code"), [("", "empty"), ("\u200b\u202e", "empty"), ("？？", "no_words"),
                                                (7, "not_text"), ("字" * 501, "too_long"), ("字" * 6000, "too_long")])
def test_clean_question_refuses_what_cannot_be_asked(question, code):
    with pytest.raises(InputError) as caught:
        clean_question(question, 500)
    assert caught.value.code == code and "字字字" not in str(caught.value)


def test_clean_question_drops_invisible_characters():
    assert clean_question(" 工匠\u200b精神\n\t是什么 ", 500) == "工匠精神 是什么"
