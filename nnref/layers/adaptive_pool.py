r"""Adaptive pooling: the windows are chosen from the input size so that the output has the size
asked for (``torch.nn.AdaptiveAvgPool2d`` / ``AdaptiveMaxPool2d``).

Output row $i$ of $O$ pools input rows $\lfloor iH/O \rfloor$ up to (not including)
$\lceil (i+1)H/O \rceil$; columns likewise. Neighbouring windows overlap by a row when $O$ does not
divide $H$, and repeat rows when $O > H$. The reference loops over the output cells.
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import get_array_module


# --8<-- [start:adaptive_windows]
def adaptive_windows(size, out_size):
    r"""The ``out_size`` windows ``[start, end)`` over ``size`` positions, torch's rule:

    $$
    \mathrm{start}_i = \left\lfloor \frac{i\,H}{O} \right\rfloor,\qquad
    \mathrm{end}_i = \left\lceil \frac{(i+1)\,H}{O} \right\rceil
    $$
    """
    return [(i * size // out_size,                  # ⌊iH/O⌋
             -(-(i + 1) * size // out_size))        # ⌈(i+1)H/O⌉ = -⌊-(i+1)H/O⌋
            for i in range(out_size)]
# --8<-- [end:adaptive_windows]


# --8<-- [start:adaptive_pool_cache]
class AdaptivePoolCache(NamedTuple):
    x_shape: tuple        # (N, C, H, W)
    rows: list            # OH windows (start, end) along H
    cols: list            # OW windows (start, end) along W
    argmax: object = None  # max pooling: (N, C, OH, OW), flat h*W + w of each max
# --8<-- [end:adaptive_pool_cache]


# --8<-- [start:adaptive_avg_pool2d]
def adaptive_avg_pool2d_forward(x, output_size):
    r"""``x`` (N, C, H, W) -> ``y`` (N, C, OH, OW), each cell the mean of its window:

    $$
    y_{nc,ij} = \frac{1}{|R_i|\,|S_j|} \sum_{h \in R_i} \sum_{w \in S_j} x_{nc,hw}
    $$
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    OH, OW = output_size
    rows, cols = adaptive_windows(H, OH), adaptive_windows(W, OW)
    y = xp.empty((N, C, OH, OW), dtype=x.dtype)
    for i, (h0, h1) in enumerate(rows):             # every output cell (i, j)
        for j, (w0, w1) in enumerate(cols):
            window = x[:, :, h0:h1, w0:w1]          # R_i × S_j: (N, C, |R_i|, |S_j|)
            y[:, :, i, j] = window.mean(axis=(2, 3))
    return y, AdaptivePoolCache(x.shape, rows, cols)


def adaptive_avg_pool2d_backward(dy, cache: AdaptivePoolCache):
    r"""Each cell's gradient is shared equally by its window; overlapping windows add:

    $$
    \frac{\partial L}{\partial x_{nc,hw}} = \sum_{i:\,h \in R_i}\ \sum_{j:\,w \in S_j}
    \frac{dy_{nc,ij}}{|R_i|\,|S_j|}
    $$
    """
    xp = get_array_module(dy)
    dx = xp.zeros(cache.x_shape, dtype=dy.dtype)
    for i, (h0, h1) in enumerate(cache.rows):
        for j, (w0, w1) in enumerate(cache.cols):
            share = dy[:, :, i, j] / ((h1 - h0) * (w1 - w0))    # dy / (|R_i| |S_j|)
            dx[:, :, h0:h1, w0:w1] += share[:, :, None, None]   # += : windows overlap
    return dx
# --8<-- [end:adaptive_avg_pool2d]


# --8<-- [start:adaptive_max_pool2d]
def adaptive_max_pool2d_forward(x, output_size):
    r"""``x`` (N, C, H, W) -> ``y`` (N, C, OH, OW), each cell the maximum of its window;
    ``argmax`` keeps where it was, flat in the (H, W) plane (torch's ``indices``):

    $$
    y_{nc,ij} = \max_{h \in R_i,\ w \in S_j} x_{nc,hw}
    $$

    The window is scanned row by row and a value replaces the best so far when it is larger or
    NaN (torch's rule): on a tie the *first* maximum wins, and any NaN is the maximum.
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    OH, OW = output_size
    rows, cols = adaptive_windows(H, OH), adaptive_windows(W, OW)
    y = xp.empty((N, C, OH, OW), dtype=x.dtype)
    argmax = xp.empty((N, C, OH, OW), dtype=xp.int64)
    for i, (h0, h1) in enumerate(rows):             # every output cell (i, j) ...
        for j, (w0, w1) in enumerate(cols):
            best = xp.full((N, C), -xp.inf, dtype=x.dtype)
            at = xp.full((N, C), h0 * W + w0, dtype=xp.int64)
            for h in range(h0, h1):                 # ... every position in its window
                for w in range(w0, w1):
                    value = x[:, :, h, w]
                    better = (value > best) | xp.isnan(value)   # a tie keeps the first
                    best = xp.where(better, value, best)
                    at = xp.where(better, h * W + w, at)
            y[:, :, i, j] = best
            argmax[:, :, i, j] = at
    return y, AdaptivePoolCache(x.shape, rows, cols, argmax)


def adaptive_max_pool2d_backward(dy, cache: AdaptivePoolCache):
    r"""Each cell's gradient goes to the one input element that was its maximum; an element
    that is the maximum of several (overlapping) windows collects them all:

    $$
    \frac{\partial L}{\partial x_{nc,p}} = \sum_{i,j:\ \mathrm{argmax}_{nc,ij} = p} dy_{nc,ij}
    $$
    """
    xp = get_array_module(dy)
    N, C, H, W = cache.x_shape
    dx = xp.zeros((N * C, H * W), dtype=dy.dtype)   # one row per (n, c) plane
    plane = xp.arange(N * C)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            p = cache.argmax[:, :, i, j].reshape(-1)    # one per plane: no repeats
            dx[plane, p] += dy[:, :, i, j].reshape(-1)
    return dx.reshape(N, C, H, W)
# --8<-- [end:adaptive_max_pool2d]
