r"""``torch.nn.Conv2d``: parameters, padding modes and checks around :mod:`nnref.layers.conv`;
runs the equal but faster :mod:`nnref.fast.conv` where it applies (``groups=1``, ``dilation=1``)."""
from __future__ import annotations

import math
from typing import NamedTuple

from ..backend import default_rng, device_backend, to_backend
from ..checks import backward_cache, check_float, check_int, check_ndim, check_pair, check_same_backend, check_size, param_dtype
from ..fast.conv import conv2d_fast_backward, conv2d_fast_forward
from ..layers.conv import NUMPY_PAD_MODE, ConvCache, conv2d_backward, conv2d_forward, pad2d, pad2d_backward
from ..module import Module, Parameter


PADDING_MODES = tuple(NUMPY_PAD_MODE)


class _Step(NamedTuple):
    conv: object         # the cache of conv2d_forward (ConvCache) or of the fast path
    pads: tuple          # ((top, bottom), (left, right)) padded before the convolution, or None
    unbatched: bool


class Conv2d(Module):
    r"""``torch.nn.Conv2d``: ``weight`` (out_channels, in_channels/groups, KH, KW), ``bias`` (out_channels,).

    ``kernel_size``, ``stride``, ``padding`` and ``dilation`` are an int or an (h, w) pair.
    ``padding='valid'`` is 0; ``padding='same'`` (stride 1 only) keeps the input's size with
    $D(K - 1)$ padded entries per axis, split as PyTorch does: $\lfloor D(K-1)/2 \rfloor$ before,
    the rest after. ``padding_mode``: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``
    (see :func:`pad2d`). ``groups`` splits the channels into independent convolutions
    (``groups = in_channels``: depthwise). Both parameters start as
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels/groups*KH*KW, PyTorch's default.
    ``device``: None (default backend), ``'cpu'`` (NumPy) or ``'cuda'`` (CuPy); ``dtype`` of the
    parameters, float32 by default. The computation runs in the input's dtype.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__()
        who = "Conv2d"
        self.in_channels = check_int(in_channels, "in_channels", who, 1)
        self.out_channels = check_int(out_channels, "out_channels", who, 1)
        self.groups = check_int(groups, "groups", who, 1)
        for name, channels in (("in_channels", self.in_channels), ("out_channels", self.out_channels)):
            if channels % self.groups:
                raise ValueError(f"Conv2d: {name} must be divisible by groups, got {name}={channels} "
                                 f"and groups={self.groups}")
        self.kernel_size = check_pair(kernel_size, "kernel_size", who, 1)
        self.stride = check_pair(stride, "stride", who, 1)
        self.dilation = check_pair(dilation, "dilation", who, 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Conv2d: padding must be an int, an (h, w) pair, 'same' or 'valid', "
                                 f"got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"Conv2d: padding='same' needs stride 1 (as in PyTorch), got stride {self.stride}")
            self.padding = padding
        else:
            self.padding = check_pair(padding, "padding", who, 0)
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"Conv2d: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        self.padding_mode = padding_mode
        backend, dt = device_backend(device, who), param_dtype(dtype, who)
        KH, KW = self.kernel_size
        bound = 1.0 / math.sqrt(self.in_channels // self.groups * KH * KW)
        host = default_rng().host                      # drawn on the host, then moved: same numbers everywhere
        shape = (self.out_channels, self.in_channels // self.groups, KH, KW)
        self.weight = Parameter(to_backend(host.uniform(-bound, bound, shape), backend, dt))
        self.register_parameter("bias", Parameter(to_backend(host.uniform(-bound, bound, (self.out_channels,)),
                                                             backend, dt)) if bias else None)
        self._cache = None
        self._last_pads = None      # (key, pads) of the last call, see forward

    def _pads(self):
        r"""``((top, bottom), (left, right))``: entries padded before and after along H and along W."""
        if self.padding == "valid":
            return (0, 0), (0, 0)
        if self.padding == "same":                     # torch: the odd one out goes after
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            return tuple((t // 2, t - t // 2) for t in totals)
        return tuple((p, p) for p in self.padding)

    def _check_fits(self, x, pads):
        size = tuple(x.shape[-2:])
        if 0 in size and (self.padding_mode != "zeros" or x.ndim == 3 or x.shape[0] > 0):   # torch's rule
            raise ValueError(f"Conv2d: expected an image of height and width >= 1 (or, with zero padding, "
                             f"an empty batch), got input of shape {tuple(x.shape)}")
        extent = tuple(d * (k - 1) + 1 for d, k in zip(self.dilation, self.kernel_size))
        if any(s + a + b < e for s, (a, b), e in zip(size, pads, extent)):
            dilated = f" dilated by {self.dilation} (extent {extent})" if self.dilation != (1, 1) else ""
            raise ValueError(f"Conv2d: input of spatial size {size} (with padding {self.padding}) is "
                             f"smaller than the kernel {self.kernel_size}{dilated}")
        limit = {"reflect": ("<", 0), "circular": ("<=", 1)}.get(self.padding_mode)
        if limit and any(max(p) > s - 1 + limit[1] for s, p in zip(size, pads)):
            raise ValueError(f"Conv2d: padding_mode={self.padding_mode!r} needs padding {limit[0]} the "
                             f"input size on each axis, got padding {pads} for input size {size}")

    def forward(self, input):
        r"""``input`` (N, C, H, W), or one unbatched image (C, H, W) as torch accepts it."""
        x = input
        check_float(x, "Conv2d")
        check_ndim(x, "Conv2d", (3, 4), "(N, C, H, W) or unbatched (C, H, W)")
        check_size(x, "Conv2d", -3, self.in_channels, "input channels")
        check_same_backend(x, self.weight.data, "Conv2d")
        # the same input shape and settings as the last call: the same (already checked) padding.
        # Pure speed: on small inputs these Python checks are a noticeable part of a step
        key = (x.shape, self.padding, self.padding_mode, self.dilation, self.kernel_size)
        if self._last_pads is not None and self._last_pads[0] == key:
            pads = self._last_pads[1]
        else:
            pads = self._pads()
            self._check_fits(x, pads)
            self._last_pads = (key, pads)
        w = self.weight.data.astype(x.dtype, copy=False)
        b = None if self.bias is None else self.bias.data.astype(x.dtype, copy=False)
        unbatched = x.ndim == 3
        x = x[None] if unbatched else x
        (pad_top, pad_bottom), (pad_left, pad_right) = pads
        if self.padding_mode == "zeros" and pad_top == pad_bottom and pad_left == pad_right:
            padding, explicit = (pad_top, pad_left), None           # the convolution pads with zeros
        else:                                                       # a padding step, then no padding
            x, padding, explicit = pad2d(x, pads, self.padding_mode), (0, 0), pads
        if self.groups == 1 and self.dilation == (1, 1) and x.shape[0] > 0:
            y, cache = conv2d_fast_forward(x, w, b, self.stride, padding)
        else:
            y, cache = conv2d_forward(x, w, b, self.stride, padding, self.dilation, self.groups)
        y = y[0] if unbatched else y
        self._cache = (_Step(cache, explicit, unbatched), y.shape, y.dtype)
        return y

    def backward(self, dy):
        step, dy = backward_cache(self._cache, dy, "Conv2d")
        dy = dy[None] if step.unbatched else dy
        backward = conv2d_backward if isinstance(step.conv, ConvCache) else conv2d_fast_backward
        dx, dw, db = backward(dy, step.conv)
        self.weight.accumulate(dw)
        if db is not None:
            self.bias.accumulate(db)
        if step.pads is not None:
            dx = pad2d_backward(dx, step.pads, self.padding_mode)
        return dx[0] if step.unbatched else dx

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s
