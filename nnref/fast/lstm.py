r"""The LSTM fast path: equals ``nnref.layers.lstm`` (the reference), arranged for speed.

Why it is faster (each trick is a few percent to 2x on a CPU, more on a GPU):

- gate-major, transposed layout: the rows of the stacked weights are reordered to
  [i, f, o, g] (``gate_blocks``), every per-step array is (features, B), so ``W_hh @ h`` splits
  into four contiguous (H, B) gate blocks and every elementwise operand is contiguous;
- the three sigmoid gates' rows are halved (``gate_scale``): then
  $\sigma(z) = \tfrac12\tanh(\tfrac z2) + \tfrac12$ is one ``tanh`` over all four blocks and one
  ``*= 0.5; += 0.5`` over the three sigmoid blocks;
- the bias rides along as a column of ones in ``xh_rows`` (no separate bias add);
- backward does ONE product per step, $[W_{ih}\ W_{hh}]^\top \mathrm{d}z_t$, and the three
  weight gradients are one product after the loop, ``dz_rows @ xh_rows``;
- on CuPy the pointwise part of a step is one fused kernel (``fused_cells.py``).
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import get_array_module, is_cupy_array
from . import fused_cells


class FastLSTMCache(NamedTuple):
    """What ``lstm_backward_fast`` needs; every per-step array is transposed, (H, B)."""
    xh_rows: object     # ((T+1)*B, I+1+H): rows [x_t, 1, h_{t-1}]; rows of step T hold h_T
    c0: object          # (B, H)
    W_ih: object        # (4H, I), PyTorch's order
    W_hh: object        # (4H, H)
    gates: object       # (T, 4, H, B): [i, f, o, g]
    c: object           # (T, H, B): c_t
    tanh_c: object      # (T, H, B): tanh(c_t)
    has_bias: bool


# --8<-- [start:gate_blocks]
# PyTorch stacks the gates' rows as [i, f, g, o]; nnref computes them as four contiguous blocks in
# the order [i, f, o, g], so that the three sigmoid gates sit side by side. ORDER[k] is the PyTorch
# block of internal block k (the permutation is its own inverse).
ORDER = [0, 1, 3, 2]


def gate_blocks(W):
    r"""PyTorch's stacked rows (4H, ...) -> (4, H, ...) in the internal order [i, f, o, g]."""
    return W.reshape(4, -1, *W.shape[1:])[ORDER]


def torch_rows(blocks):
    r"""The inverse of :func:`gate_blocks`: (4, H, ...) -> (4H, ...) in PyTorch's order [i, f, g, o]."""
    return blocks[ORDER].reshape(-1, *blocks.shape[2:])


def gate_scale(xp, dtype):
    r"""(4, 1, 1): $\tfrac12$ for the sigmoid gates i, f, o, 1 for g. Multiplying their weight rows by it
    gives $z/2$ straight from the matrix product, and $\sigma(z) = \tfrac12\tanh(\tfrac z2) + \tfrac12$."""
    return xp.asarray([0.5, 0.5, 0.5, 1.0], dtype=dtype).reshape(4, 1, 1)
# --8<-- [end:gate_blocks]


# --8<-- [start:lstm_gates]
def lstm_gates_forward(z, c_prev, c, tc, h):
    r"""The pointwise part of ``nnref.layers.lstm.lstm_cell_forward``, in place, gate-major.

    ``z`` (4, H, B) holds $[z_i/2,\ z_f/2,\ z_o/2,\ z_g]$ (the sigmoid gates' pre-activations
    come halved, see ``gate_scale``) and is replaced in place by the gates $[i, f, o, g]$;
    ``c``, ``tc``, ``h`` (H, B) receive $c_t$, $\tanh c_t$ and $h_t$. (Any block shape works, as
    long as all agree; ``lstm_forward_fast`` keeps every per-step array transposed, (H, B).)

    $$
    i = \sigma(z_i),\ f = \sigma(z_f),\ o = \sigma(z_o),\ g = \tanh(z_g)
    $$


    $$
    c_t = f \odot c_{t-1} + i \odot g,\qquad h_t = o \odot \tanh(c_t)
    $$

    With $\sigma(z) = \tfrac12\tanh(\tfrac z2) + \tfrac12$, one ``tanh`` covers all four blocks and
    one ``*= 0.5; += 0.5`` the three sigmoid blocks ``z[:3]``; every operand is contiguous.
    """
    if is_cupy_array(z):  # one fused kernel instead of ~10 launches (fused_cells.py)
        return fused_cells.lstm_gates_forward(z, c_prev, c, tc, h)
    xp = get_array_module(z)
    xp.tanh(z, out=z)
    sig = z[:3]
    sig *= 0.5
    sig += 0.5
    i, f, o, g = z[0], z[1], z[2], z[3]
    xp.multiply(f, c_prev, out=c)
    xp.multiply(i, g, out=h)               # h as scratch for i*g
    c += h
    xp.tanh(c, out=tc)
    xp.multiply(o, tc, out=h)


