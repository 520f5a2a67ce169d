"""Paragraphs, metadata and parts rebuilt from the PDF-extracted speech and from other layouts."""

from __future__ import annotations

import re

import pytest
from wrap import layout

from qa import source
from qa.errors import SourceError

# (first characters, last characters) of every paragraph, as a reader of the printed speech counts them.
EXPECTED = [
    ("同志们：", "同志们："),
    ("今天，我们隆重召开大会", "而继续奋斗。"),
    ("首先，我代表党中央", "致以诚挚的问候！"),
    ("劳动模范是民族的精英", "的重要作用。"),
    ("1950 年党和国家首次表彰", "“中国梦·劳动美”的新篇章。"),
    ("今年以来，面对突如其来", "新时代最美奋斗者！"),
    ("同志们！", "同志们！"),
    ("当今世界正经历百年", "新的一大步。"),
    ("从 2021 年开始", "扬帆再出发。"),
    ("第一，大力弘扬劳模精神", "强大精神动力。"),
    ("社会主义是干出来的", "示范带头作用。"),
    ("劳动是一切幸福的源泉", "高素质劳动者。"),
    ("第二，充分发挥工人阶级", "建功新时代。"),
    ("我国工人阶级和广大劳动群众是国家的主人", "坚实依靠力量。"),
    ("第三，努力建设高素质劳动大军", "宏大产业工人队伍。"),
    ("第四，切实实现好", "积极性、主动性、创造性。"),
    ("同志们！", "同志们！"),
    ("今年适逢中华全国总工会成立 95 周年", "新的显著成效。"),
    ("在此，我向为党的工运事业", "表示诚挚的慰问！"),
    ("工会要总结 95 年来", "社会大局稳定。"),
    ("各级党委要从巩固党执政", "创造有利条件。"),
    ("同志们！", "同志们！"),
    ("光荣属于劳动者", "新的历史伟业！"),
]
PARTS = {10: 1, 11: 1, 12: 1, 13: 2, 14: 2, 15: 3, 16: 4}


def test_metadata(document):
    assert document.title == "在全国劳动模范和先进工作者表彰大会上的讲话"
    assert document.date == "2020-11-24"
    assert document.speaker == "习近平"


def test_every_paragraph_boundary(document):
    assert len(document.paragraphs) == len(EXPECTED)
    for paragraph, (n, (head, tail)) in zip(document.paragraphs, enumerate(EXPECTED, start=1)):
        assert paragraph.n == n
        assert paragraph.text.startswith(head), n
        assert paragraph.text.endswith(tail), n


def test_page_breaks_and_short_lines_inside_paragraphs_are_joined(speech_text, document):
    assert re.search(r"以爱国主义为\n\n\n\n+核心的民族精神", speech_text), "the fixture text lost its page break"
    assert "工匠精神是以爱国主义为核心的民族精神" in document.paragraph(10).text
    assert "推进共同富裕。要适应新技术新业态新模式的迅猛发展" in document.paragraph(16).text
    assert "谱写了“中国梦·劳动美”的新篇章。" in document.paragraph(5).text


def test_parts(document):
    for p in document.paragraphs:
        assert (p.section.number if p.section else None) == PARTS.get(p.n), p.n
    headings = [s.heading for s in document.sections()]
    assert headings == [
        "大力弘扬劳模精神、劳动精神、工匠精神",
        "充分发挥工人阶级和广大劳动群众主力军作用",
        "努力建设高素质劳动大军",
        "切实实现好、维护好、发展好劳动者合法权益",
    ]
    assert document.paragraph(10).section.label == "第一部分"


def test_nothing_added_or_lost(speech_text, document):
    body = speech_text.split(document.speaker, 1)[1]
    assert "".join(p.text for p in document.paragraphs) == re.sub(r"\s*\n\s*", "", body.strip())


def test_inferred_layout(speech_text):
    lines = [line.strip() for line in speech_text.splitlines()][7:]
    assert source.infer_layout(lines) == source.Layout(wrapped=True, width=26.0, indent=2.0)


@pytest.mark.parametrize("width", [12, 18, 30, 34, 41, 52])
def test_same_paragraphs_at_another_width(document, width):
    text = layout(document, width)
    lines = [line.strip() for line in text.splitlines()]
    assert source.infer_layout(lines[6:]).width == width
    rebuilt = source.parse(text)
    assert (rebuilt.title, rebuilt.date, rebuilt.speaker) == (document.title, document.date, document.speaker)
    # A wrap that falls on a space beside a number drops that space; nothing else may differ.
    assert [p.text.replace(" ", "") for p in rebuilt.paragraphs] == [
        p.text.replace(" ", "") for p in document.paragraphs
    ]
    assert [p.section for p in rebuilt.paragraphs] == [p.section for p in document.paragraphs]


def test_ordinary_text_with_blank_line_paragraphs():
    text = "一篇短文\n\n第一段的第一行，\n接着写完第一段。\n\n第二段只有一行。\n\n第三段。\nIt ends with\nEnglish words.\n"
    document = source.parse(text)
    assert document.title == "一篇短文"
    assert [p.text for p in document.paragraphs] == [
        "第一段的第一行，接着写完第一段。",
        "第二段只有一行。",
        "第三段。It ends with English words.",
    ]


def test_sentences_keep_closing_quotes_and_offsets(document):
    paragraph = document.paragraph(10)
    parts = source.sentences(paragraph)
    assert "“不惰者，众善之师也。”" in [s.text for s in parts]
    for s in parts:
        assert paragraph.text[s.start : s.end] == s.text
    assert "".join(s.text for s in parts) == paragraph.text


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", "标题\n\n（2020 年 1 月 2 日）\n\n某人\n".encode()])
def test_empty_sources_are_refused(tmp_path, content):
    path = tmp_path / "speech.txt"
    path.write_bytes(content)
    with pytest.raises(SourceError):
        source.load(path)


def test_non_utf8_source_is_refused(tmp_path):
    path = tmp_path / "speech.txt"
    path.write_bytes("同志们！".encode("gbk"))
    with pytest.raises(SourceError, match="UTF-8"):
        source.load(path)


def test_missing_source(tmp_path):
    with pytest.raises(SourceError, match="--source"):
        source.load(tmp_path / "nope.txt")
