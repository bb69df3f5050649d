"""The convolution layer: ``torch.nn.Conv2d`` (which computes a cross-correlation).

Two implementations of the same map: ``conv2d_naive_*`` loops over every output element
exactly as the definition reads (a test oracle, and what a page shows first), and
``conv2d_forward`` / ``conv2d_backward`` unfold the input with im2col so that the whole layer
is one matrix product each way.
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import default_rng, get_array_module
from ..checks import check_float, check_ndim, check_size, need_cache
from ..module import Module, Parameter


def _pair(value, name: str, who: str, minimum: int):
    """``3 -> (3, 3)``, ``(3, 5) -> (3, 5)``; ``ValueError`` for anything else or values below ``minimum``."""
    if isinstance(value, (int, np.integer)):
        pair = (value, value)
    else:
        pair = tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v >= minimum for v in pair):
        raise ValueError(f"{who}: {name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


# --8<-- [start:conv_output_size]
def conv_output_size(size, kernel, stride=1, padding=0):
    """Length of the output along one axis (pooling uses the same formula):

    $$
    O = \\left\\lfloor \\frac{I + 2P - K}{S} \\right\\rfloor + 1
    $$
    """
    return (size + 2 * padding - kernel) // stride + 1
# --8<-- [end:conv_output_size]


# --8<-- [start:receptive_field]
def receptive_field(layers):
    """Receptive field of a stack of layers, given as ``(kernel, stride)`` pairs from input to output.

    $$
    r_l = r_{l-1} + (k_l - 1)\\,j_{l-1},\\qquad j_l = j_{l-1}\\,s_l,\\qquad r_0 = j_0 = 1
    $$

    ``j`` is the distance, in input pixels, between two neighbouring outputs of layer ``l``.
    """
    r, j = 1, 1
    for k, s in layers:
        r, j = r + (k - 1) * j, j * s
    return r
# --8<-- [end:receptive_field]


# --8<-- [start:conv_naive]
def conv2d_naive_forward(x, w, b=None, stride=(1, 1), padding=(0, 0)):
    """The definition, one output element at a time (slow; a reference).

    Shapes: ``x`` (N, C, H, W), ``w`` (F, C, KH, KW), ``b`` (F,) -> ``y`` (N, F, OH, OW).

    $$
    y_{n,f,i,j} = b_f + \\sum_{c=0}^{C-1}\\sum_{u=0}^{KH-1}\\sum_{v=0}^{KW-1}
    \\tilde x_{n,c,\\,i S_h + u,\\,j S_w + v}\\; w_{f,c,u,v}
    $$

    where $\\tilde x$ is ``x`` with ``padding`` zeros on each side.
    """
    xp = get_array_module(x, w)
    (sh, sw), (ph, pw) = stride, padding
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    xpad = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    OH, OW = (H + 2 * ph - KH) // sh + 1, (W + 2 * pw - KW) // sw + 1
    y = xp.zeros((N, F, OH, OW), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    patch = xpad[n, :, i * sh:i * sh + KH, j * sw:j * sw + KW]
                    y[n, f, i, j] = (patch * w[f]).sum() + (0 if b is None else b[f])
    return y


def conv2d_naive_backward(dy, x, w, stride=(1, 1), padding=(0, 0)):
    """Gradients of the definition, again one output element at a time.

    Each $y_{n,f,i,j}$ sent $\\mathrm{d}y_{n,f,i,j}$ back to the patch and the kernel it was made of.
    Returns ``(dx, dw, db)``.
    """
    xp = get_array_module(dy, x, w)
    (sh, sw), (ph, pw) = stride, padding
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    xpad = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dxpad, dw = xp.zeros_like(xpad), xp.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for i in range(dy.shape[2]):
                for j in range(dy.shape[3]):
                    window = (n, slice(None), slice(i * sh, i * sh + KH), slice(j * sw, j * sw + KW))
                    dw[f] += dy[n, f, i, j] * xpad[window]
                    dxpad[window] += dy[n, f, i, j] * w[f]
    return dxpad[:, :, ph:ph + H, pw:pw + W], dw, dy.sum(axis=(0, 2, 3))
# --8<-- [end:conv_naive]


# --8<-- [start:im2col]
def im2col(x, kernel, stride=(1, 1), padding=(0, 0)):
    """Unfold every patch of ``x`` (N, C, H, W) into a column: ``cols`` (C*KH*KW, N*OH*OW).

    Row ``(c, u, v)`` and column ``(n, i, j)`` hold $\\tilde x_{n,c,iS_h+u,jS_w+v}$. The windows
    are a strided view (no copy); the one copy is the final ``reshape``, and in this order it
    moves runs of OW contiguous numbers. A "same" convolution gets the identical matrix from
    :func:`im2col_same`, whose copies are runs of about N*H*W numbers.
    """
    xp = get_array_module(x)
    (KH, KW), (sh, sw), (ph, pw) = kernel, stride, padding
    if is_same_conv(kernel, stride, padding):              # output as large as the input: long runs
        return im2col_same(x, kernel, padding), x.shape[2:]
    if ph or pw:                                           # zeros + one copy: quicker than xp.pad
        N, C, H, W = x.shape
        xpad = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
        xpad[:, :, ph:ph + H, pw:pw + W] = x
        x = xpad
    windows = xp.lib.stride_tricks.sliding_window_view(x, (KH, KW), axis=(2, 3))[:, :, ::sh, ::sw]
    N, C, OH, OW = windows.shape[:4]                       # windows: (N, C, OH, OW, KH, KW)
    return windows.transpose(1, 4, 5, 0, 2, 3).reshape(C * KH * KW, N * OH * OW), (OH, OW)
# --8<-- [end:im2col]


# --8<-- [start:col2im]
def col2im(dcols, x_shape, kernel, stride=(1, 1), padding=(0, 0)):
    """The adjoint of :func:`im2col`: add each column back onto the patch it came from.

    A pixel covered by several windows receives the sum of their gradients. One strided
    ``+=`` per kernel offset ``(u, v)`` adds that offset's entries of every window at once.
    Returns ``dx`` of shape ``x_shape`` (N, C, H, W).
    """
    xp = get_array_module(dcols)
    N, C, H, W = x_shape
    (KH, KW), (sh, sw), (ph, pw) = kernel, stride, padding
    OH, OW = (H + 2 * ph - KH) // sh + 1, (W + 2 * pw - KW) // sw + 1
    d = dcols.reshape(C, KH, KW, N, OH, OW)
    dxpad = xp.zeros((C, N, H + 2 * ph, W + 2 * pw), dtype=dcols.dtype)  # C first: matches d's layout
    for u in range(KH):
        for v in range(KW):
            dxpad[:, :, u:u + sh * OH:sh, v:v + sw * OW:sw] += d[:, u, v]
    return dxpad[:, :, ph:ph + H, pw:pw + W].transpose(1, 0, 2, 3)
# --8<-- [end:col2im]


# --8<-- [start:conv_same]
def is_same_conv(kernel, stride, padding):
    """Stride 1 and $2P = K - 1$ on both axes ("same" padding): the output is as large as the input."""
    (KH, KW), (ph, pw) = kernel, padding
    return tuple(stride) == (1, 1) and 2 * ph == KH - 1 and 2 * pw == KW - 1


def _flat_shifts(kernel, padding, W, L):
    """Per kernel offset ``(u, v)``: ``(u, v, a, b, s)``. On images flattened to length L (per
    channel), output position k reads input position k + s with $s = (u - P_h)W + (v - P_w)$;
    ``[a, b)`` is the range of k for which k + s stays inside ``[0, L)``."""
    (KH, KW), (ph, pw) = kernel, padding
    for u in range(KH):
        for v in range(KW):
            s = (u - ph) * W + (v - pw)
            a = min(L, max(0, -s))                         # clamped: a shift longer than L reads nothing
            yield u, v, a, max(a, L - max(0, s)), s


def _zero_padding_taps(cols, kernel, padding):
    """Set to 0, in place, the entries of ``cols`` (C, KH, KW, N, H, W) that fall on the padding:
    offset u reads input row $i + u - P_h$, outside ``[0, H)`` for $i < P_h - u$ or
    $i \\ge H + P_h - u$; the same for v and the columns."""
    (KH, KW), (ph, pw) = kernel, padding
    H, W = cols.shape[-2:]
    for u in range(KH):
        if u < ph:
            cols[:, u, :, :, :ph - u] = 0
        elif u > ph:
            cols[:, u, :, :, max(0, H + ph - u):] = 0
    for v in range(KW):
        if v < pw:
            cols[:, :, v, :, :, :pw - v] = 0
        elif v > pw:
            cols[:, :, v, :, :, max(0, W + pw - v):] = 0


def im2col_same(x, kernel, padding):
    """:func:`im2col` for a "same" convolution, without a padded copy and without short runs.

    With ``x`` rearranged to (C, N*H*W), row ``(c, u, v)`` of ``cols`` is the row of channel c
    shifted by s (see ``_flat_shifts``): one slice of about N*H*W contiguous numbers. Where a
    window hangs over the image's edge, the shifted slice reads the neighbouring row or image
    instead of a padding zero; exactly those entries are then set to 0. (Entries outside
    ``[a, b)``, which the copy leaves unset, are all of that kind.)
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    KH, KW = kernel
    L = N * H * W
    xc = x.transpose(1, 0, 2, 3).reshape(C, L)           # one copy, in runs of H*W numbers
    cols = xp.empty((C, KH, KW, L), dtype=x.dtype)
    for u, v, a, b, s in _flat_shifts(kernel, padding, W, L):
        cols[:, u, v, a:b] = xc[:, a + s:b + s]
    _zero_padding_taps(cols.reshape(C, KH, KW, N, H, W), kernel, padding)
    return cols.reshape(C * KH * KW, L)


