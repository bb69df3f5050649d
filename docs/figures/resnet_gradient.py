"""Gradient norm at the first layer of deep plain vs residual networks, at initialisation.

Saves resnet_gradient.svg into $NNREF_FIGURE_DIR (see hooks/figures.py); docs/cnn/resnet.md
shows it. Every network: a 3x3 stem convolution (1 -> 8 channels), ``depth`` blocks of two 3x3
convolutions, global average pooling, a linear layer and cross-entropy on random labels. The
curve is ||dL/dW|| of the stem's weight, geometric mean over three seeds, in float64 (float32
underflows to exactly 0 for the deep plain network). It is an SVG whose text, Chinese included, the reader's browser draws (docs/figures/_diagram.py's plot_style).
"""
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _diagram import PLOT_WIDTH, plot_style, save  # noqa: E402

# --8<-- [start:experiment]
import nnref
from nnref.layers.activation import relu_backward, relu_forward

C, SIZE, BATCH = 8, 8, 16
F64 = np.float64


class Residual(nnref.Module):
    """relu(x + f(x)): a residual block around any branch ``f`` (here without batch norm)."""

    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        y, self._mask = relu_forward(x + self.f(x))
        return y

    def backward(self, dy):
        d = relu_backward(dy, self._mask)
        return d + self.f.backward(d)          # the identity term: dH/dx = I + dF/dx


def conv():
    return nnref.Conv2d(C, C, 3, padding=1, dtype=F64)


def block(kind):
    if kind == "plain":
        return nnref.Sequential(conv(), nnref.ReLU(), conv(), nnref.ReLU())
    if kind == "residual":
        return Residual(nnref.Sequential(conv(), nnref.ReLU(), conv()))
    if kind == "plain+BN":
        bn = lambda: nnref.BatchNorm2d(C, dtype=F64)
        return nnref.Sequential(conv(), bn(), nnref.ReLU(), conv(), bn(), nnref.ReLU())
    return nnref.BasicBlock(C, C, dtype=F64)  # "residual+BN": torchvision's block


def first_layer_grad_norm(kind, depth, seed):
    nnref.manual_seed(seed)
    stem = nnref.Conv2d(1, C, 3, padding=1, dtype=F64)
    net = nnref.Sequential(stem, *[block(kind) for _ in range(depth)], nnref.AvgPool2d(SIZE),
                           nnref.Flatten(), nnref.Linear(C, 10, dtype=F64))
    rng = np.random.default_rng(seed)
    x = nnref.backend.asarray(rng.normal(size=(BATCH, 1, SIZE, SIZE)))
    target = nnref.backend.asarray(rng.integers(0, 10, BATCH))
    loss = nnref.CrossEntropyLoss()
    loss(net(x), target)
    net.backward(loss.backward())
    return float(np.sqrt((nnref.asnumpy(stem.weight.grad) ** 2).sum()))
# --8<-- [end:experiment]

DEPTHS = [1, 2, 4, 8, 16, 32]           # blocks; each block is two convolution layers
SEEDS = [0, 1, 2]
NAMES = {"plain": "普通网络", "residual": "残差网络", "plain+BN": "普通网络 + BN", "residual+BN": "残差网络 + BN"}


def curve(kind):
    return [float(np.exp(np.mean([np.log(first_layer_grad_norm(kind, d, s)) for s in SEEDS]))) for d in DEPTHS]


if __name__ == "__main__":
    layers = [2 * d for d in DEPTHS]
    plot_style()
    fig, axes = plt.subplots(1, 2, figsize=(PLOT_WIDTH, 3.6), sharey=True)
    # the matrices are tiny: BLAS threads would only wait for each other (scoped: this runs inside mkdocs)
    with threadpool_limits(1):
        for ax, (title, kinds) in zip(axes, [("无批归一化", ["plain", "residual"]),
                                             ("有批归一化（BasicBlock）", ["plain+BN", "residual+BN"])]):
            for kind, style in zip(kinds, ["o-", "s-"]):
                ax.semilogy(layers, curve(kind), style, lw=2, label=NAMES[kind])
            ax.set(title=title, xlabel="残差块里的卷积层数")
            axes[0].set_ylabel("第一层的 ‖∂L/∂W‖")
            ax.grid(True, which="major", alpha=0.4)
            ax.legend()
    fig.tight_layout()
    save(fig, "resnet_gradient")
