r"""Trace of the pooling figure (docs/cnn/pool.md): max and average pooling, forward and backward.

For every mode and window the reader can select, nnref computes: the output, with the page's
reference loops (``maxpool2d_forward`` / ``avgpool2d_forward``), the winner of each max window
(the cache's ``winner``: on a tie the first maximum), the input gradient after the first k
windows have sent their ``dy`` back (``maxpool2d_backward`` / ``avgpool2d_backward`` of ``dy``
with the later windows' entries zeroed) and what window k alone sends to each of its cells;
each window's cells (``pool_views`` over the input's cell numbers) and divisor
(``avg_divisor``) come from the strided-view form the modules run. Saves pool.json and pool.svg
via hooks/interactive.py.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _trace import _diagram, save  # noqa: E402

from nnref.layers.pool import (avg_divisor, avgpool2d_backward, avgpool2d_forward, make_window,  # noqa: E402
                               maxpool2d_backward, maxpool2d_forward, pool_views)

X = np.array([[1, 3, 2, 5],
              [4, 2, 5, 0],                  # top-right 2x2 window: two 5s, the first one wins
              [2, 2, 1, 3],
              [2, 2, 0, 4]], dtype=np.float64)  # bottom-left 2x2 window: four equal values
MODES = ("max", "avg")
WINDOWS = ((2, 2), (2, 1), (3, 1))            # (kernel, stride)
DEFAULT = {"mode": "max", "kernel": 2, "stride": 2}


def setting(mode, kernel, stride):
    r"""Every number of one setting, from nnref. ``dy`` is 1, 2, ..., one per output cell."""
    x = X[None, None]                                                     # (1, 1, 4, 4)
    w = make_window(X.shape, (kernel, kernel), (stride, stride), (0, 0), (1, 1), False)
    forward, backward = {"max": (maxpool2d_forward, maxpool2d_backward),
                         "avg": (avgpool2d_forward, avgpool2d_backward)}[mode]
    y, cache = forward(x, (kernel, kernel), (stride, stride))
    OH, OW = w.out_size
    dy = np.arange(1.0, OH * OW + 1).reshape(1, 1, OH, OW)
    cells = np.arange(X.size, dtype=np.float64).reshape(X.shape)
    windows = np.stack([v.reshape(-1) for v in pool_views(cells, w)], axis=1).astype(int)   # (OH*OW, K*K)
    dx_after, sent = [], []
    order = np.arange(OH * OW).reshape(1, 1, OH, OW)
    for k in range(OH * OW):
        dx_after.append(backward(np.where(order <= k, dy, 0.0), cache)[0, 0])     # windows 0..k sent dy back
        sent.append(backward(np.where(order == k, dy, 0.0), cache)[0, 0].reshape(-1)[windows[k]])  # window k alone
    s = {"out": y[0, 0], "dy": dy[0, 0], "windows": windows, "dx_after": dx_after, "sent": sent}
    if mode == "max":
        winner = cache.winner[0, 0].reshape(-1).astype(int)              # tap of each window's first maximum
        values = X.reshape(-1)[windows]
        s["winner"] = winner
        s["ties"] = [[t for t in np.flatnonzero(row == row[win]) if t != win] for row, win in zip(values, winner)]
    else:
        s["divisor"] = np.broadcast_to(avg_divisor(x, w), (OH, OW)).reshape(-1)
    return s


def key(mode, kernel, stride):
    return f"{mode},{kernel},{stride}"


def trace():
    return {"pool": {
        "alt": "池化：窗口在 4×4 输入上滑动，前向取最大值或平均值，反向把 dy 送回最大值（并列时给第一个）或平均分给窗口",
        "x": X, "modes": MODES, "windows": WINDOWS, "default": DEFAULT,
        "settings": {key(m, k, s): setting(m, k, s) for m in MODES for k, s in WINDOWS},
    }}


def draw_first_step(t):
    r"""The default setting after its first window: x with the winner, y, dy and dx, as an SVG."""
    s = t["settings"][key(**DEFAULT)]
    taps, win = s["windows"][0], s["winner"][0]
    cell = 0.4
    fig, ax = _diagram.canvas(7.6, 2.6)
    top = 2.2
    colors = [["white"] * 4 for _ in range(4)]
    for tap in taps:
        colors[tap // 4][tap % 4] = _diagram.LIGHT[_diagram.BLUE]
    colors[taps[win] // 4][taps[win] % 4] = _diagram.LIGHT[_diagram.RED]
    out = [[f"{v:g}" if (i, j) == (0, 0) else "" for j, v in enumerate(row)] for i, row in enumerate(s["out"])]
    for x0, title, values in [(0.2, "输入 x", X), (2.1, "输出 y", out), (3.7, "上游梯度 dy", s["dy"]),
                              (5.5, "输入的梯度 dx", s["dx_after"][0])]:
        n = len(values[0])
        _diagram.label(ax, x0 + n * cell / 2, 2.45, title, fontsize=10)
        _diagram.grid(ax, x0, top, values, cell, colors if values is X or title.startswith("输入的") else None,
                      fontsize=10)
    _diagram.label(ax, 0.2, 0.35, f"最大池化 {DEFAULT['kernel']}×{DEFAULT['kernel']}，步长 {DEFAULT['stride']}："
                   f"第一个窗口的最大值 {s['out'][0, 0]:g} 得到 y[0, 0]；反向时 dy[0, 0] 全部流回这一格",
                   fontsize=10, ha="left")
    _diagram.save(fig, "pool")


def main():
    t = trace()
    save("pool", t["pool"])
    draw_first_step(t["pool"])


# run by hooks/interactive.py (run_name "__main__"); importing the file computes nothing
if __name__ == "__main__":
    main()
