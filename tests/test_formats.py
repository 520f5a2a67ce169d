"""Markdown, PDF and DOCX files read into documents: paragraphs, parts, title, date and speaker; errors that say what
to do. PDFs are printed by Chromium from HTML once per session; DOCX files are built with python-docx."""

from __future__ import annotations

import html
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import docx as python_docx
import pytest
from docx.enum.text import WD_ALIGN_PARAGRAPH

from qa.config import BUNDLED_SOURCE
from qa.errors import SourceError
from qa.ingest import read
from qa.ingest.markdown import lay as lay_markdown

DOCS = Path(__file__).parent / "data" / "docs"
CHROMIUM = Path("/usr/bin/chromium")


def expected(name: str) -> dict:
    if name == "speech":
        doc = read(BUNDLED_SOURCE)
        return {"title": doc.title, "date": doc.date, "speaker": doc.speaker,
                "paragraphs": [p.text for p in doc.paragraphs]}
    return json.loads((DOCS / f"expected_{name}.json").read_text(encoding="utf-8"))


def sections(doc) -> list[dict]:
    out: list[dict] = []
    for p in doc.paragraphs:
        if p.section and (not out or out[-1]["number"] != p.section.number):
            out.append({"number": p.section.number, "heading": p.section.heading, "first_paragraph": p.n})
    return out


def meta(doc) -> tuple:
    return doc.title, doc.date, doc.speaker


# --- Markdown -------------------------------------------------------------------------------------------------


def test_markdown_report():
    doc = read(DOCS / "doc_b.md")
    want = expected("b")
    assert meta(doc) == (want["title"], want["date"], want["speaker"])
    assert [p.text for p in doc.paragraphs] == want["paragraphs"]
    assert sections(doc) == want["sections"]


def test_markdown_markup_is_removed():
    laid = lay_markdown(
        "# 标题\n\n"
        "这是**加粗**和*强调*，一个[链接](https://example.org)，代码 `x = 1`，图片![图](a.png)和<span>标签</span>。\n\n"
        "硬换行的中文段落\n接着上一行，\nand English words\nacross lines.\n\n"
        "> 引用的一段话。\n\n"
        "- 第一项\n  - 嵌套的一项\n- 第二项\n\n"
        "1. 有序的一项\n\n"
        "```\ncode block\n```\n\n"
        "<div>HTML 块</div>\n\n"
        "| 项目 | 数量 |\n|---|---|\n| 服务站 | 64 |\n\n"
        "## 一、部分\n\n### 更深一层的标题\n\n最后一段。\n"
    )
    assert laid.title == "标题"
    assert laid.texts == [
        "这是加粗和强调，一个链接，代码 x = 1，图片和标签。",
        "硬换行的中文段落接着上一行，and English words across lines.",
        "引用的一段话。", "第一项", "嵌套的一项", "第二项", "有序的一项", "项目 数量", "服务站 64",
        "更深一层的标题", "最后一段。",
    ]
    assert laid.headings == {9: "一、部分"}


def test_markdown_title_and_parts_from_the_levels_used():
    laid = lay_markdown("## 一份通知\n\n（2021 年 3 月 26 日）\n\n陈立群\n\n开头。\n\n### 第一，要点\n\n正文。\n\n### 第二，要点\n\n"
                        "#### 细节\n\n又一段。\n")
    assert (laid.title, laid.date, laid.speaker) == ("一份通知", "2021-03-26", "陈立群")
    assert laid.texts == ["开头。", "正文。", "细节", "又一段。"]
    assert laid.headings == {1: "第一，要点", 2: "第二，要点"}


def test_markdown_front_matter_and_no_heading():
    laid = lay_markdown("---\ntitle: 会议纪要\ndate: 2024-04-12\nauthor: 林志远\n---\n\n第一段。\n\n第二段。\n")
    assert (laid.title, laid.date, laid.speaker, laid.texts) == ("会议纪要", "2024-04-12", "林志远", ["第一段。", "第二段。"])
    laid = lay_markdown("一篇短文\n\n2022年9月3日 · 李晓梅\n\n正文。\n")
    assert (laid.title, laid.date, laid.speaker, laid.texts) == ("一篇短文", "2022-09-03", "李晓梅", ["正文。"])


def test_empty_markdown_is_refused(tmp_path):
    path = tmp_path / "empty.md"
    path.write_text("# 只有标题\n", encoding="utf-8")
    with pytest.raises(SourceError, match="no paragraphs"):
        read(path)


# --- PDF ------------------------------------------------------------------------------------------------------

