r"""The GRU cell as torch computes it: gates r and z, candidate n with r ⊙ (W_hn h + b_hn), and h_t.

Saves gru_cell.svg into $NNREF_FIGURE_DIR (see hooks/figures.py); docs/lstm/gru.md shows it.
r = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr), z likewise;
n = tanh(W_in x_t + b_in + r ⊙ (W_hn h_{t-1} + b_hn)); h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}.
The reset gate multiplies the whole bracket, bias b_hn included, not h_{t-1} itself.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _diagram import BLUE, GREEN, GREY, ORANGE, RED, arrow, box, canvas, label, line, node, save  # noqa: E402


def main():
    fig, ax = canvas(7.3, 5.2)
    top, bottom, gate_y, n_y, mix_y = 3.7, 1.0, 1.75, 2.35, 3.05
    xz, xr, xgh, xa, xn = 1.75, 2.6, 3.8, 5.2, 6.2

    box(ax, 3.68, 2.33, 5.85, 3.35, color=GREY, fill="#fafafa", lw=1.2, zorder=0)     # the cell
    # the state line: h_{t-1} -> × z -> + (1-z) ⊙ n -> h_t
    label(ax, 0.4, top, "$h_{t-1}$", fontsize=13)
    line(ax, [(0.75, top), (xz - 0.17, top)], head=False, lw=2.2)
    node(ax, xz, top, "×")
    line(ax, [(xz + 0.17, top), (xn - 0.17, top)], head=False, lw=2.2)
    node(ax, xn, top, "+")
    arrow(ax, (xn + 0.17, top), (6.75, top), lw=2.2)
    label(ax, 7.0, top, "$h_t$", fontsize=13)

    # inputs: h_{t-1} (branched down) and x_t on one line feeding the gates and the two affine maps
    line(ax, [(0.95, top), (0.95, bottom), (xa, bottom)], head=False)
    label(ax, 1.25, 0.22, "$x_t$", fontsize=13)
    line(ax, [(1.25, 0.4), (1.25, bottom)], head=False)
    for name, gx, color in [("z", xz, ORANGE), ("r", xr, GREEN)]:
        arrow(ax, (gx, bottom), (gx, gate_y - 0.2))
        box(ax, gx, gate_y, 0.55, 0.4, "σ", color=color, fontsize=11)
        label(ax, gx - 0.36, gate_y + 0.3, name, fontsize=12, color=color)
    arrow(ax, (xgh, bottom), (xgh, gate_y - 0.2))
    box(ax, xgh, gate_y, 1.45, 0.4, r"$W_{hn}h_{t-1} + b_{hn}$", color=BLUE, fontsize=10)
    arrow(ax, (xa, bottom), (xa, gate_y - 0.2))
    box(ax, xa, gate_y, 1.1, 0.4, r"$W_{in}x_t + b_{in}$", color=BLUE, fontsize=10)

    # n = tanh(a_n + r ⊙ gh_n)
    node(ax, xgh, n_y, "×")
    arrow(ax, (xgh, gate_y + 0.2), (xgh, n_y - 0.17))
    line(ax, [(xr, gate_y + 0.2), (xr, n_y), (xgh - 0.17, n_y)])
    node(ax, xa, n_y, "+")
    arrow(ax, (xa, gate_y + 0.2), (xa, n_y - 0.17))
    arrow(ax, (xgh + 0.17, n_y), (xa - 0.17, n_y))
    node(ax, xn, n_y, "tanh", fontsize=9, r=0.22)
    arrow(ax, (xa + 0.17, n_y), (xn - 0.22, n_y))
    label(ax, xn + 0.3, (n_y + mix_y) / 2, "n", fontsize=12, color=BLUE)

    # h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}
    arrow(ax, (xz, gate_y + 0.2), (xz, top - 0.17))
    node(ax, 3.3, mix_y, "1−", fontsize=10)
    line(ax, [(xz, mix_y), (3.3 - 0.17, mix_y)])
    node(ax, xn, mix_y, "×")
    arrow(ax, (3.3 + 0.17, mix_y), (xn - 0.17, mix_y))
    arrow(ax, (xn, n_y + 0.22), (xn, mix_y - 0.17))
    arrow(ax, (xn, mix_y + 0.17), (xn, top - 0.17))

    label(ax, 3.65, 4.9, r"$n = \tanh\left(W_{in}x_t + b_{in} + r \odot (W_{hn}h_{t-1} + b_{hn})\right)$", fontsize=12)
    label(ax, 3.65, 4.45, r"$h_t = (1 - z) \odot n + z \odot h_{t-1}$", fontsize=12)
    label(ax, 4.6, 0.5, "z 更新门 · r 重置门 · n 候选状态", fontsize=10, color="0.25")
    label(ax, 4.6, 0.15, "r 乘的是整个 W_hn h + b_hn（连偏置一起），不是 h 本身", fontsize=10, color=RED)
    save(fig, "gru_cell")


# run by hooks/figures.py (run_name "__main__"); importing the file draws nothing
if __name__ == "__main__":
    main()
