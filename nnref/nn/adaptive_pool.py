r"""``torch.nn.AdaptiveAvgPool2d`` and ``AdaptiveMaxPool2d`` around the reference pairs of
:mod:`nnref.layers.adaptive_pool`: the output size is fixed, the windows follow the input."""
from __future__ import annotations

import math

from ..backend import get_array_module
from ..checks import backward_cache, check_float, check_int
from ..layers.adaptive_pool import (adaptive_avg_pool2d_backward, adaptive_avg_pool2d_forward,
                                    adaptive_max_pool2d_backward, adaptive_max_pool2d_forward)
from ..module import Module

LAYOUT = "(N, C, H, W) or unbatched (C, H, W)"


def output_pair(output_size, who):
    r"""``output_size`` as torch takes it: an int for both axes, or a pair whose entries are ints
    or None (None: keep that axis's input size)."""
    if output_size is None or isinstance(output_size, str):
        raise TypeError(f"{who}: output_size must be an int or a pair of ints or None, got {output_size!r}")
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(sizes) != 2:
        raise ValueError(f"{who}: output_size must have 2 entries (H, W), got {output_size!r}")
    return tuple(None if s is None else check_int(s, "output_size", who) for s in sizes)


class _AdaptivePool2d(Module):
    """Pooling is plane by plane, so every leading axis is folded into one before the reference
    (which takes (N, C, H, W)) and unfolded after: unbatched input needs nothing of its own."""

    def __init__(self, output_size):
        super().__init__()
        self._sizes = output_pair(output_size, type(self).__name__)
        self._pair_given = isinstance(output_size, (tuple, list))
        self.output_size = tuple(output_size) if self._pair_given else output_size
        self._cache = None

    def _out(self, x):
        """The output's (OH, OW): None keeps the input's size."""
        return tuple(x.shape[x.ndim - 2 + a] if s is None else s for a, s in enumerate(self._sizes))

    def _check(self, x, who):
        check_float(x, who)
        if self._pair_given and x.ndim < 3:                # torch: "Input dimension should be at least 3"
            raise ValueError(f"{who}: expected input of shape {LAYOUT}, got shape {tuple(x.shape)}")

    def _check_3d_4d(self, x, who, nonempty_from):
        if x.ndim not in (3, 4):
            raise ValueError(f"{who}: expected input of shape {LAYOUT}, got shape {tuple(x.shape)}")
        if 0 in x.shape[nonempty_from:]:
            raise ValueError(f"{who}: expected a non-empty input apart from the batch axis, "
                             f"got shape {tuple(x.shape)}")

    def _run(self, forward, x, out):
        lead, (H, W) = x.shape[:-2], x.shape[-2:]
        y, cache = forward(x.reshape((math.prod(lead), 1, H, W)), out)
        y = y.reshape(lead + out)
        self._cache = ((cache, x.shape), y.shape, y.dtype)
        return y, cache

    def _run_backward(self, backward, dy):
        (cache, x_shape), dy = backward_cache(self._cache, dy, type(self).__name__)
        if cache is None:                                  # an empty plane: nothing to send back
            return get_array_module(dy).zeros(x_shape, dtype=dy.dtype)
        return backward(dy.reshape(cache.x_shape[:2] + dy.shape[-2:]), cache).reshape(x_shape)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptivePool2d):
    r"""``torch.nn.AdaptiveAvgPool2d(output_size)``; no parameters. ``output_size``: an int, or a
    pair of ints or None (None keeps that input size). Input (N, C, H, W) or (C, H, W) of any size,
    smaller or larger than the output.

    As in torch, a 1 x 1 output is the mean over the last two axes of an input with any number
    of leading axes (NaN for an empty plane).
    """

    def __init__(self, output_size):
        super().__init__(output_size)

    def forward(self, input):
        who = "AdaptiveAvgPool2d"
        self._check(input, who)
        x = input
        if x.ndim >= 2 and self._out(x) == (1, 1):
            if 0 in x.shape[-2:]:                          # the mean of nothing
                y = get_array_module(x).full(x.shape[:-2] + (1, 1), float("nan"), dtype=x.dtype)
                self._cache = ((None, x.shape), y.shape, y.dtype)
                return y
        else:
            self._check_3d_4d(x, who, nonempty_from=-2)
        return self._run(adaptive_avg_pool2d_forward, x, self._out(x))[0]

    def backward(self, dy):
        return self._run_backward(adaptive_avg_pool2d_backward, dy)


class AdaptiveMaxPool2d(_AdaptivePool2d):
    r"""``torch.nn.AdaptiveMaxPool2d(output_size, return_indices=False)``; no parameters. With
    ``return_indices`` the call returns ``(output, indices)``, each index flat in its (H, W) plane
    as in torch; ``backward`` takes the output's gradient either way. On a tie the first maximum
    (row-major) wins; a NaN in a window is its maximum, as in torch."""

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = bool(return_indices)

    def forward(self, input):
        who = "AdaptiveMaxPool2d"
        self._check(input, who)
        self._check_3d_4d(input, who, nonempty_from=1)
        y, cache = self._run(adaptive_max_pool2d_forward, input, self._out(input))
        if not self.return_indices:
            return y
        return y, cache.argmax.reshape(y.shape)

    def backward(self, dy):
        return self._run_backward(adaptive_max_pool2d_backward, dy)
