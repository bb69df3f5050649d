"""The convolution layer: ``torch.nn.Conv2d`` (which computes a cross-correlation).

Two implementations of the same map: ``conv2d_naive_*`` loops over every output element
exactly as the definition reads (a test oracle, and what a page shows first), and
``conv2d_forward`` / ``conv2d_backward`` unfold the input with im2col so that the whole layer
is one matrix product each way.
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import default_rng, get_array_module, is_cupy_array
from ..checks import backward_cache, check_float, check_ndim, check_size
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
def im2col(x, kernel, stride=(1, 1), padding=(0, 0), batch_last=False):
    """Unfold every patch of ``x`` (N, C, H, W) into a column of ``cols`` (C*KH*KW, N*OH*OW).

    Row ``(c, u, v)`` and column ``(n, i, j)`` hold $\\tilde x_{n,c,iS_h+u,jS_w+v}$; with
    ``batch_last=True`` the columns come in the order ``(i, j, n)`` instead. The windows are a
    strided view (no copy); the one copy is the final ``reshape``, and it moves runs of OW
    contiguous numbers, or of N with ``batch_last`` (the input is first laid out as (C, H, W, N)
    by :func:`to_batch_last`). Returns ``(cols, (OH, OW))``.
    """
    xp = get_array_module(x)
    (KH, KW), (sh, sw), (ph, pw) = kernel, stride, padding
    N, C, H, W = x.shape
    if batch_last:
        xt = to_batch_last(x, padding)                                     # (C, Hp, Wp, N)
        win = xp.lib.stride_tricks.sliding_window_view(xt, (KH, KW), axis=(1, 2))[:, ::sh, ::sw]
        OH, OW = win.shape[1:3]                                            # (C, OH, OW, N, KH, KW)
        return win.transpose(0, 4, 5, 1, 2, 3).reshape(C * KH * KW, -1), (OH, OW)
    if ph or pw:                                           # zeros + one copy: quicker than xp.pad
        xpad = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
        xpad[:, :, ph:ph + H, pw:pw + W] = x
        x = xpad
    win = xp.lib.stride_tricks.sliding_window_view(x, (KH, KW), axis=(2, 3))[:, :, ::sh, ::sw]
    OH, OW = win.shape[2:4]                                                # (N, C, OH, OW, KH, KW)
    return win.transpose(1, 4, 5, 0, 2, 3).reshape(C * KH * KW, -1), (OH, OW)


def to_batch_last(a, padding=(0, 0)):
    """(N, C, H, W) -> (C, H + 2P_H, W + 2P_W, N): the batch index innermost, zeros around.

    Two copies with good locality: to (C, N, H*W), which moves runs of H*W numbers, then each
    channel's (N, H*W) block transposed while it sits in cache. One direct transposing copy
    jumps through all of ``a`` for every element and is about three times slower.
    """
    xp = get_array_module(a)
    N, C, H, W = a.shape
    ph, pw = padding
    if not (ph or pw) and a.transpose(1, 2, 3, 0).flags.c_contiguous:
        return a.transpose(1, 2, 3, 0)                     # already batch-last in memory: free
    shape = (C, H + 2 * ph, W + 2 * pw, N)
    out = xp.zeros(shape, dtype=a.dtype) if ph or pw else xp.empty(shape, dtype=a.dtype)
    by_channel = xp.ascontiguousarray(a.transpose(1, 0, 2, 3)).reshape(C, N, H * W)
    out[:, ph:ph + H, pw:pw + W] = by_channel.transpose(0, 2, 1).reshape(C, H, W, N)
    return out
# --8<-- [end:im2col]


# --8<-- [start:col2im]
def col2im(dcols, x_shape, kernel, stride=(1, 1), padding=(0, 0), batch_last=False):
    """The adjoint of :func:`im2col` (same ``batch_last``): add each column back onto its patch.

    A pixel covered by several windows receives the sum of their gradients. One strided
    ``+=`` per kernel offset ``(u, v)`` adds that offset's entries of every window at once.
    Returns ``dx`` of shape ``x_shape`` (N, C, H, W), a view.
    """
    xp = get_array_module(dcols)
    N, C, H, W = x_shape
    (KH, KW), (sh, sw), (ph, pw) = kernel, stride, padding
    OH, OW = conv_output_size(H, KH, sh, ph), conv_output_size(W, KW, sw, pw)
    Hp, Wp = H + 2 * ph, W + 2 * pw
    if batch_last:                                         # every += moves runs of N numbers
        d = dcols.reshape(C, KH, KW, OH, OW, N)
        dxt = xp.zeros((C, Hp, Wp, N), dtype=dcols.dtype)
        for u in range(KH):
            for v in range(KW):
                dxt[:, u:u + sh * OH:sh, v:v + sw * OW:sw] += d[:, u, v]
        return dxt[:, ph:ph + H, pw:pw + W].transpose(3, 0, 1, 2)
    d = dcols.reshape(C, KH, KW, N, OH, OW)
    dxpad = xp.zeros((C, N, Hp, Wp), dtype=dcols.dtype)   # C first: matches d's layout
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


def input_grad_same(dy, w, padding, out=None):
    """The adjoint of :func:`im2col_same`: ``dx`` (N, C, H, W) from ``dy`` (N, F, H, W).

    Zero the entries of $\\mathrm{d}\\,\\mathrm{cols} = W_\\text{mat}^\\top \\mathrm{d}Y$ that fell
    on the padding, then add each offset's row back, shifted by -s: per channel one ``+=`` over
    about N*H*W contiguous numbers (the first offset is assigned, which also clears ``dx``).
    ``out``: where to write ``dx`` laid out as (C, N, H, W); returned transposed, as a view.
    """
    xp = get_array_module(dy, w)
    N, F, H, W = dy.shape
    C, KH, KW = w.shape[1:]
    L = N * H * W
    dY = dy.transpose(1, 0, 2, 3).reshape(F, L)           # free if dy came from conv2d_backward
    dcols = (w.reshape(F, -1).T @ dY).reshape(C, KH, KW, L)
    _zero_padding_taps(dcols.reshape(C, KH, KW, N, H, W), (KH, KW), padding)
    dxc = xp.empty((C, L), dtype=dcols.dtype) if out is None else out.reshape(C, L)
    for u, v, a, b, s in _flat_shifts((KH, KW), padding, W, L):
        if (u, v) == (0, 0):                               # s <= 0: it fills dxc[:, :b+s]
            end = max(0, b + s)
            dxc[:, end:] = 0
            dxc[:, :end] = dcols[:, 0, 0, a:b]
        else:
            dxc[:, a + s:b + s] += dcols[:, u, v, a:b]
    return dxc.reshape(C, N, H, W).transpose(1, 0, 2, 3)


CHUNK = 2 ** 20  # entries of cols and y per chunk: 4 MB in float32, small enough to stay in cache


def same_chunk(x, w):
    """How many images per chunk. For N images ``cols`` is (C*KH*KW, N*H*W) and ``y`` (F, N*H*W),
    together tens of MB; on the CPU a "same" convolution takes the batch in chunks of about
    ``CHUNK`` such entries. On the GPU, one chunk: there the launches cost, not the cache."""
    N, _, H, W = x.shape
    F, C, KH, KW = w.shape
    if is_cupy_array(x):
        return N
    return max(1, min(N, CHUNK // ((C * KH * KW + F) * H * W)))


def conv_same_forward(x, w, b, padding):
    """:func:`conv2d_forward` for a "same" convolution, one chunk of images at a time.

    Each chunk's ``cols`` is used while it is in cache and then dropped; backward builds it
    again (one more copy is cheaper than a trip of the whole matrix through main memory).
    Returns ``y`` (N, F, H, W), a view of an (F, N, H, W) array.
    """
    xp = get_array_module(x, w)
    F, C, KH, KW = w.shape
    N, _, H, W = x.shape
    W_mat, n = w.reshape(F, -1), same_chunk(x, w)
    y = xp.empty((F, N, H, W), dtype=x.dtype)
    for i in range(0, N, n):
        xp.matmul(W_mat, im2col_same(x[i:i + n], (KH, KW), padding), out=y[:, i:i + n].reshape(F, -1))
    if b is not None:
        y += b[:, None, None, None]
    return y.transpose(1, 0, 2, 3)


def conv_same_backward(dy, x, w, padding, has_bias):
    """:func:`conv2d_backward` for a "same" convolution, by the chunks of :func:`conv_same_forward`:
    $\\mathrm{d}W$ and $\\mathrm{d}b$ are sums over the chunks. Returns ``(dx, dw, db)``."""
    xp = get_array_module(dy, w)
    F, C, KH, KW = w.shape
    N, _, H, W = x.shape
    n = same_chunk(x, w)
    dY_all = dy.transpose(1, 0, 2, 3)                      # (F, N, H, W); free if dy came from forward
    dw = xp.zeros((C * KH * KW, F), dtype=dy.dtype)
    db = xp.zeros(F, dtype=dy.dtype) if has_bias else None
    dxc = xp.empty((C, N, H, W), dtype=dy.dtype)
    for i in range(0, N, n):
        dY = xp.ascontiguousarray(dY_all[:, i:i + n]).reshape(F, -1)
        dw += im2col_same(x[i:i + n], (KH, KW), padding) @ dY.T
        if has_bias:
            db += dY @ xp.ones(dY.shape[1], dtype=dY.dtype)
        input_grad_same(dY.reshape(F, -1, H, W).transpose(1, 0, 2, 3), w, padding, out=dxc[:, i:i + n])
    return dxc.transpose(1, 0, 2, 3), dw.T.reshape(w.shape), db
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

    ``cols`` comes from :func:`im2col` with the columns in whichever order makes its copies
    move the longer runs: ``(n, i, j)`` (runs of OW) or ``(i, j, n)`` (runs of N). A "same"
    convolution goes to :func:`conv_same_forward`.
    """
    F, C, KH, KW = w.shape
    N, _, H, W = x.shape
    if is_same_conv((KH, KW), stride, padding):          # in chunks; backward rebuilds cols
        return conv_same_forward(x, w, b, padding), ("same", x, w, b is not None, padding)
    batch_last = N >= conv_output_size(W, KW, stride[1], padding[1])
    layout = "batch_last" if batch_last else "rows"
    cols, (OH, OW) = im2col(x, (KH, KW), stride, padding, batch_last)
    y = w.reshape(F, -1) @ cols                          # (F, N*OH*OW)
    if b is not None:
        y += b[:, None]
    if layout == "batch_last":                           # columns (i, j, n)
        y = y.reshape(F, OH, OW, N).transpose(3, 0, 1, 2)
    else:                                                # columns (n, i, j)
        y = y.reshape(F, N, OH, OW).transpose(1, 0, 2, 3)
    return y, (layout, x.shape, w, cols, b is not None, stride, padding)