STYLE = """@page {{ size: {size}; margin: 18mm 15mm; {boxes} }}
body {{ font-family: "{font}"; font-size: {pt}pt; line-height: 1.7; text-align: {align}; }}
h1 {{ text-align: center; font-size: 16pt; }} h2 {{ font-size: 13pt; }} .c {{ text-align: center; text-indent: 0; }}
p {{ text-indent: {indent}; margin: 0 0 {gap} 0; }}"""


def page(want: dict, *, size="A5", font="Noto Serif CJK SC", pt=11, align="left", indent="2em", gap="0",
         boxes="", date_line=None, headings=None, items=()) -> str:
    """A document as a printable HTML page: centered title, date and speaker lines, then the paragraphs."""
    y, m, d = (int(x) for x in want["date"].split("-"))
    top = [f"<h1>{html.escape(want['title'])}</h1>"]
    if date_line:
        top.append(f'<p class="c">{html.escape(date_line)}</p>')
    else:
        top += [f'<p class="c">（{y} 年 {m} 月 {d} 日）</p>', f'<p class="c">{html.escape(want["speaker"])}</p>']
    body = []
    for i, text in enumerate(want["paragraphs"]):
        if headings and i in headings:
            body.append(f"<h2>{html.escape(headings[i])}</h2>")
        body.append(f"<ul><li>{html.escape(text)}</li></ul>" if i in items else f"<p>{html.escape(text)}</p>")
    style = STYLE.format(size=size, font=font, pt=pt, align=align, indent=indent, gap=gap, boxes=boxes)
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(want["title"])}'
            f"</title><style>{style}</style></head><body>{''.join(top)}{''.join(body)}</body></html>")


B_HEADINGS = {1: "一、基本情况", 3: "二、主要做法", 9: "三、存在的问题", 11: "四、对策建议"}
PDFS = {
    # name: (expected document, HTML options, whether Chromium prints its own header and footer)
    "speech": ("speech", {"boxes": '@top-center { content: "在全国劳动模范和先进工作者表彰大会上的讲话"; font-size: 9pt; } '
                                   '@bottom-center { content: "— " counter(page) " —"; font-size: 9pt; }'}, False),
    "doc_a": ("a", {"size": "letter", "font": "Noto Sans CJK SC", "pt": 12, "align": "justify"}, True),
    "doc_c": ("c", {"indent": "0", "gap": "0.8em", "boxes": '@bottom-right { content: "第 " counter(page) " 页"; }'},
              False),
    "doc_d": ("d", {"font": "Noto Sans CJK SC", "pt": 10.5,
                    "boxes": '@bottom-center { content: counter(page) "/" counter(pages); font-size: 9pt; }'}, False),
    "doc_b": ("b", {"date_line": "2022年9月3日 · 李晓梅", "headings": B_HEADINGS, "items": {4, 5, 6, 7, 12, 13, 14, 15}},
              False),
}


