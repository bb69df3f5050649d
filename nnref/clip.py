"""Gradient clipping, as ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``.

Both change ``p.grad`` in place, between ``backward`` and the optimiser's ``step``.

>>> import numpy as np
>>> from nnref import Parameter
>>> p = Parameter(np.zeros(2)); p.grad[...] = [3.0, 4.0]
>>> clip_grad_norm([p], 1.0)          # returns the norm before clipping
5.0
>>> np.round(p.grad, 6).tolist()
[0.6, 0.8]
"""
from __future__ import annotations

import math

from .backend import get_array_module


# --8<-- [start:clip_grad_norm]
def clip_grad_norm(parameters, max_norm: float) -> float:
    r"""Scale all gradients together so that their joint 2-norm is at most ``max_norm``.

    $$
    \|g\| = \sqrt{\sum_p \sum_i g_{p,i}^2},\qquad
    g \leftarrow g \cdot \min\left(1,\ \frac{\text{max\_norm}}{\|g\| + 10^{-6}}\right)
    $$

    The direction of the update is kept, only its length shrinks. Returns $\|g\|$ before
    clipping (``inf`` or ``nan`` when a gradient is not finite; then nothing is scaled).
    """
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm: max_norm must be > 0, got {max_norm!r}")
    grads = [p.grad for p in parameters]
    total = math.sqrt(sum(float((g.astype(get_array_module(g).float64) ** 2).sum()) for g in grads))
    scale = max_norm / (total + 1e-6)
    if scale < 1.0:        # torch multiplies by min(scale, 1); False for nan
        for g in grads:
            g *= scale
    return total
# --8<-- [end:clip_grad_norm]


# --8<-- [start:clip_grad_value]
def clip_grad_value(parameters, clip_value: float) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]`` (changes the direction)."""
    if not clip_value > 0:
        raise ValueError(f"clip_grad_value: clip_value must be > 0, got {clip_value!r}")
    for p in parameters:
        xp = get_array_module(p.grad)
        xp.clip(p.grad, -clip_value, clip_value, out=p.grad)
# --8<-- [end:clip_grad_value]
