"""The two experiments of docs/neural-network/bias.md, trained again with nnref and drawn.

Left: a linear classifier with and without bias on points whose true boundary x1 + x2 = 2
misses the origin. Right: a ReLU MLP fitting y = x^2 with and without biases; without them
the network is positively homogeneous and can only draw two rays from the origin.
Same data, seeds and settings as the page. Saves bias.svg into $NNREF_FIGURE_DIR: an SVG whose text, Chinese included, the reader's browser draws (docs/figures/_diagram.py's plot_style).
"""
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _diagram import PLOT_WIDTH, plot_style, save  # noqa: E402
import nnref
from nnref.backend import RNG, asnumpy


def train(model, x, target, loss_fn, optimizer, steps):
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(x), target)
        model.backward(loss_fn.backward())
        optimizer.step()
    return loss


def main():
    # -- left: classification -------------------------------------------------
    X = RNG(0).uniform((400, 2), low=-1.0, high=3.0)
    labels = nnref.backend.asarray((asnumpy(X).sum(axis=1) > 2).astype(np.int64))
    boundaries = {}
    for bias in (True, False):
        nnref.manual_seed(0)
        clf = nnref.Linear(2, 2, bias=bias)
        train(clf, X, labels, nnref.CrossEntropyLoss(), nnref.SGD(clf.parameters(), lr=0.5), 300)
        w = asnumpy(clf.weight.data)
        b = asnumpy(clf.bias.data) if bias else np.zeros(2)
        boundaries[bias] = (w[1] - w[0], b[1] - b[0])   # class 1 wins where d·x + c > 0

    # -- right: regression ----------------------------------------------------
    xs = np.linspace(-2, 2, 81, dtype=np.float32).reshape(-1, 1)
    x = nnref.backend.asarray(xs)
    fits = {}
    for bias in (True, False):
        nnref.manual_seed(0)
        net = nnref.Sequential(nnref.Linear(1, 32, bias=bias), nnref.ReLU(),
                               nnref.Linear(32, 32, bias=bias), nnref.ReLU(), nnref.Linear(32, 1, bias=bias))
        train(net, x, x * x, nnref.MSELoss(), nnref.Adam(net.parameters(), lr=0.01), 2000)
        fits[bias] = asnumpy(net(x)).ravel()

    plot_style()
    fig, (ax_c, ax_r) = plt.subplots(1, 2, figsize=(PLOT_WIDTH, 3.9))
    Xh, yh = asnumpy(X), asnumpy(labels)
    ax_c.scatter(Xh[yh == 0, 0], Xh[yh == 0, 1], s=8, c="tab:blue", label="类别 0")
    ax_c.scatter(Xh[yh == 1, 0], Xh[yh == 1, 1], s=8, c="tab:orange", label="类别 1")
    u = np.linspace(-1.2, 3.2, 2)
    for bias, style in ((True, "-"), (False, "--")):
        d, c = boundaries[bias]
        ax_c.plot(u, -(d[0] * u + c) / d[1], "k" + style, lw=2,
                  label="有偏置" if bias else "无偏置（过原点）")
    ax_c.plot(0, 0, "ko", ms=5)
    ax_c.set(xlim=(-1.2, 3.2), ylim=(-1.2, 3.2), aspect="equal", xlabel="x1", ylabel="x2",
             title="分类：Linear(2, 2)，交叉熵")
    ax_c.legend(loc="upper right")

    ax_r.plot(xs, xs**2, color="0.5", lw=6, alpha=0.4, label="目标 y = x²")
    ax_r.plot(xs, fits[True], "-", lw=2, label="有偏置")
    ax_r.plot(xs, fits[False], "--", lw=2, label="无偏置")
    ax_r.axhline(0, color="0.6", lw=0.8)
    ax_r.axvline(0, color="0.6", lw=0.8)
    ax_r.set(xlabel="x", title="回归：MLP 1-32-32-1，均方误差")
    ax_r.legend(loc="upper center")
    fig.tight_layout()
    save(fig, "bias")


# run by hooks/figures.py (run_name "__main__"); importing the file draws nothing
if __name__ == "__main__":
    main()
