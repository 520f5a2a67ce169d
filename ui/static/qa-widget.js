// <qa-widget>: a small ask box for 讲话问答 that any page can embed, with no build step and no CDN.
//
//   <script type="module" src="http://127.0.0.1:7860/embed/static/qa-widget.js"></script>
//   <qa-widget src="http://127.0.0.1:7860" transport="fetch"></qa-widget>
//
// Attributes: src (the server; default: where this script comes from), transport ("fetch": the JSON API
// /api/ask; "gradio": the Gradio endpoint /ask through @gradio/client, vendored beside this file), quotes (1–3),
// doc (answer from this document only: its id, see /api/docs).
// The widget keeps the conversation, so a follow-up ("它是怎么形成的？") is read in context; suggested follow-ups
// are buttons. Every text from the server or the reader goes into the page with textContent, never as HTML.

const MESSAGES = {
  empty: "请输入一个问题。",
  too_long: "问题太长了，请精简后再问。",
  no_words: "问题里没有可以检索的文字，请用中文或英文提问。",
  not_text: "问题必须是文字。",
  bad_quotes: "引用句数只能是 1、2 或 3。",
  unknown_doc: "没有这篇文档。",
  rate_limited: "提问太频繁了，请稍后再试。",
  network: "连接不上问答服务，请稍后再试。",
  server_error: "服务暂时出错，请稍后再试。",
};

class AskError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

function fetchTransport(base) {
  const json = async (response) => {
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new AskError(data.error || response.statusText, data.code || "server_error");
    return data;
  };
  return {
    ask: (question, quotes, history, doc) =>
      fetch(new URL("api/ask", base), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ question, quotes, history, doc }),
      }).then(json),
    document: (id) => fetch(new URL(`api/document/${encodeURIComponent(id)}`, base)).then(json),
    docs: () => fetch(new URL("api/docs", base)).then(json),
  };
}

async function gradioTransport(base) {
  const { Client } = await import(new URL("./gradio-client.js", import.meta.url).href);
  const client = await Client.connect(base.href);
  const call = async (endpoint, payload) => {
    try {
      return (await client.predict(endpoint, payload)).data[0];
    } catch (error) {
      const message = String(error?.message ?? error);
      throw new AskError(message, /\(code: (\w+)\)/.exec(message)?.[1] || "server_error");
    }
  };
  return {
    ask: (question, quotes, history, doc) => call("/ask", { question, quotes, history, doc }),
    document: (id) => call("/document", { doc: id }),
    docs: () => call("/docs", {}),
  };
}

const STYLE = `
  :host { display: block; font-family: system-ui, "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif;
          color: #1f2937; line-height: 1.7; max-width: 46em; }
  form { display: flex; gap: .5em; }
  input { flex: 1; min-width: 0; font: inherit; padding: .45em .7em; border: 1px solid #d1d5db; border-radius: 8px; }
  button { font: inherit; padding: .45em 1.1em; border: 0; border-radius: 8px; background: #ea580c; color: white;
           cursor: pointer; }
  button:disabled { opacity: .6; cursor: progress; }
  .question { margin: .8em 0 .2em; color: #6b7280; overflow-wrap: anywhere; }
  .question::before { content: "问："; }
  .error { color: #b91c1c; }
  blockquote { margin: .6em 0 .1em; padding-left: .8em; border-left: 3px solid #ea580c; }
  .cite { margin: 0 0 .6em; color: #4b5563; }
  .context { color: #6b7280; margin: .4em 0 0; }
  .suggestions { display: flex; flex-wrap: wrap; gap: .4em; margin: .6em 0; }
  .suggestions button { background: white; color: #c2410c; border: 1px solid #fdba74; padding: .25em .8em; }
  a { color: #c2410c; cursor: pointer; }
  details { margin: .4em 0; border: 1px solid #e5e7eb; border-radius: 8px; padding: .3em .8em; }
  summary { cursor: pointer; color: #374151; }
  mark { background: rgba(250, 204, 21, .45); color: inherit; }
  .paragraphs { max-height: 24em; overflow: auto; }
  .paragraphs h4 { margin: .8em 0 .3em; }
  .paragraphs p { margin: 0 0 .7em; }
  .pn { display: inline-block; min-width: 1.8em; margin-right: .4em; text-align: center; font-size: .85em;
        color: #6b7280; border: 1px solid #e5e7eb; border-radius: 4px; }
  .flash { animation: flash 2.4s ease-out; }
  @keyframes flash { 0%, 40% { background: rgba(250, 204, 21, .45); } 100% { background: transparent; } }
`;

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child); // strings become text nodes
  return node;
}

