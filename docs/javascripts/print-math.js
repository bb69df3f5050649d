// The printable edition (/print_page/) only: its ~2,000 formulas are typeset page by page as the
// reader scrolls near them, and all at once before printing ("beforeprint", which also fires when
// Chromium prints to PDF, or the print media query turning on), instead of all of them while the
// page opens. hooks/print_page.py puts this file where the other pages load
// javascripts/katex-init.js; the options are the same.
(() => {
  const options = {
    throwOnError: false,
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "$", right: "$", display: false },
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ],
  };
  const pages = [...document.querySelectorAll("#print-site-page section.print-page:not(.md-section)")];
  const typeset = (el) => {
    if (el.dataset.typeset) return;
    el.dataset.typeset = "true";
    renderMathInElement(el, options);
  };
  const near = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (entry.isIntersecting) {
        typeset(entry.target);
        near.unobserve(entry.target);
      }
    }
  }, { rootMargin: "1500px 0px" });
  pages.forEach((page) => near.observe(page));
  addEventListener("beforeprint", () => pages.forEach(typeset));
  matchMedia("print").addEventListener("change", (m) => m.matches && pages.forEach(typeset));
})();
