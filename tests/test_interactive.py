r"""The interactive figures' traces (``docs/interactive/*.py``) against nnref and independent code.

Each trace script is run as ``hooks/interactive.py`` runs it; every number of every selectable
setting must equal (a) nnref's Module (``Conv2d``, ``MaxPool2d``, ``Sequential`` + ``MSELoss``,
``SGD``/``Adam``, ``LSTM``/``GRU``, ``MultiheadAttention``) on the same input and (b) the ``expected_*`` functions here,
which recompute each named quantity from the scripts' inputs with plain NumPy loops and the
textbook formulas, importing nothing from nnref. ``tests/test_interactive_browser.py`` checks
every number the built pages display against the same ``expected_*`` functions, so a wrong
number in a trace fails both files. PyTorch, where installed, is a third witness.
"""
import functools
import html
import json
import re
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import nnref
from tests.no_cjk import NOISE
from tests.no_cjk import run as _run

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "docs" / "interactive"
FIGURES = {"conv": "conv", "pool": "pool", "backprop": "backprop", "optimizers": "optimizers",
           "lstm": "gates", "gru": "gates", "attention": "attention"}   # figure -> the script that writes it
PAGES = {"conv": "cnn/conv.md", "pool": "cnn/pool.md", "backprop": "neural-network/backprop.md",
         "optimizers": "neural-network/optimizers.md", "lstm": "lstm/lstm.md", "gru": "lstm/gru.md",
         "attention": "attention/multihead.md"}


@functools.lru_cache(maxsize=None)
def script(name):
    r"""The trace script's namespace (its constants and functions), imported without running ``main``."""
    saved = list(sys.path)
    try:
        return runpy.run_path(str(SCRIPTS / f"{name}.py"), run_name=f"trace_{name}")
    finally:
        sys.path[:] = saved


@functools.lru_cache(maxsize=None)
def traces(name):
    r"""Every figure a script writes, as the JSON the hook inlines (so exactly what the page gets)."""
    namespace = script(name)
    plain = runpy.run_path(str(SCRIPTS / "_trace.py"))["plain"]
    return {fig: json.loads(json.dumps(plain(t), allow_nan=False)) for fig, t in namespace["trace"]().items()}


def trace(figure):
    return traces(FIGURES[figure])[figure]


# ---------------------------------------------------------------------------------------------
# independent expectations: quantity name (as the figure's data-q) -> value
# ---------------------------------------------------------------------------------------------
def expected_conv(stride, padding, dilation):
    r"""Every number of one convolution setting, by the definition; and each window's taps."""
    ns = script("conv")
    X, K = np.asarray(ns["X"]), np.asarray(ns["K"])
    xp = np.zeros((X.shape[0] + 2 * padding, X.shape[1] + 2 * padding))
    xp[padding:padding + X.shape[0], padding:padding + X.shape[1]] = X
    KH, KW = K.shape
    OH = (xp.shape[0] - dilation * (KH - 1) - 1) // stride + 1
    OW = (xp.shape[1] - dilation * (KW - 1) - 1) // stride + 1
    values = {f"xp[{r},{c}]": xp[r, c] for r in range(xp.shape[0]) for c in range(xp.shape[1])}
    values.update({f"w[{u},{v}]": K[u, v] for u in range(KH) for v in range(KW)})
    taps = {}
    for i in range(OH):
        for j in range(OW):
            total = 0.0
            for u in range(KH):
                for v in range(KW):
                    r, c = i * stride + u * dilation, j * stride + v * dilation
                    taps[i, j, u, v] = (r, c)
                    values[f"prod[{i},{j},{u},{v}]"] = xp[r, c] * K[u, v]
                    total += xp[r, c] * K[u, v]
            values[f"y[{i},{j}]"] = total
    return values, taps, (OH, OW), xp.shape


def expected_pool(mode, kernel, stride):
    r"""Every number of one pooling setting by plain loops (a tie goes to the first maximum in
    row-major order); dy is 1, 2, ... in output order. Also each window's cells, winner and ties."""
    X = np.asarray(script("pool")["X"])
    H, W = X.shape
    OH, OW = (H - kernel) // stride + 1, (W - kernel) // stride + 1
    values = {f"x[{r},{c}]": X[r, c] for r in range(H) for c in range(W)}
    dx = np.zeros_like(X)
    windows = []
    for k in range(OH * OW):
        i, j = divmod(k, OW)
        g = float(k + 1)
        values[f"dy[{i},{j}]"] = g
        cells = [(i * stride + u, j * stride + v) for u in range(kernel) for v in range(kernel)]
        vals = [X[c] for c in cells]
        if mode == "max":
            best = 0
            for t, v in enumerate(vals):
                if v > vals[best]:           # strictly greater: an equal later value does not win
                    best = t
            values[f"y[{i},{j}]"] = vals[best]
            dx[cells[best]] += g
            sent = [g if t == best else 0.0 for t in range(len(cells))]
            ties = [cells[t] for t, v in enumerate(vals) if v == vals[best] and t != best]
            winner = cells[best]
        else:
            values[f"y[{i},{j}]"] = sum(vals) / len(vals)
            values[f"divisor[{k}]"] = float(len(vals))
            for c in cells:
                dx[c] += g / len(vals)
            sent = [g / len(vals)] * len(cells)
            ties, winner = [], None
        values.update({f"sent[{k}][{t}]": s for t, s in enumerate(sent)})
        values.update({f"dx_after[{k}][{r},{c}]": dx[r, c] for r in range(H) for c in range(W)})
        windows.append({"cells": cells, "winner": winner, "ties": ties})
    return values, windows, (OH, OW), dx


