r"""The attention matrix of one sequence with a causal mask and a padded key, computed by nnref.

Saves attention_mask.svg into $NNREF_FIGURE_DIR (see hooks/figures.py); docs/attention/attention.md
shows it. Left: the scaled scores Q Kᵀ/√d_k with the blocked cells (key after the query, or the
padding key) marked −∞; right: the weights A = softmax(Z) that nnref's ``attention_forward``
returns for the same mask: every row sums to 1 and the blocked cells are exactly 0.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _diagram import BLUE, GREY, LIGHT, ORANGE, RED, arrow, canvas, grid, label, save  # noqa: E402

from nnref.layers.attention import attention_forward, causal_mask  # noqa: E402

TOKENS = ["我", "爱", "神", "经", "<pad>"]


def weights():
    """Scores, the combined mask and the weights for a 5-token sequence whose last token is padding."""
    rng = np.random.default_rng(4)
    L, d = len(TOKENS), 4
    q, k, v = rng.normal(size=(L, d)), rng.normal(size=(L, d)), rng.normal(size=(L, d))
    padding = np.array([False, False, False, False, True])            # the key "<pad>" is padding
    mask = causal_mask(L) | padding[None, :]                           # True = blocked
    _, A, _ = attention_forward(q, k, v, mask)
    Z = q @ k.T / np.sqrt(d)
    assert np.allclose(A.sum(-1), 1) and not A[mask].any()             # what the picture claims
    return Z, mask, A


def shade(value, top):
    """A blue whose depth follows value / top (white for 0)."""
    t = min(max(value / top, 0.0), 1.0)
    r, g, b = (int(255 + (c - 255) * t) for c in (31, 119, 180))
    return f"#{r:02x}{g:02x}{b:02x}"


def panel(ax, x0, y0, values, mask, fmt, title, cell, colour, blocked):
    L = len(TOKENS)
    cells = [[blocked if mask[i, j] else fmt.format(values[i, j]) for j in range(L)] for i in range(L)]
    colors = [[LIGHT[GREY] if mask[i, j] else colour(values[i, j]) for j in range(L)] for i in range(L)]
    grid(ax, x0, y0, cells, cell=cell, colors=colors, fontsize=9)
    for j, t in enumerate(TOKENS):                                     # keys along the top
        label(ax, x0 + (j + 0.5) * cell, y0 + 0.2, t, fontsize=10, color=ORANGE if t == "<pad>" else "black")
    for i, t in enumerate(TOKENS):                                     # queries down the side
        label(ax, x0 - 0.3, y0 - (i + 0.5) * cell, t, fontsize=10)
    label(ax, x0 + L * cell / 2, y0 + 0.55, title, fontsize=11)


def main():
    Z, mask, A = weights()
    fig, ax = canvas(8.6, 5.2)
    cell, y0 = 0.62, 4.1
    panel(ax, 0.75, y0, Z, mask, "{:.1f}", "分数 Z = QKᵀ/√d + 掩码", cell, lambda v: "white", "−∞")
    panel(ax, 5.05, y0, A, mask, "{:.2f}", "权重 A = softmax(Z)（每行和为 1）", cell, lambda v: shade(v, 1.0), "0")
    arrow(ax, (0.75 + 5 * cell + 0.15, y0 - 2.5 * cell), (5.05 - 0.5, y0 - 2.5 * cell), lw=2)
    label(ax, (0.75 + 5 * cell + 5.05 - 0.35) / 2, y0 - 2.5 * cell + 0.25, "按行 softmax", fontsize=9)
    label(ax, 0.25, y0 - 2.5 * cell, "查询 i", fontsize=10, rotation=90)
    label(ax, 4.3, 0.5, "灰格被屏蔽：上三角是因果掩码（不看后面的词），最后一列是填充的键（key padding）；"
          "softmax 后它们的权重恰好为 0", fontsize=9, color="0.25")
    label(ax, 4.3, 0.17, "布尔掩码 True = 屏蔽，等价于在分数上加 −∞", fontsize=9, color=RED)
    label(ax, 0.75 + 2.5 * cell, y0 + 0.85, "键 j", fontsize=10, color=BLUE)
    label(ax, 5.05 + 2.5 * cell, y0 + 0.85, "键 j", fontsize=10, color=BLUE)
    save(fig, "attention_mask")


# run by hooks/figures.py (run_name "__main__"); importing the file draws nothing
if __name__ == "__main__":
    main()
