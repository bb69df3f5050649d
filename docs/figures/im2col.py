r"""im2col: every 3x3 window of a 4x4 input becomes one column; the weights, one row per kernel, times it.

Saves im2col.svg into $NNREF_FIGURE_DIR (see hooks/figures.py); docs/cnn/conv.md shows it. Laid
out as a matrix product: ``cols`` (9 x 4) on top, the weight rows ``W`` (2 x 9) to the left of
the result ``Y = W cols`` (2 x 4), which reshapes into the two output maps. ``cols`` comes from
``nnref.layers.conv.im2col`` and ``Y`` from ``nnref.Conv2d`` (checked to equal ``W @ cols``), so
the picture follows the code.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _diagram import BLUE, GREEN, GREY, LIGHT, ORANGE, PURPLE, RED, arrow, canvas, grid, label, outline, save  # noqa: E402

import nnref  # noqa: E402
from nnref.layers.conv import im2col  # noqa: E402

X = np.arange(16, dtype=np.float64).reshape(4, 4)
W = np.array([[[1, 0, 0], [0, 1, 0], [0, 0, 1]],          # two 3x3 kernels, one input channel
              [[1, 0, 1], [0, 0, 0], [0, 0, 0]]], dtype=np.float64)
COLORS = [RED, BLUE, GREEN, PURPLE]          # windows (i, j) = (0,0), (0,1), (1,0), (1,1): columns 0..3


def compute(x, w):
    """(cols, Y) for one image: ``cols`` from im2col, ``Y`` (F, OH*OW) from ``nnref.Conv2d``."""
    conv = nnref.Conv2d(1, w.shape[0], 3, bias=False, dtype=np.float64)
    conv.weight.data[...] = nnref.backend.asarray(w[:, None])
    xb = nnref.backend.asarray(x[None, None])
    cols = im2col(xb, (3, 3))                              # (C*KH*KW, N*OH*OW)
    y = nnref.asnumpy(conv(xb))[0]                          # (F, OH, OW)
    cols = nnref.asnumpy(cols)
    assert np.array_equal(w.reshape(len(w), -1) @ cols, y.reshape(len(w), -1)), "im2col picture != Conv2d"
    return cols, y.reshape(len(w), -1)


def main():
    cols, Y = compute(X, W)
    c = 0.3
    fig, ax = canvas(7.2, 4.7)

    # the input with its four windows
    xc = 0.42
    x0, top = 0.35, 4.3
    label(ax, x0 + 2 * xc, 4.55, "输入 x（4×4）的 4 个窗口", fontsize=11)
    grid(ax, x0, top, X.astype(int), xc, fontsize=10)
    for k, color in enumerate(COLORS):
        i, j = divmod(k, 2)
        inset = 0.03 + 0.035 * k
        outline(ax, x0 + j * xc + inset, top - i * xc - inset, 3 * xc - 2 * inset, 3 * xc - 2 * inset,
                color=color, lw=2)

    # cols: one column per window, in the windows' colours
    cx0, ctop = 3.1, 4.3
    label(ax, cx0 + 2 * c, 4.55, "cols（{}×{}）".format(*cols.shape), fontsize=11)
    tint = [[LIGHT[color] for color in COLORS] for _ in range(9)]
    grid(ax, cx0, ctop, cols.astype(int), c, tint, fontsize=9)
    for k in range(4):
        label(ax, cx0 + (k + 0.5) * c, ctop - 9 * c - 0.15, f"({k // 2},{k % 2})", fontsize=8, color="0.3")
    label(ax, cx0 + 4 * c + 0.15, ctop - 4.5 * c, "每个窗口按行展平\n成一列（C·KH·KW = 9 行）",
          fontsize=10, ha="left")
    arrow(ax, (x0 + 4 * xc + 0.15, top - 2 * xc), (cx0 - 0.15, top - 2 * xc), lw=1.8)
    label(ax, (x0 + 4 * xc + cx0) / 2, top - 2 * xc + 0.2, "im2col", fontsize=10, family="monospace")

    # W (2 x 9) to the left of Y (2 x 4): row f of Y = kernel f's row times each column
    ytop = ctop - 9 * c - 0.45
    wx0 = cx0 - 0.25 - 9 * c
    label(ax, wx0 + 4.5 * c, ytop + 0.22, "W（{}×{}）：每个卷积核展平成一行".format(len(W), W[0].size), fontsize=10)
    grid(ax, wx0, ytop, W.reshape(2, -1).astype(int), c, [[LIGHT[ORANGE]] * 9, [LIGHT[GREY]] * 9], fontsize=9)
    label(ax, cx0 - 0.125, ytop - c, "×", fontsize=12)
    grid(ax, cx0, ytop, Y.astype(int), c, [[LIGHT[ORANGE]] * 4, [LIGHT[GREY]] * 4], fontsize=9)
    label(ax, cx0 + 2 * c, ytop - 2 * c - 0.2, "Y = W · cols（{}×{}）".format(*Y.shape), fontsize=10)

    # reshape each row of Y into one output map
    mx = cx0 + 4 * c + 0.7
    arrow(ax, (cx0 + 4 * c + 0.1, ytop - c), (mx - 0.1, ytop - c), lw=1.5)
    label(ax, mx + xc * 2 + 0.1, ytop + 0.45, "每行 reshape 成一张 2×2 输出图", fontsize=10)
    for f, color in enumerate([ORANGE, GREY]):
        grid(ax, mx + f * (2 * xc + 0.2), ytop + 0.2, Y[f].reshape(2, 2).astype(int), xc,
             [[LIGHT[color]] * 2] * 2, fontsize=10)
    save(fig, "im2col")


# run by hooks/figures.py (run_name "__main__"); importing the file draws nothing
if __name__ == "__main__":
    main()