def expected_backprop(activation):
    r"""Forward and backward of the two-layer net by hand (NumPy, the textbook formulas)."""
    ns = script("backprop")
    x, W1, b1, W2, b2, y = (np.asarray(ns[k], dtype=float) for k in ("X", "W1", "B1", "W2", "B2", "Y"))
    phi, dphi = {
        "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
        "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
        "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
    }[activation]
    z1 = W1 @ x + b1
    h = phi(z1)
    yhat = W2 @ h + b2
    L = float(((yhat - y) ** 2).mean())
    g_yhat = 2 * (yhat - y) / yhat.size
    g_W2, g_b2, g_h = np.outer(g_yhat, h), g_yhat, W2.T @ g_yhat
    g_z1 = g_h * dphi(z1)
    g_W1, g_b1, g_x = np.outer(g_z1, x), g_z1, W1.T @ g_z1
    arrays = {"x": x, "W1": W1, "b1": b1, "W2": W2, "b2": b2, "y": y, "z1": z1, "h": h, "yhat": yhat,
              "dL/dyhat": g_yhat, "dL/dW2": g_W2, "dL/db2": g_b2, "dL/dh": g_h, "dphi(z1)": dphi(z1),
              "dL/dz1": g_z1, "dL/dW1": g_W1, "dL/db1": g_b1, "dL/dx": g_x}
    values = {"L": L}
    for name, a in arrays.items():
        for index in np.ndindex(a.shape):
            values[f"{name}[{','.join(map(str, index))}]"] = float(a[index])
    return values


def expected_path(kind, lr, start, steps, curvature):
    r"""The optimiser's path on f(w) = sum(curvature * w²) / 2 by torch.optim's update rules, by hand."""
    w, c = np.array(start, dtype=float), np.asarray(curvature, dtype=float)
    path, buf, m, v = [w.copy()], None, np.zeros(2), np.zeros(2)
    for t in range(1, steps + 1):
        g = c * w
        if kind == "sgd":
            w = w - lr * g
        elif kind == "momentum":
            buf = g if buf is None else 0.9 * buf + g
            w = w - lr * buf
        else:
            m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
            w = w - lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        path.append(w.copy())
    path = np.array(path)
    return path, 0.5 * (c * path ** 2).sum(axis=1)


def expected_optimizers(t):
    r"""``{kind}.{lr}.w1[k]``, ``.w2[k]`` and ``.f[k]`` for every path the figure offers."""
    values = {}
    for kind, run in t["runs"].items():
        for lr in run["rates"]:
            path, f = expected_path(kind, lr, t["start"], t["steps"], t["curvature"])
            key = f"{kind}.{lr:g}"
            for k in range(len(path)):
                values[f"{key}.w1[{k}]"], values[f"{key}.w2[{k}]"], values[f"{key}.f[{k}]"] = *path[k], f[k]
    return values


