r"""A 3x3 convolution window sliding over a 5x5 input with padding 1 and stride 2.

Saves conv_window.svg into $NNREF_FIGURE_DIR (see hooks/figures.py); docs/cnn/conv.md shows it.
The padded border is drawn as grey zeros; three window positions are outlined in the colours of
the output cells they produce. The output values come from ``nnref.Conv2d`` with the kernel
shown, so the picture follows the code.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _diagram import BLUE, GREEN, LIGHT, RED, canvas, grid, label, outline, save  # noqa: E402

import nnref  # noqa: E402

X = np.array([[1, 2, 0, 1, 3],
              [0, 1, 3, 2, 1],
              [2, 0, 1, 1, 0],
              [1, 3, 0, 2, 1],
              [0, 1, 2, 0, 2]], dtype=np.float64)
K = np.array([[1, 0, 1],
              [0, 1, 0],
              [1, 0, 1]], dtype=np.float64)
STRIDE, PADDING = 2, 1
# output cell -> outline colour; each outline marks the window that produced that cell
SHOWN = {(0, 0): RED, (0, 1): BLUE, (2, 2): GREEN}


def convolve(x, k):
    """``nnref.Conv2d(1, 1, 3, stride=2, padding=1, bias=False)`` with weight ``k`` applied to ``x``."""
    conv = nnref.Conv2d(1, 1, k.shape[0], stride=STRIDE, padding=PADDING, bias=False, dtype=np.float64)
    conv.weight.data[...] = nnref.backend.asarray(k[None, None])
    return nnref.asnumpy(conv(nnref.backend.asarray(x[None, None])))[0, 0]


def main():
    y = convolve(X, K)
    H, P, S, KS = X.shape[0], PADDING, STRIDE, K.shape[0]
    n = H + 2 * P
    xpad = [[int(X[i - P, j - P]) if P <= i < H + P and P <= j < H + P else 0 for j in range(n)]
            for i in range(n)]
    pad_colors = [["#d9d9d9" if not (P <= i < H + P and P <= j < H + P) else "white" for j in range(n)]
                  for i in range(n)]
    cell = 0.42
    fig, ax = canvas(7.2, 3.9)
    x0, top = 0.3, 3.45

    label(ax, x0 + n * cell / 2, 3.75, f"补零后的输入（{H}×{H}，padding={P}）", fontsize=11)
    grid(ax, x0, top, xpad, cell, pad_colors, fontsize=11)
    for (i, j), color in SHOWN.items():
        # window of output (i, j) starts at padded row i*S, column j*S; insets keep overlapping outlines apart
        inset = {RED: 0.03, BLUE: 0.07, GREEN: 0.03}[color]
        outline(ax, x0 + j * S * cell + inset, top - i * S * cell - inset, KS * cell - 2 * inset,
                KS * cell - 2 * inset, color=color, lw=2.5)
    label(ax, x0 + n * cell / 2, top - n * cell - 0.22, f"灰色 = 填充的 0；窗口每次移动 stride={S} 格", fontsize=10,
          color="0.25")

    kx, ox = 3.75, 5.65
    label(ax, kx + 1.5 * cell, 3.75, f"卷积核 w（{KS}×{KS}）", fontsize=11)
    grid(ax, kx, top, K.astype(int), cell, fontsize=11)
    label(ax, ox + 1.5 * cell, 3.75, f"输出 y（{y.shape[0]}×{y.shape[1]}）", fontsize=11)
    colors = [[LIGHT[SHOWN[i, j]] if (i, j) in SHOWN else "white" for j in range(3)] for i in range(3)]
    grid(ax, ox, top, y.astype(int), cell, colors, fontsize=11)
    label(ax, kx, 1.7, f"y[i, j] = Σ（窗口 ⊙ w）\n"
          f"同色的窗口算出同色的输出格\n"
          f"输出边长 ⌊({H} + 2×{P} − {KS}) / {S}⌋ + 1 = {y.shape[0]}",
          fontsize=11, ha="left", va="top", linespacing=1.8)
    save(fig, "conv_window")


# run by hooks/figures.py (run_name "__main__"); importing the file draws nothing
if __name__ == "__main__":
    main()
