"""ReLU, Softplus (beta = 1, 4, 16) and GELU with their derivatives, drawn with nnref's functions.

ReLU's derivative is drawn with the whole subdifferential [0, 1] at x = 0 (a vertical segment).
Saves nondifferentiable.png into $NNREF_FIGURE_DIR (see hooks/figures.py). Labels are in English
because the build machine need not have a CJK font.
"""
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from nnref.layers.activation import (gelu_backward, gelu_forward, relu_backward, relu_forward,
                                     softplus_backward, softplus_forward)

x = np.linspace(-3, 3, 1201)
ones = np.ones_like(x)
fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=(11, 4.2))

y, cache = relu_forward(x)
d = relu_backward(ones, cache)
ax_f.plot(x, y, color="k", lw=2.5, label="ReLU")
ax_d.plot(x[x < 0], d[x < 0], color="k", lw=2.5, label="ReLU' (subdifferential [0, 1] at 0)")
ax_d.plot(x[x > 0], d[x > 0], color="k", lw=2.5)
ax_d.plot([0, 0], [0, 1], color="k", lw=2.5, ls=":")

for beta, color in zip((1, 4, 16), ("tab:blue", "tab:orange", "tab:green")):
    y, cache = softplus_forward(x, beta=beta)
    ax_f.plot(x, y, color=color, lw=1.6, label=f"Softplus, beta={beta}")
    ax_d.plot(x, softplus_backward(ones, cache), color=color, lw=1.6, label=f"sigmoid({beta}x)")

y, cache = gelu_forward(x)
ax_f.plot(x, y, color="tab:red", lw=1.6, ls="--", label="GELU")
ax_d.plot(x, gelu_backward(ones, cache), color="tab:red", lw=1.6, ls="--", label="GELU'")
ax_d.plot([0], [0.5], "o", color="0.3", ms=5)

ax_f.set(title="functions", xlabel="x", ylim=(-0.4, 3.1))
ax_d.set(title="derivatives", xlabel="x", ylim=(-0.2, 1.2))
for ax in (ax_f, ax_d):
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
fig.tight_layout()
fig.savefig(Path(os.environ.get("NNREF_FIGURE_DIR", ".")) / "nondifferentiable.png", dpi=100)