def lstm_gates_backward(dh, dc, gates, c_prev, tc, dz, work=None):
    r"""The pointwise part of ``nnref.layers.lstm.lstm_cell_backward``, in place, gate-major.

    ``dh`` (H, B) is $\partial L/\partial h_t$; ``dc`` (H, B) comes in as the gradient of $c_t$
    through $c_{t+1}$ and leaves, in place, as $\partial L/\partial c_{t-1}$; ``dz`` (4, H, B)
    receives the gradients of the pre-activations $[z_i, z_f, z_o, z_g]$ (not halved), and
    may be a strided view; ``gates`` (4, H, B), ``c_prev``, ``tc``: the forward's
    $[i, f, o, g]$, $c_{t-1}$ and $\tanh c_t$; ``work`` (2, 4, H, B): scratch (None: allocated).
    Any block shape works, as long as all agree; ``lstm_backward_fast`` uses (H, B).

    $$
    \frac{\partial L}{\partial c_t} = \mathrm{d}c + \mathrm{d}h \odot o \odot (1 - \tanh^2 c_t)
    $$


    $$
    \mathrm{d}i = \frac{\partial L}{\partial c_t} \odot g,\quad
    \mathrm{d}f = \frac{\partial L}{\partial c_t} \odot c_{t-1},\quad
    \mathrm{d}o = \mathrm{d}h \odot \tanh c_t,\quad
    \mathrm{d}g = \frac{\partial L}{\partial c_t} \odot i,\quad
    \frac{\partial L}{\partial c_{t-1}} = \frac{\partial L}{\partial c_t} \odot f
    $$

    then through the activations, $\sigma' = \sigma(1 - \sigma)$ for the three sigmoid blocks at
    once and $\tanh' = 1 - g^2$.
    """
    if is_cupy_array(gates):  # one fused kernel instead of ~15 launches (fused_cells.py)
        return fused_cells.lstm_gates_backward(dh, dc, gates, c_prev, tc, dz)
    xp = get_array_module(gates)
    i, f, o, g = gates[0], gates[1], gates[2], gates[3]
    grad, slope = xp.empty((2, *gates.shape), dtype=gates.dtype) if work is None else work
    through_h = tc * tc                    # dh * o * (1 - tanh^2 c): the path through h_t
    xp.subtract(1, through_h, out=through_h)
    through_h *= o
    through_h *= dh
    dc += through_h                        # dc is now ∂L/∂c_t
    xp.multiply(dc, g, out=grad[0])        # gradients of the gates [i, f, o, g]
    xp.multiply(dc, c_prev, out=grad[1])
    xp.multiply(dh, tc, out=grad[2])
    xp.multiply(dc, i, out=grad[3])
    dc *= f                                # ∂L/∂c_{t-1}: the gradient passes the cell scaled only by f
    xp.subtract(1, gates[:3], out=slope[:3])
    slope[:3] *= gates[:3]                 # σ(1 - σ) for i, f, o at once
    xp.multiply(g, g, out=slope[3])
    xp.subtract(1, slope[3], out=slope[3])   # tanh' = 1 - g²
    xp.multiply(grad, slope, out=dz)       # through the activations
    return dc
# --8<-- [end:lstm_gates]


# --8<-- [start:lstm_forward_fast]
def lstm_forward_fast(x, state, W_ih, W_hh, b_ih=None, b_hh=None):
    r"""Equals ``nnref.layers.lstm.lstm_forward`` (without ``W_hr``); faster by layout and fewer GEMMs.

    Shapes: ``x`` (T, B, I), ``state = (h0, c0)`` each (B, H), ``W_ih`` (4H, I), ``W_hh``
    (4H, H), biases (4H,) or None; rows in PyTorch's gate order i, f, g, o.
    Returns ``out`` (T, B, H), ``(h_n, c_n)``, ``cache``.

    $$
    z_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}
    $$

    Inside the loop every array is transposed, (features, B): ``W_hh @ h`` is then one product
    whose (4H, B) result, with the rows in the order [i, f, o, g] (``gate_blocks``), splits
    into four contiguous (H, B) gate blocks. ``out`` is a view of the matrix ``xh_rows`` that the
    cache keeps for backward.
    """
    xp = get_array_module(x)
    h0, c0 = state
    T, B, I = x.shape
    H = W_hh.shape[1]
    s = gate_scale(xp, x.dtype)
    # xh_rows: one row per step and sample, [x_t, 1, h_{t-1}] (rows of step T hold h_T): the input of
    # the projection below and, in backward, of all three weight gradients at once
    xh_rows = xp.empty(((T + 1) * B, I + 1 + H), dtype=x.dtype)
    xh_rows[:T * B, :I] = x.reshape(T * B, I)
    xh_rows[:, I] = 1
    xh_rows[:B, I + 1:] = h0
    W_i = gate_blocks(W_ih) * s                                # (4, H, I): rows [i f o g], sigmoid rows halved
    if b_ih is not None:                                       # the bias rides along as the column of ones
        W_i = xp.concatenate([W_i, (gate_blocks(b_ih + b_hh) * s[:, 0])[:, :, None]], axis=2)
    W_i = W_i.reshape(4 * H, -1)
    W_h = (gate_blocks(W_hh) * s).reshape(4 * H, H)
    # the input's share for all steps in one product: (4H, T*B), step t in columns t*B .. t*B+B-1
    z_input = W_i @ xh_rows[:T * B, :W_i.shape[1]].T
    gates = xp.empty((T, 4, H, B), dtype=z_input.dtype)        # step t: pre-activations, then gates
    c_steps = xp.empty((T, H, B), dtype=z_input.dtype)         # c_t
    tanh_c = xp.empty_like(c_steps)                            # tanh(c_t), reused by backward
    h_steps = xp.empty_like(c_steps)                           # h_t
    h, c = h0.T, c0.T
    for t in range(T):
        z = gates[t].reshape(4 * H, B)
        xp.matmul(W_h, h, out=z)                               # W_hh h_{t-1}: all four gates at once
        z += z_input[:, t * B:(t + 1) * B]
        lstm_gates_forward(gates[t], c, c_steps[t], tanh_c[t], h_steps[t])
        h, c = h_steps[t], c_steps[t]
    out = xh_rows[B:, I + 1:].reshape(T, B, H)                 # (T, B, H): a view of xh_rows
    out[...] = h_steps.transpose(0, 2, 1)
    cache = FastLSTMCache(xh_rows, c0, W_ih, W_hh, gates, c_steps, tanh_c, b_ih is not None)
    return out, (out[-1], c_steps[-1].T), cache
