"""ReLU, Softplus (beta = 1, 4, 16) and GELU with their derivatives, drawn with nnref's functions.

ReLU's derivative is drawn with the whole subdifferential [0, 1] at x = 0 (a vertical segment).
Saves nondifferentiable.svg into $NNREF_FIGURE_DIR (see hooks/figures.py): an SVG whose text,
Chinese included, the reader's browser draws (docs/figures/_diagram.py's plot_style).
"""
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _diagram import PLOT_WIDTH, plot_style, save  # noqa: E402
from nnref.layers.activation import (gelu_backward, gelu_forward, relu_backward, relu_forward,
                                     softplus_backward, softplus_forward)

x = np.linspace(-3, 3, 1201)
ones = np.ones_like(x)
plot_style()
fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=(PLOT_WIDTH, 3.8))

y, cache = relu_forward(x)
d = relu_backward(ones, cache)
ax_f.plot(x, y, color="k", lw=2.5, label="ReLU")
ax_d.plot(x[x < 0], d[x < 0], color="k", lw=2.5, label="ReLU′（0 处取 [0, 1] 中任一值）")
ax_d.plot(x[x > 0], d[x > 0], color="k", lw=2.5)
ax_d.plot([0, 0], [0, 1], color="k", lw=2.5, ls=":")

for beta, color in zip((1, 4, 16), ("tab:blue", "tab:orange", "tab:green")):
    y, cache = softplus_forward(x, beta=beta)
    ax_f.plot(x, y, color=color, lw=1.6, label=f"Softplus，β = {beta}")
    ax_d.plot(x, softplus_backward(ones, cache), color=color, lw=1.6, label=f"sigmoid({beta}x)")

y, cache = gelu_forward(x)
ax_f.plot(x, y, color="tab:red", lw=1.6, ls="--", label="GELU")
ax_d.plot(x, gelu_backward(ones, cache), color="tab:red", lw=1.6, ls="--", label="GELU′")
ax_d.plot([0], [0.5], "o", color="0.3", ms=5)

ax_f.set(title="函数", xlabel="x", ylim=(-0.4, 3.1))
ax_d.set(title="导数", xlabel="x", ylim=(-0.2, 1.2))
for ax in (ax_f, ax_d):
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
fig.tight_layout()
save(fig, "nondifferentiable")
