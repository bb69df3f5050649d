// LSTM and GRU gates (docs/lstm/lstm.md, docs/lstm/gru.md): a trained cell reads a sequence in
// which one number is marked; a slider over t shows every gate and state of its 3 units.
// Traces: docs/interactive/gates.py (one per cell).
(function () {
  const {h, sub, num, choice, stepper} = nnrefInteractive;
  const D = 3;

  function draw(fig, T) {
    let n = 0;
    const strip = h("div", {class: "nnref-strip"});
    const table = h("div", {class: "nnref-scroll"});
    const tableTitle = h("div", {class: "nnref-panel-title"});
    const lines = h("div", {class: "nnref-formula nnref-lines"});
    const result = h("p", {class: "nnref-formula"});
    const steps = stepper(fig, {count: T.T, name: "时间步 t", label: t => `t = ${t + 1} / ${T.T}`, onStep: show});
    const options = T.sequences.map((s, i) => [i, `序列 ${i + 1}（标记在 t = ${s.marked + 1}）`]);
    fig.append(
      h("div", {class: "nnref-controls"}, choice("输入", "sequence", options, 0, v => { n = +v; steps.reset(T.T, 0); })),
      steps.el,
      h("div", {class: "nnref-panel-title"}, "输入序列 x（★ 是要记住的数；第二个输入在 ★ 处为 1，其余为 0）"), strip,
      tableTitle, table, lines, result);
    steps.go(0);

    function show(t) {
      const S = T.sequences[n], R = S.rows;
      tableTitle.textContent = `第 t = ${t + 1} 步的门与状态（${T.hidden} 个单元）`;
      strip.replaceChildren(...S.x.map((x, k) => h("span", {class: "nnref-cell" + (k === t ? " nnref-now" : "") +
          (k === S.marked ? " nnref-mark" : "")}, k === S.marked ? "★" : "", num(x[0], `${n}.x[${k}]`))));
      const head = h("tr", {}, h("th", {}, ""), [...Array(T.hidden).keys()].map(j => h("th", {}, `单元 ${j + 1}`)));
      const body = T.rows.map(([name, text, range]) => h("tr", {},
        h("th", {}, ...sub(text)),
        R[name][t].map((v, j) => h("td", {class: "nnref-barcell"},
          h("span", {class: `nnref-bar nnref-${range}` + (v < 0 ? " nnref-neg" : ""),
            style: {"--v": String(Math.min(1, Math.abs(v)))}}),
          num(v, `${n}.${name}[${t},${j}]`, D)))));
      table.replaceChildren(h("table", {class: "nnref-table nnref-gates"}, h("thead", {}, head), h("tbody", {}, body)));
      lines.replaceChildren(...[...Array(T.hidden).keys()].flatMap(j => T.formulas.map(f =>
        h("p", {}, `单元 ${j + 1}：`, ...nnrefInteractive.tokens(
          f.map(p => (typeof p === "string" ? p : {v: R[p.row][t][j], q: `${n}.${p.row}[${t},${j}]`})), D)))));
      result.replaceChildren(...(t === T.T - 1
        ? ["读完之后：ŷ = Linear(h", h("sub", {}, "T"), ") = ", num(S.pred, `${n}.pred`, D, "nnref-result"),
          "，要记住的数 = ", num(S.target, `${n}.target`)]
        : [`读到第 ${T.T} 步后，线性层从 h`, h("sub", {}, "T"), " 读出被标记的数。"]));
    }
  }
  nnrefInteractive.register("lstm", draw);
  nnrefInteractive.register("gru", draw);
})();
