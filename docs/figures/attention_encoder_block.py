r"""The Transformer encoder block, post-norm (norm_first=False) beside pre-norm (norm_first=True).

Saves attention_encoder_block.svg into $NNREF_FIGURE_DIR (see hooks/figures.py);
docs/attention/transformer.md shows it. Post-norm: x <- LN1(x + SA(x)), x <- LN2(x + FF(x)).
Pre-norm: x <- x + SA(LN1(x)), x <- x + FF(LN2(x)): the residual path from input to output
passes no LayerNorm. Before drawing, the script checks both orders on
``nnref.TransformerEncoderLayer``, so the picture follows the code.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _diagram import BLUE, GREEN, GREY, ORANGE, RED, arrow, box, canvas, label, line, node, save  # noqa: E402

import nnref  # noqa: E402


def check_orders():
    x = nnref.backend.asarray(np.random.default_rng(0).normal(size=(5, 2, 8)))
    for norm_first in (False, True):
        m = nnref.TransformerEncoderLayer(8, 2, 16, dropout=0.0, norm_first=norm_first, dtype=np.float64)

        def sa(z):
            return m.self_attn(z, z, z, need_weights=False)[0]

        def ff(z):
            return m.linear2(m.activation(m.linear1(z)))
        if norm_first:
            h = x + sa(m.norm1(x))
            want = h + ff(m.norm2(h))
        else:
            h = m.norm1(x + sa(x))
            want = m.norm2(h + ff(h))
        if not np.allclose(nnref.asnumpy(m(x)), nnref.asnumpy(want)):
            raise AssertionError(f"TransformerEncoderLayer(norm_first={norm_first}) differs from the picture")


def main():
    check_orders()
    fig, ax = canvas(8.4, 6.45)
    post = [("sa", "多头自注意力", BLUE), ("add", "input", None), ("ln", "LayerNorm", GREEN),
            ("ff", "前馈网络", ORANGE), ("add", "mid", None), ("ln2", "LayerNorm", GREEN)]
    pre = [("ln", "LayerNorm", GREEN), ("sa", "多头自注意力", BLUE), ("add", "input", None),
           ("ln2", "LayerNorm", GREEN), ("ff", "前馈网络", ORANGE), ("add", "mid", None)]
    for cx, steps, title, subtitle in [(2.3, post, "Post-norm：先加再归一化", "原始 Transformer，norm_first=False"),
                                       (6.3, pre, "Pre-norm：先归一化再进子层", "GPT-2 等，norm_first=True")]:
        draw_column(ax, cx, steps)
        label(ax, cx, 6.2, title, fontsize=11)
        label(ax, cx, 5.9, subtitle, fontsize=9, color="0.3")
    label(ax, 4.2, 0.15, "红线是残差连接；pre-norm 从输入到输出有一条不经过 LayerNorm 的直通路径", fontsize=9.5,
          color=RED)
    label(ax, 4.2, 5.58, "子层输出在相加前各过一次 Dropout；前馈网络 = Linear → ReLU/GELU → Dropout → Linear",
          fontsize=8.5, color=GREY)
    save(fig, "attention_encoder_block")


def draw_column(ax, cx, steps):
    """Bottom to top. A residual 'add' takes the path from where it last branched off."""
    y = 0.55
    label(ax, cx, y, "输入 x", fontsize=10)
    cur = y + 0.18                          # top of what was drawn last
    branch = cur + 0.12                     # where the next residual branches off the main path
    for kind, text, color in steps:
        if kind == "add":
            y = cur + 0.45
            arrow(ax, (cx, cur), (cx, y - 0.17), lw=1.4)
            node(ax, cx, y, "+", color=RED)
            line(ax, [(cx, branch), (cx + 1.1, branch), (cx + 1.1, y), (cx + 0.17, y)], color=RED, lw=1.6)
            cur = y + 0.17
            branch = cur + 0.12
        else:
            y = cur + 0.45
            arrow(ax, (cx, cur), (cx, y - 0.2), lw=1.4)
            box(ax, cx, y, 1.6, 0.4, text, color=color, fontsize=10)
            cur = y + 0.2
            if kind == "ln" and steps[0][0] == "sa":             # post-norm: the residual starts after LN
                branch = cur + 0.12
    arrow(ax, (cx, cur), (cx, cur + 0.4), lw=1.4)
    label(ax, cx, cur + 0.55, "输出", fontsize=10)


# run by hooks/figures.py (run_name "__main__"); importing the file draws nothing
if __name__ == "__main__":
    main()
