"""Long short-term memory: gates i, f, g, o and the cell state ``c``, in PyTorch's layout."""
from __future__ import annotations

import functools

import numpy as np

from ..backend import get_array_module, is_cupy_array
from . import fused_cells
from .recurrent import RecurrentBase


@functools.lru_cache(maxsize=None)  # built once per (backend, H, dtype)
def _gate_constants(xp, H, dtype):
    s = xp.full(4 * H, 0.5, dtype=dtype)
    s[2 * H:3 * H] = 1
    shift = xp.full(4 * H, 0.5, dtype=dtype)
    shift[2 * H:3 * H] = 0
    return s, shift, s * s


# --8<-- [start:lstm_cell]
def gate_constants(xp, H, dtype):
    """Per column of [i f g o]: ``(s, shift, s**2)`` with $s = \\tfrac12$, shift $= \\tfrac12$ for the
    sigmoid gates i, f, o and $s = 1$, shift $= 0$ for g, so that every gate is
    $s \\tanh(s z) + \\text{shift}$ and its derivative $s^2 - (a - \\text{shift})^2$."""
    return _gate_constants(xp, H, np.dtype(dtype))


def lstm_cell_forward(a, c_prev, c, tc, h):
    """The pointwise part of one LSTM step.

    ``a`` (B, 4H) holds the pre-activations $[z_i, z_f, z_g, z_o]$ and is replaced in place by
    the gates; ``c``, ``tc``, ``h`` (B, H) receive $c_t$, $\\tanh c_t$ and $h_t$.

    $$
    i = \\sigma(z_i),\\ f = \\sigma(z_f),\\ g = \\tanh(z_g),\\ o = \\sigma(z_o)
    $$


    $$
    c_t = f \\odot c_{t-1} + i \\odot g,\\qquad h_t = o \\odot \\tanh(c_t)
    $$

    Since $\\sigma(z) = \\tfrac12\\tanh(\\tfrac12 z) + \\tfrac12$, all four gates are one
    $s \\tanh(s z) + \\text{shift}$ over the whole contiguous row (see ``gate_constants``).
    """
    if is_cupy_array(a):  # one fused kernel instead of ~15 launches (fused_cells.py)
        return fused_cells.lstm_cell_forward(a, c_prev, c, tc, h)
    xp = get_array_module(a)
    H = c.shape[-1]
    s, shift, _ = gate_constants(xp, H, a.dtype)
    a *= s
    xp.tanh(a, out=a)
    a *= s
    a += shift
    i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
    xp.multiply(f, c_prev, out=c)
    xp.multiply(i, g, out=h)               # h as scratch for i*g
    c += h
    xp.tanh(c, out=tc)
    xp.multiply(o, tc, out=h)


def lstm_cell_backward(dh, dc, a, c_prev, tc, da):
    """The pointwise part of one LSTM step backwards.

    ``dh`` (B, H) is $\\partial L/\\partial h_t$; ``dc`` (B, H) comes in as the gradient of $c_t$
    through $c_{t+1}$ and leaves, in place, as $\\partial L/\\partial c_{t-1}$; ``da`` (B, 4H)
    receives the gradients of the pre-activations. ``a``, ``c_prev``, ``tc``: the forward's
    gates, $c_{t-1}$ and $\\tanh c_t$.

    $$
    \\frac{\\partial L}{\\partial c_t} = \\mathrm{d}c + \\mathrm{d}h \\odot o \\odot (1 - \\tanh^2 c_t)
    $$


    $$
    \\mathrm{d}i = \\frac{\\partial L}{\\partial c_t} \\odot g,\\quad
    \\mathrm{d}f = \\frac{\\partial L}{\\partial c_t} \\odot c_{t-1},\\quad
    \\mathrm{d}g = \\frac{\\partial L}{\\partial c_t} \\odot i,\\quad
    \\mathrm{d}o = \\mathrm{d}h \\odot \\tanh c_t,\\quad
    \\frac{\\partial L}{\\partial c_{t-1}} = \\frac{\\partial L}{\\partial c_t} \\odot f
    $$

    then through the activations: $\\sigma' = \\sigma(1-\\sigma) = \\tfrac14 - (\\sigma - \\tfrac12)^2$ for
    i, f, o and $\\tanh' = 1 - g^2$ for g, i.e. $s^2 - (a - \\text{shift})^2$ for every gate.
    """
    if is_cupy_array(a):  # one fused kernel instead of ~15 launches (fused_cells.py)
        return fused_cells.lstm_cell_backward(dh, dc, a, c_prev, tc, da)
    xp = get_array_module(a)
    H = dc.shape[-1]
    i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
    di, df, dg, do = da[:, :H], da[:, H:2 * H], da[:, 2 * H:3 * H], da[:, 3 * H:]
    through_h = tc * tc                    # dh * o * (1 - tanh^2 c): the path through h_t
    xp.subtract(1, through_h, out=through_h)
    through_h *= o
    through_h *= dh
    dc += through_h                        # dc is now ∂L/∂c_t
    xp.multiply(dh, tc, out=do)
    xp.multiply(dc, g, out=di)
    xp.multiply(dc, c_prev, out=df)
    xp.multiply(dc, i, out=dg)
    dc *= f                                # ∂L/∂c_{t-1}: the gradient passes the cell scaled only by f
    s, shift, s2 = gate_constants(xp, H, a.dtype)
    slope = a - shift                      # the activations' derivative s² - (a - shift)²
    slope *= slope
    xp.subtract(s2, slope, out=slope)
    da *= slope
    return dc
