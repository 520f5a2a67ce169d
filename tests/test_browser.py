"""The chat, its three embed modes and the API docs in a real Chromium: quotes, sources, 原文, escaping, offline."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest

from qa.answer import where
from ui.gate import Gate
from ui.server import BackgroundServer, create_app

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
SHOTS = ARTIFACTS / "screenshots"
TIMEOUT_MS = 60_000  # generous: other test runs share the two cores

QUESTION = "工匠精神是什么？"
XSS = "<img src=x onerror=alert(1)>"
TIMINGS: dict[str, dict[str, float]] = {}


@pytest.fixture(scope="module")
def site(assistant):
    """The real server (JSON API, embed page, Gradio at /) on a free port, model warm."""
    gate = Gate(assistant)
    gate.warm_up()
    with BackgroundServer(create_app(assistant, gate=gate)) as url:
        yield url.rstrip("/")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/test (it installs Debian's chromium and fonts-noto-cjk).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def expected(assistant):
    """The first citation the app gives for QUESTION with the default three quotes."""
    return assistant.ask(QUESTION).citations[0]


@dataclass
class Visit:
    """One page in its own browser context, with everything it requested and every dialog it opened."""

    page: object
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        hosts = (urlparse(u) for u in self.requests)
        return [u.geturl() for u in hosts if u.scheme not in ("data", "blob", "about") and u.hostname != "127.0.0.1"]

    def check(self) -> None:
        """Only 127.0.0.1 was asked for anything, no dialog fired and no script failed."""
        assert self.requests, "the page made no requests at all"
        assert self.foreign_requests() == []
        assert self.dialogs == []
        assert self.errors == []


@pytest.fixture
def visit(browser):
    contexts = []

    def open_page(url: str, width: int = 1100, height: int = 900, **options) -> Visit:
        context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN", **options)
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


def record(capsys, mode: str, ready: float, first: float, second: float) -> None:
    """Print the timings (not asserted) and keep them in artifacts/timings.json."""
    TIMINGS[mode] = {"page_ready_s": round(ready, 3), "first_question_to_answer_s": round(first, 3),
                     "second_question_to_answer_s": round(second, 3)}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "timings.json").write_text(json.dumps(TIMINGS, indent=2, ensure_ascii=False), encoding="utf-8")
    with capsys.disabled():
        print(f"\n[timing] {mode}: page ready {ready:.2f} s, question to answer {first:.2f} s "
              f"(next question {second:.2f} s)", end="")


# --- the Gradio app, on its own page, in an iframe, or as <gradio-app> -------------------------------------------


def wait_ready(scope) -> float:
    """Seconds until the chat's question box is visible (measured from the call)."""
    started = time.perf_counter()
    scope.locator('textarea[data-testid="textbox"]').wait_for(state="visible", timeout=TIMEOUT_MS)
    return time.perf_counter() - started


def ask_chat(scope, question: str) -> float:
    """Ask in the chat; seconds from the click until the reply is shown.

    ``wait_for`` (not ``expect``, which polls with back-off) so the time is close to what a reader sees.
    """
    bots = scope.locator('[data-testid="bot"]')
    users = scope.locator('[data-testid="user"]')
    before_bots, before_users = bots.count(), users.count()
    scope.locator('textarea[data-testid="textbox"]').fill(question)
    started = time.perf_counter()
    scope.locator('button[data-testid="submit-button"]').click()
    bots.nth(before_bots).wait_for(state="visible", timeout=TIMEOUT_MS)
    elapsed = time.perf_counter() - started
    users.nth(before_users).wait_for(state="visible", timeout=TIMEOUT_MS)
    return elapsed


