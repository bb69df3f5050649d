r"""A bidirectional LSTM over four steps: two directions, the concatenated outputs, and where h_n comes from.

Saves bilstm.svg into $NNREF_FIGURE_DIR (see hooks/figures.py); docs/lstm/bilstm.md shows it.
The forward direction runs t = 1..T, the backward one t = T..1; ``output[t]`` is the two hidden
states side by side (forward first), and ``h_n[layer * 2 + direction]`` holds each direction's
final state: the forward one from the last step, the backward one from the first. Before drawing,
the script checks that claim on ``nnref.LSTM(bidirectional=True)``, so the picture follows the code.
"""
import sys
from pathlib import Path

import numpy as np
from matplotlib.patches import Rectangle

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _diagram import BLUE, GREEN, LIGHT, ORANGE, arrow, box, canvas, label, save  # noqa: E402

import nnref  # noqa: E402

T = 4


def check_h_n_order(T=T, H=2):
    """``h_n[0]`` is the forward state at the last step, ``h_n[1]`` the backward state at the first."""
    lstm = nnref.LSTM(3, H, bidirectional=True)
    x = nnref.backend.asarray(np.random.default_rng(0).normal(size=(T, 1, 3)).astype(np.float32))
    output, (h_n, _) = lstm(x)
    output, h_n = nnref.asnumpy(output), nnref.asnumpy(h_n)
    if not (np.array_equal(h_n[0], output[-1, :, :H]) and np.array_equal(h_n[1], output[0, :, H:])):
        raise AssertionError("nnref.LSTM's h_n order differs from the one this figure draws")


def main():
    check_h_n_order()
    fig, ax = canvas(7.6, 4.9)
    xs = [2.05 + 1.3 * t for t in range(T)]
    y_x, y_f, y_b, y_o = 0.65, 1.75, 2.85, 3.95
    bw, bh = 0.6, 0.42

    for t, cx in enumerate(xs, 1):
        fx, bx = cx - 0.25, cx + 0.25                       # staggered so the vertical paths do not cross boxes
        box(ax, cx, y_x, 0.9, 0.38, f"$x_{t}$", color=GREEN, fontsize=11)
        box(ax, fx, y_f, bw, bh, rf"$\overrightarrow{{h}}_{t}$", color=BLUE, fontsize=11)
        box(ax, bx, y_b, bw, bh, rf"$\overleftarrow{{h}}_{t}$", color=ORANGE, fontsize=11)
        arrow(ax, (fx, y_x + 0.19), (fx, y_f - bh / 2), lw=1.2, head=9)
        arrow(ax, (bx, y_x + 0.19), (bx, y_b - bh / 2), lw=1.2, head=9)
        # output[t] = [forward ; backward]: one half per direction, straight above its box
        for color, px, y_box in [(BLUE, fx, y_f), (ORANGE, bx, y_b)]:
            ax.add_patch(Rectangle((px - 0.25, y_o - 0.19), 0.5, 0.38, fc=LIGHT[color], ec=color, lw=1.5, zorder=2))
            arrow(ax, (px, y_box + bh / 2), (px, y_o - 0.19), color=color, lw=1.2, head=9)
        label(ax, cx, y_o + 0.35, f"output[{t - 1}]", fontsize=9, family="monospace")
    for a, b in zip(xs, xs[1:]):
        arrow(ax, (a - 0.25 + bw / 2, y_f), (b - 0.25 - bw / 2, y_f), color=BLUE, lw=1.8)     # forward: t -> t+1
        arrow(ax, (b + 0.25 - bw / 2, y_b), (a + 0.25 + bw / 2, y_b), color=ORANGE, lw=1.8)   # backward: t+1 -> t

    # each direction's final state: forward at the last step, backward at the first
    box(ax, 7.0, y_f, 0.8, bh, "h_n[0]", color=BLUE, fontsize=10, family="monospace")
    arrow(ax, (xs[-1] - 0.25 + bw / 2, y_f), (7.0 - 0.4, y_f), color=BLUE, lw=1.8)
    box(ax, 0.65, y_b, 0.8, bh, "h_n[1]", color=ORANGE, fontsize=10, family="monospace")
    arrow(ax, (xs[0] + 0.25 - bw / 2, y_b), (0.65 + 0.4, y_b), color=ORANGE, lw=1.8)
    label(ax, 0.65, y_f, "正向 →", fontsize=10, color=BLUE)
    label(ax, 7.0, y_b, "← 反向", fontsize=10, color=ORANGE)
    label(ax, 7.0, y_f - 0.42, "正向最后一步", fontsize=9, color=BLUE)
    label(ax, 0.65, y_b + 0.42, "反向第一步", fontsize=9, color=ORANGE)

    label(ax, 3.8, 4.62, "output[t] = 两个方向在第 t 步的 h 拼接（正向在前），形状 (T, N, 2H)", fontsize=10)
    label(ax, 3.8, 0.15, "h_n 的下标 = layer × 2 + direction：h_n[0] 是正向在最后一步的状态，"
          "h_n[1] 是反向在第一步的状态", fontsize=9.5, color="0.25")
    save(fig, "bilstm")


# run by hooks/figures.py (run_name "__main__"); importing the file draws nothing
if __name__ == "__main__":
    main()
