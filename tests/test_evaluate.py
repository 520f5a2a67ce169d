"""The evaluation tool: reading a question set, judging outcomes per category, and a run on the real pipeline."""

from __future__ import annotations

import json

import pytest
from conftest import SPEECH_ID

from qa.errors import InputError
from qa.tools import describe, evaluate
from qa.tools.evaluate import Outcome, Question


def _q(category="zh", gold=(10,), key="工匠精神", **kw) -> Question:
    return Question(kw.pop("id", "q"), category, kw.pop("question", "问"), tuple(gold), key, kw.pop("split", "tune"),
                    **kw)


def _o(question, answered=True, cited=((SPEECH_ID, 10),), quotes=("执着专注的工匠精神",), related=()) -> Outcome:
    return Outcome(question, [(SPEECH_ID, n) for n in (10, 12, 15)], answered, list(cited), list(quotes),
                   list(related), "answered")


def test_the_shipped_set_loads_and_both_halves_cover_every_category():
    questions = evaluate.load_questions()
    for split in ("tune", "test"):
        assert {q.category for q in questions if q.split == split} == set(evaluate.CATEGORIES)
    assert all(q.history for q in questions if q.category == "followup")
    assert len({q.id for q in questions}) == len(questions)


@pytest.mark.parametrize(("line", "message"), [("{not json", "is not a question record"),
                                               ('{"id": "x"}', "is not a question record"),
                                               ('{"id": "x", "category": "new", "question": "q"}', "Unknown categories")])
def test_a_bad_question_set_is_one_clear_error(tmp_path, line, message):
    path = tmp_path / "set.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=message):
        evaluate.load_questions(path)


def test_in_scope_questions_are_judged_by_paragraph_quote_and_parts():
    judged = evaluate.judge(_o(_q()), SPEECH_ID)
    assert judged == {"answered": True, "paragraph": True, "quote": True, "any_quote": True, "every_part": True}
    wrong = evaluate.judge(_o(_q(), cited=[(SPEECH_ID, 12)], quotes=["别的句子", "执着专注的工匠精神"]), SPEECH_ID)
    assert wrong["paragraph"] is False and wrong["quote"] is False and wrong["any_quote"] is True
    parts = evaluate.judge(_o(_q(category="structure", gold=(10, 13), every=True)), SPEECH_ID)
    assert parts["every_part"] is False


def test_refusals_and_related_paragraphs_count_for_questions_the_text_does_not_answer():
    near = _q(category="near", gold=(16,), key="")
    assert evaluate.judge(_o(near, answered=False, cited=(), quotes=(), related=[(SPEECH_ID, 16)]), SPEECH_ID) == \
        {"refused": True, "related": True}
    assert evaluate.judge(_o(near), SPEECH_ID)["refused"] is False
    unanswerable = _q(category="type", gold=(), key="", answerable=False)
    assert not unanswerable.in_scope and evaluate.judge(_o(unanswerable, answered=False), SPEECH_ID)["refused"]


def test_a_report_gives_each_category_its_measures():
    outcomes = [_o(_q(id="a")), _o(_q(id="b"), cited=[(SPEECH_ID, 12)]),
                _o(_q(id="c", category="oos", gold=(), key=""), answered=False, cited=(), quotes=()),
                _o(_q(id="d", category="oos", gold=(), key=""))]
    report = evaluate.report(outcomes, "tune", SPEECH_ID)
    assert report["categories"]["zh"]["right_paragraph_first"] == 0.5
    assert report["categories"]["oos"]["refused"] == 0.5
    assert report["in_scope_refused"] == 0.0
    assert [f["id"] for f in report["failures"]] == ["b", "d"]
    text = describe.evaluation({"tune": report, "test": report})
    assert "zh" in text and "✗ b" in text


