r"""The plain RNN fast path: equals ``nnref.layers.rnn`` (the reference), arranged for speed."""
from __future__ import annotations

from typing import NamedTuple

from ..backend import get_array_module


class FastRNNCache(NamedTuple):
    """What ``rnn_backward_fast`` needs."""
    x: object           # (T, B, I)
    h0: object          # (B, H)
    W_ih: object        # (H, I)
    W_hh: object        # (H, H)
    out: object         # (T, B, H): h_t
    has_bias: bool
    nonlinearity: str


# --8<-- [start:rnn_activation]
def rnn_activation_(z, nonlinearity="tanh"):
    r"""The pointwise part of one step, in place: ``z`` (B, H) pre-activation becomes ``h_t``.

    $$
    h_t = \sigma(z_t),\qquad \sigma = \tanh \text{ or } \mathrm{ReLU}
    $$
    """
    xp = get_array_module(z)
    if nonlinearity == "tanh":
        return xp.tanh(z, out=z)
    return xp.maximum(z, 0, out=z)


def rnn_activation_backward_(dh, h, nonlinearity="tanh"):
    r"""In place: ``dh`` = ∂L/∂h_t (B, H) becomes ∂L/∂z_t, using the step's output ``h``.

    $$
    \frac{\partial L}{\partial z_t} = \frac{\partial L}{\partial h_t}\odot\sigma'(z_t),\qquad
    \tanh'(z_t) = 1 - h_t^2,\quad \mathrm{ReLU}'(z_t) = [h_t > 0]
    $$
    """
    if nonlinearity == "tanh":
        dh *= 1 - h * h
    else:
        dh *= h > 0
    return dh
# --8<-- [end:rnn_activation]


# --8<-- [start:rnn_forward_fast]
def rnn_forward_fast(x, h0, W_ih, W_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    r"""Equals ``nnref.layers.rnn.rnn_forward``; faster: one GEMM for the input's share of all
    steps, the activation in place, ``W_hh`` transposed once to C order for the per-step GEMM.

    Shapes: ``x`` (T, B, I), ``h0`` (B, H), ``W_ih`` (H, I), ``W_hh`` (H, H), ``b_ih``, ``b_hh``
    (H,) or None -> ``out`` (T, B, H) holding every $h_t$, ``h_n = out[-1]``, ``cache``.

    $$
    z_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh},\qquad h_t = \sigma(z_t)
    $$
    """
    xp = get_array_module(x)
    T, B, I = x.shape
    H = W_hh.shape[0]
    # the input's share of z_t does not depend on h: one GEMM for all T steps
    out = (x.reshape(T * B, I) @ W_ih.T).reshape(T, B, H)
    if b_ih is not None:
        out += b_ih + b_hh
    rec = xp.empty((B, H), dtype=out.dtype)
    W_hh_T = xp.ascontiguousarray(W_hh.T)  # the per-step GEMM is faster on C order
    h = h0
    for t in range(T):  # the recurrence itself is sequential: one small GEMM per step
        xp.matmul(h, W_hh_T, out=rec)
        out[t] += rec
        h = rnn_activation_(out[t], nonlinearity)
    return out, out[-1], FastRNNCache(x, h0, W_ih, W_hh, out, b_ih is not None, nonlinearity)
# --8<-- [end:rnn_forward_fast]


# --8<-- [start:rnn_backward_fast]
def rnn_backward_fast(d_out, d_hn, cache):
    r"""Equals ``nnref.layers.rnn.rnn_backward``: BPTT for ``rnn_forward_fast``, with the per-step
    gradients stacked so that each sum over time is one GEMM after the loop.

    ``d_out`` (T, B, H) is ∂L/∂h_t from each step's output, ``d_hn`` (B, H) or None the
    gradient of the final state. Returns ``(dx, dh0, dW_ih, dW_hh, db_ih, db_hh)``.

    $$
    \frac{\partial L}{\partial h_t} = \mathrm{d}out_t + \frac{\partial L}{\partial z_{t+1}} W_{hh},\qquad
    \frac{\partial L}{\partial z_t} = \frac{\partial L}{\partial h_t}\odot\sigma'(z_t)
    $$


    $$
    \frac{\partial L}{\partial W_{hh}} = \sum_{t=1}^{T} \Big(\frac{\partial L}{\partial z_t}\Big)^{\!\top} h_{t-1},\qquad
    \frac{\partial L}{\partial W_{ih}} = \sum_{t=1}^{T} \Big(\frac{\partial L}{\partial z_t}\Big)^{\!\top} x_t,\qquad
    \frac{\partial L}{\partial b} = \sum_{t=1}^{T} \frac{\partial L}{\partial z_t}
    $$
    """
    x, h0, W_ih, W_hh, out, has_bias, nonlinearity = cache
    xp = get_array_module(d_out)
    T, B, H = out.shape
    dz = xp.empty_like(out)
    dh_next = xp.zeros_like(h0) if d_hn is None else d_hn.astype(out.dtype, copy=True)
    for t in reversed(range(T)):
        xp.add(d_out[t], dh_next, out=dz[t])              # ∂L/∂h_t: from y_t and from h_{t+1}
        rnn_activation_backward_(dz[t], out[t], nonlinearity)     # -> ∂L/∂z_t
        xp.matmul(dz[t], W_hh, out=dh_next)                # -> ∂L/∂h_{t-1}
    # the per-step parameter gradients, summed over t: stacking the T steps makes each sum one GEMM
    dz2 = dz.reshape(T * B, H)
    dx = (dz2 @ W_ih).reshape(x.shape)
    dW_ih = dz2.T @ x.reshape(T * B, x.shape[2])
    dW_hh = dz[0].T @ h0 + dz2[B:].T @ out[:-1].reshape((T - 1) * B, H)   # h_{t-1}: h0, then out[0..T-2]
    db = dz2.sum(axis=0) if has_bias else None
    return dx, dh_next, dW_ih, dW_hh, db, db
# --8<-- [end:rnn_backward_fast]
