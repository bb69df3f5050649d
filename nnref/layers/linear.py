r"""The weight matrix: a fully connected (affine) layer ``y = x W^T + b``."""
from __future__ import annotations

import math
from typing import NamedTuple


# --8<-- [start:linear_forward]
def linear_forward(x, W, b=None):
    r"""Affine map over the last axis.

    Shapes: ``x`` (N, *, in), ``W`` (out, in), ``b`` (out,) or None -> ``y`` (N, *, out).

    $$
    y = x W^\top + b
    $$
    """
    y = x @ W.T                    # Y = X Wᵀ: (N, in) @ (in, out) -> (N, out)
    if b is not None:
        y = y + b                  # + b, broadcast over the N rows
    return y, LinearCache(x, W, b is not None)
# --8<-- [end:linear_forward]


# --8<-- [start:linear_cache]
class LinearCache(NamedTuple):
    x: object             # (N, *, in)
    W: object             # (out, in)
    has_bias: bool
# --8<-- [end:linear_cache]


# --8<-- [start:linear_backward]
def linear_backward(dy, cache: LinearCache):
    r"""Gradients of ``linear_forward``; ``dy`` has the shape of ``y``.

    $$
    \frac{\partial L}{\partial x} = dy\,W,\qquad
    \frac{\partial L}{\partial W} = dy^\top x,\qquad
    \frac{\partial L}{\partial b} = \sum_n dy_n
    $$

    Returns ``(dx, dW, db)``; ``db`` is None when there was no bias.
    """
    x, W, has_bias = cache
    dx = dy @ W                                   # dX = dY W: (N, out) @ (out, in)
    n = math.prod(x.shape[:-1])                   # leading axes (N, *) act as one batch axis
    dy2, x2 = dy.reshape(n, W.shape[0]), x.reshape(n, W.shape[1])
    dW = dy2.T @ x2                               # dW = dYᵀ X: (out, N) @ (N, in)
    db = dy2.sum(axis=0) if has_bias else None    # db = Σ_n dY_n
    return dx, dW, db
# --8<-- [end:linear_backward]
