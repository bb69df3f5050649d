r"""``torch.nn.MaxPool2d`` and ``AvgPool2d``: arguments, checks and the window of each input size
around the strided-view pairs of :mod:`nnref.layers.pool`."""
from __future__ import annotations

import numpy as np

from ..checks import backward_cache, check_float, check_ndim, check_pair
from ..layers.pool import (avgpool2d_views_backward, avgpool2d_views_forward, make_window, max_indices,
                           maxpool2d_views_backward, maxpool2d_views_forward)
from ..module import Module


class _Pool2d(Module):
    r"""Shared arguments and checks; ``stride`` defaults to ``kernel_size`` as in PyTorch (None or
    an empty list). The attributes keep the values as given (``MaxPool2d(2).stride == 2``), as torch's."""

    def __init__(self, kernel_size, stride, padding, dilation, ceil_mode):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None or (isinstance(stride, (tuple, list)) and not stride) \
            else stride
        self.padding, self.dilation, self.ceil_mode = padding, dilation, bool(ceil_mode)
        self._pairs()
        self._cache = None
        self._last_window = None    # (key, Window) of the last call, see _window

    def _pairs(self):
        r"""(kernel, stride, padding, dilation) as (H, W) pairs, checked: read at every call, so a
        changed attribute (``pool.stride = 1``) takes effect as in torch."""
        who = type(self).__name__
        kernel, stride = check_pair(self.kernel_size, "kernel_size", who, 1), check_pair(self.stride, "stride", who, 1)
        padding, dilation = check_pair(self.padding, "padding", who, 0), check_pair(self.dilation, "dilation", who, 1)
        if any(p > k // 2 for p, k in zip(padding, kernel)):
            raise ValueError(f"{who}: padding {padding} must be at most half of kernel_size "
                             f"{kernel} (a window may not lie entirely on padding)")
        return kernel, stride, padding, dilation

    def _window(self, x):
        who = type(self).__name__
        check_float(x, who)
        check_ndim(x, who, (3, 4), "(N, C, H, W) or unbatched (C, H, W)")
        if 0 in x.shape[-3:]:
            raise ValueError(f"{who}: expected non-empty channel and spatial axes, got shape {tuple(x.shape)}")
        # the same input size and settings as the last call: the same (already checked) window.
        # Pure speed: a small network spends a tenth of its step in Python, and this is most of it
        key = (x.shape[-2:], self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)
        if self._last_window is not None and self._last_window[0] == key:
            return self._last_window[1]
        kernel, stride, padding, dilation = self._pairs()
        w = make_window(x.shape[-2:], kernel, stride, padding, dilation, self.ceil_mode)
        if min(w.out_size) < 1:
            raise ValueError(f"{who}: input of spatial size {tuple(x.shape[-2:])} gives output size "
                             f"{w.out_size}: too small for kernel_size {kernel}, "
                             f"dilation {dilation}, padding {padding}")
        # without dilation every window touches the input (padding <= kernel/2, and a ceil_mode
        # window starts inside it), so only dilated windows need this check
        for i, k, s, p, d, o in zip(w.in_size, w.kernel, w.stride, w.padding, w.dilation, w.out_size):
            if d == 1:
                continue
            taps = np.arange(o)[:, None] * s + np.arange(k) * d - p      # input index of each tap
            if not ((taps >= 0) & (taps < i)).any(axis=1).all():
                # PyTorch returns -inf there and sends the gradient to an unrelated element
                raise ValueError(f"{who}: with dilation {dilation} and padding {padding} a "
                                 f"window lies entirely on padding for input size {tuple(x.shape[-2:])}")
        self._last_window = (key, w)
        return w

    def _run(self, forward, x, *args):
        r"""``forward`` on ``x`` (N, C, H, W) or one unbatched (C, H, W), saving what backward needs."""
        w = self._window(x)
        unbatched = x.ndim == 3
        y, cache = forward(x[None] if unbatched else x, w, *args)
        self._cache = ((cache, unbatched), y.shape[1:] if unbatched else y.shape, y.dtype)
        return (y[0] if unbatched else y), cache, unbatched

    def _run_backward(self, backward, dy):
        (cache, unbatched), dy = backward_cache(self._cache, dy, type(self).__name__)
        dx = backward(dy[None] if unbatched else dy, cache)
        return dx[0] if unbatched else dx



class MaxPool2d(_Pool2d):
    r"""``torch.nn.MaxPool2d``; no parameters. With ``return_indices`` the call returns
    ``(output, indices)``, the indices flat in each (H, W) plane as in PyTorch; ``backward``
    takes the output's gradient either way."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode)
        self.return_indices = bool(return_indices)

    def forward(self, input):
        y, cache, unbatched = self._run(maxpool2d_views_forward, input)
        if not self.return_indices:
            return y
        indices = max_indices(cache)
        return y, (indices[0] if unbatched else indices)

    def backward(self, dy):
        return self._run_backward(maxpool2d_views_backward, dy)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")     # torch's words exactly


class AvgPool2d(_Pool2d):
    r"""``torch.nn.AvgPool2d``; no parameters."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__(kernel_size, stride, padding, 1, ceil_mode)
        if divisor_override is not None and (
                not isinstance(divisor_override, (int, np.integer)) or isinstance(divisor_override, bool)
                or divisor_override == 0):
            raise ValueError(f"AvgPool2d: divisor_override must be a non-zero int or None, "
                             f"got {divisor_override!r}")
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = None if divisor_override is None else int(divisor_override)

    def forward(self, input):
        return self._run(avgpool2d_views_forward, input, self.count_include_pad, self.divisor_override)[0]

    def backward(self, dy):
        return self._run_backward(avgpool2d_views_backward, dy)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"  # as torch
