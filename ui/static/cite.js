() => {
  // Citation links (href="#p-N") open the 原文 tab and scroll to paragraph N: in the app, in an iframe and in
  // <gradio-app>. Gradio runs this once per app on load; the flag keeps a page with several apps to one listener.
  if (window.__qaCiteLinks) return;
  window.__qaCiteLinks = true;
  document.addEventListener(
    "click",
    (event) => {
      const link = event.target instanceof Element ? event.target.closest('a[href^="#p-"]') : null;
      if (!link) return;
      const id = link.getAttribute("href").slice(1);
      if (!/^p-\d+$/.test(id)) return;
      const root = link.closest("gradio-app") || document;
      const paragraphOf = () => root.querySelector(".qa-speech #" + id);
      const tab = Array.from(root.querySelectorAll('[role="tab"]')).find((b) => b.textContent.trim() === "原文");
      if (!tab && !paragraphOf()) return; // not in one of our apps: leave the link alone
      event.preventDefault();
      event.stopPropagation();
      if (tab && tab.getAttribute("aria-selected") !== "true") tab.click(); // Gradio renders the tab on first open
      const deadline = performance.now() + 5000;
      const reveal = () => {
        const paragraph = paragraphOf();
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
    },
    true,
  );
}