# --8<-- [end:lstm_forward_fast]


# --8<-- [start:lstm_backward_fast]
def lstm_backward_fast(d_out, d_state, cache):
    r"""Equals ``nnref.layers.lstm.lstm_backward`` (without ``W_hr``): BPTT for ``lstm_forward_fast``.

    ``d_out`` (T, B, H); ``d_state = (d_h_n, d_c_n)``, either None. Returns
    ``(dx, (dh0, dc0), dW_ih, dW_hh, db_ih, db_hh)`` in PyTorch's layout. Per step one
    product $[W_{ih}\ W_{hh}]^\top \mathrm{d}z_t$ gives $\mathrm{d}x_t$ and the recurrent part of
    $\partial L/\partial h_{t-1}$. Each $\mathrm{d}z_t$ (4H, B) is stored as the columns $t$ of
    one (4H, T·B) matrix, so that the sums over the steps are one product after the loop: with
    the rows $[x_t^\top, 1, h_{t-1}^\top]$ of ``xh_rows``,

    $$
    \Big[\tfrac{\partial L}{\partial W_{ih}},\ \tfrac{\partial L}{\partial b},\ \tfrac{\partial L}{\partial W_{hh}}\Big]
    = \sum_t \mathrm{d}z_t\,\big[x_t^\top,\ \mathbf 1^\top,\ h_{t-1}^\top\big]
    $$
    """
    xh_rows, c0, W_ih, W_hh, gates, c_steps, tanh_c, has_bias = cache
    xp = get_array_module(d_out)
    T, H, B = c_steps.shape
    I = W_ih.shape[1]
    d_hn, d_cn = d_state
    # one product per step gives both [dx_t; dh_{t-1}] (transposed): [W_ih  W_hh]^T dz_t
    W_T = xp.concatenate([gate_blocks(W_ih), gate_blocks(W_hh)], axis=2).reshape(4 * H, I + H).T
    W_T = xp.ascontiguousarray(W_T)                            # (I + H, 4H); not halved: dz is for z
    dz_steps = xp.empty((4 * H, T, B), dtype=gates.dtype)
    dxh_steps = xp.empty((T, I + H, B), dtype=gates.dtype)     # step t: [dx_t; dh_{t-1}], transposed
    work = xp.empty((2, 4, H, B), dtype=gates.dtype)
    # ∂L/∂c_t and ∂L/∂h_t, both transposed like c and h
    dc = xp.zeros((H, B), dtype=gates.dtype) if d_cn is None else d_cn.T.astype(gates.dtype, order="C")
    dh = d_out[-1].T.astype(gates.dtype, order="C")
    if d_hn is not None:
        dh += d_hn.T
    for t in reversed(range(T)):
        dz = dz_steps[:, t]                                    # (4H, B), a strided view
        c_prev = c_steps[t - 1] if t else c0.T
        lstm_gates_backward(dh, dc, gates[t], c_prev, tanh_c[t], dz.reshape(4, H, B), work)
        xp.matmul(W_T, dz, out=dxh_steps[t])
        dh = dxh_steps[t, I:]                                  # ∂L/∂h_{t-1} through all four gates ...
        if t:
            dh += d_out[t - 1].T                               # ... plus the output's own gradient
    dz_rows = dz_steps.reshape(4 * H, T * B)
    dx = xp.ascontiguousarray(dxh_steps[:, :I].transpose(0, 2, 1))  # (T, B, I)
    dW = torch_rows((dz_rows @ xh_rows[:T * B]).reshape(4, H, -1))  # [dW_ih, db, dW_hh]: one product
    db = dW[:, I] if has_bias else None
    return dx, (dh.T, dc.T), dW[:, :I], dW[:, I + 1:], db, db
# --8<-- [end:lstm_backward_fast]
