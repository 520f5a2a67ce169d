"""Property-based tests (Hypothesis): any text gets an answer or the documented error; rebuilding paragraphs loses
no character."""

from __future__ import annotations

import re

from checks import check_answer
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from relayout import relayout

from qa import ingest
from qa.config import BUNDLED_SOURCE
from qa.errors import InputError, SourceError
from qa.ingest.clean import clean
from qa.ingest import layout
from qa.ingest.header import DATE

INPUT_CODES = {"empty", "too_long", "no_words", "not_text", "bad_quotes"}
SPEECH = BUNDLED_SOURCE.read_text(encoding="utf-8")
SPEECH_CHARS = sorted(set(SPEECH) - set("\r\n"))
CJK = [ch for ch in SPEECH_CHARS if "\u4e00" <= ch <= "\u9fff"]
ASKING = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LAYING_OUT = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Anything at all, characters of the speech, markup and invisibles, and pieces of the speech with noise around.
any_char = st.one_of(st.characters(), st.characters(categories=["Cs"]),
                     st.sampled_from(list("\x00\x1b\u200b\u202e\ufeff\u3000<>[]{}()$#*_`|\\")))
questions = st.one_of(
    st.text(any_char, max_size=60),
    st.text(st.sampled_from(SPEECH_CHARS), max_size=60),
    st.builds(lambda cut, pre, post: pre + SPEECH[cut : cut + 12] + post,
              st.integers(0, len(SPEECH) - 12), st.text(any_char, max_size=8), st.text(any_char, max_size=8)),
    st.text(any_char, min_size=495, max_size=520),
)


@ASKING
@given(question=questions, quotes=st.sampled_from([None, 1, 2, 3]))
def test_any_text_gets_an_answer_or_the_documented_error(assistant, document, question, quotes):
    try:
        answer = assistant.ask(question, quotes=quotes)
    except InputError as exc:
        assert exc.code in INPUT_CODES and "\n" not in str(exc)
        return
    check_answer(answer.to_dict(), document, quotes=quotes or 3)


# ------------------------------------------------------------ paragraphs

_WS = re.compile(r"\s+")


def no_space(text: str) -> str:
    return _WS.sub("", text)


sentence_char = st.sampled_from(CJK + list("，，、；：“”《》（）") + list("abcXYZ0129 "))
sentence = st.builds(lambda body, end: body.strip() + end, st.text(sentence_char, min_size=2, max_size=70),
                     st.sampled_from(["。", "！", "？", "。”", "……"]))
paragraph_text = st.lists(sentence, min_size=1, max_size=5).map("".join).filter(lambda t: t[0] not in "，、；：”）》")


@LAYING_OUT
@given(texts=st.lists(paragraph_text, min_size=3, max_size=12), width=st.integers(16, 44))
def test_relaid_paragraphs_lose_no_character(texts, width):
    rebuilt = ingest.parse(relayout("某某同志在某某大会上的讲话", "2021-03-05", "某某某", texts, width))
    assert (rebuilt.title, rebuilt.date, rebuilt.speaker) == ("某某同志在某某大会上的讲话", "2021-03-05", "某某某")
    assert no_space("".join(p.text for p in rebuilt.paragraphs)) == no_space("".join(texts))
    assert [p.n for p in rebuilt.paragraphs] == list(range(1, len(rebuilt.paragraphs) + 1))


line_char = st.one_of(st.sampled_from(SPEECH_CHARS), st.characters(exclude_categories=["Cs", "Zl", "Zp", "Cc"]))
line = st.one_of(
    # A line of numbers and marks alone may be page furniture and be dropped: the layout tests cover those.
    st.text(line_char, min_size=1, max_size=50).filter(lambda x: any(c.isalpha() for c in x)),
    st.sampled_from(["（2020 年 11 月 24 日）", "2021年1月5日", "(2019年12月1日)", "习近平", "同志们！", "第一，总结经验。"]),
)
blocks = st.lists(st.lists(line, min_size=1, max_size=4).map("\n".join), min_size=1, max_size=8)


@LAYING_OUT
@given(parts=blocks, newline=st.sampled_from(["\n", "\r\n", "\r"]))
def test_blank_line_separated_text_loses_no_character(parts, newline):
    text = ("\n\n".join(parts) + "\n").replace("\n", newline)
    # Invisible, control and private-use characters are dropped on reading (a PDF font's stray glyphs): all else stays.
    lines = [x.strip() for x in clean(text).split("\n")]
    # A line that stands again elsewhere may be a running header and is dropped: the layout tests cover those.
    keys = [layout.furniture_key(x) for x in lines if x]
    assume(len(set(keys)) == len(keys))
    try:
        document = ingest.parse(text)
    except SourceError:  # only a header can leave no paragraph: a title, then a date, then a speaker at most
        nonblank = [x for x in lines if x]
        dated = [k for k, x in enumerate(nonblank) if DATE.fullmatch(x)]
        assert len(nonblank) - dated[0] <= 2 if dated else len(nonblank) <= 1
        return
    date_line = next((x for x in lines if x and DATE.fullmatch(x)), None)
    if document.date and document.title != date_line:  # the date becomes ISO metadata; all else must survive
        lines.remove(date_line)
    kept = [document.title or "", document.speaker or "", *(p.text for p in document.paragraphs)]
    assert no_space("".join(kept)) == no_space("".join(lines))