def input_grad_same(dy, w, padding):
    """The adjoint of :func:`im2col_same`: ``dx`` (N, C, H, W) from ``dy`` (N, F, H, W).

    Zero the entries of $\\mathrm{d}\\,\\mathrm{cols} = W_\\text{mat}^\\top \\mathrm{d}Y$ that fell
    on the padding, then add each offset's row back, shifted by -s: per channel one ``+=`` over
    about N*H*W contiguous numbers (the first offset is assigned, which also clears ``dx``).
    """
    xp = get_array_module(dy, w)
    N, F, H, W = dy.shape
    C, KH, KW = w.shape[1:]
    L = N * H * W
    dY = dy.transpose(1, 0, 2, 3).reshape(F, L)           # free if dy came from conv2d_backward
    dcols = (w.reshape(F, -1).T @ dY).reshape(C, KH, KW, L)
    _zero_padding_taps(dcols.reshape(C, KH, KW, N, H, W), (KH, KW), padding)
    dxc = xp.empty((C, L), dtype=dcols.dtype)
    for u, v, a, b, s in _flat_shifts((KH, KW), padding, W, L):
        if (u, v) == (0, 0):                               # s <= 0: it fills dxc[:, :b+s]
            end = max(0, b + s)
            dxc[:, end:] = 0
            dxc[:, :end] = dcols[:, 0, 0, a:b]
        else:
            dxc[:, a + s:b + s] += dcols[:, u, v, a:b]
    return dxc.reshape(C, N, H, W).transpose(1, 0, 2, 3)