def expected_gates(t):
    r"""Every gate and state of the figure's cell, by the equations, from the weights in the trace
    and the script's input sequences."""
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    W_ih, W_hh, b_ih, b_hh = (np.asarray(t["weights"][k]) for k in
                              ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"))
    H = W_hh.shape[1]
    values = {}
    for n, (seq, marked) in enumerate(script("gates")["SEQUENCES"]):
        x = np.stack([np.asarray(seq, dtype=float), np.eye(len(seq))[marked]], axis=1)
        h, c = np.zeros(H), np.zeros(H)
        for k, x_t in enumerate(x):
            values[f"{n}.x[{k}]"] = x_t[0]
            if t["cell"] == "lstm":
                z = W_ih @ x_t + b_ih + W_hh @ h + b_hh
                i, f, g, o = sig(z[:H]), sig(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), sig(z[3 * H:])
                c_prev, c = c, f * c + i * g
                h = o * np.tanh(c)
                rows = {"i": i, "f": f, "g": g, "o": o, "c_prev": c_prev, "c": c, "tanh_c": np.tanh(c), "h": h}
            else:
                a, b = W_ih @ x_t + b_ih, W_hh @ h + b_hh
                r, z = sig(a[:H] + b[:H]), sig(a[H:2 * H] + b[H:2 * H])
                cand = np.tanh(a[2 * H:] + r * b[2 * H:])
                h_prev, h = h, (1 - z) * cand + z * h
                rows = {"r": r, "z": z, "n": cand, "h_prev": h_prev, "h": h}
            values.update({f"{n}.{name}[{k},{j}]": float(v[j]) for name, v in rows.items() for j in range(H)})
        values[f"{n}.pred"] = float(np.asarray(t["head"]["weight"])[0] @ h + np.asarray(t["head"]["bias"])[0])
        values[f"{n}.target"] = float(seq[marked])
    return values


def trained_attention():
    r"""The notebook's trained model (the trace script runs docs/notebooks/tiny_gpt.py; ``train`` is
    cached, so it is the run ``trace`` read) as plain NumPy arrays: (embeddings, [each layer's state
    dict], the sentence as character ids)."""
    nb = script("attention")["train"]()
    sentence = trace("attention")["sentence"]
    tok, pos = (nnref.asnumpy(m.weight.data) for m in (nb["model"].tok, nb["model"].pos))
    layers = [{k: nnref.asnumpy(v) for k, v in block.state_dict().items()} for block in nb["model"].blocks.layers]
    return tok, pos, layers, np.array([nb["chars"].index(c) for c in sentence])


def expected_attention():
    r"""Every layer's attention weights for the sentence by a NumPy forward pass (float64) of the
    pre-norm Transformer from its parameters: (layers, heads, L, L), the mask, and each layer's
    attention input.

    $$
    A = \mathrm{softmax}\big(Q K^\top / \sqrt{d} + M\big),\quad M_{ij} = -\infty \ (j > i)
    $$
    """
    tok, pos, layers, ids = trained_attention()
    heads = script("attention")["train"]()["HEADS"]
    L = len(ids)
    blocked = np.triu(np.ones((L, L), dtype=bool), k=1)            # key after the query

    def norm(x, w, b):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-5) * w + b

    x = (tok[ids] + pos[:L]).astype(np.float64)                       # (L, E)
    weights, inputs = [], []
    for p in layers:
        p = {k: v.astype(np.float64) for k, v in p.items()}
        z = norm(x, p["norm1.weight"], p["norm1.bias"])
        inputs.append(z)
        E = z.shape[1]
        d = E // heads
        qkv = z @ p["self_attn.in_proj_weight"].T + p["self_attn.in_proj_bias"]
        Q, K, V = (qkv[:, n * E:(n + 1) * E].reshape(L, heads, d).transpose(1, 0, 2) for n in range(3))
        scores = Q @ K.transpose(0, 2, 1) / np.sqrt(d) + np.where(blocked, -np.inf, 0.0)
        A = np.exp(scores - scores.max(-1, keepdims=True))
        A /= A.sum(-1, keepdims=True)
        weights.append(A)
        heads_out = (A @ V).transpose(1, 0, 2).reshape(L, E)
        x = x + heads_out @ p["self_attn.out_proj.weight"].T + p["self_attn.out_proj.bias"]
        f = norm(x, p["norm2.weight"], p["norm2.bias"])
        x = x + np.maximum(f @ p["linear1.weight"].T + p["linear1.bias"], 0) @ p["linear2.weight"].T + p["linear2.bias"]
    return np.stack(weights), blocked, inputs


@functools.lru_cache(maxsize=None)
def module_attention():
    r"""Every layer's attention weights for the sentence from fresh ``nnref.MultiheadAttention``
    modules loaded with the trained layers' weights, run as the notebook runs them (float32,
    ``need_weights=True, average_attn_weights=False``), each on its layer's input (the pre-norm of
    the residual stream, which a fresh ``TransformerEncoderLayer`` carries forward): (layers, heads, L, L)."""
    nb = script("attention")["train"]()
    tok, pos, layers, ids = trained_attention()
    L = len(ids)
    mask = nnref.backend.asarray(np.triu(np.ones((L, L), dtype=bool), k=1))
    h = nnref.backend.asarray((tok[ids] + pos[:L])[None])
    weights = []
    for p in layers:
        block = nnref.TransformerEncoderLayer(nb["D"], nb["HEADS"], 4 * nb["D"], dropout=0.0, batch_first=True,
                                              norm_first=True)
        block.load_state_dict(p)
        mha = nnref.MultiheadAttention(nb["D"], nb["HEADS"], batch_first=True)
        mha.load_state_dict({k.removeprefix("self_attn."): v for k, v in p.items() if k.startswith("self_attn.")})
        z = block.norm1(h)
        _, w = mha(z, z, z, need_weights=True, attn_mask=mask, average_attn_weights=False)
        weights.append(nnref.asnumpy(w)[0])
        h = block(h, src_mask=mask)
    return np.stack(weights)


