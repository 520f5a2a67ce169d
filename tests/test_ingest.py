"""Reading files into documents: look-alike characters, parts and salutations, sentences, kinds of files."""

from __future__ import annotations

import pytest
from conftest import DOCS

from qa import ingest
from qa.config import BUNDLED_SOURCE
from qa.errors import SourceError
from qa.ingest import structure
from qa.ingest.clean import clean, fold_lookalikes
from qa.types import Paragraph


def test_radicals_from_pdf_fonts_become_ordinary_characters():
    # Kangxi radicals (NFKC folds them) and the CJK Radicals Supplement (it does not): 人 月 青 长.
    assert fold_lookalikes("\u2f08\u2f49\u2ed8\u2ed3\uf900") == "人月青长豈"
    assert clean("a\r\nb\rc\u200b\ufeffd\x07\te\u00ad") == "a\nb\ncd e"
    assert clean("上页\f下页") == "上页\n\f\n下页"


def test_the_bundled_speech():
    document = ingest.read(BUNDLED_SOURCE)
    assert (document.title, document.date, document.speaker) == (
        "在全国劳动模范和先进工作者表彰大会上的讲话", "2020-11-24", "习近平")
    assert len(document.paragraphs) == 23
    parts = document.sections()
    assert [s.number for s in parts] == [1, 2, 3, 4] and parts[2].heading == "努力建设高素质劳动大军"
    assert [p.section.number if p.section else None for p in document.paragraphs][9:17] == [1, 1, 1, 2, 2, 3, 4, None]


@pytest.mark.parametrize("texts", [
    ["开场。", "一、第一件事。说明。", "展开。", "二、第二件事。", "同志们！", "结束。"],
    ["开场。", "第一，第一件事。说明。", "展开。", "第二，第二件事。", "同志们！", "结束。"],
])
def test_parts_are_numbered_either_way_and_a_salutation_closes_them(texts):
    paragraphs = structure.sections(texts)
    assert [p.section.number if p.section else None for p in paragraphs] == [None, 1, 1, 2, None, None]
    assert paragraphs[1].section.heading == "第一件事" and paragraphs[1].section.label == "第一部分"


def test_a_list_that_does_not_start_at_one_is_no_outline():
    assert all(p.section is None for p in structure.sections(["三、不是部分。", "四、也不是。"]))


def test_headings_of_their_own_open_the_paragraphs_after_them():
    paragraphs = structure.sections(["甲。", "乙。", "丙。"], {0: "一、开头", 2: "2. 第二"})
    assert [(p.section.number, p.section.heading) for p in paragraphs] == [(1, "开头"), (1, "开头"), (2, "第二")]


@pytest.mark.parametrize(("text", "expected"), [("同志们！", True), ("各位来宾、同志们：", True), ("朋友们：", True),
                                                ("劳动光荣。", False), ("第一，大力弘扬劳模精神。", False)])
def test_salutations(text, expected):
    assert structure.is_salutation(text) is expected


def test_sentences_and_clauses_keep_their_offsets():
    paragraph = Paragraph(n=3, text="“不惰者，众善之师也。”劳动光荣，创造伟大！ 最后一句")
    found = structure.sentences(paragraph, "d")
    assert [s.text for s in found] == ["“不惰者，众善之师也。”", "劳动光荣，创造伟大！", "最后一句"]
    assert all(paragraph.text[s.start : s.end] == s.text and s.doc == "d" and s.paragraph == 3 for s in found)
    clauses = structure.clauses(found[1])
    assert [c.text for c in clauses] == ["劳动光荣，", "创造伟大！"]
    assert all(paragraph.text[c.start : c.end] == c.text for c in clauses)


@pytest.mark.parametrize(("number", "text"), [(1, "一"), (10, "十"), (14, "十四"), (20, "二十"), (99, "九十九")])
def test_chinese_numerals_both_ways(number, text):
    assert structure.chinese_numeral(text) == number and structure.to_chinese_numeral(number) == text


def test_metadata_given_replaces_what_the_layout_shows():
    document = ingest.read(DOCS / "doc_a.txt", title="另一个标题", speaker="某人")
    assert (document.title, document.date, document.speaker) == ("另一个标题", "2023-05-18", "某人")


@pytest.mark.parametrize(("name", "content", "message"), [
    ("notes.rtf", b"{\\rtf1}", "cannot read .rtf files"),
    ("noext", b"x", "files without an extension"),
    ("latin1.txt", "Ärger".encode("latin-1"), "not UTF-8"),
    ("empty.txt", b"", "has no paragraphs"),
    ("title-only.txt", "只有一个标题\n\n（2020 年 1 月 1 日）\n".encode(), "has no paragraphs"),
])
def test_files_that_cannot_be_read_say_why(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        ingest.read(path)


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(SourceError, match="Cannot read"):
        ingest.read(tmp_path / "gone.txt")
