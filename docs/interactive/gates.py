r"""Traces of the gate figures: an LSTM (docs/lstm/lstm.md) and a GRU (docs/lstm/gru.md) reading
a real input sequence, gate by gate, step by step.

The task: a sequence of T = 8 numbers in [-1, 1], one of them marked (a second input that is 1
there and 0 elsewhere); after the last step a ``Linear`` reads the hidden state and must output
the marked number. A cell with 3 units learns it in 600 Adam steps (under a second): the
input gate (LSTM) or the update gate (GRU) opens at the mark and stays shut elsewhere. Training
uses ``nnref.LSTM`` / ``nnref.GRU``; the gates shown are computed by the reference functions
``lstm_forward`` / ``gru_forward`` from the trained weights, which the trace also holds.
Saves lstm.json, lstm.svg, gru.json and gru.svg via hooks/interactive.py.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _trace import _diagram, save  # noqa: E402

import nnref  # noqa: E402
from nnref.layers.gru import gru_forward  # noqa: E402
from nnref.layers.lstm import lstm_forward  # noqa: E402

T, HIDDEN, TRAIN_STEPS, BATCH = 8, 3, 600, 64
SEQUENCES = [   # (values, marked step): what the reader can pick
    ([0.3, -0.7, 0.9, 0.1, -0.4, 0.6, -0.2, 0.5], 1),
    ([0.3, -0.7, 0.9, 0.1, -0.4, 0.6, -0.2, 0.5], 5),
    ([-0.5, 0.2, 0.8, -0.9, 0.4, -0.1, 0.7, -0.3], 3),
]
ROWS = {   # the rows of each figure's table: (name, label, range of the bar)
    "lstm": [("i", "i 输入门", "gate"), ("f", "f 遗忘门", "gate"), ("g", "g 候选", "signed"), ("o", "o 输出门", "gate"),
             ("c_prev", "c_{t−1}", "signed"), ("c", "c_t", "signed"), ("tanh_c", "tanh(c_t)", "signed"),
             ("h", "h_t", "signed")],
    "gru": [("r", "r 重置门", "gate"), ("z", "z 更新门", "gate"), ("n", "n 候选", "signed"),
            ("h_prev", "h_{t−1}", "signed"), ("h", "h_t", "signed")],
}
FORMULAS = {   # one line per unit j; {"row": name} is that row's value at (t, j)
    "lstm": [["c_t = f ⊙ c_{t−1} + i ⊙ g = ", {"row": "f"}, " × ", {"row": "c_prev"}, " + ", {"row": "i"}, " × ",
              {"row": "g"}, " = ", {"row": "c"}],
             ["h_t = o ⊙ tanh(c_t) = ", {"row": "o"}, " × ", {"row": "tanh_c"}, " = ", {"row": "h"}]],
    "gru": [["h_t = (1 − z) ⊙ n + z ⊙ h_{t−1} = (1 − ", {"row": "z"}, ") × ", {"row": "n"}, " + ", {"row": "z"},
             " × ", {"row": "h_prev"}, " = ", {"row": "h"}]],
}


def sequence(values, marked):
    r"""The input (T, 2): the numbers, and 1 at the marked step."""
    x = np.zeros((T, 2))
    x[:, 0] = values
    x[marked, 1] = 1.0
    return x


def train(kind):
    r"""A trained ``nnref.LSTM`` / ``nnref.GRU`` (2 inputs, 3 units, float64) and its ``Linear`` head."""
    rng = np.random.default_rng(0)
    nnref.manual_seed(0)
    cell = {"lstm": nnref.LSTM, "gru": nnref.GRU}[kind](2, HIDDEN, dtype=np.float64)
    head = nnref.Linear(HIDDEN, 1, dtype=np.float64)
    opt = nnref.Adam(list(cell.parameters()) + list(head.parameters()), lr=0.03)
    loss_fn = nnref.MSELoss()
    for _ in range(TRAIN_STEPS):
        marked = rng.integers(0, T, BATCH)
        x = np.zeros((T, BATCH, 2))
        x[:, :, 0] = rng.uniform(-1, 1, (T, BATCH))
        x[marked, np.arange(BATCH), 1] = 1.0
        target = x[marked, np.arange(BATCH), :1]
        out, _ = cell(nnref.backend.asarray(x))
        loss_fn(head(out[-1]), nnref.backend.asarray(target))
        opt.zero_grad()
        d_out = nnref.backend.zeros(out.shape, dtype=out.dtype)
        d_out[-1] = head.backward(loss_fn.backward())
        cell.backward(d_out)
        opt.step()
    return cell, head


def rows(kind, weights, x):
    r"""Every row of the table for one sequence ``x`` (T, 2), from the reference functions: (T, 3) each."""
    x = x[:, None]                                                       # (T, B=1, 2)
    W = [weights[k] for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")]
    zeros = np.zeros((1, HIDDEN))
    if kind == "lstm":
        out, (h_n, c_n), cache = lstm_forward(x, (zeros, zeros), *W)
        s = cache.steps
        return out[:, 0], {"i": [c.i[0] for c in s], "f": [c.f[0] for c in s], "g": [c.g[0] for c in s],
                           "o": [c.o[0] for c in s], "c_prev": [c.c_prev[0] for c in s],
                           "c": [c.c_prev[0] for c in s[1:]] + [c_n[0]], "tanh_c": [c.tanh_c[0] for c in s],
                           "h": out[:, 0]}
    out, h_n, cache = gru_forward(x, zeros, *W)
    s = cache.steps
    return out[:, 0], {"r": [c.r[0] for c in s], "z": [c.z[0] for c in s], "n": [c.n[0] for c in s],
                       "h_prev": [c.h_prev[0] for c in s], "h": out[:, 0]}


def trace():
    figures = {}
    for kind in ("lstm", "gru"):
        cell, head = train(kind)
        weights = {k: nnref.asnumpy(v) for k, v in cell.state_dict().items()}
        head_w = {k: nnref.asnumpy(v) for k, v in head.state_dict().items()}
        seqs = []
        for values, marked in SEQUENCES:
            x = sequence(values, marked)
            h, table = rows(kind, weights, x)
            pred = nnref.asnumpy(head(nnref.backend.asarray(h[-1:])))[0, 0]   # the head reads h_T
            seqs.append({"x": x, "marked": marked, "target": values[marked], "rows": table, "pred": pred})
        name = {"lstm": "LSTM", "gru": "GRU"}[kind]
        figures[kind] = {
            "alt": f"{name} 的门：读一个序列（标记处的数要记到最后），每一步各个门和状态的值",
            "cell": kind, "T": T, "hidden": HIDDEN, "train_steps": TRAIN_STEPS,
            "weights": weights, "head": head_w, "rows": ROWS[kind], "formulas": FORMULAS[kind],
            "sequences": seqs,
        }
    return figures


def draw_first_step(kind, t):
    r"""The first sequence at its marked step: every row of the table, as an SVG."""
    seq = t["sequences"][0]
    k = seq["marked"]
    cell = 0.5
    labels = [label.replace("_{", "(").replace("}", ")").replace("_t", "(t)") for _, label, _ in t["rows"]]
    fig, ax = _diagram.canvas(5.4, 0.9 + cell * len(labels))
    top = 0.45 + cell * len(labels)
    _diagram.label(ax, 0.2, top + 0.22, f"第 {k + 1} 步（被标记的数 {seq['x'][k, 0]:g}），{t['hidden']} 个单元：".replace("-", "−"), fontsize=10, ha="left")
    for r, label in enumerate(labels):
        _diagram.label(ax, 0.2, top - (r + 0.5) * cell, label, fontsize=10, ha="left")
    values = [[f"{v:.3f}".replace("-", "−") for v in np.asarray(seq["rows"][name])[k]] for name, _, _ in t["rows"]]
    _diagram.grid(ax, 1.9, top, values, cell, fontsize=8)
    _diagram.save(fig, kind)


def main():
    figures = trace()
    for kind, t in figures.items():
        save(kind, t)
        draw_first_step(kind, t)


# run by hooks/interactive.py (run_name "__main__"); importing the file computes nothing
if __name__ == "__main__":
    main()
