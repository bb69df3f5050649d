r"""The LSTM cell: gates i, f, g, o and the cell-state path c_{t-1} -> c_t with one × and one +.

Saves lstm_cell.svg into $NNREF_FIGURE_DIR (see hooks/figures.py); docs/lstm/lstm.md shows it.
Each gate reads x_t and h_{t-1} (``W_ih x_t + b_ih + W_hh h_{t-1} + b_hh``, one row block per
gate in torch's order i, f, g, o); c_t = f ⊙ c_{t-1} + i ⊙ g and h_t = o ⊙ tanh(c_t). The red
note marks why the gradient survives along the cell state: going back one step it is only
multiplied by f.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _diagram import BLUE, GREEN, GREY, ORANGE, PURPLE, RED, arrow, box, canvas, label, line, node, save  # noqa: E402


def main():
    fig, ax = canvas(7.2, 5.0)
    top, bottom, gate_y, mid_y = 3.55, 1.15, 1.95, 2.75       # cell-state line, input line, gates, i⊙g row
    gates = {"f": (1.9, "σ", ORANGE), "i": (2.8, "σ", GREEN), "g": (3.7, "tanh", BLUE), "o": (4.6, "σ", PURPLE)}
    x_mul_f, x_plus, x_tanh = 1.9, 3.7, 5.4

    box(ax, 3.5, 2.4, 5.0, 2.9, color=GREY, fill="#fafafa", lw=1.2, zorder=0)      # the cell
    # cell state: c_{t-1} -> × f -> + i⊙g -> c_t
    label(ax, 0.45, top, "$c_{t-1}$", fontsize=13)
    line(ax, [(0.75, top), (x_mul_f - 0.17, top)], head=False, lw=2.2)
    node(ax, x_mul_f, top, "×")
    line(ax, [(x_mul_f + 0.17, top), (x_plus - 0.17, top)], head=False, lw=2.2)
    node(ax, x_plus, top, "+")
    arrow(ax, (x_plus + 0.17, top), (6.3, top), lw=2.2)
    label(ax, 6.6, top, "$c_t$", fontsize=13)

    # inputs: h_{t-1} from the left, x_t from below, feeding every gate
    label(ax, 0.45, bottom, "$h_{t-1}$", fontsize=13)
    line(ax, [(0.8, bottom), (gates["o"][0], bottom)], head=False)
    label(ax, 1.3, 0.3, "$x_t$", fontsize=13)
    line(ax, [(1.3, 0.48), (1.3, bottom)], head=False)
    for name, (gx, fn, color) in gates.items():
        arrow(ax, (gx, bottom), (gx, gate_y - 0.2))
        box(ax, gx, gate_y, 0.62, 0.4, fn, color=color, fontsize=11)
        label(ax, gx - 0.36, gate_y + 0.3, name, fontsize=12, color=color)

    arrow(ax, (x_mul_f, gate_y + 0.2), (x_mul_f, top - 0.17))                       # f -> × c_{t-1}
    node(ax, x_plus, mid_y, "×")                                                     # i ⊙ g
    line(ax, [(gates["i"][0], gate_y + 0.2), (gates["i"][0], mid_y), (x_plus - 0.17, mid_y)])
    arrow(ax, (x_plus, gate_y + 0.2), (x_plus, mid_y - 0.17))
    arrow(ax, (x_plus, mid_y + 0.17), (x_plus, top - 0.17))

    # h_t = o ⊙ tanh(c_t)
    arrow(ax, (x_tanh, top), (x_tanh, mid_y + 0.22))
    node(ax, x_tanh, mid_y, "tanh", fontsize=9, r=0.22)
    node(ax, x_tanh, gate_y, "×")
    arrow(ax, (x_tanh, mid_y - 0.22), (x_tanh, gate_y + 0.17))
    line(ax, [(gates["o"][0] + 0.31, gate_y), (x_tanh - 0.17, gate_y)])
    line(ax, [(x_tanh, gate_y - 0.17), (x_tanh, bottom), (6.3, bottom)])
    label(ax, 6.6, bottom, "$h_t$", fontsize=13)

    label(ax, 3.5, 4.68, r"$c_t = f \odot c_{t-1} + i \odot g,\qquad h_t = o \odot \tanh(c_t)$", fontsize=12)
    # backward along the cell state: one multiplication by f per step
    arrow(ax, (6.3, 4.05), (0.75, 4.05), color=RED, ls="--", lw=1.5)
    label(ax, 5.2, 4.25, r"$dc_{t-1} = f \odot dc_t$", fontsize=11, color=RED)
    label(ax, 2.55, 4.25, "反向：只乘 f，没有权重矩阵", fontsize=10, color=RED)
    label(ax, 4.3, 0.6, "f 遗忘门 · i 输入门 · g 候选值 · o 输出门", fontsize=10, color="0.25")
    label(ax, 4.3, 0.25, r"$\mathrm{act}(W_{ih}\,x_t + b_{ih} + W_{hh}\,h_{t-1} + b_{hh})$", fontsize=10, color="0.25")
    save(fig, "lstm_cell")


# run by hooks/figures.py (run_name "__main__"); importing the file draws nothing
if __name__ == "__main__":
    main()
