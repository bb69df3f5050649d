r"""Long short-term memory: gates i, f, g, o and the cell state ``c``, in PyTorch's layout.

The reference code: one LSTM step as the formulas read (``lstm_step``, ``lstm_step_backward``),
the projection of LSTMP (``proj_size``) around it (``lstm_cell_forward``, ``lstm_cell_backward``),
then BPTT over a sequence. The :class:`LSTM` module runs the equal but faster ``nnref.fast.lstm``
when there is no projection.
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import get_array_module
from .activation import sigmoid


# --8<-- [start:lstm_step]
def lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    r"""One LSTM step. Returns ``h`` (B, H), ``c`` (B, H) and the cache.

    $$
    \begin{aligned}
    i &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
    f &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
    g &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
    o &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
    c_t &= f \odot c_{t-1} + i \odot g \\
    h_t &= o \odot \tanh(c_t)
    \end{aligned}
    $$
    """
    # x_t (B, I), h_prev and c_prev (B, H); W_ih (4H, I), W_hh (4H, H); b_ih, b_hh (4H,):
    # the rows of the four gates stacked in PyTorch's order i, f, g, o
    xp = get_array_module(x_t)
    z = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh     # (B, 4H): pre-activations
    z_i, z_f, z_g, z_o = xp.split(z, 4, axis=1)
    i = sigmoid(z_i)                                     # input gate
    f = sigmoid(z_f)                                     # forget gate
    g = xp.tanh(z_g)                                     # candidate
    o = sigmoid(z_o)                                     # output gate
    c = f * c_prev + i * g                               # c_t = f ⊙ c_{t-1} + i ⊙ g
    tanh_c = xp.tanh(c)
    h = o * tanh_c                                       # h_t = o ⊙ tanh(c_t)
    return h, c, LSTMCellCache(x_t, h_prev, c_prev, i, f, g, o, tanh_c)


class LSTMCellCache(NamedTuple):
    x: object           # (B, I)  x_t
    h_prev: object      # (B, ·)  h_{t-1}
    c_prev: object      # (B, H)  c_{t-1}
    i: object           # (B, H)  input gate
    f: object           # (B, H)  forget gate
    g: object           # (B, H)  candidate
    o: object           # (B, H)  output gate
    tanh_c: object      # (B, H)  tanh(c_t)
# --8<-- [end:lstm_step]


# --8<-- [start:lstm_step_backward]
def lstm_step_backward(dh, dc, cache, W_ih, W_hh):
    r"""One step backwards. ``dh`` (B, H) $= \partial L/\partial h_t$, ``dc`` (B, H) the gradient
    reaching $c_t$ from step $t+1$. Returns ``dx, dh_prev, dc_prev, dW_ih, dW_hh, db`` (``db`` is
    the gradient of either bias).

    $$
    \begin{aligned}
    \mathrm{d}c_t &= \mathrm{d}c + \mathrm{d}h \odot o \odot (1 - \tanh^2 c_t) \\
    \mathrm{d}z_i &= \mathrm{d}c_t \odot g \odot i(1-i) \\
    \mathrm{d}z_f &= \mathrm{d}c_t \odot c_{t-1} \odot f(1-f) \\
    \mathrm{d}z_g &= \mathrm{d}c_t \odot i \odot (1-g^2) \\
    \mathrm{d}z_o &= \mathrm{d}h \odot \tanh c_t \odot o(1-o) \\
    \mathrm{d}c_{t-1} &= \mathrm{d}c_t \odot f
    \end{aligned}
    $$
    """
    xp = get_array_module(dh)
    x, h_prev, c_prev, i, f, g, o, tanh_c = cache
    dc_t = dc + dh * o * (1 - tanh_c ** 2)               # c_t feeds c_{t+1} and h_t
    dz_i = dc_t * g * i * (1 - i)                        # through the activations
    dz_f = dc_t * c_prev * f * (1 - f)
    dz_g = dc_t * i * (1 - g ** 2)
    dz_o = dh * tanh_c * o * (1 - o)
    dz = xp.concatenate([dz_i, dz_f, dz_g, dz_o], axis=1)   # (B, 4H), PyTorch's order
    dc_prev = dc_t * f                                   # dL/dc_{t-1} through c_t
    dx = dz @ W_ih
    dh_prev = dz @ W_hh
    return dx, dh_prev, dc_prev, dz.T @ x, dz.T @ h_prev, dz.sum(axis=0)
# --8<-- [end:lstm_step_backward]


# --8<-- [start:lstmp]
def lstm_cell_forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih=None, b_hh=None, W_hr=None):
    r"""One step of LSTMP (``proj_size``): :func:`lstm_step`, then $h_t = W_{hr}(o \odot \tanh c_t)$.

    ``h_prev`` (B, P), ``W_hh`` (4H, P), ``W_hr`` (P, H); without ``W_hr`` (None) this is
    :func:`lstm_step` itself, P = H. Biases None: ``bias=False``. Returns ``h`` (B, P), ``c``, cache.
    """
    biases = (0, 0) if b_ih is None else (b_ih, b_hh)
    m, c, cache = lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, *biases)  # m = o ⊙ tanh c_t
    h = m if W_hr is None else m @ W_hr.T                    # (B, P): h_t = W_hr m
    return h, c, cache


def lstm_cell_backward(dh, dc, cache, W_ih, W_hh, W_hr=None):
    r"""Backwards through :func:`lstm_cell_forward`: $\mathrm{d}m = \mathrm{d}h\,W_{hr}$, then
    :func:`lstm_step_backward`. Returns ``dx, dh_prev, dc_prev, dW_ih, dW_hh, db, dW_hr``
    (``dW_hr`` None without a projection)."""
    if W_hr is None:
        return (*lstm_step_backward(dh, dc, cache, W_ih, W_hh), None)
    m = cache.o * cache.tanh_c                           # what W_hr projected
    return (*lstm_step_backward(dh @ W_hr, dc, cache, W_ih, W_hh), dh.T @ m)
# --8<-- [end:lstmp]


# --8<-- [start:lstm_forward]
def lstm_forward(x, state, W_ih, W_hh, b_ih=None, b_hh=None, W_hr=None):
    r"""One direction of one LSTM layer over a sequence: ``x`` (T, B, I), ``state = (h0, c0)``,
    (B, P) and (B, H). Returns ``out`` (T, B, P) holding every $h_t$, ``(h_n, c_n)``, cache."""
    xp = get_array_module(x)
    h, c = state
    outs, steps = [], []
    for x_t in x:                                      # the recurrence: one step after the other
        h, c, step = lstm_cell_forward(x_t, h, c, W_ih, W_hh, b_ih, b_hh, W_hr)
        outs.append(h)
        steps.append(step)
    return xp.stack(outs), (h, c), LSTMCache(steps, W_ih, W_hh, W_hr, b_ih is not None)


class LSTMCache(NamedTuple):
    steps: list         # one LSTMCellCache per step
    W_ih: object
    W_hh: object
    W_hr: object
    has_bias: bool
# --8<-- [end:lstm_forward]


# --8<-- [start:lstm_backward]
def lstm_backward(d_out, d_state, cache):
    r"""BPTT for ``lstm_forward``: ``d_out`` (T, B, P); ``d_state = (d_h_n, d_c_n)``, each may be
    None. Walks from $t = T$ back to 1; the parameter gradients are sums over the steps.
    Returns ``dx, (dh0, dc0), dW_ih, dW_hh, db_ih, db_hh, dW_hr``."""
    xp = get_array_module(d_out)
    steps, W_ih, W_hh, W_hr, has_bias = cache
    d_hn, d_cn = d_state
    dh_next = xp.zeros_like(d_out[0]) if d_hn is None else d_hn      # ∂L/∂h_t through step t+1
    dc = xp.zeros_like(steps[0].c_prev) if d_cn is None else d_cn
    dW_ih, dW_hh, db = xp.zeros_like(W_ih), xp.zeros_like(W_hh), xp.zeros(W_ih.shape[0], d_out.dtype)
    dW_hr = None if W_hr is None else xp.zeros_like(W_hr)
    dx = xp.empty(d_out.shape[:2] + W_ih.shape[1:], dtype=d_out.dtype)
    for t in reversed(range(len(steps))):
        dh = d_out[t] + dh_next                        # h_t feeds the output and the next step
        dx[t], dh_next, dc, dW_ih_t, dW_hh_t, db_t, dW_hr_t = lstm_cell_backward(
            dh, dc, steps[t], W_ih, W_hh, W_hr)
        dW_ih += dW_ih_t
        dW_hh += dW_hh_t
        db += db_t
        if W_hr is not None:
            dW_hr += dW_hr_t
    db = db if has_bias else None                      # b_ih and b_hh get the same gradient
    return dx, (dh_next, dc), dW_ih, dW_hh, db, db, dW_hr
# --8<-- [end:lstm_backward]


# --8<-- [start:bilstm_forward]
def bilstm_forward(x, state_fwd, state_bwd, weights_fwd, weights_bwd):
    r"""One bidirectional LSTM layer: a forward LSTM on ``x`` and a second one, with its own
    weights, on ``x`` reversed in time; their outputs are concatenated step by step.

    $$
    y_t = \big[\overrightarrow{h}_t\,;\ \overleftarrow{h}_t\big],\qquad
    \overrightarrow{h}_t = \mathrm{LSTM}_{\rightarrow}(x_t, \overrightarrow{h}_{t-1}),\quad
    \overleftarrow{h}_t = \mathrm{LSTM}_{\leftarrow}(x_t, \overleftarrow{h}_{t+1})
    $$

    Returns ``y`` (T, B, 2H), the final states ``(final_fwd, final_bwd)`` and the caches.
    """
    # x (T, B, I); state_fwd, state_bwd: (h0, c0), each (B, H);
    # weights_fwd, weights_bwd: (W_ih, W_hh, b_ih, b_hh), one direction's each
    xp = get_array_module(x)
    out_fwd, final_fwd, cache_fwd = lstm_forward(x, state_fwd, *weights_fwd)        # x_1 .. x_T
    out_bwd, final_bwd, cache_bwd = lstm_forward(x[::-1], state_bwd, *weights_bwd)  # x_T .. x_1
    y = xp.concatenate([out_fwd, out_bwd[::-1]], axis=2)    # y_t = [→h_t ; ←h_t], (T, B, 2H)
    return y, (final_fwd, final_bwd), (cache_fwd, cache_bwd)
# --8<-- [end:bilstm_forward]


# --8<-- [start:bilstm_backward]
def bilstm_backward(dy, d_finals, caches):
    r"""BPTT for :func:`bilstm_forward`: each direction gets its half of ``dy`` (T, B, 2H) and runs
    its own BPTT; both read ``x``, so ``dx`` (T, B, I) is the sum of the two. ``d_finals``: the
    gradients of the final states, ``((d_h_n, d_c_n), (d_h_n, d_c_n))``, None where there are none.
    Returns ``dx``, the initial states' gradients and each direction's parameter gradients
    ``(dW_ih, dW_hh, db_ih, db_hh)``."""
    H = dy.shape[2] // 2
    (d_final_fwd, d_final_bwd), (cache_fwd, cache_bwd) = d_finals, caches
    dx_fwd, d0_fwd, *grads_fwd = lstm_backward(dy[:, :, :H], d_final_fwd, cache_fwd)
    dx_bwd, d0_bwd, *grads_bwd = lstm_backward(dy[::-1, :, H:], d_final_bwd, cache_bwd)
    dx = dx_fwd + dx_bwd[::-1]                     # both directions read x_t
    return dx, (d0_fwd, d0_bwd), (grads_fwd[:4], grads_bwd[:4])
# --8<-- [end:bilstm_backward]