# --8<-- [end:lstm_cell]


# --8<-- [start:lstm_forward]
def lstm_forward(x, state, W_ih, W_hh, b_ih=None, b_hh=None):
    """One direction of one LSTM layer over a whole sequence.

    Shapes: ``x`` (T, B, I), ``state = (h0, c0)`` each (B, H), ``W_ih`` (4H, I), ``W_hh``
    (4H, H), biases (4H,) or None; rows in the gate order i, f, g, o.
    Returns ``out`` (T, B, H), ``(h_n, c_n)``, ``cache``.

    $$
    [z_i, z_f, z_g, z_o] = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}
    $$
    """
    xp = get_array_module(x)
    h0, c0 = state
    T, B, I = x.shape
    H = W_hh.shape[1]
    # pre-activations, the input's share for all steps at once; step t replaces A[t] by its gates
    A = (x.reshape(T * B, I) @ W_ih.T).reshape(T, B, 4 * H)
    if b_ih is not None:
        A += b_ih + b_hh
    out = xp.empty((T, B, H), dtype=A.dtype)
    C = xp.empty_like(out)                                     # c_t
    TC = xp.empty_like(out)                                    # tanh(c_t), reused by backward
    rec = xp.empty((B, 4 * H), dtype=A.dtype)
    W_hh_T = xp.ascontiguousarray(W_hh.T)                      # the per-step GEMM is faster on C order
    h, c = h0, c0
    for t in range(T):
        xp.matmul(h, W_hh_T, out=rec)
        A[t] += rec
        lstm_cell_forward(A[t], c, C[t], TC[t], out[t])
        h, c = out[t], C[t]
    return out, (out[-1], C[-1]), (x, h0, c0, W_ih, W_hh, A, C, TC, out, b_ih is not None)
# --8<-- [end:lstm_forward]


# --8<-- [start:lstm_backward]
def lstm_backward(d_out, d_state, cache):
    """BPTT for ``lstm_forward``. ``d_out`` (T, B, H); ``d_state = (d_h_n, d_c_n)``, either None.

    Returns ``(dx, (dh0, dc0), dW_ih, dW_hh, db_ih, db_hh)``; the weight gradients are the sums
    over the steps, $\\partial L/\\partial W_{hh} = \\sum_t \\mathrm{d}a_t^\\top h_{t-1}$ and so on.
    """
    x, h0, c0, W_ih, W_hh, A, C, TC, out, has_bias = cache
    xp = get_array_module(d_out)
    T, B, H = out.shape
    d_hn, d_cn = d_state
    dA = xp.empty_like(A)
    dh_next = xp.zeros_like(h0) if d_hn is None else d_hn.astype(A.dtype, copy=True)
    dc = xp.zeros_like(c0) if d_cn is None else d_cn.astype(A.dtype, copy=True)
    dh = xp.empty_like(h0)
    for t in reversed(range(T)):
        xp.add(d_out[t], dh_next, out=dh)                          # ∂L/∂h_t
        lstm_cell_backward(dh, dc, A[t], C[t - 1] if t else c0, TC[t], dA[t])
        xp.matmul(dA[t], W_hh, out=dh_next)                        # ∂L/∂h_{t-1}
    dA2 = dA.reshape(T * B, 4 * H)
    dx = (dA2 @ W_ih).reshape(x.shape)
    dW_ih = dA2.T @ x.reshape(T * B, -1)
    dW_hh = (h0.T @ dA[0] + out[:-1].reshape(-1, H).T @ dA2[B:]).T  # (h^T dA)^T: faster in BLAS
    db = xp.ones(T * B, dtype=dA.dtype) @ dA2 if has_bias else None    # column sums, as a BLAS product
    return dx, (dh_next, dc), dW_ih, dW_hh, db, db
# --8<-- [end:lstm_backward]


class LSTM(RecurrentBase):
    """``torch.nn.LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    bidirectional=False)``.

    ``out, (h_n, c_n) = lstm(x, (h0, c0))``; ``dx = lstm.backward(d_out, (d_h_n, d_c_n))``, after
    which ``lstm.dh0`` and ``lstm.dc0`` hold the gradients of ``h0`` and ``c0``.
    """

    gates = 4
    n_states = 2
    state_names = ("h0", "c0")

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, bidirectional: bool = False, dtype=np.float32):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, bidirectional, dtype)
        self.dc0 = None

    def _run(self, x, state, weights):
        return lstm_forward(x, state, *weights)

    def _run_backward(self, d_out, d_state, cache):
        dx, d0, *dw = lstm_backward(d_out, d_state, cache)
        return dx, d0, dw
