r"""An RNN unrolled over four time steps, with BPTT's gradient path back through time.

Saves rnn_unrolled.svg into $NNREF_FIGURE_DIR (see hooks/figures.py); docs/rnn/rnn.md shows it.
Forward (black): x_t and h_{t-1} enter the cell, which applies the same W_ih, W_hh and biases at
every step; h_t gives y_t and the loss L_t. Backward (red, dashed): each h_t receives the
gradient of its own loss plus the gradient coming back from h_{t+1}; the weights' gradients are
summed over the steps.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _diagram import BLUE, GREEN, ORANGE, RED, arrow, box, canvas, label, save  # noqa: E402

T = 4


def main():
    fig, ax = canvas(7.2, 4.6)
    xs = [1.65 + 1.5 * t for t in range(T)]
    y_x, y_h, y_y, y_L = 0.95, 2.15, 3.15, 3.95
    bw, bh = 0.8, 0.5

    label(ax, 0.45, y_h, "$h_0$", fontsize=13)
    for t, cx in enumerate(xs, 1):
        box(ax, cx, y_h, bw, bh, f"$h_{t}$", color=BLUE, fontsize=13)
        box(ax, cx, y_x, 0.55, 0.4, f"$x_{t}$", color=GREEN, fontsize=12)
        box(ax, cx, y_y, 0.55, 0.4, f"$y_{t}$", color=ORANGE, fontsize=12)
        label(ax, cx, y_L, f"$L_{t}$", fontsize=12)
        arrow(ax, (cx, y_x + 0.2), (cx, y_h - bh / 2))
        arrow(ax, (cx, y_h + bh / 2), (cx, y_y - 0.2))
        arrow(ax, (cx, y_y + 0.2), (cx, y_L - 0.17))
        label(ax, cx - 0.08, (y_x + y_h) / 2 - 0.05, "$W_{ih}$", fontsize=9, ha="right", color="0.3")
        # backward: the loss's gradient down to h_t (beside the forward arrows)
        arrow(ax, (cx + 0.2, y_L - 0.15), (cx + 0.2, y_h + bh / 2), color=RED, ls="--", lw=1.3, head=9)
    for prev, cx in zip([0.45] + xs[:-1], xs):
        start = prev + (0.2 if prev == 0.45 else bw / 2)
        arrow(ax, (start, y_h + 0.08), (cx - bw / 2, y_h + 0.08))
        label(ax, (start + cx - bw / 2) / 2, y_h + 0.25, "$W_{hh}$", fontsize=9, color="0.3")
        # backward through time: from h_t to h_{t-1}
        arrow(ax, (cx - bw / 2, y_h - 0.12), (start, y_h - 0.12), color=RED, ls="--", lw=1.3, head=9)
    label(ax, xs[-1] + bw / 2 + 0.1, y_h, "…", fontsize=12, ha="left")

    label(ax, 3.6, 4.4, r"$h_t = \tanh(W_{ih}\,x_t + b_{ih} + W_{hh}\,h_{t-1} + b_{hh})$", fontsize=12)
    label(ax, 0.2, 0.42, "黑色：前向，每一步用同一组 W_ih、W_hh、b（参数共享）", fontsize=10, ha="left")
    label(ax, 0.2, 0.12, "红色虚线：反向（BPTT），每个 h 的梯度 = 本步损失传来的 + 下一步传回的；"
          "W 的梯度是各步之和", fontsize=10, ha="left", color=RED)
    save(fig, "rnn_unrolled")


# run by hooks/figures.py (run_name "__main__"); importing the file draws nothing
if __name__ == "__main__":
    main()