def check_chat(page, scope, mode: str, expected, capsys, started: float) -> None:
    """The whole reader's path in one embedding of the chat; ``started`` is when the page was requested."""
    from playwright.sync_api import expect

    wait_ready(scope)
    ready = time.perf_counter() - started
    answer_time = ask_chat(scope, QUESTION)

    # the quote as a blockquote, followed by its citation, which links to the paragraph
    reply = scope.locator('[data-testid="bot"]:has(blockquote)').last
    expect(reply.locator("blockquote").first).to_contain_text(expected.quote)
    expect(reply).to_contain_text(f"—— {where(expected)}")
    expect(reply.locator(f'a.qa-cite[href="#p-{expected.paragraph}"]').first).to_be_visible()

    # the source block opens on the whole paragraph with the quoted sentence marked
    title = f"原文 {where(expected)}"
    scope.get_by_text(title).last.click()
    mark = scope.locator('[data-testid="bot"] mark', has_text=expected.quote[:12])
    expect(mark.first).to_be_visible()
    expect(mark.first).to_contain_text(expected.quote)
    reply.scroll_into_view_if_needed()
    shot(page, f"{mode}-answer")

    # the citation jumps to its paragraph in 原文
    reply.locator(f'a.qa-cite[href="#p-{expected.paragraph}"]').first.click()
    expect(scope.locator('[role="tab"][aria-selected="true"]')).to_have_text("原文")
    paragraph = scope.locator(f".qa-speech #p-{expected.paragraph}")
    expect(paragraph).to_be_in_viewport()
    expect(paragraph).to_contain_text(expected.quote)
    shot(page, f"{mode}-speech")

    # markup in a question is shown as text and runs nothing
    scope.locator('[role="tab"]', has_text="问答").click()
    record(capsys, mode, ready, answer_time, ask_chat(scope, XSS))
    expect(scope.locator('[data-testid="user"]').last).to_have_text(XSS)
    expect(scope.locator('[data-testid="user"] img, [data-testid="bot"] img')).to_have_count(0)
    page.wait_for_timeout(500)  # an onerror handler would have fired by now
    shot(page, f"{mode}-escaped")


def test_app_quotes_cites_and_jumps_to_the_paragraph(visit, site, expected, capsys):
    started = time.perf_counter()
    seen = visit(f"{site}/")
    page = seen.page
    page.locator("h1", has_text="讲话问答").wait_for()
    assert "在全国劳动模范和先进工作者表彰大会上的讲话" in page.locator(".qa-header").first.inner_text()
    shot(page, "app-start")
    check_chat(page, page.locator("body"), "app", expected, capsys, started)
    seen.check()


def test_app_shows_errors_in_chinese_without_a_traceback(visit, site):
    from playwright.sync_api import expect

    seen = visit(f"{site}/")
    page = seen.page
    wait_ready(page)
    page.locator('textarea[data-testid="textbox"]').fill("   ")
    page.locator('button[data-testid="submit-button"]').click()
    toast = page.locator('[data-testid="toast-body"]')
    expect(toast).to_contain_text("请输入一个问题")
    assert "Traceback" not in toast.inner_text()
    expect(page.locator('[data-testid="bot"]')).to_have_count(0)  # nothing was added to the conversation
    page.wait_for_timeout(600)  # let the toast finish sliding in
    shot(page, "app-error")
    seen.check()


def test_app_speech_tab_lists_every_paragraph_and_part(visit, site, document):
    from playwright.sync_api import expect

    seen = visit(f"{site}/")
    page = seen.page
    wait_ready(page)
    page.locator('[role="tab"]', has_text="原文").click()
    expect(page.locator(".qa-speech p[id^='p-']")).to_have_count(len(document.paragraphs))
    expect(page.locator(".qa-speech h3")).to_have_count(len(document.sections()))
    expect(page.locator(".qa-speech h3").first).to_contain_text("第一部分")
    seen.check()


