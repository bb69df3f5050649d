r"""The plain (Elman) recurrent layer: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

The reference code: one step as the formula reads, then BPTT over a sequence. The
:class:`RNN` module runs the equal but faster ``nnref.fast.rnn``.
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import get_array_module


# --8<-- [start:rnn_cell]
def rnn_cell_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    r"""One step. Returns ``h`` (B, H) and the cache.

    $$
    z_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh},\qquad h_t = \tanh(z_t)\ \text{or}\ \mathrm{ReLU}(z_t)
    $$
    """
    # x_t (B, I), h_prev (B, H); W_ih (H, I), W_hh (H, H); b_ih, b_hh (H,)
    xp = get_array_module(x_t)
    z = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh     # z_t, (B, H)
    h = xp.tanh(z) if nonlinearity == "tanh" else xp.maximum(z, 0)    # h_t = σ(z_t)
    return h, RNNCellCache(x_t, h_prev, h)


class RNNCellCache(NamedTuple):
    x: object           # (B, I)  x_t
    h_prev: object      # (B, H)  h_{t-1}
    h: object           # (B, H)  h_t, for the activation's derivative
# --8<-- [end:rnn_cell]


# --8<-- [start:rnn_cell_backward]
def rnn_cell_backward(dh, cache, W_ih, W_hh, nonlinearity="tanh"):
    r"""One step backwards: ``dh`` (B, H) $= \partial L/\partial h_t$. Returns
    ``dx, dh_prev, dW_ih, dW_hh, db`` (``db``: the gradient of either bias).

    $$
    \frac{\partial L}{\partial z_t} = \frac{\partial L}{\partial h_t}\odot\sigma'(z_t),\qquad
    \tanh'(z_t) = 1 - h_t^2,\quad \mathrm{ReLU}'(z_t) = [h_t > 0]
    $$
    """
    x, h_prev, h = cache
    dz = dh * (1 - h ** 2) if nonlinearity == "tanh" else dh * (h > 0)    # ∂L/∂z_t
    # dx_t, ∂L/∂h_{t-1}, and this step's share of dW_ih, dW_hh and the biases' gradient
    return dz @ W_ih, dz @ W_hh, dz.T @ x, dz.T @ h_prev, dz.sum(axis=0)
# --8<-- [end:rnn_cell_backward]


# --8<-- [start:rnn_forward]
def rnn_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    r"""One direction of one layer over a sequence: ``x`` (T, B, I), ``h0`` (B, H); biases (H,) or
    None (``bias=False``). Returns ``out`` (T, B, H) holding every $h_t$, ``h_n``, cache.

    $$
    z_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh},\qquad h_t = \sigma(z_t)
    $$
    """
    xp = get_array_module(x)
    biases = (0, 0) if b_ih is None else (b_ih, b_hh)
    h, outs, steps = h0, [], []
    for x_t in x:                                      # sequential: h_t needs h_{t-1}
        h, step = rnn_cell_forward(x_t, h, W_ih, W_hh, *biases, nonlinearity)
        outs.append(h)
        steps.append(step)
    cache = RNNCache(steps, W_ih, W_hh, b_ih is not None, nonlinearity)
    return xp.stack(outs), h, cache


class RNNCache(NamedTuple):
    steps: list         # one RNNCellCache per step
    W_ih: object
    W_hh: object
    has_bias: bool
    nonlinearity: str
# --8<-- [end:rnn_forward]


# --8<-- [start:rnn_backward]
def rnn_backward(d_out, d_hn, cache):
    r"""BPTT for ``rnn_forward``: walk the steps from $t=T$ back to 1, summing the per-step
    parameter gradients. ``d_out`` (T, B, H) is ∂L/∂h_t from each step's output, ``d_hn`` (B, H)
    or None the gradient of the final state. Returns ``(dx, dh0, dW_ih, dW_hh, db_ih, db_hh)``.

    $$
    \frac{\partial L}{\partial h_t} = \mathrm{d}out_t + \frac{\partial L}{\partial z_{t+1}} W_{hh},\qquad
    \frac{\partial L}{\partial W_{hh}} = \sum_{t=1}^{T} \Big(\frac{\partial L}{\partial z_t}\Big)^{\!\top} h_{t-1}
    $$
    """
    xp = get_array_module(d_out)
    steps, W_ih, W_hh, has_bias, nonlinearity = cache
    dh_next = xp.zeros_like(d_out[0]) if d_hn is None else d_hn
    dW_ih, dW_hh, db = xp.zeros_like(W_ih), xp.zeros_like(W_hh), xp.zeros(W_ih.shape[0], d_out.dtype)
    dx = xp.empty(d_out.shape[:2] + W_ih.shape[1:], dtype=d_out.dtype)
    for t in reversed(range(len(steps))):
        dh = d_out[t] + dh_next                        # h_t feeds the output and the next step
        dx[t], dh_next, dW_ih_t, dW_hh_t, db_t = rnn_cell_backward(dh, steps[t], W_ih, W_hh, nonlinearity)
        dW_ih += dW_ih_t
        dW_hh += dW_hh_t
        db += db_t
    db = db if has_bias else None                      # b_ih and b_hh get the same gradient
    return dx, dh_next, dW_ih, dW_hh, db, db
# --8<-- [end:rnn_backward]