# --8<-- [end:conv_forward]


# --8<-- [start:conv_backward]
def conv2d_backward(dy, cache):
    """Gradients of :func:`conv2d_forward`; ``dy`` (N, F, OH, OW).

    With $\\mathrm{d}Y$ laid out as the matrix $(F, N\\,OH\\,OW)$, its columns in the order of
    ``cols``, exactly as for a linear layer:

    $$
    \\mathrm{d}W_{\\text{mat}} = \\mathrm{d}Y\\,\\mathrm{cols}^\\top,\\qquad
    \\mathrm{d}b = \\mathrm{d}Y\\,\\mathbf 1,\\qquad
    \\mathrm{d}x = \\mathrm{col2im}\\big(W_{\\text{mat}}^\\top\\,\\mathrm{d}Y\\big)
    $$

    (a "same" convolution goes to :func:`conv_same_backward`). Returns ``(dx, dw, db)``; ``db``
    is None when there was no bias.
    """
    if cache[0] == "same":
        _, x, w, has_bias, padding = cache
        return conv_same_backward(dy, x, w, padding, has_bias)
    layout, x_shape, w, cols, has_bias, stride, padding = cache
    xp = get_array_module(dy, w)
    N, F, OH, OW = dy.shape
    if layout == "batch_last":
        dY = to_batch_last(dy).reshape(F, -1)            # (F, OH*OW*N)
    else:
        dY = dy.transpose(1, 0, 2, 3).reshape(F, -1)     # (F, N*OH*OW); free if dy came from forward
    dw = (cols @ dY.T).T.reshape(w.shape)               # = dY cols^T; BLAS is faster this way round
    db = dY @ xp.ones(dY.shape[1], dtype=dY.dtype) if has_bias else None  # row sums, as a BLAS product
    dcols = w.reshape(F, -1).T @ dY
    return col2im(dcols, x_shape, w.shape[2:], stride, padding, layout == "batch_last"), dw, db