def expected_attention_values():
    r"""Quantity name (the figure's data-q) -> value: ``{layer}.{head}.w[i,j]`` from fresh
    MultiheadAttention modules (``module_attention``, not the trace) and the model's description."""
    W = module_attention()
    nb = script("attention")["train"]()
    losses = [float(v) for v in nb["losses"]]
    values = {"layers": nb["N_LAYERS"], "heads": nb["HEADS"], "d_model": nb["D"], "head_dim": nb["D"] // nb["HEADS"],
              "steps": len(losses), "loss_first": float(np.mean(losses[:10])), "loss_last": float(np.mean(losses[-10:]))}
    for index in np.ndindex(W.shape):
        values["{}.{}.w[{},{}]".format(*index)] = float(W[index])
    return values


def value_of(text):
    r"""A number as a figure prints it (U+2212 minus, exponent form allowed) -> (value, tolerance):
    the tolerance is half a unit in the last digit shown."""
    s = text.strip().replace("\u2212", "-")
    m = re.fullmatch(r"(-?\d+)(?:\.(\d+))?(?:e([+-]?\d+))?", s)
    assert m, f"not a number: {text!r}"
    decimals, exponent = len(m.group(2) or ""), int(m.group(3) or 0)
    return float(s), 0.5 * 10.0 ** (exponent - decimals)


def mismatches(shown, expected, tol=None):
    r"""``shown``: (name, text) pairs from the screen. A name the expectation lacks, or a number
    farther from it than the digits shown allow (or than ``tol``, when that is smaller)."""
    bad = []
    for name, text in shown:
        if name not in expected:
            bad.append(f"{name} = {text}: no such quantity")
            continue
        value, allowed = value_of(text)
        if tol is not None:
            allowed = min(allowed, tol)
        if not abs(value - expected[name]) <= allowed * (1 + 1e-9) + 1e-12:
            bad.append(f"{name} shows {text}, expected {expected[name]!r}")
    return bad


# ---------------------------------------------------------------------------------------------
# the traces
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("figure", sorted(FIGURES))
def test_trace_is_plain_json_with_alt_text_and_no_file_path(figure):
    t = trace(figure)
    # the alt text is the static figure's caption: no repository paths (the 实现细节 block names the script)
    assert t["alt"].strip() and "docs/" not in t["alt"] and ".py" not in t["alt"]
    assert "source" not in t, "no figure shows its script any more"
    json.dumps(t, allow_nan=False)


def settings_conv():
    ns = script("conv")
    return [(s, p, d) for s in ns["STRIDES"] for p in ns["PADDINGS"] for d in ns["DILATIONS"]]


@pytest.mark.parametrize("stride,padding,dilation", settings_conv())
def test_conv_trace_equals_conv2d_and_the_definition(stride, padding, dilation):
    s = trace("conv")["settings"][f"{stride},{padding},{dilation}"]
    values, taps, (OH, OW), (Hp, Wp) = expected_conv(stride, padding, dilation)
    ns = script("conv")
    layer = nnref.Conv2d(1, 1, 3, stride=stride, padding=padding, dilation=dilation, bias=False, dtype=np.float64)
    layer.load_state_dict({"weight": np.asarray(ns["K"])[None, None]})
    y = nnref.asnumpy(layer(nnref.backend.asarray(np.asarray(ns["X"])[None, None])))[0, 0]
    np.testing.assert_array_equal(s["out"], y)
    assert np.shape(s["out"]) == (OH, OW) and np.shape(s["padded"]) == (Hp, Wp)
    for i in range(OH):
        for j in range(OW):
            assert s["out"][i][j] == values[f"y[{i},{j}]"]
            k = i * OW + j
            for u in range(3):
                for v in range(3):
                    r, c = taps[i, j, u, v]
                    assert s["windows"][k][u * 3 + v] == r * Wp + c, (i, j, u, v)
                    assert s["products"][k][u * 3 + v] == values[f"prod[{i},{j},{u},{v}]"]
    assert all(s["padded"][r][c] == values[f"xp[{r},{c}]"] for r in range(Hp) for c in range(Wp))


def test_conv_trace_equals_torch(torch):
    t = trace("conv")
    x, w = (torch.tensor(t[k], dtype=torch.float64)[None, None] for k in ("x", "w"))
    for key, s in t["settings"].items():
        stride, padding, dilation = map(int, key.split(","))
        y = torch.nn.functional.conv2d(x, w, stride=stride, padding=padding, dilation=dilation)[0, 0]
        np.testing.assert_allclose(s["out"], y.numpy(), rtol=0, atol=1e-12, err_msg=key)


