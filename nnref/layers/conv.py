r"""The convolution layer: ``torch.nn.Conv2d`` (which computes a cross-correlation).

Two reference implementations of the same map: ``conv2d_naive_*`` loops over every output
element exactly as the definition reads (a test oracle, and what the page shows first), and
``conv2d_forward`` / ``conv2d_backward`` unfold the input with im2col so that each group of
channels is one matrix product each way. Padding modes other than zeros are a separate step,
:func:`pad2d`. The layer uses the faster but equal functions of :mod:`nnref.fast.conv` where
they apply (``groups=1``, ``dilation=1``).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..backend import backend_of, default_rng, device_backend, get_array_module, to_backend
from ..checks import backward_cache, check_float, check_ndim, check_size, param_dtype
from ..fast.conv import conv2d_fast_backward, conv2d_fast_forward
from ..module import Module, Parameter
from .window import output_size, pair


# --8<-- [start:receptive_field]
def receptive_field(layers):
    r"""Receptive field of a stack of layers, given as ``(kernel, stride)`` pairs from input to output.

    $$
    r_l = r_{l-1} + (k_l - 1)\,j_{l-1},\qquad j_l = j_{l-1}\,s_l,\qquad r_0 = j_0 = 1
    $$

    ``j`` is the distance, in input pixels, between two neighbouring outputs of layer ``l``.
    """
    r, j = 1, 1
    for k, s in layers:
        r, j = r + (k - 1) * j, j * s
    return r
# --8<-- [end:receptive_field]


def pairs(stride, padding, dilation):
    r"""Each of ``stride``, ``padding``, ``dilation`` as an (h, w) pair; an int means both axes."""
    return pair(stride, "stride", "conv2d"), pair(padding, "padding", "conv2d"), pair(dilation, "dilation", "conv2d")


# --8<-- [start:conv_naive]
def conv2d_naive_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    r"""The definition, one output element at a time (slow; a reference).

    Shapes: ``x`` (N, C, H, W), ``w`` (F, C/G, KH, KW), ``b`` (F,) -> ``y`` (N, F, OH, OW).

    $$
    y_{n,f,i,j} = b_f + \sum_{c=0}^{C/G-1}\sum_{u=0}^{K_H-1}\sum_{v=0}^{K_W-1}
    \tilde x_{n,\,g C/G + c,\,i S_H + u D_H,\,j S_W + v D_W}\; w_{f,c,u,v}
    $$

    where $\tilde x$ is ``x`` with ``padding`` zeros on each side and $g = \lfloor f/(F/G) \rfloor$
    is the group of kernel f: it sees only that group's C/G input channels.
    """
    xp = get_array_module(x, w)
    (SH, SW), (PH, PW), (DH, DW) = pairs(stride, padding, dilation)
    N, C, H, W = x.shape
    F, C_g, KH, KW = w.shape
    OH, OW = output_size(H, KH, SH, PH, DH), output_size(W, KW, SW, PW, DW)
    x_pad = xp.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    y = xp.zeros((N, F, OH, OW), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            g = f // (F // groups)
            for i in range(OH):
                for j in range(OW):
                    patch = x_pad[n, g * C_g:(g + 1) * C_g,                     # (C/G, KH, KW)
                                  i * SH:i * SH + DH * (KH - 1) + 1:DH,
                                  j * SW:j * SW + DW * (KW - 1) + 1:DW]
                    y[n, f, i, j] = (patch * w[f]).sum() + (0 if b is None else b[f])
    return y


def conv2d_naive_backward(dy, x, w, stride=1, padding=0, dilation=1, groups=1):
    r"""Gradients of the definition, again one output element at a time.

    Each $y_{n,f,i,j}$ sends $\mathrm{d}y_{n,f,i,j}$ back to the patch and the kernel it was made of.
    Returns ``(dx, dw, db)``.
    """
    xp = get_array_module(dy, x, w)
    (SH, SW), (PH, PW), (DH, DW) = pairs(stride, padding, dilation)
    N, C, H, W = x.shape
    F, C_g, KH, KW = w.shape
    x_pad = xp.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    dx_pad, dw = xp.zeros_like(x_pad), xp.zeros_like(w)
    for n in range(N):
        for f in range(F):
            g = f // (F // groups)
            for i in range(dy.shape[2]):
                for j in range(dy.shape[3]):
                    patch = (n, slice(g * C_g, (g + 1) * C_g),
                             slice(i * SH, i * SH + DH * (KH - 1) + 1, DH),
                             slice(j * SW, j * SW + DW * (KW - 1) + 1, DW))
                    dw[f] += dy[n, f, i, j] * x_pad[patch]
                    dx_pad[patch] += dy[n, f, i, j] * w[f]
    return dx_pad[:, :, PH:PH + H, PW:PW + W], dw, dy.sum(axis=(0, 2, 3))
# --8<-- [end:conv_naive]


# --8<-- [start:im2col]
def im2col(x, kernel, stride=1, padding=0, dilation=1):
    r"""Unfold every window of ``x`` (N, C, H, W) into a column of ``cols`` (C*KH*KW, N*OH*OW).

    Row $(c, u, v)$ and column $(n, i, j)$ hold $\tilde x_{n,c,\,iS_H + uD_H,\,jS_W + vD_W}$.
    For one kernel offset $(u, v)$ these entries, over all windows, form one strided slice of
    the padded input (rows $uD_H,\ uD_H + S_H,\ \dots$), so one copy per offset fills them.
    """
    xp = get_array_module(x)
    (KH, KW), ((SH, SW), (PH, PW), (DH, DW)) = kernel, pairs(stride, padding, dilation)
    N, C, H, W = x.shape
    OH, OW = output_size(H, KH, SH, PH, DH), output_size(W, KW, SW, PW, DW)
    x_pad = xp.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))              # (N, C, H+2P_H, W+2P_W)
    cols = xp.empty((C, KH, KW, N, OH, OW), dtype=x.dtype)
    for u in range(KH):
        for v in range(KW):
            rows = slice(u * DH, u * DH + SH * (OH - 1) + 1, SH)           # i S_H + u D_H, i < OH
            columns = slice(v * DW, v * DW + SW * (OW - 1) + 1, SW)        # j S_W + v D_W, j < OW
            cols[:, u, v] = x_pad[:, :, rows, columns].transpose(1, 0, 2, 3)   # (C, N, OH, OW)
    return cols.reshape(C * KH * KW, N * OH * OW)
# --8<-- [end:im2col]


# --8<-- [start:col2im]
def col2im(dcols, x_shape, kernel, stride=1, padding=0, dilation=1):
    r"""The adjoint of :func:`im2col`: add each column back onto the window it came from.

    ``dcols`` (C*KH*KW, N*OH*OW) -> ``dx`` of shape ``x_shape`` (N, C, H, W). A pixel covered
    by several windows receives the sum of their gradients; one strided ``+=`` per kernel
    offset $(u, v)$ adds that offset's entries of every window at once.
    """
    xp = get_array_module(dcols)
    N, C, H, W = x_shape
    (KH, KW), ((SH, SW), (PH, PW), (DH, DW)) = kernel, pairs(stride, padding, dilation)
    OH, OW = output_size(H, KH, SH, PH, DH), output_size(W, KW, SW, PW, DW)
    d = dcols.reshape(C, KH, KW, N, OH, OW)
    dx_pad = xp.zeros((N, C, H + 2 * PH, W + 2 * PW), dtype=dcols.dtype)
    for u in range(KH):
        for v in range(KW):
            rows = slice(u * DH, u * DH + SH * (OH - 1) + 1, SH)
            columns = slice(v * DW, v * DW + SW * (OW - 1) + 1, SW)
            dx_pad[:, :, rows, columns] += d[:, u, v].transpose(1, 0, 2, 3)   # (N, C, OH, OW)
    return dx_pad[:, :, PH:PH + H, PW:PW + W]
# --8<-- [end:col2im]


class ConvCache(NamedTuple):
    x_shape: tuple       # (N, C, H, W)
    w: object            # (F, C/G, KH, KW)
    cols: object         # (C*KH*KW, N*OH*OW)
    has_bias: bool
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int


# --8<-- [start:conv_forward]
def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    r"""Convolution (cross-correlation) as one matrix product per group of channels.

    Shapes: ``x`` (N, C, H, W), ``w`` (F, C/G, KH, KW), ``b`` (F,) or None -> ``y`` (N, F, OH, OW).
    Group g takes input channels $[gC/G, (g+1)C/G)$ and makes output channels $[gF/G, (g+1)F/G)$:

    $$
    Y_g = W_g\,\mathrm{cols}_g + b_g,\qquad
    W_g \in \mathbb R^{F/G \times (C/G) K_H K_W},\;
    \mathrm{cols}_g \in \mathbb R^{(C/G) K_H K_W \times N\,OH\,OW}
    $$

    ``cols_g`` is group g's block of rows of :func:`im2col`'s ``cols`` (its rows are ordered
    by channel first). Returns ``(y, cache)``.
    """
    stride, padding, dilation = pairs(stride, padding, dilation)
    N, C, H, W = x.shape
    F, C_g, KH, KW = w.shape
    G = groups
    OH = output_size(H, KH, stride[0], padding[0], dilation[0])
    OW = output_size(W, KW, stride[1], padding[1], dilation[1])
    cols = im2col(x, (KH, KW), stride, padding, dilation)            # (C*KH*KW, N*OH*OW)
    cols_g = cols.reshape(G, C_g * KH * KW, N * OH * OW)
    W_g = w.reshape(G, F // G, C_g * KH * KW)
    Y = (W_g @ cols_g).reshape(F, N * OH * OW)                       # one product per group
    if b is not None:
        Y = Y + b[:, None]
    y = Y.reshape(F, N, OH, OW).transpose(1, 0, 2, 3)                # (N, F, OH, OW)
    return y, ConvCache(x.shape, w, cols, b is not None, tuple(stride), tuple(padding),
                        tuple(dilation), G)
# --8<-- [end:conv_forward]


# --8<-- [start:conv_backward]
def conv2d_backward(dy, cache):
    r"""Gradients of :func:`conv2d_forward` from its ``cache`` (a ``ConvCache``); ``dy`` (N, F, OH, OW).

    With $\mathrm{d}Y_g$ group g's rows of $\mathrm{d}y$ laid out as an
    $(F/G,\ N\,OH\,OW)$ matrix, columns in the order of ``cols``, exactly as for a linear layer:

    $$
    \mathrm{d}W_g = \mathrm{d}Y_g\,\mathrm{cols}_g^\top,\qquad
    \mathrm{d}b = \textstyle\sum_{n,i,j} \mathrm{d}y_{n,:,i,j},\qquad
    \mathrm{d}\,\mathrm{cols}_g = W_g^\top\,\mathrm{d}Y_g
    $$

    and $\mathrm{d}x = \mathrm{col2im}(\mathrm{d}\,\mathrm{cols})$. Returns ``(dx, dw, db)``;
    ``db`` is None when there was no bias.
    """
    x_shape, w, cols, has_bias, stride, padding, dilation, G = cache
    N, F, OH, OW = dy.shape
    F, C_g, KH, KW = w.shape
    dY = dy.transpose(1, 0, 2, 3).reshape(G, F // G, N * OH * OW)    # columns (n, i, j), as cols
    cols_g = cols.reshape(G, C_g * KH * KW, N * OH * OW)
    W_g = w.reshape(G, F // G, C_g * KH * KW)
    dw = (dY @ cols_g.transpose(0, 2, 1)).reshape(w.shape)
    db = dy.sum(axis=(0, 2, 3)) if has_bias else None
    dcols = (W_g.transpose(0, 2, 1) @ dY).reshape(G * C_g * KH * KW, N * OH * OW)
    return col2im(dcols, x_shape, (KH, KW), stride, padding, dilation), dw, db
# --8<-- [end:conv_backward]


# --8<-- [start:padding_modes]
NUMPY_PAD_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad2d(x, pads, mode):
    r"""``x`` (N, C, H, W) -> (N, C, T + H + B, L + W + R), ``pads = ((T, B), (L, R))``.

    ``mode``: ``'zeros'``; ``'reflect'`` (mirror without repeating the edge: ``c b | a b c | b a``);
    ``'replicate'`` (repeat the edge: ``a a | a b c | c c``); ``'circular'`` (wrap around:
    ``b c | a b c | a b``).
    """
    xp = get_array_module(x)
    return xp.pad(x, ((0, 0), (0, 0)) + tuple(pads), mode=NUMPY_PAD_MODE[mode])


def fold_padding(d, before, after, mode):
    r"""Gradient along the last axis, the adjoint of padding it: ``d`` (..., before + S + after)
    -> (..., S). Each padded entry is a copy of an input entry; its gradient goes back there."""
    S = d.shape[-1] - before - after
    dx = d[..., before:before + S].copy()
    lo, hi = d[..., :before], d[..., before + S:]                    # the padding's gradients
    if mode == "reflect":                 # lo[k] copied x[before - k], hi[k] copied x[S - 2 - k]
        dx[..., 1:before + 1] += lo[..., ::-1]
        dx[..., S - 1 - after:S - 1] += hi[..., ::-1]
    elif mode == "replicate":             # all copies of the first / last entry
        dx[..., 0] += lo.sum(axis=-1)
        dx[..., S - 1] += hi.sum(axis=-1)
    elif mode == "circular":              # lo copied the last `before` entries, hi the first `after`
        dx[..., S - before:] += lo
        dx[..., :after] += hi
    return dx                             # 'zeros': the padding's gradient is dropped


def pad2d_backward(d_pad, pads, mode):
    r"""The adjoint of :func:`pad2d`: (N, C, T + H + B, L + W + R) -> (N, C, H, W)."""
    (T, B), (L, R) = pads
    d = fold_padding(d_pad, L, R, mode)                              # along W
    return fold_padding(d.swapaxes(2, 3), T, B, mode).swapaxes(2, 3)  # along H
# --8<-- [end:padding_modes]


PADDING_MODES = tuple(NUMPY_PAD_MODE)


def _positive_int(value, name):
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Conv2d: {name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"Conv2d: {name} must be a positive int, got {value!r}")
    return int(value)


class _Step(NamedTuple):
    conv: object         # the cache of conv2d_forward (ConvCache) or of the fast path
    pads: tuple          # ((T, B), (L, R)) padded before the convolution, or None
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
        self.in_channels = _positive_int(in_channels, "in_channels")
        self.out_channels = _positive_int(out_channels, "out_channels")
        self.groups = _positive_int(groups, "groups")
        for name, channels in (("in_channels", self.in_channels), ("out_channels", self.out_channels)):
            if channels % self.groups:
                raise ValueError(f"Conv2d: {name} must be divisible by groups, got {name}={channels} "
                                 f"and groups={self.groups}")
        self.kernel_size = pair(kernel_size, "kernel_size", who, 1)
        self.stride = pair(stride, "stride", who, 1)
        self.dilation = pair(dilation, "dilation", who, 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Conv2d: padding must be an int, an (h, w) pair, 'same' or 'valid', "
                                 f"got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"Conv2d: padding='same' needs stride 1 (as in PyTorch), got stride {self.stride}")
            self.padding = padding
        else:
            self.padding = pair(padding, "padding", who, 0)
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
        r"""``((T, B), (L, R))``: entries padded before and after along H and along W."""
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
        if backend_of(x) != backend_of(self.weight.data):
            raise TypeError(f"Conv2d: input is a {backend_of(x)} array but the weights are "
                            f"{backend_of(self.weight.data)} arrays; move one with nnref.backend.to_backend")
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
        (T, B), (L, R) = pads
        if self.padding_mode == "zeros" and T == B and L == R:      # the convolution pads with zeros
            padding, explicit = (T, L), None
        else:                                                       # a padding step, then no padding
            x, padding, explicit = pad2d(x, pads, self.padding_mode), (0, 0), pads
        if self.groups == 1 and self.dilation == (1, 1) and x.shape[0] > 0:
            y, cache = conv2d_fast_forward(x, w, b, self.stride, padding)
        else:
            y, cache = conv2d_forward(x, w, b, self.stride, padding, self.dilation, self.groups)
        y = y[0] if unbatched else y
        self._cache = (_Step(cache, explicit, unbatched), y.shape)
        return y

    def backward(self, dy):
        step = backward_cache(self._cache, dy, "Conv2d")
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
