// Convolution (docs/cnn/conv.md): the kernel steps over the padded input; the window's taps, the
// products window ⊙ w, their sum and the output cell it fills. Trace: docs/interactive/conv.py.
nnrefInteractive.register("conv", function (fig, T) {
  const {h, num, choice, stepper, grid, panel} = nnrefInteractive;
  const s = Object.assign({}, T.default);
  const KH = T.w.length, KW = T.w[0].length;
  const view = h("div", {class: "nnref-panels"});
  const sum = h("p", {class: "nnref-formula"});
  const setting = () => T.settings[`${s.stride},${s.padding},${s.dilation}`];
  const change = name => value => { s[name] = +value; steps.reset(setting().windows.length, 0); };

  const steps = stepper(fig, {
    count: setting().windows.length, name: "窗口位置",
    label: k => `窗口 ${k + 1} / ${setting().windows.length}`,
    onStep: draw,
  });
  fig.append(
    h("div", {class: "nnref-controls"},
      choice("步长 stride", "stride", T.strides, s.stride, change("stride")),
      choice("填充 padding", "padding", T.paddings, s.padding, change("padding")),
      choice("空洞 dilation", "dilation", T.dilations, s.dilation, change("dilation"))),
    steps.el, view, sum);
  steps.go(0);

  function draw(k) {
    const S = setting(), P = s.padding;
    const rows = S.padded.length, cols = S.padded[0].length;
    const OH = S.out.length, OW = S.out[0].length, i = Math.floor(k / OW), j = k % OW;
    const taps = new Map(S.windows[k].map((cell, t) => [cell, t]));    // padded cell -> tap u*KW + v
    const input = grid(rows, cols, (r, c, box) => {
      const inside = r >= P && r < rows - P && c >= P && c < cols - P;
      if (!inside) box.classList.add("nnref-pad");
      const t = taps.get(r * cols + c);
      if (t !== undefined) {
        box.classList.add("nnref-hit");
        box.dataset.tap = `${Math.floor(t / KW)},${t % KW}`;
      }
      return num(S.padded[r][c], `xp[${r},${c}]`);
    });
    const kernel = grid(KH, KW, (u, v) => num(T.w[u][v], `w[${u},${v}]`), "nnref-kernel");
    const products = grid(KH, KW, (u, v) => num(S.products[k][u * KW + v], `prod[${i},${j},${u},${v}]`),
      "nnref-kernel");
    const output = grid(OH, OW, (a, b, box) => {
      const n = a * OW + b;
      if (n === k) box.classList.add("nnref-now");
      return n <= k ? num(S.out[a][b], `y[${a},${b}]`) : null;      // filled up to this window
    });
    view.replaceChildren(
      panel(`补零后的输入（${rows}×${cols}）`, input),
      panel("卷积核 w", kernel),
      panel("窗口 ⊙ w", products),
      panel(`输出 y（${OH}×${OW}）`, output));
    const terms = S.products[k].map((p, t) => [p < 0 ? "(" : "", num(p, `prod[${i},${j},${Math.floor(t / KW)},${t % KW}]`),
      p < 0 ? ")" : "", t < S.products[k].length - 1 ? " + " : ""]);
    sum.replaceChildren(`y[${i}, ${j}] = `, ...terms.flat().filter(x => x !== ""), " = ",
      num(S.out[i][j], `y[${i},${j}]`, undefined, "nnref-result"));
  }
});