def test_a_run_on_the_real_pipeline_reads_follow_ups_with_their_first_answer(fake_assistant):
    questions = [_q(id="s", category="structure", gold=(10, 13, 15, 16), key="大力弘扬劳模精神", every=True,
                    question="讲话分几个部分？"),
                 _q(id="f", category="followup", gold=(13,), key="充分发挥", question="下一点呢？",
                    history=("第一点讲的是什么？",))]
    outcomes = evaluate.run(fake_assistant, questions, suggestions=False)
    assert [o.cited[0][1] for o in outcomes] == [10, 13]
    assert outcomes[1].interpreted_as and "第二部分" in outcomes[1].interpreted_as
    report = evaluate.report(outcomes, None, SPEECH_ID)
    assert report["categories"]["structure"]["cites_every_part"] == 1.0
    assert report["categories"]["followup"]["right_paragraph_first"] == 1.0
    json.dumps(report, ensure_ascii=False)


def _row(in_scope, confidence, margin=0.05, english=False, passes=True):
    from qa.tools.calibrate import Row

    return Row(english=english, in_scope=in_scope, passes=passes, confidence=confidence, margin=margin, bridged=True)


def test_calibration_puts_the_bar_in_the_middle_of_the_gap_between_answerable_and_not():
    from qa.models.calibration import Calibration
    from qa.tools.calibrate import fit, summary

    rows = [_row(True, c) for c in (0.90, 0.92, 0.95)] + [_row(False, c) for c in (0.80, 0.84)]
    rows += [_row(True, c, english=True) for c in (0.70, 0.75)] + [_row(False, 0.60, english=True)]
    found = fit(rows, Calibration(threshold_zh=0.5, threshold_en=0.5))
    assert 0.84 < found.threshold_zh < 0.90 and 0.60 < found.threshold_en < 0.70
    assert found.calibrated
    assert summary(rows, found) == {"out_of_scope_refused": 1.0, "in_scope_refused": 0.0}
    # A wrong answer costs twice a wrong refusal: with an out-of-scope question at 0.93 between answerable ones at
    # 0.90 and 0.95, a bar above it (refusing 0.90) costs 1 and a bar below it (quoting for it) costs 2.
    rows.remove(_row(True, 0.92))
    rows.append(_row(False, 0.93))
    assert 0.93 < fit(rows, found).threshold_zh < 0.95


def test_calibrate_keeps_the_bars_in_the_corpus_manifest(fake_assistant):
    from qa.tools import calibrate

    questions = [_q(id="a", question="工匠精神是什么？"), _q(id="b", category="oos", gold=(), key="",
                                                          question="明天北京会下雨吗？")]
    found = calibrate.calibrate(fake_assistant, questions)
    manifest = json.loads((fake_assistant.settings.corpus / "corpus.json").read_text(encoding="utf-8"))
    assert manifest["calibration"] == found["calibration"] and found["questions"] == 2
    assert fake_assistant.index.calibration.to_dict() == found["calibration"]  # the next answer uses them
    assert "calibration for" in describe.calibration(found)


def test_compare_ranks_with_each_baseline_beside_the_shipped_pipeline(fake_assistant):
    from qa.tools import baselines

    questions = [_q(id="k", category="keyword", gold=(16,), question="快递员"),
                 _q(id="z", gold=(10,), question="工匠精神是什么？", split="test")]
    result = baselines.compare(fake_assistant, questions)
    assert set(result) == {"bm25", "bm25+bridge", "dense paragraphs", "dense chunks", "rrf", "shipped"}
    assert result["bm25"]["tune"]["keyword"] == {"n": 1, "hit_rate@1": 1.0, "hit_rate@3": 1.0, "mrr@10": 1.0}
    assert result["shipped"]["test"]["zh"]["n"] == 1
    assert "bm25+bridge" in describe.evaluation({"tune": evaluate.report([], "tune", SPEECH_ID),
                                                 "test": evaluate.report([], "test", SPEECH_ID), "compare": result})
