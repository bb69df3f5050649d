r"""The residual block (torchvision's BasicBlock, as ``nnref.BasicBlock``) and its gradient's direct path.

Saves residual_block.svg into $NNREF_FIGURE_DIR (see hooks/figures.py); docs/cnn/resnet.md shows
it. Forward: x -> conv1 (3x3, stride s) -> bn1 -> ReLU -> conv2 (3x3) -> bn2 = F(x); F(x) + s(x)
-> ReLU, where the shortcut s is the identity, or ``downsample`` (1x1 conv with stride s, then
batch norm) when the shape changes. Backward: the gradient at the sum reaches x through the
shortcut unchanged, beside the path through F. The box names are ``BasicBlock``'s attributes.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _diagram import BLUE, GREEN, GREY, ORANGE, RED, arrow, box, canvas, label, line, node, save  # noqa: E402


def main():
    fig, ax = canvas(6.4, 6.6)
    mx, sx = 2.0, 4.3                  # main branch and shortcut columns
    W, H = 1.9, 0.42
    steps = [("conv1：3×3，stride s", 5.55, BLUE), ("bn1", 4.95, ORANGE), ("ReLU", 4.35, GREEN),
             ("conv2：3×3，stride 1", 3.75, BLUE), ("bn2", 3.15, ORANGE)]

    label(ax, mx, 6.35, "x   (N, C_in, H, W)", fontsize=11)
    ax.plot([mx, mx], [6.2, 5.95], color="black", lw=1.5)
    arrow(ax, (mx, 6.0), (mx, 5.55 + H / 2))
    for text, y, color in steps:
        box(ax, mx, y, W, H, text, color=color, fontsize=10)
    for (_, y0, _), (_, y1, _) in zip(steps, steps[1:]):
        arrow(ax, (mx, y0 - H / 2), (mx, y1 + H / 2))
    plus_y = 2.35
    node(ax, mx, plus_y, "+")
    arrow(ax, (mx, 3.15 - H / 2), (mx, plus_y + 0.17))
    label(ax, mx - 0.15, 2.7, "F(x)", fontsize=10, ha="right", color="0.25")
    box(ax, mx, 1.65, W, H, "ReLU", color=GREEN, fontsize=10)
    arrow(ax, (mx, plus_y - 0.17), (mx, 1.65 + H / 2))
    arrow(ax, (mx, 1.65 - H / 2), (mx, 0.95))
    label(ax, mx, 0.78, "y = ReLU(F(x) + s(x))", fontsize=11)

    # the residual branch, bracketed on the left
    ax.plot([0.72, 0.62, 0.62, 0.72], [5.8, 5.8, 2.9, 2.9], color=BLUE, lw=1.2)
    label(ax, 0.45, 4.35, "残差分支 F(x)", fontsize=10, rotation=90, color=BLUE)

    # the shortcut: identity, or downsample when the shape changes
    line(ax, [(mx, 6.1), (sx, 6.1), (sx, 4.55)], head=False)
    # dashed: present only when the shape changes
    box(ax, sx, 4.1, 1.9, 0.9, "downsample\n1×1 conv，stride s\n+ BN", color=GREY, fontsize=9, lw=1.2, ls="--",
        linespacing=1.4)
    line(ax, [(sx, 3.65), (sx, plus_y), (mx + 0.17, plus_y)])
    label(ax, sx - 0.1, 5.25, "捷径 s(x)", fontsize=10, ha="right")
    label(ax, sx, 3.35, "形状改变时才有；\n否则 s(x) = x（恒等）", fontsize=9, color="0.25", linespacing=1.4,
          va="top", bbox=dict(fc="white", ec="none", pad=1))

    # backward: the gradient at the sum goes straight back to x along the shortcut
    gx = sx + 1.15
    line(ax, [(mx + 0.2, plus_y - 0.12), (gx, plus_y - 0.12), (gx, 6.25), (mx + 0.9, 6.25)], color=RED, lw=1.8,
         ls="--")
    label(ax, gx + 0.12, 1.9, "反向：g 经捷径\n直接回到 x", fontsize=9, color=RED, ha="center", va="top",
          linespacing=1.4)
    label(ax, 3.3, 0.3, "∂L/∂x = g + g·∂F/∂x（g 是加号处的梯度）：恒等项 g 不经过任何层",
          fontsize=10, color=RED)
    save(fig, "residual_block")


# run by hooks/figures.py (run_name "__main__"); importing the file draws nothing
if __name__ == "__main__":
    main()