def settings_pool():
    ns = script("pool")
    return [(m, k, s) for m in ns["MODES"] for k, s in ns["WINDOWS"]]


@pytest.mark.parametrize("mode,kernel,stride", settings_pool())
def test_pool_trace_equals_the_pools_and_plain_loops(mode, kernel, stride):
    s = trace("pool")["settings"][f"{mode},{kernel},{stride}"]
    values, windows, (OH, OW), dx = expected_pool(mode, kernel, stride)
    X = np.asarray(script("pool")["X"])
    layer = (nnref.MaxPool2d if mode == "max" else nnref.AvgPool2d)(kernel, stride=stride)
    y = layer(nnref.backend.asarray(X[None, None]))
    np.testing.assert_array_equal(s["out"], nnref.asnumpy(y)[0, 0])
    dy = np.arange(1.0, OH * OW + 1).reshape(1, 1, OH, OW)
    np.testing.assert_array_equal(s["dy"], dy[0, 0])
    np.testing.assert_allclose(s["dx_after"][-1], nnref.asnumpy(layer.backward(nnref.backend.asarray(dy)))[0, 0],
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(s["dx_after"][-1], dx, rtol=0, atol=1e-12)
    for k, win in enumerate(windows):
        i, j = divmod(k, OW)
        assert s["out"][i][j] == pytest.approx(values[f"y[{i},{j}]"], abs=1e-12)
        assert [divmod(c, X.shape[1]) for c in s["windows"][k]] == win["cells"]
        for t, sent in enumerate(s["sent"][k]):
            assert sent == pytest.approx(values[f"sent[{k}][{t}]"], abs=1e-12)
        np.testing.assert_allclose(s["dx_after"][k], [[values[f"dx_after[{k}][{r},{c}]"] for c in range(X.shape[1])]
                                                      for r in range(X.shape[0])], rtol=0, atol=1e-12)
        if mode == "max":
            assert win["cells"][s["winner"][k]] == win["winner"]
            assert [win["cells"][t] for t in s["ties"][k]] == win["ties"]
        else:
            assert s["divisor"][k] == values[f"divisor[{k}]"]


def test_pool_shows_a_tie_and_it_goes_to_the_first_maximum():
    """The input was chosen to show the tie rule: some window's maximum appears more than once."""
    s = trace("pool")["settings"]["max,2,2"]
    assert any(s["ties"]), "no window of the default setting has a tie"


def test_pool_trace_equals_torch(torch):
    t = trace("pool")
    for key, s in t["settings"].items():
        mode, kernel, stride = key.split(",")
        x = torch.tensor(t["x"], dtype=torch.float64)[None, None].requires_grad_()
        pool = torch.nn.functional.max_pool2d if mode == "max" else torch.nn.functional.avg_pool2d
        y = pool(x, int(kernel), int(stride))
        y.backward(torch.tensor(s["dy"], dtype=torch.float64)[None, None])
        np.testing.assert_allclose(s["out"], y.detach()[0, 0].numpy(), rtol=0, atol=1e-12, err_msg=key)
        np.testing.assert_allclose(s["dx_after"][-1], x.grad[0, 0].numpy(), rtol=0, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_backprop_trace_equals_the_chain_rule_by_hand_and_the_modules(activation):
    s = trace("backprop")["settings"][activation]
    want = expected_backprop(activation)
    numbers = [p for st in s["steps"] for line in st["lines"] for p in line if isinstance(p, dict)]
    assert len(numbers) > 60
    for p in numbers:
        assert p["v"] == pytest.approx(want[p["q"]], rel=1e-12, abs=1e-15), p["q"]
    for st in s["steps"]:
        assert st["reveals"] and all(name in want for name in st["reveals"]), st["reveals"]
    # the same net as nnref Modules: its gradients are the figure's
    ns = script("backprop")
    act = {"tanh": nnref.Tanh, "sigmoid": nnref.Sigmoid, "relu": nnref.ReLU}[activation]()
    net = nnref.Sequential(nnref.Linear(2, 2, dtype=np.float64), act, nnref.Linear(2, 1, dtype=np.float64))
    net.load_state_dict({"0.weight": ns["W1"], "0.bias": ns["B1"], "2.weight": ns["W2"], "2.bias": ns["B2"]})
    loss_fn = nnref.MSELoss()
    x = nnref.backend.asarray(np.asarray(ns["X"])[None])
    assert loss_fn(net(x), nnref.backend.asarray(np.asarray(ns["Y"])[None])) == pytest.approx(s["values"]["L"])
    dx = nnref.asnumpy(net.backward(loss_fn.backward()))[0]
    np.testing.assert_allclose(s["values"]["dL/dx"], dx, rtol=1e-12)
    for name, p in net.named_parameters():
        key = {"0.weight": "dL/dW1", "0.bias": "dL/db1", "2.weight": "dL/dW2", "2.bias": "dL/db2"}[name]
        np.testing.assert_allclose(s["values"][key], nnref.asnumpy(p.grad), rtol=1e-12, err_msg=name)


def test_backprop_relu_stops_one_unit():
    """The input was chosen so that ReLU's zero derivative shows: one hidden unit gets no gradient."""
    assert expected_backprop("relu")["dL/dz1[1]"] == 0.0 and expected_backprop("relu")["dL/dz1[0]"] != 0.0


def test_backprop_trace_equals_torch_autograd(torch):
    ns = script("backprop")
    for activation, fn in [("tanh", torch.tanh), ("sigmoid", torch.sigmoid), ("relu", torch.relu)]:
        p = {k: torch.tensor(np.asarray(ns[k], dtype=float), requires_grad=True) for k in ("W1", "B1", "W2", "B2", "X")}
        z1 = p["W1"] @ p["X"] + p["B1"]
        loss = ((p["W2"] @ fn(z1) + p["B2"] - torch.tensor(np.asarray(ns["Y"], dtype=float))) ** 2).mean()
        loss.backward()
        v = trace("backprop")["settings"][activation]["values"]
        assert v["L"] == pytest.approx(loss.item(), rel=1e-12)
        for key, name in [("dL/dW1", "W1"), ("dL/db1", "B1"), ("dL/dW2", "W2"), ("dL/db2", "B2"), ("dL/dx", "X")]:
            np.testing.assert_allclose(v[key], p[name].grad.numpy(), rtol=1e-12, atol=1e-15, err_msg=activation + key)


def test_optimizer_paths_equal_the_update_rules_by_hand():
    t = trace("optimizers")
    want = expected_optimizers(t)
    for kind, run in t["runs"].items():
        assert run["default"] in run["rates"]
        for lr in run["rates"]:
            p = run["paths"][f"{lr:g}"]
            assert len(p["w"]) == t["steps"] + 1
            for k, ((w1, w2), f) in enumerate(zip(p["w"], p["f"])):
                for name, v in ((f"w1[{k}]", w1), (f"w2[{k}]", w2), (f"f[{k}]", f)):
                    assert v == pytest.approx(want[f"{kind}.{lr:g}.{name}"], rel=1e-9, abs=1e-12), (kind, lr, name)
            assert p["diverges"] == (p["f"][-1] > p["f"][0])
    # the figure shows both kinds of learning rate: each optimiser converges with one, SGD diverges with one
    assert any(p["diverges"] for p in t["runs"]["sgd"]["paths"].values())
    assert all(not run["paths"][f"{run['default']:g}"]["diverges"] for run in t["runs"].values())


def test_optimizer_contours_are_level_sets():
    t = trace("optimizers")
    for level, line in zip(t["levels"], t["contours"]):
        f = 0.5 * (np.asarray(t["curvature"]) * np.asarray(line) ** 2).sum(axis=1)
        np.testing.assert_allclose(f, level, rtol=2e-3)


def test_optimizer_paths_equal_torch_optim(torch):
    t = trace("optimizers")
    make = {"sgd": lambda ps, lr: torch.optim.SGD(ps, lr=lr),
            "momentum": lambda ps, lr: torch.optim.SGD(ps, lr=lr, momentum=0.9),
            "adam": lambda ps, lr: torch.optim.Adam(ps, lr=lr)}
    curv = torch.tensor(t["curvature"], dtype=torch.float64)
    for kind, run in t["runs"].items():
        for lr in run["rates"]:
            w = torch.tensor(t["start"], dtype=torch.float64, requires_grad=True)
            opt = make[kind]([w], lr)
            path = [w.detach().clone()]
            for _ in range(t["steps"]):
                opt.zero_grad()
                w.grad = curv * w.detach()
                opt.step()
                path.append(w.detach().clone())
            np.testing.assert_allclose(run["paths"][f"{lr:g}"]["w"], torch.stack(path).numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gate_trace_equals_the_equations_and_the_module(cell):
    t = trace(cell)
    want = expected_gates(t)
    H = t["hidden"]
    for n, seq in enumerate(t["sequences"]):
        for name, rows in seq["rows"].items():
            assert np.shape(rows) == (t["T"], H), name
            for k in range(t["T"]):
                for j in range(H):
                    assert rows[k][j] == pytest.approx(want[f"{n}.{name}[{k},{j}]"], rel=1e-9, abs=1e-12), (n, name, k, j)
        assert seq["pred"] == pytest.approx(want[f"{n}.pred"], rel=1e-9)
        assert [x[0] for x in seq["x"]] == [want[f"{n}.x[{k}]"] for k in range(t["T"])]
        # the Module with the trace's weights gives the same h_t
        layer = {"lstm": nnref.LSTM, "gru": nnref.GRU}[cell](2, H, dtype=np.float64)
        layer.load_state_dict({k: np.asarray(v) for k, v in t["weights"].items()})
        out, _ = layer(nnref.backend.asarray(np.asarray(seq["x"])[:, None]))
        np.testing.assert_allclose(seq["rows"]["h"], nnref.asnumpy(out)[:, 0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gate_cells_learned_to_remember_the_marked_number(cell):
    """The figure claims the cell keeps the marked number to the end: its readout is within 0.1."""
    for n, seq in enumerate(trace(cell)["sequences"]):
        assert abs(seq["pred"] - seq["target"]) < 0.1, (n, seq["pred"], seq["target"])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gate_trace_equals_torch(cell, torch):
    t = trace(cell)
    layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](2, t["hidden"]).double()
    layer.load_state_dict({k: torch.tensor(v, dtype=torch.float64) for k, v in t["weights"].items()})
    for seq in t["sequences"]:
        out, _ = layer(torch.tensor(seq["x"], dtype=torch.float64)[:, None])
        np.testing.assert_allclose(seq["rows"]["h"], out.detach()[:, 0].numpy(), rtol=1e-9, atol=1e-12)


def test_attention_trace_equals_the_module_and_numpy():
    t = trace("attention")
    nb = script("attention")["train"]()
    L = len(t["sentence"])
    W = np.asarray(t["weights"])
    assert W.shape == (nb["N_LAYERS"], nb["HEADS"], L, L)
    # exactly nnref's float32 weights: fresh MultiheadAttention modules on the same input
    np.testing.assert_array_equal(W.astype(np.float32), module_attention())
    # and the textbook formula in float64 from the same parameters, to float32's precision
    numpy_weights, blocked, _ = expected_attention()
    np.testing.assert_allclose(W, numpy_weights, rtol=0, atol=2e-6)
    assert np.array_equal(t["mask"], blocked)
    assert (W[..., blocked] == 0).all(), "a masked key got a weight"
    np.testing.assert_allclose(W.sum(axis=-1), 1, rtol=0, atol=1e-5)
    assert np.array_equal(t["strongest"], module_attention().argmax(axis=-1))


def test_attention_trace_is_the_notebooks_run():
    r"""The figure shows the notebook's model and sentence: same hyperparameters, same training."""
    t, nb = trace("attention"), script("attention")["train"]()
    values = expected_attention_values()
    for key in ("layers", "heads", "d_model", "head_dim", "steps", "loss_first", "loss_last"):
        assert t[key] == pytest.approx(values[key], rel=1e-12), key
    assert (t["layers"], t["heads"], t["d_model"], t["steps"]) == (nb["N_LAYERS"], nb["HEADS"], nb["D"], nb["STEPS"])
    assert "".join(t["sentence"]) == nb["sentence"] and nb["sentence"] in nb["text"]
    assert '"笔记原文"' not in nb["text"] and len(nb["text"]) > 1000
    for n, w in enumerate(nb["weights"]):                  # what the notebook's heatmaps draw
        np.testing.assert_array_equal(np.asarray(t["weights"][n], dtype=np.float32), nnref.asnumpy(w))
    # the figure says the model was trained: the cross-entropy fell well below uniform guessing
    assert t["loss_last"] < 0.5 * np.log(len(nb["chars"])) < t["loss_first"]


def test_attention_trace_equals_torch(torch):
    r"""The same weights in torch's TransformerEncoderLayer, layer by layer: a third witness."""
    t, nb = trace("attention"), script("attention")["train"]()
    tok, pos, layers, ids = trained_attention()
    L = len(ids)
    mask = torch.ones(L, L, dtype=torch.bool).triu(1)
    h = torch.tensor(tok[ids] + pos[:L])[None]
    for n, p in enumerate(layers):
        layer = torch.nn.TransformerEncoderLayer(nb["D"], nb["HEADS"], 4 * nb["D"], dropout=0.0, batch_first=True,
                                                 norm_first=True).eval()
        layer.load_state_dict({k: torch.tensor(v) for k, v in p.items()})
        with torch.no_grad():
            z = layer.norm1(h)
            _, w = layer.self_attn(z, z, z, attn_mask=mask, need_weights=True, average_attn_weights=False)
            np.testing.assert_allclose(t["weights"][n], w[0].numpy(), rtol=0, atol=2e-6, err_msg=f"layer {n}")
            h = layer(h, src_mask=mask)


def test_value_of_reads_what_the_figures_print():
    assert value_of("\u22120.311") == (-0.311, pytest.approx(5e-4))
    assert value_of("1.80e+1") == (18.0, pytest.approx(0.05))
    assert value_of("2") == (2.0, 0.5)
    assert mismatches([("a", "0.312")], {"a": 0.311}) and not mismatches([("a", "0.311")], {"a": 0.3114})


# ---------------------------------------------------------------------------------------------
# the hook
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("figure", sorted(PAGES))
def test_page_places_its_figure_with_one_line(figure):
    text = (ROOT / "docs" / PAGES[figure]).read_text(encoding="utf-8")
    assert text.count(f'<div class="nnref-interactive" data-figure="{figure}"></div>') == 1


def test_hook_inlines_the_trace_and_the_static_figure(tmp_path, monkeypatch):
    from hooks import interactive
    monkeypatch.setattr(interactive, "_traced", {"demo": ('{"alt":"演示","x":"</script><b>"}', "演示")})
    out = interactive.on_post_page('<p>a</p><div class="nnref-interactive" data-figure="demo"></div>',
                                   type("P", (), {"url": "cnn/conv/"})(), {})
    assert '<img src="../../interactive/demo.svg" alt="演示"' in out
    data = re.search(r'data-trace="([^"]*)"', out)
    assert data and json.loads(html.unescape(data.group(1))) == {"alt": "演示", "x": "</script><b>"}


def test_hook_fails_on_an_unknown_figure(monkeypatch):
    from mkdocs.exceptions import PluginError

    from hooks import interactive
    monkeypatch.setattr(interactive, "_traced", {})
    with pytest.raises(PluginError, match="nope"):
        interactive.on_post_page('<div class="nnref-interactive" data-figure="nope"></div>',
                                 type("P", (), {"url": "x/"})(), {})


def test_hook_key_changes_with_the_library_and_the_helpers(tmp_path, monkeypatch):
    from hooks import figures, interactive
    before = interactive.key_digest()
    monkeypatch.setattr(figures, "library_digest", lambda: b"another library")
    monkeypatch.setattr(interactive, "library_digest", lambda: b"another library")
    assert interactive.key_digest() != before
    helpers = tmp_path / "interactive"
    helpers.mkdir()
    (helpers / "_trace.py").write_text("x = 1")
    monkeypatch.setattr(interactive, "SCRIPTS", helpers)
    first = interactive.key_digest()
    (helpers / "_trace.py").write_text("x = 2")
    assert interactive.key_digest() != first


def test_every_script_writes_the_figures_listed_here_quietly_without_cjk_fonts(no_cjk, tmp_path):
    """As the build runs them (hooks/figures.render), on a machine whose matplotlib has no CJK font:
    nothing printed, and each script writes the JSON and SVG of exactly its figures in FIGURES."""
    out = _run(f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        from hooks import figures, interactive
        for script in sorted(interactive.SCRIPTS.glob("[!_]*.py")):
            folder = Path({str(tmp_path)!r}) / script.stem
            folder.mkdir()
            figures.render(script, folder)
    """, no_cjk, tmp_path)
    assert not NOISE.search(out), f"the trace scripts printed:\n{out[:3000]}"
    for ext in ("json", "svg"):
        written = {p.stem: p.parent.name for p in tmp_path.glob(f"*/*.{ext}")}   # figure -> its script
        assert written == FIGURES, f"{ext}: {written}"


def test_attention_trace_is_redone_with_the_notebook_it_runs(monkeypatch):
    # the attention figure runs the tiny GPT notebook: whatever re-runs the notebook (its code, nnref,
    # the notes quoted in the pages) re-traces the figure, and nothing else does
    from hooks import interactive, notebooks
    attention, pool = SCRIPTS / "attention.py", SCRIPTS / "pool.py"
    assert interactive.NOTEBOOKS["attention"] == ROOT / "docs" / "notebooks" / "tiny_gpt.py"
    assert interactive.NOTEBOOKS["attention"].is_file()
    before = interactive.data_digest(attention, b"code"), interactive.data_digest(pool, b"code")
    assert before[1] == b"code", "the pool figure runs no notebook"
    real = notebooks.cache_key
    monkeypatch.setattr(interactive, "cache_key", lambda nb: real(nb) + "-changed")
    assert interactive.data_digest(attention, b"code") != before[0]
    assert interactive.data_digest(pool, b"code") == before[1]
    monkeypatch.setattr(interactive, "cache_key", real)
    assert interactive.data_digest(attention, b"code") == before[0]
    assert interactive.data_digest(attention, b"other code") != before[0]
