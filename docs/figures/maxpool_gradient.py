r"""Max pooling forward and backward on a 4x4 input: each window's winner and where ``dy`` goes.

Saves maxpool_gradient.svg into $NNREF_FIGURE_DIR (see hooks/figures.py); docs/cnn/pool.md shows
it. The numbers are computed by ``nnref.MaxPool2d(2)`` (forward, then backward of ``dy``), so the
picture follows the code: non-winners get 0, and in the window with a tie only the first maximum
(row-major order) receives the gradient.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _diagram import BLUE, GREEN, LIGHT, ORANGE, PURPLE, RED, arrow, canvas, grid, label, outline, save  # noqa: E402

import nnref  # noqa: E402

X = np.array([[1, 3, 2, 0],
              [4, 2, 5, 5],                 # the top-right window has a tie: 5 and 5
              [0, 6, 1, 2],
              [3, 1, 2, 4]], dtype=np.float64)
DY = np.array([[1, 2],
               [3, 4]], dtype=np.float64)


def pool(x, dy):
    """(y, dx) of ``nnref.MaxPool2d(2)`` for one single-channel image."""
    layer = nnref.MaxPool2d(2)
    y = layer(nnref.backend.asarray(x[None, None]))
    dx = layer.backward(nnref.backend.asarray(dy[None, None]))
    return nnref.asnumpy(y)[0, 0], nnref.asnumpy(dx)[0, 0]


def main():
    y, dx = pool(X, DY)
    window_color = [[LIGHT[BLUE], LIGHT[ORANGE]], [LIGHT[GREEN], LIGHT[PURPLE]]]
    x_colors = [[window_color[i // 2][j // 2] for j in range(4)] for i in range(4)]
    cell = 0.5
    fig, ax = canvas(6.4, 5.6)

    # forward: x -> y
    label(ax, 1.5, 5.35, "输入 x（窗口 2×2，步长 2）", fontsize=11)
    cx = grid(ax, 0.5, 5.1, X, cell, x_colors, fontsize=12)
    winners = [(i, j) for i in range(4) for j in range(4) if dx[i, j] != 0]
    for i, j in winners:
        outline(ax, cx(i, j)[0] - cell / 2, cx(i, j)[1] + cell / 2, cell, cell, color=RED, lw=2.5)
    arrow(ax, (2.75, 4.1), (4.45, 4.1), lw=2)
    label(ax, 3.6, 4.3, "取最大值", fontsize=10)
    label(ax, 3.6, 3.88, "MaxPool2d(2)", fontsize=10, family="monospace")
    label(ax, 5.25, 5.35, "输出 y", fontsize=11)
    grid(ax, 4.75, 4.6, y, cell, window_color, fontsize=12)

    # backward: dy -> dx
    label(ax, 5.25, 2.85, "上游梯度 dy", fontsize=11)
    grid(ax, 4.75, 2.6, DY, cell, window_color, fontsize=12)
    arrow(ax, (4.45, 1.6), (2.75, 1.6), lw=2, color=RED)
    label(ax, 3.6, 1.8, "反向", fontsize=10, color=RED)
    label(ax, 3.6, 1.38, "backward", fontsize=10, family="monospace", color=RED)
    label(ax, 1.5, 2.85, "输入的梯度 dx", fontsize=11)
    cd = grid(ax, 0.5, 2.6, dx, cell, x_colors, fontsize=12)
    for i, j in winners:
        outline(ax, cd(i, j)[0] - cell / 2, cd(i, j)[1] + cell / 2, cell, cell, color=RED, lw=2.5)

    # the tie: the second 5 loses (dashed), in x and in dx
    for at in (cx(1, 3), cd(1, 3)):
        outline(ax, at[0] - cell / 2 + 0.04, at[1] + cell / 2 - 0.04, cell - 0.08, cell - 0.08, color="0.35",
                lw=1.5, ls="--")
    label(ax, 0.3, 0.0, "红框：每个窗口的最大值，dy 只流向那里，其余位置得 0\n"
          "虚线框：并列的第二个 5；并列时只有第一个最大值（按行优先）得到梯度",
          fontsize=10, ha="left", va="bottom", color="0.2", linespacing=1.5)
    save(fig, "maxpool_gradient")


# run by hooks/figures.py (run_name "__main__"); importing the file draws nothing
if __name__ == "__main__":
    main()
