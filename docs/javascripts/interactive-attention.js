// Attention weights (docs/attention/multihead.md): a tiny character-level GPT, trained when the site
// was built, reads one sentence; every head of every layer gives an L × L matrix of weights (row:
// the query character, column: the key). The small maps pick the layer and head, the stepper (or a
// tap on a cell) picks the query, whose row of weights is listed under the map; the causal mask's
// cells are hatched. Trace: docs/interactive/attention.py.
nnrefInteractive.register("attention", function (fig, T) {
  const {h, svg, num, stepper} = nnrefInteractive;
  const L = T.sentence.length;
  const D = 3;
  let layer = 0, head = 0, picked = null;          // picked: the key of the cell last tapped in the row
  const q = (i, j) => `${layer}.${head}.w[${i},${j}]`;
  const char = k => `「${T.sentence[k]}」`;

  // every head of every layer, small: a button each
  const thumbs = [];
  const picker = h("div", {class: "nnref-att-picker"});
  for (let l = 0; l < T.layers; l++) {
    const row = h("div", {class: "nnref-att-layer"}, h("span", {class: "nnref-att-layer-name"}, `第 ${l + 1} 层`));
    for (let k = 0; k < T.heads; k++) {
      const W = T.weights[l][k];
      const map = svg("svg", {viewBox: `0 0 ${L} ${L}`, class: "nnref-att-thumb", "aria-hidden": "true"},
        svg("rect", {x: 0, y: 0, width: L, height: L, class: "nnref-att-bg"}),
        W.flatMap((r, i) => r.map((w, j) => T.mask[i][j]
          ? svg("rect", {x: j, y: i, width: 1, height: 1, class: "nnref-att-masked"})
          : svg("rect", {x: j, y: i, width: 1, height: 1, class: "nnref-att-w", "fill-opacity": w.toFixed(3)}))));
      const button = h("button", {type: "button", class: "nnref-btn nnref-att-pick", title: `第 ${l + 1} 层 头 ${k + 1}`,
        "aria-label": `第 ${l + 1} 层 头 ${k + 1}`, dataset: {control: "head", layer: l, head: k},
        on: {click: () => { layer = l; head = k; draw(steps.step); }}}, map, h("span", {}, `头 ${k + 1}`));
      thumbs.push(button);
      row.append(button);
    }
    picker.append(row);
  }

  const title = h("div", {class: "nnref-panel-title"});
  const heat = h("div", {class: "nnref-att-map", style: {"--n": String(L)}});
  const info = h("p", {class: "nnref-formula nnref-att-info"});
  const rowTitle = h("div", {class: "nnref-panel-title nnref-att-rowtitle"});
  const list = h("div", {class: "nnref-att-row"});
  const best = h("p", {class: "nnref-formula"});
  const steps = stepper(fig, {count: L, name: "查询（行）", label: i => `查询：第 ${i + 1} / ${L} 个字${char(i)}`,
    onStep: i => { picked = null; draw(i); }});

  // the map's cells, built once; draw() only recolours them
  const cells = [];
  heat.append(h("span", {}));                        // the corner: the title says rows are queries, columns keys
  T.sentence.forEach(c => heat.append(h("span", {class: "nnref-att-key", text: c})));
  for (let i = 0; i < L; i++) {
    heat.append(h("span", {class: "nnref-att-query", text: T.sentence[i]}));
    cells.push([]);
    for (let j = 0; j < L; j++) {
      const cell = h("span", {class: "nnref-att-cell" + (T.mask[i][j] ? " nnref-att-masked" : ""),
        dataset: {i: i, j: j},
        on: {click: () => { steps.go(i); picked = j; draw(i); },
             mouseenter: () => show(i, j)}});
      cells[i].push(cell);
      heat.append(cell);
    }
  }
  heat.addEventListener("mouseleave", () => show(steps.step, picked));

  fig.append(
    h("p", {class: "nnref-formula"}, "一个字符级小 GPT（", num(T.layers, "layers"), " 层，每层 ", num(T.heads, "heads"),
      " 个头，d_model = ", num(T.d_model, "d_model"), "，每个头 d = ", num(T.head_dim, "head_dim"),
      "）在构建本站时用笔记原文训练了 ", num(T.steps, "steps"), " 步，交叉熵从 ", num(T.loss_first, "loss_first", 2),
      " 降到 ", num(T.loss_last, "loss_last", 2), "。选一个头："),
    picker, steps.el, title, heat,
    h("p", {class: "nnref-att-legend"}, h("span", {class: "nnref-att-swatch"}), " 颜色越浓，权重越大（0 到 1）　",
      h("span", {class: "nnref-att-swatch nnref-att-masked"}), " 因果掩码挡住的键：分数加 −∞，权重恰为 0"),
    info, rowTitle, list, best);
  steps.go(L - 1);                                   // the last character sees the whole sentence

  function draw(i) {
    const W = T.weights[layer][head];
    thumbs.forEach(b => b.setAttribute("aria-pressed", String(+b.dataset.layer === layer && +b.dataset.head === head)));
    title.textContent = `第 ${layer + 1} 层 头 ${head + 1}：A = softmax(QKᵀ/√d + M)（行：查询；列：键）`;
    for (let r = 0; r < L; r++)
      for (let c = 0; c < L; c++) {
        const cell = cells[r][c];
        cell.style.setProperty("--w", T.mask[r][c] ? "0" : W[r][c].toFixed(3));
        cell.classList.toggle("nnref-now", r === i);
        cell.classList.toggle("nnref-att-picked", r === i && c === picked);
      }
    rowTitle.textContent = `第 ${i + 1} 个字${char(i)}分给各个键的权重（一行，和为 1）`;
    list.replaceChildren(...W[i].map((w, j) => T.mask[i][j] ? null : h("span", {
      class: "nnref-att-entry" + (j === T.strongest[layer][head][i] ? " nnref-att-strong" : ""), dataset: {j: j}},
      h("span", {class: "nnref-att-entry-char", text: T.sentence[j]}), num(w, q(i, j), D),
      h("span", {class: "nnref-bar nnref-gate", style: {"--v": w.toFixed(3)}}))).filter(Boolean));
    const hidden = T.mask[i].filter(Boolean).length;
    const k = T.strongest[layer][head][i];
    best.replaceChildren(`最看重第 ${k + 1} 个字${char(k)}：`, num(W[i][k], q(i, k), D, "nnref-result"),
      hidden ? `；后面的 ${hidden} 个字被因果掩码挡住，权重都是 0。` : "。");
    show(i, picked);
  }

  function show(i, j) {                              // the cell under the pointer, or the one tapped
    if (j === null || j === undefined) {
      info.replaceChildren("指向或点一格，看它的权重；点一格也会选中它所在的行。");
      return;
    }
    const W = T.weights[layer][head];
    info.replaceChildren(`第 ${i + 1} 个字${char(i)}看第 ${j + 1} 个字${char(j)}：`,
      T.mask[i][j] ? "被因果掩码挡住，权重 " : "权重 ", num(W[i][j], q(i, j), D, "nnref-result"));
  }
});
