r"""The bilinear layer: two inputs meet through one weight tensor, ``y = x_1^T A x_2 + b``."""
from __future__ import annotations

from typing import NamedTuple

from ..backend import get_array_module


# --8<-- [start:bilinear_forward]
def bilinear_forward(x1, x2, A, b=None):
    r"""One bilinear form per output feature, over the rows of ``x1`` and ``x2``.

    Shapes: ``x1`` (N, in1), ``x2`` (N, in2), ``A`` (out, in1, in2), ``b`` (out,) or None
    -> ``y`` (N, out).

    $$
    y_{no} = \sum_{i}\sum_{j} x_{1,ni}\, A_{oij}\, x_{2,nj} + b_o
    $$
    """
    xp = get_array_module(x1, x2, A)
    # Σ_i first, then Σ_j, as torch: an infinite x2 then gives ±inf, not inf - inf = NaN
    x1A = xp.einsum("ni,oij->noj", x1, A)       # Σ_i x1_ni A_oij: (N, out, in2)
    y = xp.einsum("noj,nj->no", x1A, x2)        # Σ_j (x1 A)_noj x2_nj: (N, out)
    if b is not None:
        y = y + b                               # + b_o, broadcast over the N rows
    return y, BilinearCache(x1, x2, A, b is not None)
# --8<-- [end:bilinear_forward]


# --8<-- [start:bilinear_cache]
class BilinearCache(NamedTuple):
    x1: object            # (N, in1)
    x2: object            # (N, in2)
    A: object             # (out, in1, in2)
    has_bias: bool
# --8<-- [end:bilinear_cache]


# --8<-- [start:bilinear_backward]
def bilinear_backward(dy, cache: BilinearCache):
    r"""Gradients of ``bilinear_forward``; ``dy`` (N, out). Returns ``(dx1, dx2, dA, db)``,
    ``db`` None without a bias.

    $$
    \frac{\partial L}{\partial x_{1,ni}} = \sum_{o,j} dy_{no} A_{oij} x_{2,nj},\qquad
    \frac{\partial L}{\partial x_{2,nj}} = \sum_{o,i} dy_{no} x_{1,ni} A_{oij}
    $$

    $$
    \frac{\partial L}{\partial A_{oij}} = \sum_n dy_{no}\, x_{1,ni}\, x_{2,nj},\qquad
    \frac{\partial L}{\partial b_o} = \sum_n dy_{no}
    $$
    """
    x1, x2, A, has_bias = cache
    xp = get_array_module(dy, A)
    dx1 = xp.einsum("no,oij,nj->ni", dy, A, x2)   # Σ_o Σ_j dy_no A_oij x2_nj
    dx2 = xp.einsum("no,ni,oij->nj", dy, x1, A)   # Σ_o Σ_i dy_no x1_ni A_oij
    dA = xp.einsum("no,ni,nj->oij", dy, x1, x2)   # Σ_n dy_no x1_ni x2_nj
    db = dy.sum(axis=0) if has_bias else None     # Σ_n dy_no
    return dx1, dx2, dA, db
# --8<-- [end:bilinear_backward]