def test_app_fits_a_phone(visit, site, expected, capsys):
    from playwright.sync_api import expect

    started = time.perf_counter()
    seen = visit(f"{site}/", width=390, height=844, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = seen.page
    wait_ready(page)
    ready = time.perf_counter() - started
    answer_time = ask_chat(page, QUESTION)
    expect(page.locator('[data-testid="bot"] blockquote').first).to_contain_text(expected.quote)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px screen"
    shot(page, "phone-answer")
    page.locator("a.qa-cite").first.click()
    expect(page.locator(f".qa-speech #p-{expected.paragraph}")).to_be_in_viewport()
    shot(page, "phone-speech")
    page.locator('[role="tab"]', has_text="问答").click()
    record(capsys, "app-phone", ready, answer_time, ask_chat(page, "劳动者为什么要终身学习？"))
    shot(page, "phone-second-answer")
    seen.check()


def test_embed_iframe(visit, site, expected, capsys):
    started = time.perf_counter()
    seen = visit(f"{site}/embed#iframe")
    check_chat(seen.page, seen.page.frame_locator("#iframe iframe"), "embed-iframe", expected, capsys, started)
    seen.check()


def test_embed_web_component(visit, site, expected, capsys):
    started = time.perf_counter()
    seen = visit(f"{site}/embed#web-component")
    app = seen.page.locator("gradio-app")
    check_chat(seen.page, app, "embed-gradio-app", expected, capsys, started)
    seen.check()


# --- the custom widget, over the JSON API (fetch) or the Gradio endpoint (@gradio/client) -------------------------


@pytest.mark.parametrize("transport", ["fetch", "gradio"])
def test_embed_widget(visit, site, expected, capsys, transport):
    from playwright.sync_api import expect

    started = time.perf_counter()
    seen = visit(f"{site}/embed#widget-{transport}")
    page = seen.page
    widget = page.locator(f"#widget-{transport}-demo")
    widget.locator("input").wait_for(state="visible")
    ready = time.perf_counter() - started

    widget.locator("input").fill(QUESTION)
    asked = time.perf_counter()
    widget.locator("button").click()
    widget.locator("blockquote").first.wait_for(state="visible", timeout=TIMEOUT_MS)
    first = time.perf_counter() - asked
    expect(widget.locator("blockquote").first).to_contain_text(expected.quote)
    expect(widget.locator(".cite").first).to_contain_text(where(expected))

    widget.locator("details.source summary").first.click()
    expect(widget.locator("details.source mark", has_text=expected.quote[:12])).to_contain_text(expected.quote)
    widget.scroll_into_view_if_needed()
    shot(page, f"embed-widget-{transport}-answer")

    widget.locator("a.cite-link").first.click()
    paragraph = widget.locator(f'.paragraphs [data-paragraph="{expected.paragraph}"]')
    expect(paragraph).to_be_in_viewport()
    expect(paragraph).to_contain_text(expected.quote)
    shot(page, f"embed-widget-{transport}-speech")

    widget.locator("input").fill(XSS)
    asked = time.perf_counter()
    widget.locator("button").click()
    widget.locator(".refusal, .error").wait_for(state="visible", timeout=TIMEOUT_MS)
    record(capsys, f"embed-widget-{transport}", ready, first, time.perf_counter() - asked)
    expect(widget.locator(".question")).to_have_text(XSS)
    expect(widget.locator(".refusal, .error")).to_be_visible()
    expect(widget.locator("img")).to_have_count(0)
    page.wait_for_timeout(500)
    seen.check()


def test_embed_page_in_full(visit, site):
    from playwright.sync_api import expect

    seen = visit(f"{site}/embed")
    page = seen.page
    page.locator("gradio-app").scroll_into_view_if_needed()  # <gradio-app> renders once it is in view
    wait_ready(page.locator("gradio-app"))
    wait_ready(page.frame_locator("#iframe iframe"))
    expect(page.locator("#widget-gradio-demo input")).to_be_visible()
    shot(page, "embed-page", full_page=True)
    seen.check()


def test_api_docs_render_offline(visit, site):
    from playwright.sync_api import expect

    seen = visit(f"{site}/docs")
    expect(seen.page.get_by_text("/api/ask").first).to_be_visible()
    shot(seen.page, "api-docs")
    seen.check()
