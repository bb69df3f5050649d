r"""The gated recurrent unit (GRU): gates r, z and the candidate n, in PyTorch's (cuDNN's) form.

The reference code: one GRU step as the formulas read, then BPTT over a sequence. The
:class:`GRU` module runs the equal but faster ``nnref.fast.gru``.
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import get_array_module
from .activation import sigmoid


# --8<-- [start:gru_cell]
def gru_cell_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    r"""One GRU step. Returns ``h`` (B, H) and the cache.

    $$
    \begin{aligned}
    r &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
    z &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
    n &= \tanh\big(W_{in} x_t + b_{in} + r \odot (W_{hn} h_{t-1} + b_{hn})\big) \\
    h_t &= (1 - z) \odot n + z \odot h_{t-1}
    \end{aligned}
    $$

    $r$ multiplies $W_{hn} h_{t-1} + b_{hn}$ *after* the product (PyTorch, cuDNN).
    """
    # x_t (B, I), h_prev (B, H); W_ih (3H, I), W_hh (3H, H), b_ih and b_hh (3H,):
    # the rows of the three blocks stacked in PyTorch's order r, z, n
    xp = get_array_module(x_t)
    gi = x_t @ W_ih.T + b_ih                     # (B, 3H): the input's share
    gh = h_prev @ W_hh.T + b_hh                  # (B, 3H): the state's share
    gi_r, gi_z, gi_n = xp.split(gi, 3, axis=1)
    gh_r, gh_z, gh_n = xp.split(gh, 3, axis=1)
    r = sigmoid(gi_r + gh_r)                           # reset gate
    z = sigmoid(gi_z + gh_z)                           # update gate
    n = xp.tanh(gi_n + r * gh_n)                       # candidate, r after W_hn h + b_hn
    h = (1 - z) * n + z * h_prev                       # h_t
    return h, GRUCellCache(x_t, h_prev, r, z, n, gh_n)


class GRUCellCache(NamedTuple):
    x: object           # (B, I)  x_t
    h_prev: object      # (B, H)  h_{t-1}
    r: object           # (B, H)  reset gate
    z: object           # (B, H)  update gate
    n: object           # (B, H)  candidate
    gh_n: object        # (B, H)  W_hn h_{t-1} + b_hn, before r multiplies it
# --8<-- [end:gru_cell]


# --8<-- [start:gru_cell_backward]
def gru_cell_backward(dh, cache, W_ih, W_hh):
    r"""One step backwards: ``dh`` (B, H) $= \partial L/\partial h_t$. Returns
    ``dx, dh_prev, dW_ih, dW_hh, db_ih, db_hh``; the two biases differ in the n rows.

    $$
    \begin{aligned}
    \mathrm{d}n &= \mathrm{d}h \odot (1 - z), \qquad \mathrm{d}z = \mathrm{d}h \odot (h_{t-1} - n) \\
    \mathrm{d}g^i_n &= \mathrm{d}n \odot (1 - n^2), \qquad \mathrm{d}g^h_n = \mathrm{d}g^i_n \odot r \\
    \mathrm{d}g^i_r &= \mathrm{d}g^i_n \odot g^h_n \odot r(1-r), \qquad \mathrm{d}g^i_z = \mathrm{d}z \odot z(1-z) \\
    \mathrm{d}h_{t-1} &= \mathrm{d}h \odot z + [\mathrm{d}g^i_r, \mathrm{d}g^i_z, \mathrm{d}g^h_n]\, W_{hh}
    \end{aligned}
    $$
    """
    xp = get_array_module(dh)
    x, h_prev, r, z, n, gh_n = cache
    dn = dh * (1 - z)
    dz = dh * (h_prev - n)
    dgi_n = dn * (1 - n ** 2)                          # through tanh
    dgh_n = dgi_n * r                                  # r multiplies gh_n
    dgi_r = dgi_n * gh_n * r * (1 - r)                 # through r's sigmoid
    dgi_z = dz * z * (1 - z)
    dgi = xp.concatenate([dgi_r, dgi_z, dgi_n], axis=1)   # (B, 3H): gradient of gi
    dgh = xp.concatenate([dgi_r, dgi_z, dgh_n], axis=1)   # (B, 3H): of gh (r, z as gi's)
    dx = dgi @ W_ih
    dh_prev = dh * z + dgh @ W_hh
    return dx, dh_prev, dgi.T @ x, dgh.T @ h_prev, dgi.sum(axis=0), dgh.sum(axis=0)
# --8<-- [end:gru_cell_backward]


# --8<-- [start:gru_forward]
def gru_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None):
    r"""One direction of one GRU layer over a sequence: ``x`` (T, B, I), ``h0`` (B, H); biases
    (3H,) or None (``bias=False``). Returns ``out`` (T, B, H) holding every $h_t$, ``h_n``, cache."""
    xp = get_array_module(x)
    biases = (0, 0) if b_ih is None else (b_ih, b_hh)
    h, outs, steps = h0, [], []
    for x_t in x:
        h, step = gru_cell_forward(x_t, h, W_ih, W_hh, *biases)
        outs.append(h)
        steps.append(step)
    return xp.stack(outs), h, GRUCache(steps, W_ih, W_hh, b_ih is not None)


class GRUCache(NamedTuple):
    steps: list         # one GRUCellCache per step
    W_ih: object
    W_hh: object
    has_bias: bool
# --8<-- [end:gru_forward]


# --8<-- [start:gru_backward]
def gru_backward(d_out, d_hn, cache):
    r"""BPTT for ``gru_forward``: ``d_out`` (T, B, H), ``d_hn`` (B, H) or None.
    Returns ``dx, dh0, dW_ih, dW_hh, db_ih, db_hh``, the parameter gradients summed over the steps."""
    xp = get_array_module(d_out)
    steps, W_ih, W_hh, has_bias = cache
    dh_next = xp.zeros_like(d_out[0]) if d_hn is None else d_hn
    dW_ih, dW_hh = xp.zeros_like(W_ih), xp.zeros_like(W_hh)
    db_ih, db_hh = xp.zeros(W_ih.shape[0], d_out.dtype), xp.zeros(W_ih.shape[0], d_out.dtype)
    dx = xp.empty(d_out.shape[:2] + W_ih.shape[1:], dtype=d_out.dtype)
    for t in reversed(range(len(steps))):
        dh = d_out[t] + dh_next                        # h_t feeds the output and the next step
        dx[t], dh_next, dW_ih_t, dW_hh_t, db_ih_t, db_hh_t = gru_cell_backward(dh, steps[t], W_ih, W_hh)
        dW_ih += dW_ih_t
        dW_hh += dW_hh_t
        db_ih += db_ih_t
        db_hh += db_hh_t
    if not has_bias:
        db_ih = db_hh = None
    return dx, dh_next, dW_ih, dW_hh, db_ih, db_hh
# --8<-- [end:gru_backward]
