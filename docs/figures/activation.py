"""The activation functions and their derivatives, drawn with nnref's own forward/backward pairs.

Saves activation.svg into $NNREF_FIGURE_DIR (see hooks/figures.py): an SVG whose text, Chinese
included, the reader's browser draws (docs/figures/_diagram.py's plot_style).
"""
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _diagram import PLOT_WIDTH, plot_style, save  # noqa: E402
from nnref.layers.activation import (gelu_backward, gelu_forward, leaky_relu_backward, leaky_relu_forward,
                                     relu_backward, relu_forward, sigmoid_backward, sigmoid_forward,
                                     softplus_backward, softplus_forward, tanh_backward, tanh_forward)

X = np.linspace(-4, 4, 801)


def pair(forward, backward, **kw):
    """(f(X), f'(X)) from a forward/backward pair: backward of dy = 1 is the derivative."""
    y, cache = forward(X, **kw)
    return y, backward(np.ones_like(X), cache)


def main():
    curves = {
        "ReLU": pair(relu_forward, relu_backward),
        "LeakyReLU (a=0.1)": pair(leaky_relu_forward, leaky_relu_backward, negative_slope=0.1),
        "Sigmoid": pair(sigmoid_forward, sigmoid_backward),
        "Tanh": pair(tanh_forward, tanh_backward),
        "Softplus": pair(softplus_forward, softplus_backward),
        "GELU": pair(gelu_forward, gelu_backward),
    }

    plot_style()
    fig, axes = plt.subplots(3, 2, figsize=(PLOT_WIDTH, 7.2), sharex=True)
    for ax, (name, (y, dy)) in zip(axes.flat, curves.items()):
        ax.axhline(0, color="0.6", lw=0.8)
        ax.axvline(0, color="0.6", lw=0.8)
        ax.plot(X, y, lw=2, label="函数 f(x)")
        ax.plot(X, dy, lw=2, ls="--", label="导数 f′(x)")
        ax.set(title=name, ylim=(-1.2, 2.2))
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("x")
    axes[0, 0].legend(loc="upper left")
    fig.tight_layout()
    save(fig, "activation")


# run by hooks/figures.py (run_name "__main__"); importing the file draws nothing
if __name__ == "__main__":
    main()
