r"""``torch.nn.Flatten``: the bridge from feature maps (N, C, H, W) to a fully connected layer (N, C*H*W)."""
from __future__ import annotations

import math

import numpy as np

from ..checks import backward_cache, check_float
from ..module import Module


# --8<-- [start:flatten]
def flatten_forward(x, start_dim=1, end_dim=-1):
    r"""Merge axes ``start_dim..end_dim`` (inclusive) into one; e.g. (N, C, H, W) -> (N, C*H*W).

    Only the shape changes: element ``x[n, c, h, w]`` lands at ``y[n, (c*H + h)*W + w]``.
    """
    s, e = start_dim % x.ndim, end_dim % x.ndim
    shape = x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]
    return x.reshape(shape), x.shape


def flatten_backward(dy, x_shape):
    r"""The gradient only has to be put back into the input's shape."""
    return dy.reshape(x_shape)
# --8<-- [end:flatten]


class Flatten(Module):
    r"""``torch.nn.Flatten(start_dim=1, end_dim=-1)``; no parameters. Like every nnref layer it
    takes float arrays only (torch's also reshapes integer tensors)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        for name, value in (("start_dim", start_dim), ("end_dim", end_dim)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
                raise TypeError(f"Flatten: {name} must be an int, got {value!r} ({type(value).__name__})")
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)
        self._cache = None

    def forward(self, input):
        if not hasattr(input, "ndim") or not hasattr(input, "reshape"):
            raise TypeError(f"Flatten: expected a NumPy or CuPy array, got {type(input).__name__} "
                            f"(convert it with nnref.backend.asarray)")
        x = check_float(input, "Flatten")
        nd, s, e = x.ndim, self.start_dim, self.end_dim
        if not (-nd <= s < nd and -nd <= e < nd):
            raise ValueError(f"Flatten: start_dim={s} and end_dim={e} must lie in [{-nd}, {nd - 1}] "
                             f"for an input of shape {tuple(x.shape)}")
        if s % nd > e % nd:
            raise ValueError(f"Flatten: start_dim={s} comes after end_dim={e} "
                             f"for an input of shape {tuple(x.shape)}")
        y, cache = flatten_forward(x, s, e)
        self._cache = (cache, y.shape)
        return y

    def backward(self, dy):
        return flatten_backward(dy, backward_cache(self._cache, dy, "Flatten"))

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
