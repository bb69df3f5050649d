r"""Multi-head attention: project, split the features into h heads, attend per head, concatenate, W^O.

Saves attention_heads.svg into $NNREF_FIGURE_DIR (see hooks/figures.py); docs/attention/multihead.md
shows it. Before drawing, the script checks the picture's claim on ``nnref.MultiheadAttention``
(E = 8, h = 2): attending with each head's column block of Q, K, V and multiplying the
concatenated heads by W^O gives the module's output, so the picture follows the code.
"""
import sys
from pathlib import Path

import numpy as np
from matplotlib.patches import Rectangle

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _diagram import BLUE, GREEN, GREY, LIGHT, ORANGE, PURPLE, arrow, box, canvas, label, save  # noqa: E402

import nnref  # noqa: E402
from nnref.layers.attention import attention_forward  # noqa: E402

L, E, H = 5, 8, 2
HEAD_COLORS = [BLUE, ORANGE]


def check_heads():
    """Per-head attention on column blocks, concatenated, times W^O == nnref.MultiheadAttention."""
    nnref.manual_seed(0)
    mha = nnref.MultiheadAttention(E, H, dtype=np.float64)
    x = np.random.default_rng(0).normal(size=(L, E))                    # unbatched (L, E)
    y, _ = mha(nnref.backend.asarray(x), nnref.backend.asarray(x), nnref.backend.asarray(x))
    W = nnref.asnumpy(mha.in_proj_weight.data)
    Q, K, V = x @ W[:E].T, x @ W[E:2 * E].T, x @ W[2 * E:].T             # the biases start at 0
    d = E // H
    heads = [attention_forward(Q[:, i * d:(i + 1) * d], K[:, i * d:(i + 1) * d], V[:, i * d:(i + 1) * d])[0]
             for i in range(H)]
    out = np.concatenate(heads, axis=1) @ nnref.asnumpy(mha.out_proj.weight.data).T
    if not np.allclose(out, nnref.asnumpy(y)):
        raise AssertionError("nnref.MultiheadAttention differs from the split-attend-concatenate picture")
    return d


def matrix(ax, x, y, w, h, colors, text=None, fontsize=10):
    """A matrix drawn as len(colors) column blocks side by side, top-left corner at (x, y)."""
    bw = w / len(colors)
    for i, c in enumerate(colors):
        ax.add_patch(Rectangle((x + i * bw, y - h), bw, h, fc=LIGHT.get(c, "white"), ec=c, lw=1.5, zorder=2))
    if text:
        label(ax, x + w / 2, y - h / 2, text, fontsize=fontsize)


def main():
    d = check_heads()
    fig, ax = canvas(9.2, 4.9)
    mh, mw = 1.0, 0.8                                                    # an (L, E) matrix
    # input X and the three projections, each split into the heads' column blocks
    matrix(ax, 0.3, 2.95, mw, mh, [GREEN], "X")
    label(ax, 0.7, 1.75, f"({L}, {E})", fontsize=9, color="0.3")
    ys = [4.3, 2.95, 1.6]
    for name, yy in zip([r"$Q = XW^Q$", r"$K = XW^K$", r"$V = XW^V$"], ys):
        arrow(ax, (1.1, 2.45), (1.75, yy - mh / 2), lw=1.2, head=9)
        matrix(ax, 1.8, yy, mw, mh, HEAD_COLORS)
        label(ax, 2.2, yy + 0.18, name, fontsize=10)
    label(ax, 2.2, 0.42, f"每个矩阵 ({L}, {E}) 按列切成 {H} 块", fontsize=9, color="0.3")
    label(ax, 2.2, 0.15, f"每块 ({L}, d = E/h = {d})", fontsize=9, color="0.3")

    # one attention per head, on its own column block
    for i, (c, yy) in enumerate(zip(HEAD_COLORS, [3.9, 2.2])):
        for y_src in ys:                                                 # its block of Q, K and V
            arrow(ax, (1.8 + mw, y_src - mh * (0.3 + 0.4 * i)), (3.55, yy + 0.15 - 0.3 * i), color=c, lw=1.0,
                  head=8, alpha=0.7)
        box(ax, 4.55, yy, 2.0, 0.75, "", color=c)
        label(ax, 4.55, yy + 0.14, f"头 {i + 1}", fontsize=10, color=c)
        label(ax, 4.55, yy - 0.16, f"softmax(Q{'₁₂'[i]}K{'₁₂'[i]}ᵀ / √{d}) V{'₁₂'[i]}", fontsize=9)
        arrow(ax, (5.55, yy), (6.2, 3.05 - mh / 2 + (0.25 if i == 0 else -0.25)), color=c, lw=1.4, head=9)

    # concatenate the heads' outputs side by side, then W^O
    matrix(ax, 6.25, 3.05, mw, mh, HEAD_COLORS)
    label(ax, 6.65, 3.25, "拼接", fontsize=10)
    label(ax, 6.65, 1.85, f"({L}, {E})", fontsize=9, color="0.3")
    arrow(ax, (7.1, 2.55), (7.75, 2.55), lw=1.5)
    label(ax, 7.42, 2.78, r"$\times W^O$", fontsize=10, color=PURPLE)
    matrix(ax, 7.8, 3.05, mw, mh, [PURPLE], "输出")
    label(ax, 8.2, 1.85, f"({L}, {E})", fontsize=9, color="0.3")
    label(ax, 6.9, 1.2, "每个头只看自己那 d 维特征，", fontsize=9, color="0.3")
    label(ax, 6.9, 0.93, "再乘 Wᴼ 把各头的结果混合起来", fontsize=9, color="0.3")
    box(ax, 4.55, 0.72, 2.9, 0.5, f"参数量与单头相同：4E² + 4E = {4 * E * E + 4 * E}", color=GREY, fontsize=9)
    save(fig, "attention_heads")


# run by hooks/figures.py (run_name "__main__"); importing the file draws nothing
if __name__ == "__main__":
    main()