# --8<-- [end:conv_backward]


class Conv2d(Module):
    """``torch.nn.Conv2d``: ``weight`` (out_channels, in_channels, KH, KW), ``bias`` (out_channels,).

    ``kernel_size``, ``stride`` and ``padding`` are an int or an (h, w) pair; padding adds zeros.
    ``padding='valid'`` is 0; ``padding='same'`` (stride 1 only) keeps the input's size, with
    $K - 1$ zeros per axis, split as PyTorch does: $\\lfloor (K-1)/2 \\rfloor$ before, the rest after.
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
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Conv2d: padding must be an int, an (h, w) pair, 'same' or 'valid', "
                                 f"got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"Conv2d: padding='same' needs stride 1 (as in PyTorch), got stride {self.stride}")
            self.padding = padding
        else:
            self.padding = _pair(padding, "padding", "Conv2d", 0)
        KH, KW = self.kernel_size
        bound = 1.0 / math.sqrt(in_channels * KH * KW)
        rng = default_rng()
        self.weight = Parameter(rng.uniform((out_channels, in_channels, KH, KW), -bound, bound, dtype=dtype))
        self.register_parameter(
            "bias", Parameter(rng.uniform((out_channels,), -bound, bound, dtype=dtype)) if bias else None)
        self._cache = None

    def _pads(self):
        """``((P_H, P_W), (E_H, E_W))``: zeros on both sides, plus ``E`` more after (only
        ``padding='same'`` with an even kernel has ``E = 1``)."""
        if self.padding == "valid":
            return (0, 0), (0, 0)
        if self.padding == "same":
            total = [k - 1 for k in self.kernel_size]
            return tuple(t // 2 for t in total), tuple(t - 2 * (t // 2) for t in total)
        return self.padding, (0, 0)

    def forward(self, x):
        """``x`` (N, C, H, W), or one unbatched image (C, H, W) as torch accepts it."""
        check_float(x, "Conv2d")
        check_ndim(x, "Conv2d", (3, 4), "(N, C, H, W) or unbatched (C, H, W)")
        check_size(x, "Conv2d", -3, self.in_channels, "input channels")
        (KH, KW), ((ph, pw), (eh, ew)) = self.kernel_size, self._pads()
        if x.shape[-2] + 2 * ph + eh < KH or x.shape[-1] + 2 * pw + ew < KW:
            raise ValueError(f"Conv2d: input of spatial size {tuple(x.shape[-2:])} (with padding "
                             f"{self.padding}) is smaller than the kernel {self.kernel_size}")
        get_array_module(x, self.weight.data)  # TypeError if x and the weights sit on different devices
        w = self.weight.data.astype(x.dtype, copy=False)
        b = None if self.bias is None else self.bias.data.astype(x.dtype, copy=False)
        unbatched, size = x.ndim == 3, x.shape[-2:]
        x = x[None] if unbatched else x
        if eh or ew:                                   # 'same' with an even kernel: one more zero after
            x = get_array_module(x).pad(x, ((0, 0), (0, 0), (0, eh), (0, ew)))
        y, cache = conv2d_forward(x, w, b, self.stride, (ph, pw))
        y = y[0] if unbatched else y
        self._cache = ((cache, unbatched, size), y.shape)
        return y

    def backward(self, dy):
        cache, unbatched, (H, W) = backward_cache(self._cache, dy, "Conv2d")
        dx, dw, db = conv2d_backward(dy[None] if unbatched else dy, cache)
        self.weight.accumulate(dw)
        if db is not None:
            self.bias.accumulate(db)
        dx = dx[..., :H, :W]                          # drops the extra zeros of an even 'same'
        return dx[0] if unbatched else dx

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")
