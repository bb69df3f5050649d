r"""``torch.nn.Flatten``: the bridge from feature maps (N, C, H, W) to a fully connected layer (N, C*H*W)."""
from __future__ import annotations

import math




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
