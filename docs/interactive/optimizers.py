r"""Trace of the optimiser figure (docs/neural-network/optimizers.md): SGD, momentum and Adam on the
narrow valley f(w) = (w1² + 20 w2²) / 2, from (-4, 1), for each learning rate the reader can pick.

Each path is made by ``nnref.SGD`` / ``nnref.Adam`` stepping a ``Parameter`` whose gradient is
set to the exact gradient (20x steeper along w2 than along w1), as on the page. The contour
lines are the surface's level sets. Saves optimizers.json and optimizers.svg via
hooks/interactive.py.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _trace import _diagram, save  # noqa: E402

import nnref  # noqa: E402
from nnref.module import Parameter  # noqa: E402

CURV = np.array([1.0, 20.0])
START, STEPS = [-4.0, 1.0], 60
LEVELS = (0.05, 0.25, 1.0, 2.5, 5.0, 9.0)
BOX = {"w1": (-4.6, 2.6), "w2": (-1.25, 1.25)}   # holds every path that does not diverge
OPTIMISERS = {   # name: (label, learning rates offered, default, how to make it)
    "sgd": ("SGD", (0.01, 0.04, 0.09, 0.11), 0.04, lambda ps, lr: nnref.SGD(ps, lr=lr)),
    "momentum": ("动量 0.9", (0.01, 0.04, 0.09, 0.2), 0.04, lambda ps, lr: nnref.SGD(ps, lr=lr, momentum=0.9)),
    "adam": ("Adam", (0.03, 0.1, 0.3, 1.0), 0.1, lambda ps, lr: nnref.Adam(ps, lr=lr)),
}


def f(w):
    return 0.5 * (CURV * np.asarray(w) ** 2).sum(axis=-1)


def grad(w):
    return CURV * w


def path(make, lr):
    r"""``STEPS`` steps of the optimiser from ``START``: the points (STEPS+1, 2)."""
    p = Parameter(np.array(START))
    opt = make([p], lr)
    points = [p.data.copy()]
    for _ in range(STEPS):
        opt.zero_grad()
        p.grad[...] = grad(p.data)
        opt.step()
        points.append(p.data.copy())
    return np.array(points)


def contours():
    r"""Each level set f = c is the ellipse w1 = sqrt(2c) cos t, w2 = sqrt(2c / 20) sin t."""
    t = np.linspace(0, 2 * np.pi, 73)
    return [np.stack([np.sqrt(2 * c / CURV[0]) * np.cos(t), np.sqrt(2 * c / CURV[1]) * np.sin(t)], axis=1).round(4)
            for c in LEVELS]


def trace():
    runs = {}
    for name, (label, rates, default, make) in OPTIMISERS.items():
        runs[name] = {"label": label, "rates": rates, "default": default, "paths": {}}
        for lr in rates:
            w = path(make, lr)
            runs[name]["paths"][f"{lr:g}"] = {"w": w, "f": f(w), "diverges": bool(f(w[-1]) > f(w[0]))}
    return {"optimizers": {
        "alt": "优化器：SGD、动量与 Adam 在狭长山谷 f(w) = (w1² + 20 w2²)/2 上从 (−4, 1) 出发的路径，学习率可选",
        "curvature": CURV, "start": START, "steps": STEPS, "box": BOX, "levels": LEVELS,
        "contours": contours(), "runs": runs,
    }}


def draw_first_step(t):
    r"""All three default paths over the contours (the whole run), as an SVG."""
    import matplotlib.pyplot as plt
    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "nnref"})
    fig, axes = plt.subplots(1, 3, figsize=(9, 2.4), sharey=True)
    english = {"sgd": "SGD", "momentum": "Momentum 0.9", "adam": "Adam"}   # the build machine may lack CJK fonts
    for ax, (name, run) in zip(axes, t["runs"].items()):
        for c in t["contours"]:
            ax.plot(c[:, 0], c[:, 1], color="0.8", lw=0.8)
        w = run["paths"][f"{run['default']:g}"]["w"]
        ax.plot(w[:, 0], w[:, 1], "-o", ms=2, lw=1.2, color="#d62728")
        ax.plot(0, 0, "k*", ms=8)
        ax.set(xlim=BOX["w1"], ylim=BOX["w2"], title=f"{english[name]}, lr = {run['default']}", xlabel="w1")
    axes[0].set_ylabel("w2")
    fig.tight_layout()
    _diagram.save(fig, "optimizers")


def main():
    t = trace()
    save("optimizers", t["optimizers"])
    draw_first_step(t["optimizers"])


# run by hooks/interactive.py (run_name "__main__"); importing the file computes nothing
if __name__ == "__main__":
    main()