# --8<-- [end:conv_same]


# --8<-- [start:conv_forward]
def conv2d_forward(x, w, b=None, stride=(1, 1), padding=(0, 0)):
    """Convolution (cross-correlation) as one matrix product.

    Shapes: ``x`` (N, C, H, W), ``w`` (F, C, KH, KW), ``b`` (F,) or None -> ``y`` (N, F, OH, OW).

    $$
    Y = W_{\\text{mat}}\\,\\mathrm{cols} + b, \\qquad
    W_{\\text{mat}} \\in \\mathbb R^{F \\times C K_H K_W},\\;
    \\mathrm{cols} \\in \\mathbb R^{C K_H K_W \\times N\\,OH\\,OW}
    $$
    """
    F, C, KH, KW = w.shape
    cols, (OH, OW) = im2col(x, (KH, KW), stride, padding)
    y = w.reshape(F, -1) @ cols                          # (F, N*OH*OW)
    if b is not None:
        y += b[:, None]
    y = y.reshape(F, x.shape[0], OH, OW).transpose(1, 0, 2, 3)
    return y, (x.shape, w, cols, b is not None, stride, padding)
# --8<-- [end:conv_forward]


# --8<-- [start:conv_input_grad]
def conv2d_input_grad(dy, w, x_shape, stride=(1, 1), padding=(0, 0)):
    """``col2im(W_mat^T dY)``, arranged so that every ``+=`` runs over long contiguous memory.

    Split the padded input into $S_H S_W$ *phases* by $(h \\bmod S_H,\\ w \\bmod S_W)$, each of
    $H_q \\times W_q$ pixels ($H_q = \\lceil H_p / S_H \\rceil$). Kernel offset
    $(u, v) = (aS_H + r,\\ bS_W + q)$ only touches phase $(r, q)$, at $(i + a,\\ j + b)$: a plain
    shift. With ``dy`` zero-padded to $(H_q, W_q)$ before the product, the entries of all windows
    for one offset are, per channel, one contiguous slice of the flattened phase, starting at
    $a W_q + b$; where a window row runs past $W_q$ it adds zeros. Returns ``dx`` (N, C, H, W).
    A "same" convolution needs no grid and goes to :func:`input_grad_same`.
    """
    xp = get_array_module(dy, w)
    N, C, H, W = x_shape
    F, _, KH, KW = w.shape
    if is_same_conv((KH, KW), stride, padding):            # stride 1, same size: no grid needed
        return input_grad_same(dy, w, padding)
    (sh, sw), (ph, pw) = stride, padding
    OH, OW = dy.shape[2:]
    Hq, Wq = -(-(H + 2 * ph) // sh), -(-(W + 2 * pw) // sw)
    L = N * Hq * Wq
    dy_grid = xp.zeros((F, N, Hq, Wq), dtype=dy.dtype)    # zeros + one copy: quicker than zeroing
    dy_grid[:, :, :OH, :OW] = dy.transpose(1, 0, 2, 3)    # just the margins (runs of 1-2 numbers)
    dcols = (w.reshape(F, -1).T @ dy_grid.reshape(F, L)).reshape(C, KH, KW, L)
    slack = (KH - 1) // sh * Wq + (KW - 1) // sw          # the last windows run past the end
    phases = xp.zeros((C, sh, sw, L + slack), dtype=dy.dtype)
    for u in range(KH):
        for v in range(KW):
            start = u // sh * Wq + v // sw
            phases[:, u % sh, v % sw, start:start + L] += dcols[:, u, v]
    phases = phases[..., :L].reshape(C, sh, sw, N, Hq, Wq)
    dxpad = xp.empty((N, C, Hq * sh, Wq * sw), dtype=dy.dtype)
    for r in range(sh):                                    # interleave the phases back
        for q in range(sw):
            dxpad[:, :, r::sh, q::sw] = phases[:, r, q].transpose(1, 0, 2, 3)
    return dxpad[:, :, ph:ph + H, pw:pw + W]
# --8<-- [end:conv_input_grad]


# --8<-- [start:conv_backward]
def conv2d_backward(dy, cache):
    """Gradients of :func:`conv2d_forward`; ``dy`` (N, F, OH, OW).

    With $\\mathrm{d}Y$ laid out as the matrix $(F, N\\,OH\\,OW)$, exactly as for a linear layer:

    $$
    \\mathrm{d}W_{\\text{mat}} = \\mathrm{d}Y\\,\\mathrm{cols}^\\top,\\qquad
    \\mathrm{d}b = \\mathrm{d}Y\\,\\mathbf 1,\\qquad
    \\mathrm{d}x = \\mathrm{col2im}\\big(W_{\\text{mat}}^\\top\\,\\mathrm{d}Y\\big)
    $$

    (the last one computed by :func:`conv2d_input_grad`). Returns ``(dx, dw, db)``; ``db`` is
    None when there was no bias.
    """
    x_shape, w, cols, has_bias, stride, padding = cache
    xp = get_array_module(dy, w)
    N, F, OH, OW = dy.shape
    dY = dy.transpose(1, 0, 2, 3).reshape(F, -1)        # (F, N*OH*OW); free if dy came from forward
    dw = (cols @ dY.T).T.reshape(w.shape)               # = dY cols^T; BLAS is faster this way round
    db = dY @ xp.ones(dY.shape[1], dtype=dY.dtype) if has_bias else None  # row sums, as a BLAS product
    dy = dY.reshape(F, N, OH, OW).transpose(1, 0, 2, 3)  # the same dy, now a view of the copy in dY
    return conv2d_input_grad(dy, w, x_shape, stride, padding), dw, db
# --8<-- [end:conv_backward]


class Conv2d(Module):
    """``torch.nn.Conv2d``: ``weight`` (out_channels, in_channels, KH, KW), ``bias`` (out_channels,).

    ``kernel_size``, ``stride`` and ``padding`` are an int or an (h, w) pair; padding adds zeros.
    Both parameters start as U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels*KH*KW,
    PyTorch's default.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True, dtype=np.float32):
        super().__init__()
        if not (isinstance(in_channels, (int, np.integer)) and isinstance(out_channels, (int, np.integer))
                and in_channels > 0 and out_channels > 0):
            raise ValueError(f"Conv2d: in_channels and out_channels must be positive ints, "
                             f"got {in_channels!r} and {out_channels!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride = _pair(stride, "stride", "Conv2d", 1)
        self.padding = _pair(padding, "padding", "Conv2d", 0)
        KH, KW = self.kernel_size
        bound = 1.0 / math.sqrt(in_channels * KH * KW)
        rng = default_rng()
        self.weight = Parameter(rng.uniform((out_channels, in_channels, KH, KW), -bound, bound, dtype=dtype))
        self.register_parameter(
            "bias", Parameter(rng.uniform((out_channels,), -bound, bound, dtype=dtype)) if bias else None)
        self._cache = None

    def forward(self, x):
        check_float(x, "Conv2d")
        check_ndim(x, "Conv2d", 4, "(N, C, H, W)")
        check_size(x, "Conv2d", 1, self.in_channels, "input channels")
        (KH, KW), (ph, pw) = self.kernel_size, self.padding
        if x.shape[2] + 2 * ph < KH or x.shape[3] + 2 * pw < KW:
            raise ValueError(f"Conv2d: input of spatial size {tuple(x.shape[2:])} (with padding "
                             f"{self.padding}) is smaller than the kernel {self.kernel_size}")
        get_array_module(x, self.weight.data)  # TypeError if x and the weights sit on different devices
        w = self.weight.data.astype(x.dtype, copy=False)
        b = None if self.bias is None else self.bias.data.astype(x.dtype, copy=False)
        y, self._cache = conv2d_forward(x, w, b, self.stride, self.padding)
        return y

    def backward(self, dy):
        dx, dw, db = conv2d_backward(dy, need_cache(self._cache, "Conv2d"))
        self.weight.accumulate(dw)
        if db is not None:
            self.bias.accumulate(db)
        return dx

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")
