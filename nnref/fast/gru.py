r"""The GRU fast path: equals ``nnref.layers.gru`` (the reference), arranged for speed.

Why it is faster: the input's share $W_{ih} x_t + b_{ih}$ of all T steps is one GEMM; each step's
gates are computed in place in preallocated buffers (no per-step temporaries), the sigmoid in
the overflow-free form $\tfrac12(1 + \tanh\tfrac a2)$ on r and z together; the weight gradients are
one GEMM each after the loop; on CuPy a step's pointwise work is one fused kernel (``fused_cells.py``).
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import get_array_module, is_cupy_array
from . import fused_cells


class FastGRUCache(NamedTuple):
    """What ``gru_backward_fast`` needs."""
    x: object           # (T, B, I)
    h0: object          # (B, H)
    W_ih: object        # (3H, I)
    W_hh: object        # (3H, H)
    gates: object       # (T, B, 3H): [r, z, n] after forward
    gh: object          # (T, B, 3H): W_hh h_{t-1} + b_hh
    out: object         # (T, B, H): h_t
    has_bias: bool


# --8<-- [start:gru_gates]
def sigmoid_inplace(a):
    r"""``nnref.layers.activation.sigmoid`` in place (no temporary), in its overflow-free form
    $\sigma(a) = \tfrac12\left(1 + \tanh\tfrac{a}{2}\right)$."""
    xp = get_array_module(a)
    a *= 0.5
    xp.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def gru_gates_forward(a, gh, h_prev, h):
    r"""The pointwise part of ``nnref.layers.gru.gru_cell_forward``, in place.

    ``a`` (B, 3H) holds the input's share $W_{ih} x_t + b_{ih}$ in the gate order r, z, n and is
    replaced in place by $[r, z, n]$; ``gh`` (B, 3H) is $W_{hh} h_{t-1} + b_{hh}$ (kept: backward
    needs its n part); ``h`` (B, H) receives $h_t$.

    $$
    r = \sigma(a_r + gh_r),\quad z = \sigma(a_z + gh_z),\quad
    n = \tanh\big(a_n + r \odot gh_n\big),\quad h_t = (1 - z) \odot n + z \odot h_{t-1}
    $$

    $r$ multiplies $gh_n = W_{hn} h_{t-1} + b_{hn}$ *after* the matrix product (PyTorch, cuDNN).
    """
    if is_cupy_array(a):  # one fused kernel instead of ~15 launches (fused_cells.py)
        return fused_cells.gru_gates_forward(a, gh, h_prev, h)
    xp = get_array_module(a)
    H = h.shape[-1]
    rz = xp.add(a[:, :2 * H], gh[:, :2 * H])   # a contiguous copy: in-place work on column blocks is slow
    sigmoid_inplace(rz)
    a[:, :2 * H] = rz
    r, z, n = rz[:, :H], rz[:, H:], a[:, 2 * H:]
    xp.multiply(r, gh[:, 2 * H:], out=h)    # h as scratch for r * gh_n
    n += h
    xp.tanh(n, out=n)
    xp.subtract(h_prev, n, out=h)           # h_t = n + z (h_{t-1} - n)
    h *= z
    h += n


def gru_gates_backward(dh, a, gh, h_prev, da, dgh):
    r"""The pointwise part of ``nnref.layers.gru.gru_cell_backward``, in place.

    ``dh`` (B, H) is $\partial L/\partial h_t$ and is replaced in place by the direct path
    $\mathrm{d}h \odot z$ to $h_{t-1}$ (the caller adds $\mathrm{d}gh\,W_{hh}$); ``da`` and ``dgh``
    (B, 3H) receive the gradients of ``a`` and ``gh``. ``a`` holds the forward's $[r, z, n]$.

    $$
    \mathrm{d}n = \mathrm{d}h \odot (1 - z)\odot(1 - n^2),\quad
    \mathrm{d}z = \mathrm{d}h \odot (h_{t-1} - n)\odot z(1-z),\quad
    \mathrm{d}r = \mathrm{d}n \odot gh_n \odot r(1-r)
    $$


    $$
    \mathrm{d}a = [\mathrm{d}r, \mathrm{d}z, \mathrm{d}n],\qquad
    \mathrm{d}gh = [\mathrm{d}r, \mathrm{d}z, \mathrm{d}n \odot r]
    $$
    """
    if is_cupy_array(a):  # one fused kernel instead of ~15 launches (fused_cells.py)
        return fused_cells.gru_gates_backward(dh, a, gh, h_prev, da, dgh)
    xp = get_array_module(a)
    H = dh.shape[-1]
    r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
    dr, dz, dn = da[:, :H], da[:, H:2 * H], da[:, 2 * H:]
    dgh_n = dgh[:, 2 * H:]
    xp.multiply(dh, z, out=dgh_n)           # dgh_n as scratch for dh * z
    xp.subtract(dh, dgh_n, out=dn)          # dh (1 - z)
    xp.subtract(h_prev, n, out=dz)
    dz *= dh
    xp.copyto(dh, dgh_n)                    # dh now holds the direct path dh * z
    dn *= 1 - n * n                         # tanh'
    xp.multiply(dn, gh[:, 2 * H:], out=dr)
    xp.multiply(dn, r, out=dgh_n)
    drz, rz = da[:, :2 * H], a[:, :2 * H]
    drz *= rz * (1 - rz)                    # σ' for r and z
    xp.copyto(dgh[:, :2 * H], drz)          # r and z see a and gh through the same sum
    return dh
# --8<-- [end:gru_gates]


# --8<-- [start:gru_forward_fast]
def gru_forward_fast(x, h0, W_ih, W_hh, b_ih=None, b_hh=None):
    r"""Equals ``nnref.layers.gru.gru_forward``; faster: one GEMM for the input's share of all steps,
    the gates computed in place in preallocated (T, B, 3H) buffers (fused on CuPy).

    Shapes: ``x`` (T, B, I), ``h0`` (B, H), ``W_ih`` (3H, I), ``W_hh`` (3H, H), biases (3H,) or
    None; rows in the gate order r, z, n. Returns ``out`` (T, B, H), ``h_n``, ``cache``.
    """
    xp = get_array_module(x)
    T, B, I = x.shape
    H = W_hh.shape[1]
    # the input's share W_ih x_t + b_ih of all steps at once; step t turns its rows into [r, z, n]
    gates = (x.reshape(T * B, I) @ W_ih.T).reshape(T, B, 3 * H)
    if b_ih is not None:
        gates += b_ih
    gh_steps = xp.empty_like(gates)                            # W_hh h_{t-1} + b_hh, per step
    out = xp.empty((T, B, H), dtype=gates.dtype)
    W_hh_T = xp.ascontiguousarray(W_hh.T)                      # the per-step GEMM is faster on C order
    h = h0
    for t in range(T):
        xp.matmul(h, W_hh_T, out=gh_steps[t])
        if b_hh is not None:
            gh_steps[t] += b_hh
        gru_gates_forward(gates[t], gh_steps[t], h, out[t])
        h = out[t]
    return out, out[-1], FastGRUCache(x, h0, W_ih, W_hh, gates, gh_steps, out, b_ih is not None)
# --8<-- [end:gru_forward_fast]


# --8<-- [start:gru_backward_fast]
def gru_backward_fast(d_out, d_hn, cache):
    r"""Equals ``nnref.layers.gru.gru_backward``: BPTT for ``gru_forward_fast``; the per-step
    gradients are stacked so each weight gradient is one GEMM after the loop. ``d_out`` (T, B, H), ``d_hn`` (B, H) or None.

    Returns ``(dx, dh0, dW_ih, dW_hh, db_ih, db_hh)``. Unlike RNN and LSTM the two biases get
    different gradients: ``b_hn`` sits inside $r \odot (W_{hn} h + b_{hn})$.
    """
    x, h0, W_ih, W_hh, gates, gh_steps, out, has_bias = cache
    xp = get_array_module(d_out)
    T, B, H = out.shape
    da_steps, dgh_steps = xp.empty_like(gates), xp.empty_like(gh_steps)
    dh_next = xp.zeros_like(h0) if d_hn is None else d_hn.astype(gates.dtype, copy=True)
    dh = xp.empty_like(h0)
    for t in reversed(range(T)):
        xp.add(d_out[t], dh_next, out=dh)                          # ∂L/∂h_t
        h_prev = out[t - 1] if t else h0
        gru_gates_backward(dh, gates[t], gh_steps[t], h_prev, da_steps[t], dgh_steps[t])
        xp.matmul(dgh_steps[t], W_hh, out=dh_next)                 # ∂L/∂h_{t-1} through W_hh ...
        dh_next += dh                                              # ... and through z ⊙ h_{t-1}
    da_rows, dgh_rows = da_steps.reshape(T * B, 3 * H), dgh_steps.reshape(T * B, 3 * H)
    dx = (da_rows @ W_ih).reshape(x.shape)
    dW_ih = da_rows.T @ x.reshape(T * B, x.shape[2])
    dW_hh = dgh_steps[0].T @ h0 + dgh_rows[B:].T @ out[:-1].reshape((T - 1) * B, H)
    db_ih = da_rows.sum(axis=0) if has_bias else None
    db_hh = dgh_rows.sum(axis=0) if has_bias else None
    return dx, dh_next, dW_ih, dW_hh, db_ih, db_hh
# --8<-- [end:gru_backward_fast]
