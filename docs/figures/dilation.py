r"""Dilation: which input pixels one output pixel of a 3x3 convolution sees, for dilation 1, 2, 3,
and for two stacked layers (dilation 1, then 2).

Saves dilation.svg into $NNREF_FIGURE_DIR (see hooks/figures.py); docs/cnn/conv.md shows it.
The cells are not drawn by hand: each panel backpropagates one output pixel through
``nnref.Conv2d`` layers with all-ones kernels, and a cell is coloured where the input gradient is
non-zero (the number in it is that gradient: how many paths lead from the pixel to the output).
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _diagram import BLUE, GREEN, LIGHT, canvas, grid, label, save  # noqa: E402

import nnref  # noqa: E402

SIZE = 9                                      # input is SIZE x SIZE; the output pixel sits at its centre


def seen(dilations):
    """Input gradient of the centre output pixel through 3x3 all-ones convolutions with these dilations."""
    layers = []
    for d in dilations:
        conv = nnref.Conv2d(1, 1, 3, padding=d, dilation=d, bias=False, dtype=np.float64)   # 'same' size
        conv.weight.data[...] = 1.0
        layers.append(conv)
    net = nnref.Sequential(*layers)
    y = net(nnref.backend.zeros((1, 1, SIZE, SIZE), dtype=np.float64))
    dy = np.zeros(y.shape)
    dy[0, 0, SIZE // 2, SIZE // 2] = 1.0
    return np.rint(nnref.asnumpy(net.backward(nnref.backend.asarray(dy)))[0, 0]).astype(int)


def main():
    panels = [((1,), "dilation=1"), ((2,), "dilation=2"), ((3,), "dilation=3"), ((1, 2), "两层：dilation 1，再 2")]
    # two panels a row: narrow enough that a phone shows the labels at a legible size
    cell, gap, margin, row = 0.25, 0.4, 0.3, 3.2
    width = 2 * SIZE * cell + gap + 2 * margin
    fig, ax = canvas(width, 2 * row)
    for n, (dilations, title) in enumerate(panels):
        g = seen(dilations)
        rows, cols = np.nonzero(g)
        extent = rows.max() - rows.min() + 1
        color = GREEN if len(dilations) > 1 else BLUE
        colors = [[LIGHT[color] if v else "white" for v in row] for row in g]
        x0 = margin + (n % 2) * (SIZE * cell + gap)
        top = 2 * row - 0.5 - (n // 2) * row
        grid(ax, x0, top, [[v if v else "" for v in row] for row in g], cell, colors, fontsize=10, lw=0.6)
        label(ax, x0 + SIZE * cell / 2, top + 0.25, title, fontsize=11)
        label(ax, x0 + SIZE * cell / 2, top - SIZE * cell - 0.25,
              f"感受野 {extent}×{extent}，用到 {len(rows)} 个像素", fontsize=10, color="0.25")
    save(fig, "dilation")


# run by hooks/figures.py (run_name "__main__"); importing the file draws nothing
if __name__ == "__main__":
    main()
