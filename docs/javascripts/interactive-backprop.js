// Backpropagation (docs/neural-network/backprop.md): one sample through Linear(2, 2) -> φ ->
// Linear(2, 1) -> (ŷ − y)². Step forward value by value, then backward product by product; the
// net shows each value (in its box) and each gradient ∂L/∂· (under it) once a step has made it.
// Trace: docs/interactive/backprop.py.
nnrefInteractive.register("backprop", function (fig, T) {
  const {h, svg, num, tokens, choice, stepper, panel} = nnrefInteractive;
  const D = 3;                                            // decimals on screen
  let act = T.default;
  const title = h("p", {class: "nnref-step-title"});
  const lines = h("div", {class: "nnref-formula nnref-lines"});
  const net = h("div", {class: "nnref-scroll"});
  const params = h("div", {class: "nnref-scroll"});
  const S = () => T.settings[act];
  const steps = stepper(fig, {
    count: S().steps.length, name: "步骤",
    label: k => `${S().steps[k].phase} ${k + 1} / ${S().steps.length}`,
    onStep: draw,
  });
  fig.append(
    h("div", {class: "nnref-controls"},
      choice("激活函数 φ", "activation", T.activations, act, v => { act = v; steps.reset(S().steps.length); })),
    steps.el, title, lines,
    h("div", {class: "nnref-panels"}, panel("网络（框内：前向的值；框下：∂L/∂ 该量）", net), panel("参数与它们的梯度", params)));

  // node -> [x, y] in the diagram; each node's value and gradient in the trace
  const nodes = {
    "x[0]": [38, 50], "x[1]": [38, 160], "z1[0]": [135, 50], "z1[1]": [135, 160],
    "h[0]": [232, 50], "h[1]": [232, 160], "yhat[0]": [330, 105], "L": [406, 105],
  };
  const labels = {"x[0]": "x[0]", "x[1]": "x[1]", "z1[0]": "z₁[0]", "z1[1]": "z₁[1]", "h[0]": "h[0]",
    "h[1]": "h[1]", "yhat[0]": "ŷ", "L": "L"};
  const edges = [["x[0]", "z1[0]"], ["x[0]", "z1[1]"], ["x[1]", "z1[0]"], ["x[1]", "z1[1]"], ["z1[0]", "h[0]"],
    ["z1[1]", "h[1]"], ["h[0]", "yhat[0]"], ["h[1]", "yhat[0]"], ["yhat[0]", "L"]];

  function value(name, V) {                                // "z1[1]" -> V.z1[1]; "x[0]" -> T.x[0]
    const m = name.match(/^([^[]+)(?:\[(\d+)\])?$/);
    const arr = m[1] in V ? V[m[1]] : T[m[1]];
    return m[2] === undefined ? arr : arr[+m[2]];
  }

  function draw(k) {
    const st = S().steps[k], V = S().values;
    const shown = new Set(S().steps.slice(0, k + 1).flatMap(s => s.reveals));
    const now = new Set(st.reveals);
    title.replaceChildren(h("strong", {}, `${st.phase}：`), st.title);
    lines.replaceChildren(...st.lines.map(line => h("p", {}, tokens(line, D))));

    const W = 70, Hh = 30;
    const pic = svg("svg", {viewBox: "0 0 430 215", class: "nnref-net", role: "img",
      "aria-label": "两层网络：x → z₁ → h → ŷ → L"});
    for (const [a, b] of edges) {
      const [x1, y1] = nodes[a], [x2, y2] = nodes[b];
      pic.append(svg("line", {x1: x1 + W / 2, y1: y1, x2: x2 - (b === "L" ? 20 : W / 2), y2: y2, class: "nnref-edge"}));
    }
    for (const [name, [x, y]] of Object.entries(nodes)) {
      const w = name === "L" ? 40 : W;
      const isInput = name.startsWith("x");
      const g = svg("g", {class: "nnref-node" + (now.has(name) || now.has("dL/d" + name) ? " nnref-now" : "")});
      g.append(svg("text", {x: x, y: y - Hh / 2 - 5, class: "nnref-node-label"}, labels[name]));
      g.append(svg("rect", {x: x - w / 2, y: y - Hh / 2, width: w, height: Hh, rx: 5}));
      if (isInput || shown.has(name)) g.append(svgNum(x, y + 5, value(name, V), name, "nnref-node-value"));
      const grad = "dL/d" + (name === "yhat[0]" ? "yhat[0]" : name);
      if (shown.has(grad)) g.append(svgNum(x, y + Hh / 2 + 15, value(grad, V), grad, "nnref-node-grad"));
      pic.append(g);
    }
    pic.append(svg("text", {x: 400, y: 175, class: "nnref-node-label"}, "y = ", fmtSvg(T.y[0], "y[0]")));
    net.replaceChildren(pic);

    const rows = [];
    for (const [p, shape] of [["W1", [2, 2]], ["b1", [2]], ["W2", [1, 2]], ["b2", [1]]]) {
      const idx = shape.length === 2 ? [].concat(...[...Array(shape[0]).keys()].map(i =>
        [...Array(shape[1]).keys()].map(j => [i, j]))) : [...Array(shape[0]).keys()].map(i => [i]);
      for (const ix of idx) {
        const q = `${p}[${ix.join(",")}]`, g = `dL/d${q}`;
        const val = ix.reduce((a, i) => a[i], T[p]);
        const grad = ix.reduce((a, i) => a[i], V["dL/d" + p]);
        rows.push(h("tr", {class: now.has(g) ? "nnref-now-row" : null},
          h("td", {}, p.replace("1", "₁").replace("2", "₂") + `[${ix.join(",")}]`),
          h("td", {}, num(val, q, D)),
          h("td", {}, shown.has(g) ? num(grad, g, D) : "")));
      }
    }
    params.replaceChildren(h("table", {class: "nnref-table"},
      h("thead", {}, h("tr", {}, h("th", {}, "参数"), h("th", {}, "值"), h("th", {}, "∂L/∂参数"))),
      h("tbody", {}, rows)));
  }

  function fmtSvg(v, q) {
    return svg("tspan", {class: "nnref-num", dataset: {q: q}}, nnrefInteractive.fmt(v, D));
  }
  function svgNum(x, y, v, q, cls) {
    return svg("text", {x: x, y: y, class: cls}, fmtSvg(v, q));
  }
  steps.go(0);
});