const WORDS = {
  zh: { source: "原文", related: "相关段落", context: "按上文理解为：", next: "接着问：" },
  en: { source: "Source:", related: "Related passage:", context: "Read in context as: ", next: "Ask next: " },
};

function where(citation, english = false) {
  const title = citation.document?.title;
  if (english) {
    const place = `paragraph ${citation.paragraph}` + (citation.section_number ? `, part ${citation.section_number}` : "");
    return title ? `“${title}”, ${place}` : place;
  }
  return (title ? `《${title}》` : "") + `第${citation.paragraph}段` + (citation.section ? ` · ${citation.section}` : "");
}

function highlighted(text, spans) {
  const p = element("p");
  let at = 0;
  for (const [start, end] of [...spans].sort((a, b) => a[0] - b[0])) {
    if (start < at) continue;
    p.append(text.slice(at, start), element("mark", {}, text.slice(start, end)));
    at = end;
  }
  p.append(text.slice(at));
  return p;
}

class QaWidget extends HTMLElement {
  connectedCallback() {
    if (this.shadowRoot) return;
    const root = this.attachShadow({ mode: "open" });
    this.input = element("input", { type: "text", name: "question", placeholder: "向讲话提问，中英文均可", "aria-label": "问题" });
    this.button = element("button", { type: "submit" }, "提问");
    const form = element("form", { part: "form" }, this.input, this.button);
    this.output = element("div", { class: "output", "aria-live": "polite" });
    this.paragraphs = element("div", { class: "paragraphs" });
    this.speechPanel = element("details", { class: "speech" }, element("summary", {}, "原文"), this.paragraphs);
    root.append(element("style", {}, STYLE), form, this.output, this.speechPanel);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.ask(this.input.value);
    });
    this.speechPanel.addEventListener("toggle", () => this.speechPanel.open && this.loadSpeech());
  }

  get base() {
    const src = this.getAttribute("src") || new URL("../../", import.meta.url).href;
    return new URL(src.endsWith("/") ? src : src + "/", location.href);
  }

  transport() {
    if (!this._transport) {
      const kind = this.getAttribute("transport") || "fetch";
      this._transport = kind === "gradio" ? gradioTransport(this.base) : Promise.resolve(fetchTransport(this.base));
      this._transport.catch(() => (this._transport = null)); // retry the connection next time
    }
    return this._transport;
  }

  async ask(question) {
    if (!question.trim()) {
      this.output.replaceChildren(element("p", { class: "error", role: "alert" }, MESSAGES.empty));
      return;
    }
    const quotes = Number(this.getAttribute("quotes") || 3);
    const doc = this.getAttribute("doc") || null;
    this.turns = this.turns || [];
    this.button.disabled = true;
    this.output.replaceChildren(element("p", { class: "question" }, question));
    try {
      const answer = await (await this.transport()).ask(question, quotes, this.turns.slice(-10), doc);
      this.turns.push({ question: answer.question, answer });
      this.output.append(...this.render(answer));
      this.dispatchEvent(new CustomEvent("answer", { detail: answer }));
    } catch (error) {
      const code = error instanceof AskError ? error.code : "network";
      this.output.append(element("p", { class: "error", role: "alert" }, MESSAGES[code] || MESSAGES.server_error));
    } finally {
      this.button.disabled = false;
    }
  }

  render(answer) {
    const english = answer.language === "en";
    const words = WORDS[english ? "en" : "zh"];
    const nodes = [];
    if (answer.interpreted_as) nodes.push(element("p", { class: "context" }, words.context + answer.interpreted_as));
    if (!answer.answered) {
      // The answer's text without its "read in context" line, which is shown above.
      const text = answer.answer.split("\n\n").filter((part) => !answer.interpreted_as || !part.includes(answer.interpreted_as));
      nodes.push(element("p", { class: "refusal" }, text.join("\n")));
    }
    const link = (citation, label) => {
      const a = element("a", { href: `#p-${citation.paragraph}`, class: "cite-link" }, label);
      a.addEventListener("click", (event) => {
        event.preventDefault();
        this.showParagraph(citation.document.id, citation.paragraph);
      });
      return a;
    };
    const blocks = new Map();
    for (const citation of answer.citations) {
      nodes.push(element("blockquote", {}, citation.quote),
        element("p", { class: "cite" }, english ? "— " : "—— ", link(citation, where(citation, english))));
      const key = `${citation.document.id}/${citation.paragraph}`;
      if (!blocks.has(key)) blocks.set(key, { citation, spans: [], label: words.source });
      blocks.get(key).spans.push([citation.start, citation.end]);
    }
    for (const citation of answer.related) {
      blocks.set(`related/${citation.document.id}/${citation.paragraph}`, { citation, spans: [], label: words.related });
    }
    for (const { citation, spans, label } of blocks.values()) {
      const heading = citation.section_heading ? `${english ? ": " : "："}${citation.section_heading}` : "";
      nodes.push(
        element("details", { class: "source" }, element("summary", {}, `${label} ${where(citation, english)}${heading}`),
          highlighted(citation.text, spans), element("p", {}, link(citation, english ? "Show in 原文 →" : "在原文中查看 →"))),
      );
    }
    if (answer.suggestions?.length) {
      const row = element("div", { class: "suggestions" });
      for (const suggestion of answer.suggestions) {
        const button = element("button", { type: "button" }, words.next + suggestion);
        button.addEventListener("click", () => {
          this.input.value = suggestion;
          this.ask(suggestion);
        });
        row.append(button);
      }
      nodes.push(row);
    }
    return nodes;
  }

  loadDocument(id) {
    this._documents = this._documents || new Map();
    if (!this._documents.has(id)) {
      const loading = this.transport()
        .then((transport) => transport.document(id))
        .then((doc) => {
          const nodes = [element("h3", {}, doc.title || ""), element("p", {}, [doc.speaker, doc.date].filter(Boolean).join("　"))];
          let section = null;
          for (const p of doc.paragraphs) {
            if (p.section && p.section !== section) nodes.push(element("h4", {}, `${p.section}　${p.section_heading}`));
            section = p.section;
            nodes.push(element("p", { "data-paragraph": String(p.n) }, element("span", { class: "pn" }, String(p.n)), p.text));
          }
          return nodes;
        });
      loading.catch(() => this._documents.delete(id));
      this._documents.set(id, loading);
    }
    return this._documents.get(id);
  }

  async showDocument(id) {
    try {
      const nodes = await this.loadDocument(id);
      // opening the panel also asks for the document: whichever arrives second must not
      // re-insert the same nodes, which would reset the scroll to the cited paragraph
      if (this.shown === id) return;
      this.paragraphs.replaceChildren(...nodes);
      this.shown = id;
    } catch {
      this.paragraphs.replaceChildren(element("p", { class: "error" }, MESSAGES.network));
    }
  }

  async loadSpeech() {
    if (this.shown) return;
    const id = this.getAttribute("doc") || this.turns?.at(-1)?.answer.citations[0]?.document.id;
    if (id) return this.showDocument(id);
    try {
      const docs = await (await this.transport()).docs();
      if (docs[0]) await this.showDocument(docs[0].id);
    } catch {
      this.paragraphs.replaceChildren(element("p", { class: "error" }, MESSAGES.network));
    }
  }

  async showParagraph(id, n) {
    this.speechPanel.open = true;
    if (this.shown !== id) await this.showDocument(id);
    const paragraph = this.paragraphs.querySelector(`[data-paragraph="${Number(n)}"]`);
    if (!paragraph) return;
    this.paragraphs.scrollTop = paragraph.offsetTop - this.paragraphs.offsetTop;
    paragraph.scrollIntoView({ block: "nearest" });
    paragraph.classList.remove("flash");
    void paragraph.offsetWidth;
    paragraph.classList.add("flash");
  }
}

if (!customElements.get("qa-widget")) customElements.define("qa-widget", QaWidget);
