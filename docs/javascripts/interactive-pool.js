// Pooling (docs/cnn/pool.md): a window steps over the input; forward its max (the first one on a
// tie) or mean fills y, backward its dy goes to the winner or is shared by the window, and dx
// grows window by window. Trace: docs/interactive/pool.py.
nnrefInteractive.register("pool", function (fig, T) {
  const {h, num, choice, stepper, grid, panel} = nnrefInteractive;
  const s = Object.assign({}, T.default);
  const H = T.x.length, W = T.x[0].length;
  const view = h("div", {class: "nnref-panels"});
  const text = h("div", {class: "nnref-formula"});
  const setting = () => T.settings[`${s.mode},${s.kernel},${s.stride}`];
  const steps = stepper(fig, {
    count: setting().windows.length, name: "窗口位置",
    label: k => `窗口 ${k + 1} / ${setting().windows.length}`,
    onStep: draw,
  });
  const windowChoices = T.windows.map(([k, st]) => [`${k},${st}`, `${k}×${k}，步长 ${st}`]);
  fig.append(
    h("div", {class: "nnref-controls"},
      choice("方式", "mode", [["max", "最大池化"], ["avg", "平均池化"]], s.mode,
        v => { s.mode = v; steps.reset(setting().windows.length, 0); }),
      choice("窗口", "window", windowChoices, `${s.kernel},${s.stride}`,
        v => { [s.kernel, s.stride] = v.split(",").map(Number); steps.reset(setting().windows.length, 0); })),
    steps.el, view, text);
  steps.go(0);

  function draw(k) {
    const S = setting(), max = s.mode === "max";
    const OH = S.out.length, OW = S.out[0].length, i = Math.floor(k / OW), j = k % OW;
    const taps = S.windows[k];
    const gets = max ? [taps[S.winner[k]]] : taps;                  // the cells dy[i, j] flows back to
    const ties = max ? S.ties[k].map(t => taps[t]) : [];
    const mark = (cell, box, backward) => {
      if (taps.includes(cell)) box.classList.add("nnref-hit");
      if (gets.includes(cell) && (max || backward)) box.classList.add("nnref-win");
      if (ties.includes(cell)) box.classList.add("nnref-tie");
    };
    const input = grid(H, W, (r, c, box) => { mark(r * W + c, box, false); return num(T.x[r][c], `x[${r},${c}]`); });
    const output = grid(OH, OW, (a, b, box) => {
      if (a * OW + b === k) box.classList.add("nnref-now");
      return a * OW + b <= k ? num(S.out[a][b], `y[${a},${b}]`, "~3") : null;
    });
    const dy = grid(OH, OW, (a, b, box) => {
      if (a * OW + b === k) box.classList.add("nnref-now");
      return num(S.dy[a][b], `dy[${a},${b}]`);
    });
    const dx = grid(H, W, (r, c, box) => {
      mark(r * W + c, box, true);
      return num(S.dx_after[k][r][c], `dx_after[${k}][${r},${c}]`, "~3");
    });
    view.replaceChildren(
      panel("输入 x", input), panel(`输出 y（${OH}×${OW}）`, output),
      panel("上游梯度 dy", dy), panel(`输入的梯度 dx（前 ${k + 1} 个窗口之后）`, dx));
    const values = taps.map(t => num(T.x[Math.floor(t / W)][t % W], `x[${Math.floor(t / W)},${t % W}]`));
    const list = values.flatMap((v, n) => (n ? [", ", v] : [v]));
    const y = num(S.out[i][j], `y[${i},${j}]`, "~3", "nnref-result");
    if (max) {
      const [r, c] = [Math.floor(gets[0] / W), gets[0] % W];
      text.replaceChildren(
        h("p", {}, `前向：y[${i}, ${j}] = max(`, ...list, ") = ", y,
          ties.length ? `；并列的最大值有 ${ties.length + 1} 个，只取第一个 x[${r}, ${c}]` : `，在 x[${r}, ${c}]`),
        h("p", {}, `反向：dx[${r}, ${c}] += dy[${i}, ${j}] = `, num(S.sent[k][S.winner[k]], `sent[${k}][${S.winner[k]}]`),
          "，窗口里其余格加 0"));
    } else {
      const d = num(S.divisor[k], `divisor[${k}]`);
      text.replaceChildren(
        h("p", {}, `前向：y[${i}, ${j}] = (`, ...values.flatMap((v, n) => (n ? [" + ", v] : [v])), ") / ", d, " = ", y),
        h("p", {}, `反向：窗口里每格 += dy[${i}, ${j}] / `, num(S.divisor[k], `divisor[${k}]`), " = ",
          num(S.sent[k][0], `sent[${k}][0]`, "~3")));
    }
  }
});