@pytest.fixture(scope="session")
def pdfs(tmp_path_factory) -> dict[str, Path]:
    """The test PDFs, printed by Chromium in parallel (each with a profile of its own)."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium (/usr/bin/chromium) is not installed: the PDF tests print their PDFs with it")
    folder = tmp_path_factory.mktemp("pdf")
    pages = {name: (page(expected(doc), **options), chrome) for name, (doc, options, chrome) in PDFS.items()}
    runs = []
    for name, (text, chrome_header) in pages.items():
        (folder / f"{name}.html").write_text(text, encoding="utf-8")
        command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   f"--user-data-dir={folder / ('profile-' + name)}", f"--print-to-pdf={folder / (name + '.pdf')}",
                   *([] if chrome_header else ["--no-pdf-header-footer"]), (folder / f"{name}.html").as_uri()]
        runs.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for run in runs:
        run.wait(timeout=120)
    out = {name: folder / f"{name}.pdf" for name in pages}
    missing = [name for name, path in out.items() if not path.exists()]
    assert not missing, f"Chromium printed no PDF for {missing}"
    for name in pages:
        shutil.rmtree(folder / f"profile-{name}", ignore_errors=True)
    return out


@pytest.mark.parametrize("name", ["speech", "doc_a", "doc_c", "doc_d", "doc_b"])
def test_pdf(pdfs, name):
    want = expected(PDFS[name][0])
    doc = read(pdfs[name])
    assert meta(doc) == (want["title"], want["date"], want["speaker"])
    assert [p.text for p in doc.paragraphs] == want["paragraphs"]
    if "sections" in want:
        assert sections(doc) == want["sections"]


def test_pdf_without_text_asks_for_ocr(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(tiny_pdf(PICTURE))
    with pytest.raises(SourceError, match="no text layer.*OCR"):
        read(path)


# A page's content: a line of text, or a picture only (as a scan without OCR has).
TEXT = b"BT /F1 24 Tf 72 700 Td (Hello) Tj ET"
PICTURE = b"q 400 0 0 500 72 200 cm BI /W 2 /H 2 /CS /G /BPC 8 ID \x00\xff\xff\x00 EI Q"


def tiny_pdf(content: bytes = TEXT, *, encrypted: bool = False) -> bytes:
    """A one-page PDF written by hand (with an /Encrypt dictionary whose password is not empty, if asked)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    if encrypted:
        objects.append(b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P -4 >>" % (b"11" * 32, b"22" * 32))
    out = io.BytesIO(b"%PDF-1.4\n")
    out.seek(0, 2)
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    trailer = b"/Size %d /Root 1 0 R" % (len(objects) + 1)
    if encrypted:
        trailer += b" /Encrypt %d 0 R /ID [<%s> <%s>]" % (len(objects), b"ab" * 16, b"ab" * 16)
    out.write(b"trailer\n<< %s >>\nstartxref\n%d\n%%%%EOF\n" % (trailer, xref))
    return out.getvalue()


@pytest.mark.parametrize(("content", "message"), [
    (tiny_pdf(encrypted=True), "encrypted: save an unprotected copy"),
    (b"%PDF-1.7\n" + b"\x00garbage" * 50, "not a readable PDF"),
    (tiny_pdf()[:200], "not a readable PDF"),
])
def test_unreadable_pdfs(tmp_path, content, message):
    path = tmp_path / "file.pdf"
    path.write_bytes(content)
    with pytest.raises(SourceError, match=message) as caught:
        read(path)
    assert "\n" not in str(caught.value)


# --- DOCX -----------------------------------------------------------------------------------------------------


def save(document) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_report(tmp_path):
    want = expected("b")
    d = python_docx.Document()
    d.add_paragraph(want["title"], style="Title")
    d.add_paragraph("2022年9月3日 · 李晓梅").alignment = WD_ALIGN_PARAGRAPH.CENTER
    d.add_paragraph("")
    for i, text in enumerate(want["paragraphs"]):
        if i in B_HEADINGS:
            d.add_heading(B_HEADINGS[i], level=1)
        style = "List Bullet" if 4 <= i <= 7 else "List Number" if 12 <= i <= 15 else None
        d.add_paragraph(text, style=style)
    table = d.add_table(rows=2, cols=3)
    for r, row in enumerate([["项目", "数量", "单位"], ["服务站", "64", "个"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    path = tmp_path / "report.docx"
    path.write_bytes(save(d))
    doc = read(path)
    assert meta(doc) == (want["title"], want["date"], want["speaker"])
    assert [p.text for p in doc.paragraphs] == [*want["paragraphs"], "项目 数量 单位", "服务站 64 个"]
    assert sections(doc) == want["sections"]


def test_docx_title_without_a_title_style(tmp_path):
    want = expected("c")
    d = python_docx.Document()
    title = d.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.add_run(want["title"]).bold = True
    for line in ("（2021 年 3 月 26 日）", want["speaker"]):
        d.add_paragraph(line).alignment = WD_ALIGN_PARAGRAPH.CENTER
    first = d.add_paragraph()
    first.add_run(want["paragraphs"][1][:20])
    first.add_run().add_break()  # a line break inside the paragraph
    first.add_run(want["paragraphs"][1][20:])
    for text in want["paragraphs"][2:]:
        d.add_paragraph(text)
    path = tmp_path / "speech.docx"
    path.write_bytes(save(d))
    doc = read(path)
    assert meta(doc) == (want["title"], want["date"], want["speaker"])
    assert [p.text for p in doc.paragraphs] == want["paragraphs"][1:]
    assert [s["number"] for s in sections(doc)] == [1, 2, 3]


def not_a_docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("hello.txt", "这不是 Word 文件")
    return out.getvalue()


@pytest.mark.parametrize(("content", "message"), [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500, "password-protected or an old Word"),
    (b"PK\x03\x04 not really a zip", "not a readable .docx"),
    (not_a_docx(), "not a readable .docx"),
])
def test_unreadable_docx(tmp_path, content, message):
    path = tmp_path / "file.docx"
    path.write_bytes(content)
    with pytest.raises(SourceError, match=message) as caught:
        read(path)
    assert "\n" not in str(caught.value)
