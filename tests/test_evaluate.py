"""The evaluation code and the abstention decision."""

from __future__ import annotations

import json

import pytest

from qa import evaluate
from qa.answer import addresses, confidence, threshold
from qa.errors import InputError
from qa.retrieve import Evidence, Retrieval
from qa.types import Hit, Passage


def _question(qid="q1", category="zh", gold=(2,), key="甲", split="test"):
    return evaluate.Question(qid, category, "问题？", gold, key, split)


def test_metrics_by_ranx_on_a_hand_computed_case():
    rankings = [{1: 3.0, 2: 2.0, 3: 1.0}, {4: 3.0, 5: 2.0}]
    golds = [(2,), (4, 9)]
    m = evaluate.recall_and_mrr(rankings, golds)
    assert m["hit_rate@1"] == pytest.approx(0.5)  # second question's first paragraph is gold
    assert m["hit_rate@3"] == pytest.approx(1.0)
    assert m["recall@1"] == pytest.approx((0 + 0.5) / 2)
    assert m["mrr@10"] == pytest.approx((0.5 + 1.0) / 2)


def test_report_counts_refusals_and_quotes():
    outcomes = [
        evaluate.Outcome(_question("a"), {2: 1.0, 1: 0.5}, True, "甲乙", 2, quotes=("甲乙",)),
        evaluate.Outcome(_question("b", key="丙"), {1: 1.0, 2: 0.5}, True, "甲乙", 1, quotes=("甲乙", "乙丙")),
        evaluate.Outcome(_question("c"), {2: 1.0}, False, None, None),
        evaluate.Outcome(_question("d", category="oos", gold=(), key=""), {1: 1.0}, False, None, None),
        evaluate.Outcome(_question("e", category="oos", gold=(), key=""), {1: 1.0}, True, "甲", 1),
    ]
    r = evaluate.report(outcomes, "test")
    assert r["abstention_oos"] == pytest.approx(0.5)
    assert r["false_refusals"] == pytest.approx(1 / 3)
    assert r["quote_precision"] == pytest.approx(1 / 3)
    assert r["any_quote_precision"] == pytest.approx(2 / 3)  # b's answer is in its second quote
    assert [f["id"] for f in r["failures"]] == ["b", "c", "e"]
    assert r["categories"]["zh"]["n"] == 3


def test_load_questions_checks_every_line(tmp_path):
    good = {"id": "x", "category": "zh", "question": "问", "gold": [1], "key": "问", "split": "tune"}
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps(good, ensure_ascii=False) + "\n\n", encoding="utf-8")
    assert evaluate.load_questions(path)[0].gold == (1,)
    path.write_text(json.dumps({"id": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=":1"):
        evaluate.load_questions(path)
    path.write_text(json.dumps({**good, "category": "poetry"}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="poetry"):
        evaluate.load_questions(path)


def test_the_shipped_set_is_well_formed(document):
    questions = evaluate.load_questions()
    assert len(questions) >= 80 and len({q.id for q in questions}) == len(questions)
    for q in questions:
        if q.in_scope:
            assert q.key in document.paragraph(q.gold[0]).text, q.id
    assert {q.split for q in questions} == {"tune", "test"}


def _found(text: str, top=0.95, background=0.80, coverage=0.5, peak=3.0, foreign_years=0, bm25=2.0) -> Retrieval:
    hit = Hit(Passage(paragraph=5, start=0, end=len(text), text=text), score=1.0, dense=top, bm25=1.0)
    evidence = Evidence(dense_top=top, background_top=background, dense_z=3.0, paragraph_z=peak, coverage=coverage,
                        bm25_top=bm25, foreign_years=foreign_years)
    return Retrieval([hit], [(5, 1.0)], evidence)


@pytest.mark.parametrize(
    ("question", "found", "expected"),
    [
        ("工匠精神是什么？", _found("执着专注的工匠精神。"), True),
        ("工匠精神是什么？", _found("执着专注的工匠精神。", top=0.80, coverage=0.0, peak=1.0), False),
        ("工匠精神是什么？", _found("执着专注的工匠精神。", background=0.97), False),
        ("第一次表彰劳模是哪一年？", _found("党和国家首次表彰劳动模范。"), False),
        ("第一次表彰劳模是哪一年？", _found("1950 年党和国家首次表彰劳动模范。"), True),
        ("1990 年的表彰大会讲了什么？", _found("党和国家首次表彰劳动模范。", foreign_years=1), False),
        ("What is craftsmanship?", _found("执着专注的工匠精神。", top=0.80, coverage=0.0, peak=2.0), True),
        ("What is craftsmanship?", _found("执着专注的工匠精神。", top=0.74, coverage=0.0, peak=2.0), False),
        # English sits about as far from the Chinese background as from the speech: a small negative margin passes.
        ("What is craftsmanship?", _found("执着专注的工匠精神。", top=0.80, background=0.81, coverage=0.0), True),
        ("What is craftsmanship?", _found("执着专注的工匠精神。", top=0.80, background=0.83, coverage=0.0), False),
        ("工匠精神是什么？", _found("执着专注的工匠精神。", background=0.96), False),
        ("<img src=x onerror=alert(1)>", _found("同志们：", top=0.82, background=0.83, coverage=0.0, bm25=0.0), False),
        ("When was the first commendation?", _found("党和国家首次表彰劳动模范。", top=0.8, coverage=0.0), False),
        ("How did workers respond when the epidemic came?", _found("响应党中央号召。", top=0.8, coverage=0.0), True),
    ],
    ids=["clear", "weak", "closer-to-background", "number-missing", "number-present", "year-not-in-speech", "english",
         "english-weak", "english-margin", "english-background", "chinese-margin", "not-english-words", "when-asks-a-date",
         "when-as-conjunction"],
)
def test_abstention_decision(question, found, expected):
    assert addresses(question, found) is expected


def test_latin_questions_have_their_own_bar():
    assert threshold("What is craftsmanship?") < threshold("工匠精神是什么？")
    assert confidence(_found("x").evidence) > confidence(_found("x", coverage=0.0).evidence)


def test_shipped_method_on_the_evaluation_set(assistant):
    """A regression guard on the real pipeline, a little below the measured held-out numbers (README)."""
    questions = evaluate.load_questions()
    outcomes = evaluate.run_shipped(assistant, questions)
    held_out = evaluate.report(outcomes, "test")
    assert held_out["categories"]["zh"]["hit_rate@1"] >= 0.78  # measured 0.81
    assert held_out["categories"]["zh"]["hit_rate@3"] >= 0.9  # measured 0.93
    assert held_out["categories"]["en"]["hit_rate@3"] >= 0.9  # measured 0.95 (0.85 before qa.bridge)
    assert held_out["categories"]["keyword"]["hit_rate@1"] >= 0.9
    assert held_out["false_refusals"] <= 0.05
    assert held_out["abstention_oos"] >= 0.7
