() => {
  // The chat page's behaviour, run once per page by Gradio (also inside <gradio-app> and an iframe). Each part keeps
  // a flag on window, so a page with several apps gets one listener each.
  const CHAT = ".qa-chat";
  const zh = () => /^zh/i.test(document.documentElement.lang || "zh");

  // 0. The question box takes the focus on the app's own page only. Embedded, focusing it would take the focus
  //    (and what the reader is typing) from the host page: in a <gradio-app> on another page the typing went into
  //    this box instead of the host's own input; in an iframe it also scrolled this page inside the frame, which
  //    throws off the height Gradio reports to an iframe-resizer host.
  if (!window.__qaFocus) {
    window.__qaFocus = true;
    const box = document.querySelector(".qa-question textarea");
    const app = box && box.closest("gradio-app");
    const ownPage = window.self === window.top && (!app || app.getAttribute("embed") === "false");
    const idle = !document.activeElement || document.activeElement === document.body;
    if (box && ownPage && idle) box.focus({ preventScroll: true });
  }

  // 1. Citation links (href="#qa/<doc>/<n>") open the 原文 tab on that document and scroll to paragraph n.
  const showDocument = (root, doc) => {
    for (const article of root.querySelectorAll(".qa-docs .qa-speech")) article.hidden = article.id !== `qa/${doc}`;
    const select = root.querySelector(".qa-doc-select");
    if (select && select.value !== doc) select.value = doc;
  };
  if (!window.__qaCiteLinks) {
    window.__qaCiteLinks = true;
    document.addEventListener("change", (event) => {
      const select = event.target instanceof Element ? event.target.closest(".qa-doc-select") : null;
      if (select) showDocument(select.closest("gradio-app") || document, select.value);
    });
    document.addEventListener("click", (event) => {
      const link = event.target instanceof Element ? event.target.closest('a[href^="#qa/"]') : null;
      if (!link) return;
      const match = /^#qa\/([a-z0-9-]+)\/(\d+)$/.exec(link.getAttribute("href"));
      if (!match) return;
      const [, doc, n] = match;
      const root = link.closest("gradio-app") || document;
      const paragraphOf = () => Array.from(root.querySelectorAll(".qa-speech p[id]")).find((p) => p.id === `qa/${doc}/${n}`);
      const tab = root.querySelector("#qa-tab-speech-button")
        || Array.from(root.querySelectorAll('[role="tab"]')).find((b) => b.textContent.trim() === "原文");
      if (!tab && !paragraphOf()) return; // not one of our apps: leave the link alone
      event.preventDefault();
      event.stopPropagation();
      if (tab && tab.getAttribute("aria-selected") !== "true") tab.click(); // Gradio renders the tab on first open
      const deadline = performance.now() + 5000;
      const reveal = () => {
        const paragraph = paragraphOf();
        if (paragraph) showDocument(root, doc);
        if (paragraph && paragraph.getClientRects().length > 0) {
          paragraph.scrollIntoView({ block: "center" });
          paragraph.classList.remove("qa-flash");
          void paragraph.offsetWidth; // restart the animation
          paragraph.classList.add("qa-flash");
          return;
        }
        if (performance.now() < deadline) requestAnimationFrame(reveal);
      };
      requestAnimationFrame(reveal);
    }, true);
  }

  // 2. Copy buttons copy what the reader sees, not the message's Markdown and HTML source: for an answer, the
  //    plain text the server put in its hidden <div class="qa-copy"> (quotes and 《title》第N段 citations);
  //    for a question, its rendered text. Gradio's own clipboard write in the same click then writes that text.
  if (!window.__qaCleanCopy) {
    window.__qaCleanCopy = true;
    let pending = null;
    const cleanText = (button) => {
      const row = button.closest(".message-row") || button.closest(".message-buttons")?.previousElementSibling;
      if (!row) return null;
      const messages = Array.from(row.querySelectorAll('[data-testid="user"], [data-testid="bot"]'));
      const own = messages.map((m) => m.querySelector(".qa-copy")).filter(Boolean);
      const texts = own.length ? own.map((el) => el.textContent) : messages.map((m) => m.innerText);
      return texts.map((t) => t.trim()).filter(Boolean).join("\n\n");
    };
    const clipboard = navigator.clipboard; // undefined on plain http (not localhost): Gradio uses execCommand then
    if (clipboard && clipboard.writeText) {
      const write = clipboard.writeText.bind(clipboard);
      clipboard.writeText = (text) => write(pending ?? text);
    }
    document.addEventListener("copy", (event) => {
      if (pending == null || !event.clipboardData) return;
      event.clipboardData.setData("text/plain", pending);
      event.preventDefault();
    }, true);
    document.addEventListener("click", (event) => {
      const button = event.target instanceof Element ? event.target.closest(`${CHAT} .message-buttons button`) : null;
      if (!button || !/copy|复制|複製/i.test(button.getAttribute("aria-label") || "")) return;
      pending = cleanText(button);
      setTimeout(() => { pending = null; }, 0); // Gradio writes in the same click
    }, true);
  }

  // 3. Labels for screen readers and the question in view, kept up as the chat changes.
  if (!window.__qaChatObserver) {
    window.__qaChatObserver = true;
    const seen = new WeakMap(); // chat log -> number of questions last seen
    const scrollToQuestion = () => {
      // With autoscroll=False: when a question is added, scroll the chat box (not the page) so that it sits at the
      // top and its answer reads down from it. Gradio's own autoscroll would jump to the end of a long answer.
      for (const log of document.querySelectorAll(`${CHAT} [role=log]`)) {
        const users = log.querySelectorAll('[data-testid="user"]');
        const before = seen.get(log) ?? users.length; // a restored chat does not scroll
        seen.set(log, users.length);
        if (users.length <= before) continue;
        const row = users[users.length - 1].closest(".message-row") || users[users.length - 1];
        const offset = row.getBoundingClientRect().top - log.getBoundingClientRect().top;
        log.scrollTo({ top: log.scrollTop + offset - 8, behavior: "smooth" });
      }
    };
    const label = () => {
      // Gradio labels a message "user's message: <its Markdown source>", entities and markup included.
      const role = zh() ? { user: "问题", bot: "回答" } : { user: "Question", bot: "Answer" };
      for (const log of document.querySelectorAll(`${CHAT} [role=log]`)) { // Gradio: "chatbot conversation"
        const name = zh() ? "对话" : "Conversation";
        if (log.getAttribute("aria-label") !== name) log.setAttribute("aria-label", name);
      }
      for (const el of document.querySelectorAll(`${CHAT} [data-testid="user"][aria-label], ${CHAT} [data-testid="bot"][aria-label]`)) {
        const content = el.querySelector(".message-content") || el;
        const copy = content.querySelector(".qa-copy");
        const text = (copy ? copy.textContent : content.innerText).replace(/\s+/g, " ").trim();
        const wanted = `${role[el.dataset.testid]}${zh() ? "：" : ": "}${text}`;
        if (el.getAttribute("aria-label") !== wanted) el.setAttribute("aria-label", wanted);
      }
      // A source block opens by its heading (a div with role=button); the arrow inside is a second, unnamed button.
      // The heading says what it does and whether it is open; the arrow gets the same words and leaves the tab order.
      for (const toggle of document.querySelectorAll(`${CHAT} .thought-group > .title[role=button]`)) {
        const open = toggle.classList.contains("expanded");
        const action = zh() ? (open ? "收起原文段落" : "展开原文段落") : (open ? "Hide the paragraph" : "Show the paragraph");
        const heading = toggle.querySelector(".md")?.innerText.trim() || "";
        const wanted = `${action}${zh() ? "：" : ": "}${heading}`;
        if (toggle.getAttribute("aria-label") !== wanted) toggle.setAttribute("aria-label", wanted);
        if (toggle.getAttribute("aria-expanded") !== String(open)) toggle.setAttribute("aria-expanded", String(open));
        const arrow = toggle.querySelector(".arrow button");
        if (arrow && arrow.getAttribute("aria-label") !== action) {
          arrow.setAttribute("aria-label", action);
          arrow.setAttribute("title", action);
          arrow.setAttribute("tabindex", "-1");
        }
      }
    };
    let queued = false;
    new MutationObserver(() => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => { queued = false; scrollToQuestion(); label(); });
    }).observe(document.body, { childList: true, subtree: true, characterData: true });
    scrollToQuestion();
    label();
  }
}
