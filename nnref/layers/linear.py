r"""The weight matrix: a fully connected (affine) layer ``y = x W^T + b``."""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..backend import backend_of, default_rng, device_backend, to_backend
from ..checks import backward_cache, check_float, check_ndim, check_size, param_dtype
from ..module import Module, Parameter


def check_count(value, name: str, who: str, minimum: int = 0):
    r"""``value`` as an int: ``TypeError`` naming ``who`` and ``name`` unless it is an int (not a
    bool), ``ValueError`` when it is below ``minimum``."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {name} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{who}: {name} must be at least {minimum}, got {value}")
    return int(value)


# --8<-- [start:linear_forward]
class LinearCache(NamedTuple):
    x: object             # (N, *, in)
    W: object             # (out, in)
    has_bias: bool


def linear_forward(x, W, b=None):
    r"""Affine map over the last axis.

    Shapes: ``x`` (N, *, in), ``W`` (out, in), ``b`` (out,) or None -> ``y`` (N, *, out).

    $$
    y = x W^\top + b
    $$
    """
    y = x @ W.T
    if b is not None:
        y = y + b
    return y, LinearCache(x, W, b is not None)
# --8<-- [end:linear_forward]


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
    dx = dy @ W
    dy2 = dy.reshape(-1, dy.shape[-1])  # leading axes (N, *) act as one batch axis
    dW = dy2.T @ x.reshape(-1, x.shape[-1])
    db = dy2.sum(axis=0) if has_bias else None
    return dx, dW, db
# --8<-- [end:linear_backward]


class Linear(Module):
    r"""``torch.nn.Linear(in_features, out_features, bias=True, device=None, dtype=None)``:
    ``weight`` (out_features, in_features), ``bias`` (out_features,).

    Both start as U(-1/sqrt(in_features), 1/sqrt(in_features)), PyTorch's default, drawn on the
    host by :func:`nnref.backend.default_rng` and moved to ``device`` (None: the default backend).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.in_features = check_count(in_features, "in_features", "Linear")
        self.out_features = check_count(out_features, "out_features", "Linear")
        where, dtype = device_backend(device, "Linear"), param_dtype(dtype, "Linear")
        bound = 1.0 / math.sqrt(in_features) if in_features else 0.0   # torch: 0 without inputs
        host = default_rng().host

        def uniform(shape):
            return Parameter(to_backend(host.uniform(-bound, bound, shape).astype(dtype), where))
        self.weight = uniform((out_features, in_features))
        self.register_parameter("bias", uniform((out_features,)) if bias else None)
        self._cache = None

    def forward(self, input):
        check_float(input, "Linear")
        check_ndim(input, "Linear", range(1, 33), "(*, in_features)")
        check_size(input, "Linear", -1, self.in_features, "input features")
        if backend_of(input) != backend_of(self.weight.data):
            raise TypeError(f"Linear: input is a {backend_of(input)} array but the weights are "
                            f"{backend_of(self.weight.data)} arrays; move one with nnref.backend.to_backend")
        W = self.weight.data.astype(input.dtype, copy=False)  # compute in the input's dtype
        b = None if self.bias is None else self.bias.data.astype(input.dtype, copy=False)
        y, cache = linear_forward(input, W, b)
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
