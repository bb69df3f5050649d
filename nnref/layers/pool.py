"""Pooling layers: ``torch.nn.MaxPool2d`` and ``torch.nn.AvgPool2d``.

A pooling window of KH x KW positions is handled as KH*KW strided views of the (padded)
input, one per offset ``(u, v)`` inside the window: view ``(u, v)`` holds, for every output
position ``(i, j)``, the input element ``(i*S_h + u, j*S_w + v)``. Reducing over the views
(max or sum) pools every window at once, and the backward pass writes through the same
views, so nothing is ever copied into a window-shaped array.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..checks import backward_cache, check_float, check_ndim
from ..module import Module
from .conv import _pair


# --8<-- [start:pool_views]
def pool_views(a, kernel, stride, out_size):
    """The KH*KW strided views of ``a`` (..., H, W), in row-major window order: view ``u*KW + v``
    has shape (..., OH, OW) and holds ``a[..., i*S_h + u, j*S_w + v]``."""
    (KH, KW), (sh, sw), (OH, OW) = kernel, stride, out_size
    return [a[..., u:u + sh * OH:sh, v:v + sw * OW:sw] for u in range(KH) for v in range(KW)]
# --8<-- [end:pool_views]


def _padded(x, padding, value):
    xp = get_array_module(x)
    ph, pw = padding
    if not (ph or pw):
        return x
    return xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _out_size(shape, kernel, stride, padding):
    (KH, KW), (sh, sw), (ph, pw) = kernel, stride, padding
    return (shape[2] + 2 * ph - KH) // sh + 1, (shape[3] + 2 * pw - KW) // sw + 1


def _scatter(dy_parts, x_shape, kernel, stride, padding, out_size):
    """``dx`` (N, C, H, W) from one gradient array per window offset, written through the views.

    When the windows tile the padded input exactly (stride == kernel, no remainder) each
    element is written once and needs no zeroing; overlapping windows must add.
    """
    xp = get_array_module(dy_parts[0])
    (ph, pw), (N, C, H, W) = padding, x_shape
    Hp, Wp = H + 2 * ph, W + 2 * pw
    tiles = tuple(stride) == tuple(kernel) and (Hp, Wp) == (out_size[0] * stride[0], out_size[1] * stride[1])
    overlap = stride[0] < kernel[0] or stride[1] < kernel[1]
    dxpad = (xp.empty if tiles else xp.zeros)((N, C, Hp, Wp), dtype=dy_parts[0].dtype)
    for view, part in zip(pool_views(dxpad, kernel, stride, out_size), dy_parts):
        if overlap:
            view += part
        else:
            view[...] = part
    return dxpad[:, :, ph:ph + H, pw:pw + W]


# --8<-- [start:maxpool_forward]
def maxpool2d_forward(x, kernel, stride, padding=(0, 0)):
    """Max over each window; padding counts as $-\\infty$ (it never wins).

    Shapes: ``x`` (N, C, H, W) -> ``y`` (N, C, OH, OW), ``OH = (H + 2P - K) // S + 1``.

    $$
    y_{n,c,i,j} = \\max_{u,v}\\; \\tilde x_{n,c,\\,iS_h+u,\\,jS_w+v}
    $$

    ``winner`` (uint8) records the offset ``u*KW + v`` of the maximum. The comparison is
    strict, so on a tie the *first* maximum in row-major window order keeps the index, as in
    PyTorch.
    """
    xp = get_array_module(x)
    out_size = _out_size(x.shape, kernel, stride, padding)
    views = pool_views(_padded(x, padding, -np.inf), kernel, stride, out_size)
    index = np.uint8 if len(views) <= 256 else np.int32
    y = views[0].copy()
    winner = xp.zeros(y.shape, dtype=index)
    for k, view in enumerate(views[1:], start=1):
        better = view > y                            # strict: an equal later value does not win
        xp.maximum(y, view, out=y)
        winner += better * (index(k) - winner)       # winner = k where better (arithmetic, no mask)
    return y, (winner, x.shape, kernel, stride, padding, out_size)
# --8<-- [end:maxpool_forward]


# --8<-- [start:maxpool_backward]
def maxpool2d_backward(dy, cache):
    """The whole gradient of each window goes to its (first) maximum:

    $$
    \\frac{\\partial L}{\\partial \\tilde x_{n,c,\\,iS_h+u,\\,jS_w+v}} \\mathrel{+}=
    \\mathrm{d}y_{n,c,i,j}\\,[\\,\\text{winner}_{n,c,i,j} = u K_W + v\\,]
    $$
    """
    winner, x_shape, kernel, stride, padding, out_size = cache
    parts = [dy * (winner == k) for k in range(kernel[0] * kernel[1])]
    return _scatter(parts, x_shape, kernel, stride, padding, out_size)
# --8<-- [end:maxpool_backward]


# --8<-- [start:avgpool]
def avgpool2d_forward(x, kernel, stride, padding=(0, 0), count_include_pad=True):
    """Mean over each window; padding adds zeros.

    $$
    y_{n,c,i,j} = \\frac{1}{D_{ij}} \\sum_{u,v} \\tilde x_{n,c,\\,iS_h+u,\\,jS_w+v}
    $$

    $D_{ij} = K_H K_W$ when ``count_include_pad`` (PyTorch's default); otherwise the number of
    window positions that fall on the real input, not on padding.
    """
    xp = get_array_module(x)
    out_size = _out_size(x.shape, kernel, stride, padding)
    views = pool_views(_padded(x, padding, 0), kernel, stride, out_size)
    y = views[0].copy()
    for view in views[1:]:
        y += view
    if count_include_pad or padding == (0, 0):
        divisor = kernel[0] * kernel[1]
    else:  # count real pixels: pool a mask of ones that is zero on the padding
        ones = _padded(xp.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype), padding, 0)
        divisor = sum(pool_views(ones, kernel, stride, out_size))
    y /= divisor
    return y, (divisor, x.shape, kernel, stride, padding, out_size)


def avgpool2d_backward(dy, cache):
    """Each window position receives $\\mathrm{d}y_{n,c,i,j} / D_{ij}$."""
    divisor, x_shape, kernel, stride, padding, out_size = cache
    part = dy / divisor
    return _scatter([part] * (kernel[0] * kernel[1]), x_shape, kernel, stride, padding, out_size)
# --8<-- [end:avgpool]


class _Pool2d(Module):
    """Shared arguments and checks; ``stride`` defaults to ``kernel_size`` as in PyTorch."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        who = type(self).__name__
        self.kernel_size = _pair(kernel_size, "kernel_size", who, 1)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", who, 1)
        self.padding = _pair(padding, "padding", who, 0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{who}: padding {self.padding} must be at most half of kernel_size "
                             f"{self.kernel_size} (a window may not lie entirely on padding)")
        self._cache = None

    def _check(self, x):
        who = type(self).__name__
        check_float(x, who)
        check_ndim(x, who, (3, 4), "(N, C, H, W) or unbatched (C, H, W)")
        (KH, KW), (ph, pw) = self.kernel_size, self.padding
        if x.shape[-2] + 2 * ph < KH or x.shape[-1] + 2 * pw < KW:
            raise ValueError(f"{who}: input of spatial size {tuple(x.shape[-2:])} (with padding "
                             f"{self.padding}) is smaller than the kernel {self.kernel_size}")

    def _run(self, forward, x, *args):
        """``forward`` on ``x`` (N, C, H, W) or one unbatched (C, H, W), saving what backward needs."""
        self._check(x)
        unbatched = x.ndim == 3
        y, cache = forward(x[None] if unbatched else x, self.kernel_size, self.stride, self.padding, *args)
        y = y[0] if unbatched else y
        self._cache = ((cache, unbatched), y.shape)
        return y

    def _run_backward(self, backward, dy):
        cache, unbatched = backward_cache(self._cache, dy, type(self).__name__)
        dx = backward(dy[None] if unbatched else dy, cache)
        return dx[0] if unbatched else dx

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """``torch.nn.MaxPool2d(kernel_size, stride=None, padding=0)``; no parameters."""

    def forward(self, x):
        return self._run(maxpool2d_forward, x)

    def backward(self, dy):
        return self._run_backward(maxpool2d_backward, dy)


class AvgPool2d(_Pool2d):
    """``torch.nn.AvgPool2d(kernel_size, stride=None, padding=0, count_include_pad=True)``."""

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x):
        return self._run(avgpool2d_forward, x, self.count_include_pad)

    def backward(self, dy):
        return self._run_backward(avgpool2d_backward, dy)

    def extra_repr(self):
        return super().extra_repr() + f", count_include_pad={self.count_include_pad}"
