r"""Positional encoding: attention sees a set, so the position of each token must be added to it.

Self-attention treats its input as a set: permuting the tokens permutes the output rows the same
way. Word order enters only through vectors added to the token embeddings. The sinusoidal
encoding of "Attention Is All You Need" is fixed (no parameters) and defined for any length;
a learned encoding is an ``Embedding`` of the positions 0, 1, 2, ...
"""
from __future__ import annotations

import numpy as np

from ..backend import module_for


# --8<-- [start:sinusoidal_encoding]
def sinusoidal_encoding(max_len, d_model, base=10000.0, dtype=np.float32, xp=None):
    r"""The (max_len, d_model) table of sinusoidal position encodings.

    Position ``pos`` and feature pair ``(2i, 2i+1)`` share the frequency
    $\omega_i = \text{base}^{-2i/d}$:

    $$
    PE_{pos,\,2i} = \sin(pos\,\omega_i),\qquad PE_{pos,\,2i+1} = \cos(pos\,\omega_i)
    $$

    Wavelengths run from $2\pi$ (i = 0) to about $2\pi\cdot\text{base}$; an odd
    ``d_model`` keeps the sine of the last pair only.
    """
    xp = xp or module_for()                           # the default backend's module
    pos = xp.arange(max_len, dtype=np.float64)[:, None]  # (max_len, 1)
    two_i = xp.arange(0, d_model, 2, dtype=np.float64)   # 0, 2, 4, ...
    omega = base ** (-two_i / d_model)                   # (ceil(d/2),)
    PE = xp.zeros((max_len, d_model), dtype=np.float64)
    PE[:, 0::2] = xp.sin(pos * omega)                    # even features
    PE[:, 1::2] = xp.cos(pos * omega[: d_model // 2])    # odd features
    return PE.astype(dtype)
# --8<-- [end:sinusoidal_encoding]
