"""The weight matrix: a fully connected (affine) layer ``y = x W^T + b``."""
from __future__ import annotations

import math

import numpy as np

from ..backend import default_rng, get_array_module
from ..checks import backward_cache, check_float, check_ndim, check_size
from ..module import Module, Parameter


# --8<-- [start:linear_forward]
def linear_forward(x, W, b=None):
    """Affine map over the last axis.

    Shapes: ``x`` (N, *, in), ``W`` (out, in), ``b`` (out,) or None -> ``y`` (N, *, out).

    $$
    y = x W^\\top + b
    $$
    """
    y = x @ W.T
    if b is not None:
        y = y + b
    return y, (x, W, b is not None)
# --8<-- [end:linear_forward]


# --8<-- [start:linear_backward]
def linear_backward(dy, cache):
    """Gradients of ``linear_forward``; ``dy`` has the shape of ``y``.

    $$
    \\frac{\\partial L}{\\partial x} = dy\\,W,\\qquad
    \\frac{\\partial L}{\\partial W} = dy^\\top x,\\qquad
    \\frac{\\partial L}{\\partial b} = \\sum_n dy_n
    $$

    Returns ``(dx, dW, db)``; ``db`` is None when there was no bias.
    """
    x, W, has_bias = cache
    dx = dy @ W
    dy2 = dy.reshape(-1, dy.shape[-1])  # leading axes (N, *) act as one batch axis
    dW = dy2.T @ x.reshape(-1, x.shape[-1])
    db = dy2.sum(axis=0) if has_bias else None
    return dx, dW, db
# --8<-- [end:linear_backward]


class Linear(Module):
    """``torch.nn.Linear``: ``weight`` (out_features, in_features), ``bias`` (out_features,).

    Both start as U(-1/sqrt(in_features), 1/sqrt(in_features)), PyTorch's default.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=np.float32):
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"Linear: in_features and out_features must be positive, "
                             f"got {in_features} and {out_features}")
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        rng = default_rng()
        self.weight = Parameter(rng.uniform((out_features, in_features), -bound, bound, dtype=dtype))
        self.register_parameter(
            "bias", Parameter(rng.uniform((out_features,), -bound, bound, dtype=dtype)) if bias else None)
        self._cache = None

    def forward(self, x):
        check_float(x, "Linear")
        check_ndim(x, "Linear", range(1, 33), "(*, in_features)")
        check_size(x, "Linear", -1, self.in_features, "input features")
        get_array_module(x, self.weight.data)  # TypeError if x and the weights sit on different devices
        W = self.weight.data.astype(x.dtype, copy=False)  # compute in the input's dtype
        b = None if self.bias is None else self.bias.data.astype(x.dtype, copy=False)
        y, cache = linear_forward(x, W, b)
        self._cache = (cache, y.shape)
        return y

    def backward(self, dy):
        dx, dW, db = linear_backward(dy, backward_cache(self._cache, dy, "Linear"))
        self.weight.accumulate(dW)
        if db is not None:
            self.bias.accumulate(db)
        return dx

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
