// Optimisers (docs/neural-network/optimizers.md): SGD, momentum and Adam side by side on the
// valley f(w) = (w1² + 20 w2²)/2, each with its learning rate; one slider steps all three paths.
// Trace: docs/interactive/optimizers.py.
nnrefInteractive.register("optimizers", function (fig, T) {
  const {h, svg, num, choice, stepper} = nnrefInteractive;
  const [x0, x1] = T.box.w1, [y0, y1] = T.box.w2;
  const PW = 300, PH = Math.round(PW * (y1 - y0) / (x1 - x0));   // equal scales on both axes
  const X = w1 => ((w1 - x0) / (x1 - x0)) * PW, Y = w2 => ((y1 - w2) / (y1 - y0)) * PH;
  const lr = {};
  const panels = {};
  const steps = stepper(fig, {count: T.steps + 1, name: "步数", label: k => `第 ${k} 步 / ${T.steps}`, onStep: draw});
  const row = h("div", {class: "nnref-panels nnref-optim"});
  for (const [name, run] of Object.entries(T.runs)) {
    lr[name] = String(run.default);
    const plot = h("div", {class: "nnref-plot"});
    const readout = h("div", {class: "nnref-readout"});
    panels[name] = {plot, readout};
    row.append(h("div", {class: "nnref-panel", dataset: {optimizer: name}},
      h("div", {class: "nnref-panel-title"}, run.label, " ",
        choice("学习率", `lr-${name}`, run.rates, run.default, v => { lr[name] = v; draw(steps.step); })),
      plot, readout));
  }
  fig.append(steps.el, row,
    h("p", {class: "nnref-source"}, "等高线：f(w) = ", T.levels.join("、"), "；★ 最小值 (0, 0)；",
      "起点 (", T.start.map(v => nnrefInteractive.fmt(v)).join(", "), ")。"));
  steps.go(0);

  function draw(k) {
    for (const [name, run] of Object.entries(T.runs)) {
      const p = run.paths[lr[name]], last = Math.min(k, p.w.length - 1);
      const id = `nnref-clip-${name}`;
      const pic = svg("svg", {viewBox: `0 0 ${PW} ${PH}`, class: "nnref-surface", role: "img",
        "aria-label": `${run.label} 的路径`},
        svg("clipPath", {id: id}, svg("rect", {x: 0, y: 0, width: PW, height: PH})),
        svg("rect", {x: 0, y: 0, width: PW, height: PH, class: "nnref-frame"}),
        svg("g", {"clip-path": `url(#${id})`},
          T.contours.map(c => svg("polyline", {class: "nnref-contour",
            points: c.map(([a, b]) => `${X(a).toFixed(1)},${Y(b).toFixed(1)}`).join(" ")})),
          svg("polyline", {class: "nnref-path",
            points: p.w.slice(0, last + 1).map(([a, b]) => `${X(a).toFixed(1)},${Y(b).toFixed(1)}`).join(" ")}),
          p.w.slice(0, last + 1).map(([a, b], j) => svg("circle", {cx: X(a), cy: Y(b), r: j === last ? 4.5 : 1.8,
            class: j === last ? "nnref-point nnref-now" : "nnref-point"})),
          svg("text", {x: X(0), y: Y(0) + 5, class: "nnref-star"}, "★")));
      panels[name].plot.replaceChildren(pic);
      const [w1, w2] = p.w[last];
      panels[name].readout.replaceChildren(...[
        h("span", {}, "w = (", num(w1, `${name}.${lr[name]}.w1[${last}]`, "g"), ", ",
          num(w2, `${name}.${lr[name]}.w2[${last}]`, "g"), ")"),
        h("span", {}, "f(w) = ", num(p.f[last], `${name}.${lr[name]}.f[${last}]`, "e")),
        p.diverges ? h("strong", {class: "nnref-warn"}, "发散：f 越走越大") : ""]);
    }
  }
});
