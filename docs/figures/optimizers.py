"""Paths of SGD, momentum, Nesterov and Adam on two 2-D loss surfaces, computed with nnref.optim.

Left: the elongated quadratic f = (w1^2 + 20 w2^2) / 2 (60 steps); right: Rosenbrock
(2000 steps). Hyperparameters are those of docs/neural-network/optimizers.md.
Saves optimizers.svg into $NNREF_FIGURE_DIR (see hooks/figures.py): an SVG whose text, Chinese included, the reader's browser draws (docs/figures/_diagram.py's plot_style).
"""
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _diagram import PLOT_WIDTH, plot_style, save  # noqa: E402
import nnref
from nnref.module import Parameter


def run(make_opt, grad, start, steps):
    p = Parameter(np.array(start, dtype=np.float64))
    opt = make_opt([p])
    path = [p.data.copy()]
    for _ in range(steps):
        opt.zero_grad()
        p.grad[...] = grad(p.data)
        opt.step()
        path.append(p.data.copy())
    return np.array(path)


curv = np.array([1.0, 20.0])
quad = lambda w: 0.5 * (curv * w**2).sum(axis=-1)
quad_grad = lambda w: curv * w
rosen = lambda w: (1 - w[..., 0])**2 + 100 * (w[..., 1] - w[..., 0]**2)**2
rosen_grad = lambda w: np.array([-2 * (1 - w[0]) - 400 * w[0] * (w[1] - w[0]**2), 200 * (w[1] - w[0]**2)])


def optimisers(lr, adam_lr):
    return {
        "SGD": lambda ps: nnref.SGD(ps, lr=lr),
        "Momentum 0.9": lambda ps: nnref.SGD(ps, lr=lr, momentum=0.9),
        "Nesterov 0.9": lambda ps: nnref.SGD(ps, lr=lr, momentum=0.9, nesterov=True),
        f"Adam (lr={adam_lr})": lambda ps: nnref.Adam(ps, lr=adam_lr),
    }


panels = [
    ("f = (w1² + 20 w2²)/2，lr = 0.04，60 步", quad, quad_grad, [-4.0, 1.0], 60,
     optimisers(0.04, 0.1), (-4.5, 1.0), (-1.3, 1.3), np.logspace(-2, 1.5, 12), (0.0, 0.0)),
    ("Rosenbrock 函数，lr = 1e-3，2000 步", rosen, rosen_grad, [-1.2, 1.0], 2000,
     optimisers(1e-3, 0.05), (-1.6, 1.4), (-0.4, 1.6), np.logspace(-1, 3, 14), (1.0, 1.0)),
]
styles = [("tab:blue", "-", 2.2, 4), ("tab:orange", "-", 1.2, 2), ("tab:green", "-", 1.4, 3),
          ("tab:red", "--", 1.4, 3)]   # color, line style, width, zorder (SGD on top: it hides otherwise)

plot_style()
fig, axes = plt.subplots(2, 1, figsize=(PLOT_WIDTH, 7.6))
for ax, (title, f, grad, start, steps, opts, xlim, ylim, levels, best) in zip(axes, panels):
    X, Y = np.meshgrid(np.linspace(*xlim, 300), np.linspace(*ylim, 300))
    ax.contour(X, Y, f(np.stack([X, Y], axis=-1)), levels=levels, colors="0.75", linewidths=0.8)
    for (name, make), (color, ls, lw, z) in zip(opts.items(), styles):
        path = run(make, grad, start, steps)
        ax.plot(path[:, 0], path[:, 1], color=color, ls=ls, lw=lw, zorder=z,
                marker="." if steps <= 100 else None, ms=3, label=f"{name}: f = {f(path[-1]):.1e}")
        ax.plot(*path[-1], "o", color=color, ms=5, zorder=5)
    ax.plot(*start, "ko", ms=5)
    ax.plot(*best, "k*", ms=12)
    ax.set(title=title, xlim=xlim, ylim=ylim, xlabel="w1", ylabel="w2")
    ax.legend(loc="lower right" if f is quad else "lower left")
fig.tight_layout()
save(fig, "optimizers")
