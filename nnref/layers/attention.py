r"""Scaled dot-product attention, the maths: softmax with its backward, masks, attention itself.

A query row asks "which keys look like me?": its dot products with every key, scaled by
$1/\sqrt{d_k}$, go through a softmax over the keys, and the resulting weights average the
values. Masks take keys out before the softmax; a row whose keys are all masked gets zero
weights and a zero output (torch's ``scaled_dot_product_attention`` on CPU does the same).

Masks follow ``torch.nn.MultiheadAttention``: a boolean mask is ``True`` where attention is
*not* allowed; a float mask is *added* to the scores (``-inf`` blocks, 0 keeps). (torch's
``F.scaled_dot_product_attention`` reads a boolean mask the other way round: True = allowed.)
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

from ..backend import get_array_module, module_for
from .dropout import dropout_mask


# --8<-- [start:softmax]
def softmax_forward(z, axis=-1):
    r"""Softmax along ``axis``, shifted by the row maximum so ``exp`` cannot overflow:

    $$
    a_j = \frac{e^{z_j - m}}{\sum_k e^{z_k - m}},\qquad m = \max_k z_k
    $$

    A row that is all $-\infty$ (every key masked) has no softmax; it gets $a = 0$.
    """
    xp = get_array_module(z)
    if z.shape[axis] == 0:                    # no keys at all: nothing to weigh
        return z.copy()
    m = z.max(axis=axis, keepdims=True)
    m = xp.where(m == -xp.inf, 0, m)          # an all -inf row: exp(-inf) = 0 below
    e = xp.exp(z - m)
    s = e.sum(axis=axis, keepdims=True)
    return e / xp.where(s == 0, 1, s)         # 0 / 1 = 0 for that row


def softmax_backward(da, a, axis=-1):
    r"""Softmax's backward from its output ``a``. The Jacobian is
    $\partial a_j/\partial z_i = a_j(\delta_{ij} - a_i)$, so

    $$
    \frac{\partial L}{\partial z_i} = \sum_j \frac{\partial L}{\partial a_j}\,a_j(\delta_{ij} - a_i)
    = a_i\Big(\frac{\partial L}{\partial a_i} - \sum_j \frac{\partial L}{\partial a_j}\,a_j\Big)
    $$
    """
    return a * (da - (da * a).sum(axis=axis, keepdims=True))
# --8<-- [end:softmax]


# --8<-- [start:masks]
def causal_mask(L, S=None, xp=None):
    r"""The boolean (L, S) mask that stops query i from seeing keys after position i:
    ``True`` above the diagonal (blocked), as ``torch.triu(ones(L, S), 1)``."""
    xp = xp or module_for()                             # the default backend's module
    S = L if S is None else S
    return xp.triu(xp.ones((L, S), dtype=bool), k=1)


def additive_mask(mask, dtype):
    r"""A boolean mask (True = blocked) as the float mask that adds $-\infty$ there
    and 0 elsewhere; a float mask is returned as it is (cast to ``dtype``)."""
    xp = get_array_module(mask)
    if mask.dtype == bool:
        return xp.where(mask, -xp.inf, 0).astype(dtype)
    return mask.astype(dtype, copy=False)


def key_padding_as_mask(key_padding_mask):
    r"""A key-padding mask (N, S), True at padded keys, as a mask (N, 1, 1, S)
    that broadcasts over the heads and the queries of scores (N, H, L, S)."""
    return key_padding_mask[:, None, None, :]
# --8<-- [end:masks]


# --8<-- [start:attention_forward]
def attention_forward(q, k, v, mask=None, dropout_p=0.0, keep=None):
    r"""Scaled dot-product attention.

    Shapes: ``q`` (..., L, d_k), ``k`` (..., S, d_k), ``v`` (..., S, d_v); ``mask``
    broadcasts to (..., L, S): boolean (True = blocked) or float (added to the scores).

    $$
    Z = \frac{Q K^\top}{\sqrt{d_k}} + M,\qquad A = \mathrm{softmax}(Z),\qquad O = A\,V
    $$

    With ``dropout_p > 0`` the weights are dropped (inverted dropout, keep-mask ``keep``
    or a fresh one from :func:`nnref.backend.default_rng`): $O = (A \odot D)\,V$.
    Returns ``(O, A_used, cache)``: O (..., L, d_v) and the weights that multiplied V.
    """
    xp = get_array_module(q)
    scale = 1 / math.sqrt(q.shape[-1])
    Z = (q * q.dtype.type(scale)) @ xp.swapaxes(k, -1, -2)  # (..., L, S) scores
    if mask is not None:
        Z = Z + additive_mask(mask, Z.dtype)                  # -inf where blocked
    A = softmax_forward(Z)                          # each row sums to 1 (or is 0)
    factor = None
    if dropout_p > 0:
        keep = dropout_mask(A.shape, dropout_p, like=A) if keep is None else keep
        scale_kept = 1 / (1 - dropout_p) if dropout_p < 1 else 0   # p = 1 keeps nothing
        factor = keep.astype(A.dtype) * A.dtype.type(scale_kept)
    A_used = A if factor is None else A * factor
    O = A_used @ v                                  # (..., L, d_v)
    return O, A_used, AttentionCache(q, k, v, A, factor, scale)


class AttentionCache(NamedTuple):
    q: Any            # (..., L, d_k)
    k: Any            # (..., S, d_k)
    v: Any            # (..., S, d_v)
    A: Any            # (..., L, S) the softmax weights, before dropout
    factor: Any       # dropout's factor on A (0 or 1/(1-p)), or None without dropout
    scale: float      # 1/sqrt(d_k)
# --8<-- [end:attention_forward]


# --8<-- [start:attention_backward]
def attention_backward(dO, cache, dA_used=None):
    r"""Gradients of ``attention_forward``; returns ``(dq, dk, dv)``.

    Backwards through the forward's lines, one at a time ($G$ is dL/dZ):

    $$
    \frac{\partial L}{\partial V} = A^\top\,\frac{\partial L}{\partial O},\qquad
    \frac{\partial L}{\partial A} = \frac{\partial L}{\partial O}\,V^\top,\qquad
    G = \mathrm{softmax}'\Big(\frac{\partial L}{\partial A}\Big),\qquad
    \frac{\partial L}{\partial Q} = \frac{G\,K}{\sqrt{d_k}},\qquad
    \frac{\partial L}{\partial K} = \frac{G^\top Q}{\sqrt{d_k}}
    $$

    The mask is a constant: it only sends no gradient to blocked scores (their A is 0).
    ``dA_used`` adds a gradient reaching the returned weights directly (when they
    are used as an output themselves).
    """
    xp = get_array_module(dO)
    q, k, v, A, factor, scale = cache
    A_used = A if factor is None else A * factor
    dv = xp.swapaxes(A_used, -1, -2) @ dO           # (..., S, d_v)
    dA = dO @ xp.swapaxes(v, -1, -2)                # (..., L, S)
    if dA_used is not None:
        dA = dA + dA_used
    if factor is not None:
        dA = dA * factor                            # dropout's backward
    G = softmax_backward(dA, A)                     # dL/dZ
    dq = (G @ k) * G.dtype.type(scale)
    dk = (xp.swapaxes(G, -1, -2) @ q) * G.dtype.type(scale)
    return dq, dk, dv
# --8<-- [end:attention_backward]


# --8<-- [start:heads]
def split_heads(t, num_heads):
    r"""(N, L, E) -> (N, h, L, d) with d = E / h: head i gets the features
    i·d ... (i+1)·d - 1, a column block of Q, K or V."""
    N, L, E = t.shape
    return t.reshape(N, L, num_heads, E // num_heads).transpose(0, 2, 1, 3)


def merge_heads(t):
    r"""(N, h, L, d) -> (N, L, h·d): the heads' outputs side by side (concatenated)."""
    N, h, L, d = t.shape
    return t.transpose(0, 2, 1, 3).reshape(N, L, h * d)
# --8<-- [end:heads]
