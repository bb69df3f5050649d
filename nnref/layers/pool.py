r"""Pooling layers' maths: ``torch.nn.MaxPool2d`` and ``torch.nn.AvgPool2d``.

Two references for the same maps. ``maxpool2d_forward`` / ``avgpool2d_forward`` and their
backward passes loop over the output cells and the positions inside each window, exactly as the
definitions read (kernel, stride and padding only). The strided-view forms
``maxpool2d_views_forward`` etc. pool every window at once: a KH x KW window is KH*KW strided
views of the (padded) input, one per window position ``(u, v)``; reducing over the views (max or
sum) pools all windows, and the backward pass writes through the same views. They also take
PyTorch's other options (dilation, ceil_mode, count_include_pad, divisor_override) and are what
the modules run; ``tests/layers/test_pool.py`` proves the two forms equal.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..backend import get_array_module, is_cupy_array
from .window import output_size


# --8<-- [start:maxpool_forward]
def maxpool2d_forward(x, kernel, stride, padding=(0, 0)):
    r"""Max over each window, one output cell and one window position at a time (a reference).

    Shapes: ``x`` (N, C, H, W) -> ``y`` (N, C, OH, OW); ``kernel``, ``stride``, ``padding`` are
    (H, W) pairs. Padding counts as $-\infty$, so it never wins.

    $$
    y_{n,c,i,j} = \max_{u,v}\ \tilde x_{n,c,\,iS_H+u,\,jS_W+v}
    $$

    ``winner`` records the window position ``u*KW + v`` of each maximum. The comparison is
    strict, so on a tie the *first* maximum in row-major window order keeps it, as in PyTorch;
    a window of nothing but $-\infty$ points at its first element inside the input.
    Returns ``(y, PoolCache)``.
    """
    xp = get_array_module(x)
    (KH, KW), (SH, SW), (PH, PW) = kernel, stride, padding
    N, C, H, W = x.shape                            # x: (N, C, H, W)
    OH, OW = output_size(H, KH, SH, PH), output_size(W, KW, SW, PW)
    pads = ((0, 0), (0, 0), (PH, PH), (PW, PW))
    x_pad = xp.pad(x, pads, constant_values=-np.inf)   # padding never wins
    y = xp.empty((N, C, OH, OW), dtype=x.dtype)
    winner = xp.empty((N, C, OH, OW), dtype=np.int64)
    for i in range(OH):                             # every output cell (i, j) ...
        for j in range(OW):
            u0, v0 = max(PH - i * SH, 0), max(PW - j * SW, 0)   # first position inside x
            best = x_pad[:, :, i * SH + u0, j * SW + v0]           # (N, C)
            at = xp.full((N, C), u0 * KW + v0, dtype=np.int64)
            for u in range(KH):                     # ... every position (u, v) in it
                for v in range(KW):
                    value = x_pad[:, :, i * SH + u, j * SW + v]
                    better = value > best           # strict: a tie keeps the first
                    best = xp.where(better, value, best)
                    at = xp.where(better, u * KW + v, at)
            y[:, :, i, j] = best                    # the window's maximum
            winner[:, :, i, j] = at
    return y, PoolCache(x.shape, tuple(kernel), tuple(stride), tuple(padding), winner)


class PoolCache(NamedTuple):
    x_shape: tuple        # (N, C, H, W)
    kernel: tuple         # (KH, KW)
    stride: tuple         # (SH, SW)
    padding: tuple        # (PH, PW)
    winner: object = None  # max pooling: (N, C, OH, OW), position u*KW + v of each max
# --8<-- [end:maxpool_forward]


# --8<-- [start:avgpool_forward]
def avgpool2d_forward(x, kernel, stride, padding=(0, 0)):
    r"""Mean over each window, one output cell at a time (a reference); padding adds zeros and
    every window divides by $K_H K_W$ (PyTorch's default ``count_include_pad=True``).

    $$
    y_{n,c,i,j} = \frac{1}{K_H K_W} \sum_{u,v} \tilde x_{n,c,\,iS_H+u,\,jS_W+v}
    $$
    """
    xp = get_array_module(x)
    (KH, KW), (SH, SW), (PH, PW) = kernel, stride, padding
    N, C, H, W = x.shape                            # x: (N, C, H, W)
    OH, OW = output_size(H, KH, SH, PH), output_size(W, KW, SW, PW)
    x_pad = xp.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))    # zeros
    y = xp.empty((N, C, OH, OW), dtype=x.dtype)
    for i in range(OH):
        for j in range(OW):
            window = x_pad[:, :, i * SH:i * SH + KH, j * SW:j * SW + KW]
            y[:, :, i, j] = window.sum(axis=(2, 3)) / (KH * KW)    # window: (N, C, KH, KW)
    return y, PoolCache(x.shape, tuple(kernel), tuple(stride), tuple(padding))
# --8<-- [end:avgpool_forward]


# --8<-- [start:maxpool_backward]
def maxpool2d_backward(dy, cache):
    r"""The whole gradient of each window goes to its (first) maximum; overlapping windows add.

    $$
    \frac{\partial L}{\partial \tilde x_{n,c,\,iS_H+u,\,jS_W+v}} \mathrel{+}=
    \mathrm{d}y_{n,c,i,j}\,[\,\text{winner}_{n,c,i,j} = u K_W + v\,]
    $$
    """
    xp = get_array_module(dy)
    (N, C, H, W), (KH, KW), (SH, SW), (PH, PW), winner = cache
    dx_pad = xp.zeros((N, C, H + 2 * PH, W + 2 * PW), dtype=dy.dtype)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            for u in range(KH):
                for v in range(KW):
                    won = winner[:, :, i, j] == u * KW + v  # (N, C): (u, v) was the max
                    dx_pad[:, :, i * SH + u, j * SW + v] += dy[:, :, i, j] * won
    return dx_pad[:, :, PH:PH + H, PW:PW + W]
# --8<-- [end:maxpool_backward]


# --8<-- [start:avgpool_backward]
def avgpool2d_backward(dy, cache):
    r"""Each position of window $(i, j)$ receives $\mathrm{d}y_{n,c,i,j} / (K_H K_W)$; overlaps add."""
    xp = get_array_module(dy)
    (N, C, H, W), (KH, KW), (SH, SW), (PH, PW), _ = cache
    dx_pad = xp.zeros((N, C, H + 2 * PH, W + 2 * PW), dtype=dy.dtype)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            share = dy[:, :, i, j, None, None] / (KH * KW)             # (N, C, 1, 1)
            dx_pad[:, :, i * SH:i * SH + KH, j * SW:j * SW + KW] += share
    return dx_pad[:, :, PH:PH + H, PW:PW + W]
# --8<-- [end:avgpool_backward]


# --- the same maps, every window at once: strided views ------------------------------------

class Window(NamedTuple):
    """Where the windows lie: each field is an (H, W) pair."""
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    out_size: tuple       # (OH, OW), from window.output_size
    in_size: tuple        # (H, W) of the input, before padding
    pads: tuple           # ((top, bottom), (left, right)) that ``padded`` adds, from ``edge_pads``


def make_window(in_size, kernel, stride, padding, dilation, ceil_mode):
    r"""The ``Window`` of an input of spatial size ``in_size`` (H, W)."""
    out = tuple(output_size(i, k, s, p, d, ceil_mode)
                for i, k, s, p, d in zip(in_size, kernel, stride, padding, dilation))
    pads = edge_pads(in_size, kernel, stride, padding, dilation, out)
    return Window(tuple(kernel), tuple(stride), tuple(padding), tuple(dilation), out, tuple(in_size), pads)


# --8<-- [start:pool_views]
def pool_views(a, w: Window):
    r"""The KH*KW strided views of the padded ``a`` (..., Hp, Wp), in row-major window order:
    view ``u*KW + v`` has shape (..., OH, OW) and holds ``a[..., i*S_h + u*D_h, j*S_w + v*D_w]``."""
    (KH, KW), (sh, sw), (dh, dw), (OH, OW) = w.kernel, w.stride, w.dilation, w.out_size
    return [a[..., u * dh:u * dh + sh * (OH - 1) + 1:sh, v * dw:v * dw + sw * (OW - 1) + 1:sw]
            for u in range(KH) for v in range(KW)]
# --8<-- [end:pool_views]


def edge_pads(in_size, kernel, stride, padding, dilation, out_size):
    r"""Padding per side as ((top, bottom), (left, right)): ``padding`` on both sides, plus, on the
    bottom/right, room for a last ``ceil_mode`` window that hangs over the edge."""
    pads = []
    for i, k, s, p, d, o in zip(in_size, kernel, stride, padding, dilation, out_size):
        need = (o - 1) * s + d * (k - 1) + 1           # extent that the windows cover
        pads.append((p, max(p, need - i - p)))
    return tuple(pads)


def padded(x, w: Window, value):
    r"""``x`` (N, C, H, W) padded with ``value`` (``-inf`` for max, 0 for the average)."""
    xp = get_array_module(x)
    if w.pads == ((0, 0), (0, 0)):
        return x
    return xp.pad(x, ((0, 0), (0, 0)) + w.pads, constant_values=value)


def scatter(parts, x_shape, w: Window):
    r"""``dx`` (N, C, H, W) from one gradient array per window position, written through the views.

    When the windows tile the padded input exactly (stride == kernel, no dilation, no remainder)
    each element is written once and needs no zeroing; overlapping windows must add.
    """
    xp = get_array_module(parts[0])
    (top, bottom), (left, right) = w.pads
    N, C, H, W = x_shape
    Hp, Wp = H + top + bottom, W + left + right
    tiles = (w.stride == w.kernel and w.dilation == (1, 1)
             and (Hp, Wp) == (w.out_size[0] * w.stride[0], w.out_size[1] * w.stride[1]))
    overlap = any(s < d * (k - 1) + 1 for s, k, d in zip(w.stride, w.kernel, w.dilation))
    dxpad = (xp.empty if tiles else xp.zeros)((N, C, Hp, Wp), dtype=parts[0].dtype)
    for view, part in zip(pool_views(dxpad, w), parts):
        if overlap:
            view += part
        else:
            view[...] = part
    return dxpad[:, :, top:top + H, left:left + W]


# --8<-- [start:maxpool_views]
def maxpool2d_views_forward(x, w: Window):
    r"""Equals :func:`maxpool2d_forward`, every window at once, with dilation and ``ceil_mode``.

    Shapes: ``x`` (N, C, H, W) -> ``y`` (N, C, OH, OW), OH from ``window.output_size``.

    $$
    y_{n,c,i,j} = \max_{u,v}\; \tilde x_{n,c,\,iS_h+uD_h,\,jS_w+vD_w}
    $$

    ``winner`` (uint8) records the window position ``u*KW + v`` of the maximum; strict ``>``
    keeps the first maximum on a tie, as in PyTorch; a NaN wins over every number (the last NaN
    of a window, as in PyTorch); a window of nothing but $-\infty$ points at its first element
    inside the input, not at the padding.
    """
    xp = get_array_module(x)
    views = pool_views(padded(x, w, -np.inf), w)
    index = np.uint8 if len(views) <= 256 else np.int32
    y = views[0].copy()
    winner = xp.zeros(y.shape, dtype=index)
    for k, view in enumerate(views[1:], start=1):
        better = view > y                            # strict: an equal later value does not win
        xp.maximum(y, view, out=y)                   # NaN propagates into y
        winner += better * (index(k) - winner)       # winner = k where better (arithmetic, no mask)
    # rare: a window whose maximum is -inf or NaN. One sum finds out whether either is there
    # (cheaper than isnan + any); on a GPU the test itself would cost a sync, so it always fixes up.
    if is_cupy_array(y) or not xp.isfinite(y.sum()):
        winner = xp.where(y == -np.inf, xp.asarray(first_inside(w), dtype=index), winner)
        nan = xp.isnan(y)
        for k, view in enumerate(views):
            winner = xp.where(nan & xp.isnan(view), index(k), winner)
    return y, MaxPoolCache(winner, x.shape, w)


def first_inside(w: Window):
    r"""(OH, OW): the window position ``u*KW + v`` of each window's first element inside the input
    (PyTorch starts each window's argmax there, so padding is never an answer)."""
    first = []
    for i, k, s, p, d, o in zip(w.in_size, w.kernel, w.stride, w.padding, w.dilation, w.out_size):
        taps = np.arange(o)[:, None] * s + np.arange(k) * d - p    # input index of each tap
        first.append(((taps >= 0) & (taps < i)).argmax(axis=1))
    return first[0][:, None] * w.kernel[1] + first[1]


def maxpool2d_views_backward(dy, cache):
    r"""Equals :func:`maxpool2d_backward`: view ``k`` receives ``dy`` where ``winner == k``."""
    KH, KW = cache.window.kernel
    parts = [dy * (cache.winner == k) for k in range(KH * KW)]
    return scatter(parts, cache.x_shape, cache.window)


class MaxPoolCache(NamedTuple):
    winner: object        # (N, C, OH, OW) window position u*KW + v of each window's maximum
    x_shape: tuple
    window: Window
# --8<-- [end:maxpool_views]


# --8<-- [start:max_indices]
def max_indices(cache: MaxPoolCache):
    r"""PyTorch's ``return_indices``: the flat index ``h*W + w`` of each maximum in its (H, W) plane.

    $$
    h = iS_h + uD_h - P_h,\qquad w = jS_w + vD_w - P_w,\qquad u = \lfloor k / K_W \rfloor,\ v = k \bmod K_W
    $$
    """
    xp = get_array_module(cache.winner)
    w = cache.window
    k = cache.winner.astype(np.int64)
    (OH, OW), W = w.out_size, w.in_size[1]
    rows = xp.arange(OH)[:, None] * w.stride[0] + (k // w.kernel[1]) * w.dilation[0] - w.padding[0]
    cols = xp.arange(OW) * w.stride[1] + (k % w.kernel[1]) * w.dilation[1] - w.padding[1]
    return rows * W + cols                           # (N, C, OH, OW) int64
# --8<-- [end:max_indices]


# --8<-- [start:avgpool_views]
def avg_divisor(x, w: Window, count_include_pad=True, divisor_override=None):
    r"""$D_{ij}$, what window $(i, j)$'s sum is divided by, as PyTorch does it: ``divisor_override``
    if given; else the number of window positions on the input and its padding
    (``count_include_pad``) or on the input alone. A ``ceil_mode`` window hanging over the padded
    edge counts only what it covers."""
    if divisor_override is not None:
        return divisor_override
    xp = get_array_module(x)
    (H, W), (ph, pw) = w.in_size, w.padding
    counted = xp.ones((H + 2 * ph, W + 2 * pw) if count_include_pad else (H, W), dtype=x.dtype)
    if not count_include_pad:
        counted = xp.pad(counted, ((ph, ph), (pw, pw)))
    (_, bottom), (_, right) = w.pads                 # the ceil_mode overhang counts for nothing
    counted = xp.pad(counted, ((0, bottom - ph), (0, right - pw)))
    return sum(pool_views(counted, w))               # (OH, OW)


def avgpool2d_views_forward(x, w: Window, count_include_pad=True, divisor_override=None):
    r"""Equals :func:`avgpool2d_forward` (which is ``count_include_pad=True`` without
    ``ceil_mode``), every window at once; padding adds zeros.

    $$
    y_{n,c,i,j} = \frac{1}{D_{ij}} \sum_{u,v} \tilde x_{n,c,\,iS_h+u,\,jS_w+v}
    $$
    """
    views = pool_views(padded(x, w, 0), w)
    y = views[0].copy()
    for view in views[1:]:
        y += view
    divisor = avg_divisor(x, w, count_include_pad, divisor_override)
    y /= divisor
    return y, AvgPoolCache(divisor, x.shape, w)


def avgpool2d_views_backward(dy, cache):
    r"""Each window position receives $\mathrm{d}y_{n,c,i,j} / D_{ij}$."""
    KH, KW = cache.window.kernel
    part = dy / cache.divisor
    return scatter([part] * (KH * KW), cache.x_shape, cache.window)


class AvgPoolCache(NamedTuple):
    divisor: object       # scalar, or (OH, OW): what each window's sum was divided by
    x_shape: tuple
    window: Window
# --8<-- [end:avgpool_views]
