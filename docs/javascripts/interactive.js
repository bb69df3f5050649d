// Interactive figures: the shared part. Every number a figure shows is read from its trace, which
// nnref computed when the site was built (hooks/interactive.py inlines it as data-trace);
// this code only lays the numbers out and steps through them. A figure's file registers its
// drawing function with nnrefInteractive.register(name, fn); fn(stage, trace) builds the figure.
(function () {
  "use strict";
  const drawers = {};

  // h("div", {class: "a", dataset: {q: "y"}, on: {click: f}, text: "…"}, child, …)
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key === "dataset") Object.assign(el.dataset, value);
      else if (key === "style") for (const [p, v] of Object.entries(value)) el.style.setProperty(p, v);
      else if (key === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
      else el.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child !== undefined && child !== null && child !== false)
        el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  // A number as text: `digits` decimals; "~3": at most 3 decimals, no trailing zeros; "e": 3
  // significant digits in exponent form; "g": 4 decimals, or 4 significant digits in exponent
  // form from 10⁴ on; undefined: as short as it is exact. The minus sign is
  // U+2212; a number rounded to zero has no sign.
  function fmt(v, digits) {
    let s;
    if (digits === "e") s = v.toExponential(2);
    else if (digits === "g") s = Math.abs(v) >= 1e4 ? v.toExponential(3) : v.toFixed(4);
    else if (typeof digits === "string" && digits[0] === "~") s = String(+v.toFixed(+digits.slice(1)));
    else if (digits === undefined) s = Number.isInteger(v) ? String(v) : String(+v.toFixed(6));
    else s = v.toFixed(digits);
    if (/^-[0.]*(e|$)/.test(s)) s = s.slice(1);
    return s.replace("-", "\u2212");
  }

  // An SVG element: svg("rect", {x: 0, …}, child, …)
  function svg(tag, attrs, ...children) {
    const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") el.setAttribute("class", value);
      else if (key === "dataset") Object.assign(el.dataset, value);
      else if (value !== undefined && value !== null) el.setAttribute(key, value);
    }
    for (const child of children.flat())
      if (child !== undefined && child !== null)
        el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return el;
  }

  // A line of a trace: text pieces and named numbers {q, v}; a negative number after ×, + or −
  // is put in parentheses, so that "+ (−0.3) × (−1)" reads as arithmetic.
  function tokens(line, digits) {
    return line.flatMap((t, n) => {
      if (typeof t === "string") return sub(t);
      const prev = typeof line[n - 1] === "string" ? line[n - 1] : "";
      const wrap = t.v < 0 && /[×+\u2212·] $/.test(prev) && +fmt(t.v, digits).replace("\u2212", "-") !== 0;
      return wrap ? ["(", num(t.v, t.q, digits), ")"] : [num(t.v, t.q, digits)];
    });
  }

  // "c_{t−1} = f ⊙ c_t" -> ["c", <sub>t−1</sub>, " = f ⊙ c", <sub>t</sub>]
  function sub(text) {
    return text.split(/_\{([^}]*)\}|_(\w)/).map((part, n) =>
      (n % 3 === 0 ? part : part === undefined ? "" : h("sub", {}, part))).filter(p => p !== "");
  }

  // A number on screen: data-q names the quantity, so that the tests can check it against nnref.
  function num(v, q, digits, cls) {
    return h("span", {class: "nnref-num" + (cls ? " " + cls : ""), dataset: {q: q}, text: fmt(v, digits)});
  }

  // A labelled <select>; options are [value, text] pairs (or plain values).
  function choice(label, name, options, value, onChange) {
    const select = h("select", {dataset: {control: name}, on: {change: () => onChange(select.value)}},
      options.map(o => {
        const [v, t] = Array.isArray(o) ? o : [o, o];
        return h("option", {value: String(v), selected: String(v) === String(value)}, String(t));
      }));
    return h("label", {class: "nnref-choice"}, h("span", {text: label}), select);
  }

  // Step controls: |◀ ◀ ▶ ▶| 播放, a slider and "k / n"; ←/→/Home/End on the figure step too.
  function stepper(fig, opts) {
    let k = 0, count = opts.count, timer = null;
    const slider = h("input", {type: "range", min: 0, max: count - 1, value: 0, step: 1,
      "aria-label": opts.name || "步骤", dataset: {control: "step"},
      on: {input: () => go(+slider.value)}});
    const where = h("span", {class: "nnref-where", "aria-live": "polite"});
    const button = (text, label, control, fn) => h("button", {type: "button", class: "nnref-btn",
      title: label, "aria-label": label, dataset: {control: control}, on: {click: fn}}, text);
    const play = button("播放", "自动播放", "play", () => (timer ? stop() : start()));
    const bar = h("div", {class: "nnref-stepper"},
      h("span", {class: "nnref-buttons"},
        button("|\u25c0", "第一步", "first", () => { stop(); go(0); }),
        button("\u25c0", "上一步", "prev", () => { stop(); go(k - 1); }),
        button("\u25b6", "下一步", "next", () => { stop(); go(k + 1); }),
        button("\u25b6|", "最后一步", "last", () => { stop(); go(count - 1); }),
        play),
      slider, where);
    function go(j) {
      k = Math.max(0, Math.min(count - 1, j));
      slider.value = String(k);
      where.textContent = (opts.label ? opts.label(k) : `${k + 1} / ${count}`);
      opts.onStep(k);
    }
    function start() {
      if (k >= count - 1) go(0);
      play.textContent = "暂停"; play.setAttribute("aria-pressed", "true");
      timer = setInterval(() => {
        if (!fig.isConnected || k >= count - 1) return stop();   // page left, or the end reached
        go(k + 1);
      }, opts.interval || 700);
    }
    function stop() {
      clearInterval(timer); timer = null;
      play.textContent = "播放"; play.setAttribute("aria-pressed", "false");
    }
    fig.addEventListener("keydown", e => {
      if (e.target.matches("select, input")) return;     // they use the arrows themselves
      const to = {ArrowRight: k + 1, ArrowLeft: k - 1, Home: 0, End: count - 1}[e.key];
      if (to === undefined) return;
      e.preventDefault(); stop(); go(to);
    });
    return {
      el: bar,
      go: go,
      stop: stop,
      get step() { return k; },
      reset(n, j) { count = n; slider.max = String(n - 1); go(j === undefined ? Math.min(k, n - 1) : j); },
    };
  }

  // A grid of cells; cell(r, c) returns the content (a Node or text) and may set classes.
  function grid(rows, cols, cell, cls) {
    const g = h("div", {class: "nnref-grid" + (cls ? " " + cls : ""), style: {"--cols": String(cols)}});
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) {
        const box = h("span", {class: "nnref-cell"});
        const content = cell(r, c, box);
        if (content !== undefined && content !== null) box.append(content);
        g.append(box);
      }
    return g;
  }

  function panel(title, ...children) {
    return h("div", {class: "nnref-panel"}, h("div", {class: "nnref-panel-title"}, title), ...children);
  }

  function init() {
    for (const root of document.querySelectorAll(".nnref-interactive[data-figure]:not([data-ready])")) {
      const draw = drawers[root.dataset.figure];
      if (!draw || !root.dataset.trace) continue;
      root.dataset.ready = "";
      const trace = JSON.parse(root.dataset.trace);
      const fig = h("div", {class: "nnref-figure", tabindex: "0", role: "group", "aria-label": trace.alt});
      draw(fig, trace);
      // which script wrote the trace is workshop material: the page's 实现细节 block names it
      fig.append(h("p", {class: "nnref-source"}, "图中每个数都由 nnref 在构建本站时算出，浏览器只负责显示。"));
      const still = root.querySelector(".nnref-static");
      if (still) still.remove();                 // the static first step is for readers without JavaScript
      root.append(fig);
      root.dataset.ready = "ready";
    }
  }

  window.nnrefInteractive = {
    register(name, draw) { drawers[name] = draw; init(); },
    h, svg, sub, fmt, num, tokens, choice, stepper, grid, panel,
  };
  // Material's instant navigation swaps pages without a reload: document$ emits each new page
  if (window.document$) window.document$.subscribe(init);
  else document.addEventListener("DOMContentLoaded", init);
})();
