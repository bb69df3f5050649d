"""The two experiments of docs/rnn/vanishing-gradients.md, run again with nnref and drawn.

rnn_gradients.svg: ||dL/dh_t|| against t for L = <h_T, r>, for a tanh RNN whose recurrent
matrix is g * (a random orthogonal matrix), g = 0.5, 1, 2, and for an LSTM with the default
initialisation and with the forget-gate bias raised by 3. dL/dh_t is the gradient of the
initial state of the rest of the sequence (``.dh0`` after running x[t:] from h_t).

rnn_clipping.svg: a tanh RNN started with g = 2 trained by SGD on the adding problem, with and
without clip_grad_norm(max_norm=1). Same data, seeds and settings as the page.
Saves both into $NNREF_FIGURE_DIR: an SVG whose text, Chinese included, the reader's browser draws (docs/figures/_diagram.py's plot_style).
"""
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _diagram import PLOT_WIDTH, plot_style, save  # noqa: E402
import nnref
from nnref.backend import asarray, asnumpy

T, B, I, H = 60, 8, 4, 32


def orthogonal(n, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    return q


def grad_norms(m, x, r, key="dh0"):
    """||dL/dh_t|| (or dL/dc_t with key='dc0') for t = 0..T-1, with L = <h_T, r>."""
    norms = []
    for t in range(x.shape[0]):
        state = None if t == 0 else m(x[:t])[1]          # h_t (and c_t) after t steps
        m(x[t:], state)                                   # the rest of the sequence from there
        m.backward(None, r if m.n_states == 1 else (r, None))
        norms.append(float(np.linalg.norm(asnumpy(getattr(m, key)))))
    return np.array(norms)


def tanh_rnn(g):
    nnref.manual_seed(0)
    m = nnref.RNN(I, H, dtype=np.float64)
    m.weight_hh_l0.data[...] = asarray(g * orthogonal(H, 1))
    return m


def lstm(forget_bias):
    nnref.manual_seed(0)
    m = nnref.LSTM(I, H, dtype=np.float64)
    m.bias_ih_l0.data[H:2 * H] += forget_bias       # rows H..2H of the biases belong to f
    return m


def adding_batch(rng, n, T):
    """The adding problem: T pairs (value, marker); the target is the sum of the two marked values."""
    u = rng.random((T, n))
    marks = np.zeros((T, n))
    marks[rng.integers(0, T // 2, n), np.arange(n)] = 1
    marks[rng.integers(T // 2, T, n), np.arange(n)] = 1
    return np.stack([u, marks], axis=2), (u * marks).sum(axis=0)[:, None]


def train_exploding(clip, steps=60):
    nnref.manual_seed(0)
    rnn, head = nnref.RNN(2, 32, dtype=np.float64), nnref.Linear(32, 1, dtype=np.float64)
    rnn.weight_hh_l0.data[...] = asarray(2.0 * orthogonal(32, 1))
    params = rnn.parameters() + head.parameters()
    opt, loss_fn, rng = nnref.SGD(params, lr=0.05), nnref.MSELoss(), np.random.default_rng(0)
    losses, norms = [], []
    for _ in range(steps):
        x, y = (asarray(a) for a in adding_batch(rng, 64, 30))
        out, _ = rnn(x)
        losses.append(loss_fn(head(out[-1]), y))
        opt.zero_grad()
        d_out = nnref.backend.zeros(out.shape, dtype=out.dtype, like=out)
        d_out[-1] = head.backward(loss_fn.backward())
        rnn.backward(d_out)
        norms.append(nnref.clip_grad_norm(params, clip))   # max_norm=inf: only measures
        opt.step()
    return np.array(losses), np.array(norms)


def main():
    rng = np.random.default_rng(0)
    x, r = asarray(rng.normal(size=(T, B, I))), asarray(rng.normal(size=(1, B, H)))
    t = np.arange(T)
    plot_style()
    fig, ax = plt.subplots(figsize=(PLOT_WIDTH, 5.2))
    for g, color in [(0.5, "C0"), (1.0, "C1"), (2.0, "C3")]:
        ax.semilogy(t, grad_norms(tanh_rnn(g), x, r), color=color, lw=2, label=f"tanh RNN，W_hh = {g} Q")
    ax.semilogy(t, grad_norms(lstm(0.0), x, r), color="C2", lw=2, ls="--", label="LSTM，默认初始化")
    m = lstm(3.0)
    ax.semilogy(t, grad_norms(m, x, r), color="C4", lw=2, ls="--", label="LSTM，遗忘门偏置 +3：∂L/∂h_t")
    ax.semilogy(t, grad_norms(m, x, r, "dc0"), color="C4", lw=1.5, ls=":", label="LSTM，遗忘门偏置 +3：∂L/∂c_t")
    ax.set(xlabel="时间步 t", ylabel="‖∂L/∂h_t‖", title=f"L = ⟨h_T, r⟩ 的梯度传回第 t 步（T = {T}）")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    fig.tight_layout()
    save(fig, "rnn_gradients")

    plot_style()
    fig, axes = plt.subplots(1, 2, figsize=(PLOT_WIDTH, 3.4))
    for clip, color, label in [(np.inf, "C3", "不裁剪"), (1.0, "C0", "裁剪到范数 1")]:
        losses, norms = train_exploding(clip)
        axes[0].semilogy(losses, color=color, lw=2, label=label)
        axes[1].semilogy(norms, color=color, lw=2, label=label)
    axes[0].set(xlabel="SGD 步数", title="损失（MSE；tanh RNN，起始 W_hh = 2 Q）")
    axes[1].set(xlabel="SGD 步数", title="裁剪前的总梯度范数")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    fig.tight_layout()
    save(fig, "rnn_clipping")


if __name__ == "__main__":
    main()
