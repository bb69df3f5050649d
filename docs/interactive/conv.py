r"""Trace of the convolution figure (docs/cnn/conv.md): a 3x3 kernel stepping over a 5x5 input.

For every stride, padding and dilation the reader can select, nnref computes: the zero-padded
input (``pad2d``), each window's values (the columns of ``im2col``), where each window lies
(``im2col`` of the padded grid's cell numbers), the products window x kernel and the output
(``conv2d_forward``). The browser shows these numbers and nothing else. Saves conv.json and
conv.svg (the first window, for readers without JavaScript) via hooks/interactive.py.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _trace import _diagram, save  # noqa: E402

from nnref.layers.conv import conv2d_forward, im2col, pad2d  # noqa: E402

X = np.array([[1, 2, 0, 1, 3],
              [0, 1, 3, 2, 1],
              [2, 0, 1, 1, 0],
              [1, 3, 0, 2, 1],
              [0, 1, 2, 0, 2]], dtype=np.float64)
K = np.array([[1, 0, -1],
              [1, 2, 0],
              [0, 1, -1]], dtype=np.float64)          # not symmetric: the products show which weight meets which pixel
STRIDES, PADDINGS, DILATIONS = (1, 2), (0, 1, 2), (1, 2)
DEFAULT = {"stride": 1, "padding": 0, "dilation": 1}


def setting(stride, padding, dilation):
    r"""Every number of one setting, from nnref: shapes (Hp, Wp) padded, (OH, OW) out, (OH*OW, 9) windows."""
    x, w = X[None, None], K[None, None]                                  # (1, 1, 5, 5), (1, 1, 3, 3)
    y, cache = conv2d_forward(x, w, None, stride, padding, dilation)
    padded = pad2d(x, ((padding, padding), (padding, padding)), "zeros")[0, 0]
    cells = np.arange(padded.size, dtype=np.float64).reshape(1, 1, *padded.shape)
    where = im2col(cells, K.shape, stride, 0, dilation).astype(int)      # (9, OH*OW): cell number of each tap
    return {"padded": padded, "out": y[0, 0], "windows": where.T,
            "products": (cache.cols * w.reshape(-1, 1)).T + 0.0}              # (OH*OW, 9): window ⊙ kernel


def key(stride, padding, dilation):
    return f"{stride},{padding},{dilation}"


def trace():
    return {"conv": {
        "alt": "卷积：3×3 卷积核在补零后的 5×5 输入上滑动，每个窗口与卷积核逐元素相乘、求和，得到输出的一格",
        "x": X, "w": K, "strides": STRIDES, "paddings": PADDINGS, "dilations": DILATIONS, "default": DEFAULT,
        "settings": {key(s, p, d): setting(s, p, d) for s in STRIDES for p in PADDINGS for d in DILATIONS},
    }}


def draw_first_step(t):
    r"""The default setting's first window, its products and the output cell it fills, as an SVG."""
    s = t["settings"][key(**DEFAULT)]
    padded, out, taps, products = s["padded"], s["out"], s["windows"][0], s["products"][0]
    n, p = padded.shape[0], DEFAULT["padding"]
    cell = 0.36
    fig, ax = _diagram.canvas(7.8, 3.1)
    top = 2.75
    colors = [["#d9d9d9" if not (p <= i < n - p and p <= j < n - p) else "white" for j in range(n)] for i in range(n)]
    for tap in taps:
        colors[tap // n][tap % n] = _diagram.LIGHT[_diagram.RED]
    _diagram.label(ax, 0.2 + n * cell / 2, 3.0, "补零后的输入", fontsize=10)
    _diagram.grid(ax, 0.2, top, padded, cell, colors, fmt="{:.0f}", fontsize=10)
    _diagram.label(ax, 3.55, 3.0, "卷积核 w", fontsize=10)
    _diagram.grid(ax, 3.0, top, K, cell, fmt="{:.0f}", fontsize=10)
    _diagram.label(ax, 4.95, 3.0, "窗口 ⊙ w", fontsize=10)
    _diagram.grid(ax, 4.4, top, products.reshape(3, 3), cell, fmt="{:.0f}", fontsize=10)
    _diagram.label(ax, 5.8 + out.shape[1] * cell / 2, 3.0, "输出 y", fontsize=10)
    shown = [[f"{v:.0f}" if (i, j) == (0, 0) else "" for j, v in enumerate(row)] for i, row in enumerate(out)]
    first = [[_diagram.LIGHT[_diagram.RED] if (i, j) == (0, 0) else "white" for j in range(out.shape[1])]
             for i in range(out.shape[0])]
    _diagram.grid(ax, 5.8, top, shown, cell, first, fontsize=10)
    _diagram.label(ax, 3.0, 1.2, f"y[0, 0] = 乘积之和 = {out[0, 0]:.0f}\n"
                   f"步长 {DEFAULT['stride']}，填充 {DEFAULT['padding']}，空洞 {DEFAULT['dilation']}",
                   fontsize=10, ha="left", va="top", linespacing=1.6)
    _diagram.save(fig, "conv")


def main():
    t = trace()
    save("conv", t["conv"])
    draw_first_step(t["conv"])


# run by hooks/interactive.py (run_name "__main__"); importing the file computes nothing
if __name__ == "__main__":
    main()
