"""The chat, its three embed modes and the API docs in a real Chromium: quotes and sources, follow-ups, the page's
language, copying, escaping, the document selector, iframe sizing, and no request to any other host."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
import served

from qa.assistant import Assistant
from qa.compose import where
from qa.config import Settings
from ui.chat import copy_text
from ui.gate import Gate
from ui.server import create_app

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
TIMEOUT_MS = 60_000  # generous: other test runs share the two cores
DOCS = served.REPO / "tests" / "data" / "docs"

QUESTION = "工匠精神是什么？"
FOLLOW_UP = "它是怎么形成的？"
RELATED = "快递员有多少？"  # the speech talks about couriers, but gives no number
URL_QUESTION = "看 http://example.com/a_b?c=1 *星* <b>x</b> 工匠精神"
# Records what the page writes to the clipboard (Gradio's copy button calls navigator.clipboard.writeText).
RECORD_CLIPBOARD = """
window.__copied = [];
if (navigator.clipboard) navigator.clipboard.writeText = async (text) => { window.__copied.push(text); };
"""



@pytest.fixture(scope="module")
def site(assistant):
    """The real server (JSON API, embed page, Gradio at /) on a free port, model warm."""
    gate = Gate(assistant)
    gate.warm_up()
    with served.BackgroundServer(create_app(assistant, gate=gate)) as url:
        yield url.rstrip("/")


@pytest.fixture(scope="module")
def shelf(fake_speech, tmp_path_factory):
    """Three documents (the speech, doc_a, doc_b) with the fake embedder: (server URL, assistant)."""
    from fakes import FakeEmbedder

    path = tmp_path_factory.mktemp("shelf") / "corpus"
    shutil.copytree(fake_speech, path)
    helper = Assistant(Settings(corpus=path), embedder=FakeEmbedder(), progress=None)
    helper.corpus.add([DOCS / "doc_a.txt", DOCS / "doc_b.md"])
    with served.BackgroundServer(create_app(helper)) as url:
        yield url.rstrip("/"), helper


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/test (it installs Debian's chromium and fonts-noto-cjk).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Visit:
    """One page in its own browser context, with everything it requested and every dialog it opened."""

    page: object
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def check(self) -> None:
        """Only 127.0.0.1 was asked for anything, no dialog fired and no script failed."""
        hosts = (urlparse(u) for u in self.requests)
        foreign = [u.geturl() for u in hosts if u.scheme not in ("data", "blob", "about") and u.hostname != "127.0.0.1"]
        assert self.requests and foreign == []
        assert self.dialogs == [] and self.errors == []


@pytest.fixture
def visit(browser):
    contexts = []

    def open_page(url: str, width: int = 1100, height: int = 900, locale: str = "zh-CN", **options) -> Visit:
        context = browser.new_context(viewport={"width": width, "height": height}, locale=locale, **options)
        context.add_init_script(RECORD_CLIPBOARD)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        seen = Visit(page)
        page.on("request", lambda request: seen.requests.append(request.url))
        page.on("websocket", lambda socket: seen.requests.append(socket.url))
        page.on("dialog", lambda dialog: (seen.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: seen.errors.append(str(error)))
        page.goto(url)
        return seen

    yield open_page
    for context in contexts:
        context.close()


def shot(page, name: str, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def wait_ready(scope) -> None:
    scope.locator('textarea[data-testid="textbox"]').wait_for(state="visible", timeout=TIMEOUT_MS)


def ask_chat(scope, question: str) -> None:
    """Ask in the chat and wait until the question and the first message of its reply are shown."""
    bots, users = scope.locator('[data-testid="bot"]'), scope.locator('[data-testid="user"]')
    before_bots, before_users = bots.count(), users.count()
    scope.locator('textarea[data-testid="textbox"]').fill(question)
    scope.locator('button[data-testid="submit-button"]').click()
    users.nth(before_users).wait_for(state="visible", timeout=TIMEOUT_MS)
    bots.nth(before_bots).wait_for(state="visible", timeout=TIMEOUT_MS)


def question_in_view(page) -> bool:
    """Whether the newest question's top is inside the chat box's visible part."""
    return page.evaluate("""() => {
      const log = document.querySelector('.qa-chat [role=log]');
      const users = log.querySelectorAll('[data-testid="user"]');
      const top = users[users.length - 1].getBoundingClientRect().top, box = log.getBoundingClientRect();
      return top >= box.top - 1 && top < box.top + box.height / 2;
    }""")


# --- the chat --------------------------------------------------------------------------------------------------------


def test_chat_quotes_cites_copies_and_keeps_the_question_in_view(visit, site, assistant):
    from playwright.sync_api import expect

    seen = visit(f"{site}/")
    page = seen.page
    wait_ready(page)
    assert page.evaluate("document.documentElement.lang") == "zh-CN" and page.title() == "讲话问答"
    expect(page.get_by_text("通过 API 使用")).to_be_visible()  # Gradio's own footer, in Chinese
    answer = assistant.ask(QUESTION)
    expected = answer.citations[0]

    ask_chat(page, QUESTION)
    reply = page.locator('[data-testid="bot"]:has(blockquote)').last
    expect(reply.locator("blockquote").first).to_contain_text(expected.quote)
    link = reply.locator(f'a.qa-cite[href="#qa/{expected.document.id}/{expected.paragraph}"]').first
    expect(link).to_have_text(where(expected))  # 《title》第10段 · 第一部分

    # the copy button copies the quotes and where they stand, without markup
    reply.locator("xpath=ancestor::div[contains(@class,'message-row')]").locator(
        ".message-buttons button[aria-label='复制']").first.click()
    assert page.evaluate("window.__copied") == [copy_text(answer)]

    # the cited paragraph, opened, reads like the answer; its arrow says what it does
    page.get_by_text(f"原文 {where(expected)}").last.click()
    source = page.locator(".qa-chat .qa-source p").first
    expect(source.locator("mark", has_text=expected.quote[:12]).first).to_be_visible()
    size, opacity = source.evaluate("e => [parseFloat(getComputedStyle(e).fontSize), "
                                    "getComputedStyle(e.closest('.message-content')).opacity]")
    assert size >= 15 and opacity == "1"
    heading = page.locator(".qa-chat .thought-group > .title[role=button]").first
    assert heading.get_attribute("aria-expanded") == "true"
    assert heading.get_attribute("aria-label") == f"收起原文段落：原文 {where(expected)}：{expected.section.heading}"
    assert heading.locator(".arrow button").get_attribute("aria-label") == "收起原文段落"
    shot(page, "after-app-answer")

    # a second, long answer: the chat shows its question at the top, not the end of the answer
    ask_chat(page, "快递员、网约工的权益怎么保障？")
    page.wait_for_timeout(900)  # Gradio's own scrolling would come 300 ms after the update
    assert question_in_view(page)
    shot(page, "after-app-question-in-view")

    # a URL and markup in a question show as typed; the screen-reader label holds the same clean text
    ask_chat(page, URL_QUESTION)
    question = page.locator('[data-testid="user"]').last
    expect(question).to_have_text(URL_QUESTION)
    expect(question.locator("a, b, em, strong")).to_have_count(0)
    assert question.get_attribute("aria-label") == f"问题：{URL_QUESTION}"
    assert "&" not in page.locator('[data-testid="bot"]').last.get_attribute("aria-label")

    # the citation jumps to its paragraph in 原文
    link.click()
    expect(page.locator('[role="tab"][aria-selected="true"]')).to_have_text("原文")
    paragraph = page.locator(f'.qa-speech p[id="qa/{expected.document.id}/{expected.paragraph}"]')
    expect(paragraph).to_be_in_viewport()
    expect(paragraph).to_contain_text(expected.quote)
    seen.check()


def test_chat_follow_ups_related_passages_and_suggestions(visit, site):
    from playwright.sync_api import expect

    seen = visit(f"{site}/")
    page = seen.page
    wait_ready(page)
    ask_chat(page, QUESTION)
    ask_chat(page, FOLLOW_UP)  # read in the context of the conversation
    expect(page.locator('[data-testid="bot"] .qa-context').last).to_contain_text("按上文理解为：")
    expect(page.locator('[data-testid="bot"] .qa-context').last).to_contain_text("工匠精神")

    ask_chat(page, RELATED)  # the topic is there, the fact is not: the related paragraph, never a citation
    reply = page.locator('[data-testid="bot"]').filter(has_text="但没有说").last
    expect(reply).to_contain_text("提到了快递员")
    expect(reply.locator("blockquote, a.qa-cite")).to_have_count(0)
    block = page.get_by_text("相关段落 《在全国劳动模范和先进工作者表彰大会上的讲话》第16段").last
    expect(block).to_be_visible()
    block.click()
    expect(page.locator(".qa-chat .qa-source").last).to_contain_text("快递员")
    shot(page, "after-app-related-and-suggestions")

    # the suggested follow-ups under the last answer ask through the same path as typing
    option = page.get_by_role("button", name=re.compile("^接着问：")).first
    expect(option).to_be_visible()
    suggestion = option.inner_text().strip().removeprefix("接着问：")
    users, bots = page.locator('[data-testid="user"]').count(), page.locator('[data-testid="bot"]').count()
    option.click()
    expect(page.locator('[data-testid="user"]')).to_have_count(users + 1)
    expect(page.locator('[data-testid="user"]').last).to_have_text(suggestion)
    expect(page.locator('[data-testid="bot"]').nth(bots)).to_be_visible()

    # a bad question is a Chinese toast, and the conversation stays as it was
    bots = page.locator('[data-testid="bot"]').count()
    page.locator('textarea[data-testid="textbox"]').fill("   ")
    page.locator('button[data-testid="submit-button"]').click()
    toast = page.locator('[data-testid="toast-body"]')
    expect(toast).to_contain_text("请输入一个问题")
    title = page.locator(".toast-title").first.evaluate("e => getComputedStyle(e, '::before').content")
    assert title == '"错误"'
    expect(page.locator('[data-testid="bot"]')).to_have_count(bots)
    page.wait_for_timeout(600)
    shot(page, "after-app-error")
    seen.check()


def test_english_browser_gets_gradio_in_english_and_english_framing(visit, site):
    from playwright.sync_api import expect

    seen = visit(f"{site}/", locale="en-US")
    page = seen.page
    wait_ready(page)
    expect(page.get_by_text("Use via API")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "en"
    ask_chat(page, "What does the speech say about labour education in schools?")
    expect(page.get_by_text(re.compile(r"^Source: “在全国劳动模范和先进工作者表彰大会上的讲话”, paragraph \d+")).first).to_be_visible()
    expect(page.locator('[data-testid="bot"] a.qa-cite').first).to_contain_text("paragraph")
    expect(page.get_by_role("button", name=re.compile("^Ask next: ")).first).to_be_visible()
    assert page.locator('[data-testid="user"]').last.get_attribute("aria-label").startswith("Question: ")
    seen.check()


@pytest.mark.parametrize("locale", ["zh"])
def test_any_simplified_chinese_browser_gets_gradio_in_chinese(visit, site, locale):
    from playwright.sync_api import expect

    seen = visit(f"{site}/", locale=locale)
    wait_ready(seen.page)
    expect(seen.page.get_by_text("通过 API 使用")).to_be_visible()
    assert seen.page.evaluate("document.documentElement.lang") == "zh-CN"


def test_document_selector_in_the_chat_and_in_the_text(visit, shelf):
    from playwright.sync_api import expect

    url, helper = shelf
    seen = visit(f"{url}/")
    page = seen.page
    wait_ready(page)
    # 原文: one document at a time, chosen from a list
    page.locator('[role="tab"]', has_text="原文").click()
    select = page.locator(".qa-doc-select")
    expect(select.locator("option")).to_have_count(3)
    select.select_option("doc-b")
    expect(page.locator('article[id="qa/doc-b"]')).to_be_visible()
    expect(page.locator('article[id="qa/speech-2020-11-24"]')).to_be_hidden()
    shot(page, "after-app-documents")

    # the chat: questions scoped to one document
    page.locator('[role="tab"]', has_text="问答").click()
    page.locator(".qa-scope input").click()
    page.get_by_role("option", name="《在2023年全市职业技能大赛开幕式上的致辞》").click()
    ask_chat(page, "劳动者")  # asked of all documents, the speech would answer
    cites = page.locator('[data-testid="bot"] a.qa-cite')
    expect(cites.first).to_contain_text("《在2023年全市职业技能大赛开幕式上的致辞》")
    assert all("职业技能大赛" in text for text in cites.all_inner_texts())
    assert helper.ask("劳动者").citations[0].document.id == "speech-2020-11-24"
    # and its citation opens that document in 原文, whichever was shown
    cites.first.click()
    expect(page.locator('article[id="qa/doc-a"]')).to_be_visible()
    href = cites.first.get_attribute("href")
    expect(page.locator(f'.qa-speech p[id="{href[1:]}"]')).to_be_in_viewport()
    assert select.input_value() == "doc-a"
    seen.check()


def test_chat_fits_a_phone(visit, site, assistant):
    from playwright.sync_api import expect

    seen = visit(f"{site}/", width=390, height=844, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = seen.page
    wait_ready(page)
    ask_chat(page, QUESTION)
    expect(page.locator('[data-testid="bot"] blockquote').first).to_contain_text(assistant.ask(QUESTION).citations[0].quote)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "after-phone-answer")
    seen.check()


# --- the embed modes -------------------------------------------------------------------------------------------------


def test_embed_iframe_takes_the_height_of_the_page(visit, site):
    from playwright.sync_api import expect

    seen = visit(f"{site}/embed#iframe")
    page = seen.page
    frame = page.frame_locator("#iframe iframe")
    wait_ready(frame)
    frame.locator(".qa-settings").get_by_text("设置").click()  # open the settings panel at the bottom
    expect(frame.get_by_text("最多引用几句")).to_be_visible()
    iframe = page.locator("#qa-frame")

    def fits() -> bool:
        inner = iframe.evaluate("e => e.contentDocument.documentElement.scrollHeight")
        return iframe.evaluate("e => e.getBoundingClientRect().height") >= inner - 2

    page.wait_for_function("""() => {
      const e = document.querySelector('#qa-frame');
      return e.getBoundingClientRect().height >= e.contentDocument.documentElement.scrollHeight - 2;
    }""", timeout=10_000)
    assert fits()
    ask_chat(frame, QUESTION)
    expect(frame.locator('[data-testid="bot"] blockquote').first).to_be_visible()
    page.locator("#iframe").scroll_into_view_if_needed()
    shot(page, "after-embed-iframe")
    seen.check()


def test_the_question_box_takes_the_focus_on_its_own_page_only(visit, site):
    """Embedded in another page (iframe or <gradio-app>), the app leaves the focus, and the reader's typing, where
    they are: it used to move them into its own question box as it loaded."""
    own = visit(f"{site}/").page
    own.wait_for_function("() => window.__qaFocus === true")
    assert own.evaluate("() => document.activeElement.closest('.qa-question') !== null")
    seen = visit(f"{site}/embed#web-component")
    page = seen.page
    page.wait_for_function("() => document.querySelector('#widget-fetch-demo').shadowRoot !== null")
    page.evaluate("() => document.querySelector('#widget-fetch-demo').shadowRoot.querySelector('input')"
                  ".focus({preventScroll: true})")  # the reader starts typing in the host page, apps still loading
    wait_ready(page.locator("gradio-app"))
    page.wait_for_function("() => window.__qaFocus === true")  # the <gradio-app>'s page script has run
    page.frame_locator("#qa-frame").locator('textarea[data-testid="textbox"]').wait_for(state="visible")
    page.wait_for_timeout(500)
    assert page.evaluate("() => document.activeElement.id") == "widget-fetch-demo"
    seen.check()


def test_embed_web_component(visit, site, assistant):
    from playwright.sync_api import expect

    seen = visit(f"{site}/embed#web-component")
    app = seen.page.locator("gradio-app")
    wait_ready(app)
    ask_chat(app, QUESTION)
    expect(app.locator('[data-testid="bot"] blockquote').first).to_contain_text(assistant.ask(QUESTION).citations[0].quote)
    seen.check()


@pytest.mark.parametrize("transport", ["fetch", "gradio"])
def test_embed_widget(visit, site, assistant, transport):
    from playwright.sync_api import expect

    expected = assistant.ask(QUESTION).citations[0]
    seen = visit(f"{site}/embed#widget-{transport}")
    page = seen.page
    widget = page.locator(f"#widget-{transport}-demo")
    widget.locator("input").fill(QUESTION)
    widget.locator("button").first.click()
    expect(widget.locator("blockquote").first).to_contain_text(expected.quote)
    expect(widget.locator(".cite").first).to_contain_text(where(expected))
    widget.locator("a.cite-link").first.click()
    paragraph = widget.locator(f'.paragraphs [data-paragraph="{expected.paragraph}"]')
    expect(paragraph).to_be_in_viewport()
    expect(paragraph).to_contain_text(expected.quote)

    suggestion = widget.locator(".suggestions button").first  # a suggested follow-up asks it
    text = suggestion.inner_text().removeprefix("接着问：")
    suggestion.click()
    expect(widget.locator(".question")).to_have_text(text)
    expect(widget.locator(".refusal, blockquote").first).to_be_visible()

    widget.locator("input").fill("<img src=x onerror=alert(1)>")
    widget.locator("button").first.click()
    expect(widget.locator(".question")).to_have_text("<img src=x onerror=alert(1)>")
    expect(widget.locator(".refusal, .error, blockquote").first).to_be_visible()
    expect(widget.locator("img")).to_have_count(0)
    page.wait_for_timeout(300)
    seen.check()


def test_api_docs_render_offline(visit, site):
    from playwright.sync_api import expect

    seen = visit(f"{site}/docs")
    expect(seen.page.get_by_text("/api/ask").first).to_be_visible()
    seen.check()
