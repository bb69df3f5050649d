r"""Fast paths of :mod:`nnref.layers.conv` for ``groups=1``, ``dilation=1`` and zero padding.

Each function computes exactly what a reference function of ``nnref/layers/conv.py`` computes
(``tests/fast/test_conv.py`` checks it in float64); only the memory traffic differs:

- :func:`conv2d_fast_forward` / :func:`conv2d_fast_backward` equal ``conv2d_forward`` /
  ``conv2d_backward``. A "same" convolution (stride 1, $2P = K - 1$) goes to
  :func:`conv_same_forward` (whole-row shifts, in cache-sized chunks of images); any other to
  :func:`im2col_strided` / :func:`col2im_strided`, whose columns come in the order that makes
  every copy move the longer run of contiguous numbers ($O_W$ or the batch size $N$).
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import get_array_module, is_cupy_array
from ..layers.window import output_size


class StridedCache(NamedTuple):
    batch_last: bool     # columns of cols in the order (i, j, n) rather than (n, i, j)
    x_shape: tuple       # (N, C, H, W)
    w: object            # (F, C, KH, KW)
    cols: object         # (C*KH*KW, N*OH*OW)
    has_bias: bool
    stride: tuple
    padding: tuple


class SameCache(NamedTuple):
    x: object            # (N, C, H, W): backward builds cols again, chunk by chunk
    w: object            # (F, C, KH, KW)
    has_bias: bool
    padding: tuple


def to_batch_last(a, padding=(0, 0)):
    r"""(N, C, H, W) -> (C, H + 2P_H, W + 2P_W, N): the batch index innermost, zeros around.

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


def im2col_strided(x, kernel, stride=(1, 1), padding=(0, 0), batch_last=False):
    r"""``nnref.layers.conv.im2col`` (dilation 1), or with ``batch_last`` the same columns
    reordered from ``(n, i, j)`` to ``(i, j, n)``. Returns ``(cols, (OH, OW))``.

    Faster: the windows are a strided view (no copy) and the one copy is the final
    ``reshape``, moving runs of OW contiguous numbers, or of N with ``batch_last`` (the input
    first laid out as (C, H, W, N) by :func:`to_batch_last`), instead of $K_H K_W$ strided
    slice copies.
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


def col2im_strided(dcols, x_shape, kernel, stride=(1, 1), padding=(0, 0), batch_last=False):
    r"""``nnref.layers.conv.col2im`` (dilation 1) for the columns of :func:`im2col_strided`
    (same ``batch_last``). Returns ``dx`` of shape ``x_shape`` (N, C, H, W), a view.

    Faster: the gradient is accumulated in the layout of ``dcols`` (channels first, or batch
    last), so each of the $K_H K_W$ strided ``+=`` moves runs of OW, or of N, contiguous numbers
    and nothing is transposed before the end.
    """
    xp = get_array_module(dcols)
    N, C, H, W = x_shape
    (KH, KW), (sh, sw), (ph, pw) = kernel, stride, padding
    OH, OW = output_size(H, KH, sh, ph), output_size(W, KW, sw, pw)
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


def is_same_conv(kernel, stride, padding):
    r"""Stride 1 and $2P = K - 1$ on both axes ("same" padding): the output is as large as the input."""
    (KH, KW), (ph, pw) = kernel, padding
    return tuple(stride) == (1, 1) and 2 * ph == KH - 1 and 2 * pw == KW - 1


def _flat_shifts(kernel, padding, W, length):
    r"""Per kernel offset ``(u, v)``: ``(u, v, a, b, s)``. On images flattened to ``length`` numbers (per
    channel), output position k reads input position k + s with $s = (u - P_h)W + (v - P_w)$;
    ``[a, b)`` is the range of k for which k + s stays inside ``[0, length)``."""
    (KH, KW), (ph, pw) = kernel, padding
    for u in range(KH):
        for v in range(KW):
            s = (u - ph) * W + (v - pw)
            a = min(length, max(0, -s))                    # clamped: a shift past the end reads nothing
            yield u, v, a, max(a, length - max(0, s)), s


def _zero_padding_taps(cols, kernel, padding):
    r"""Set to 0, in place, the entries of ``cols`` (C, KH, KW, N, H, W) that fall on the padding:
    offset u reads input row $i + u - P_h$, outside ``[0, H)`` for $i < P_h - u$ or
    $i \ge H + P_h - u$; the same for v and the columns."""
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
    r"""``nnref.layers.conv.im2col`` for a "same" convolution (stride 1, $2P = K - 1$).

    Faster: no padded copy and no short runs. With ``x`` rearranged to (C, N*H*W), row
    ``(c, u, v)`` of ``cols`` is the row of channel c shifted by s (see ``_flat_shifts``): one
    slice of about N*H*W contiguous numbers. Where a window hangs over the image's edge, the
    shifted slice reads the neighbouring row or image instead of a padding zero; exactly those
    entries are then set to 0. (Entries outside ``[a, b)``, which the copy leaves unset, are all
    of that kind.)
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    KH, KW = kernel
    length = N * H * W
    xc = x.transpose(1, 0, 2, 3).reshape(C, length)      # one copy, in runs of H*W numbers
    cols = xp.empty((C, KH, KW, length), dtype=x.dtype)
    for u, v, a, b, s in _flat_shifts(kernel, padding, W, length):
        cols[:, u, v, a:b] = xc[:, a + s:b + s]
    _zero_padding_taps(cols.reshape(C, KH, KW, N, H, W), kernel, padding)
    return cols.reshape(C * KH * KW, length)


def input_grad_same(dy, w, padding, out=None):
    r"""``dx`` of a "same" convolution: ``nnref.layers.conv.col2im`` of
    $W_\text{mat}^\top \mathrm{d}Y$, the adjoint of :func:`im2col_same`; ``dy`` (N, F, H, W).

    Faster for the reason :func:`im2col_same` is: zero the entries of $\mathrm{d}\,\mathrm{cols}$
    that fell on the padding, then add each offset's row back, shifted by -s: per channel one
    ``+=`` over about N*H*W contiguous numbers (the first offset is assigned, which also clears
    ``dx``). ``out``: where to write ``dx`` laid out as (C, N, H, W); returned transposed, as a view.
    """
    xp = get_array_module(dy, w)
    N, F, H, W = dy.shape
    C, KH, KW = w.shape[1:]
    length = N * H * W
    dY = dy.transpose(1, 0, 2, 3).reshape(F, length)      # free if dy came from conv_same_backward
    dcols = (w.reshape(F, -1).T @ dY).reshape(C, KH, KW, length)
    _zero_padding_taps(dcols.reshape(C, KH, KW, N, H, W), (KH, KW), padding)
    dxc = xp.empty((C, length), dtype=dcols.dtype) if out is None else out.reshape(C, length)
    for u, v, a, b, s in _flat_shifts((KH, KW), padding, W, length):
        if (u, v) == (0, 0):                               # s <= 0: it fills dxc[:, :b+s]
            end = max(0, b + s)
            dxc[:, end:] = 0
            dxc[:, :end] = dcols[:, 0, 0, a:b]
        else:
            dxc[:, a + s:b + s] += dcols[:, u, v, a:b]
    return dxc.reshape(C, N, H, W).transpose(1, 0, 2, 3)


CHUNK = 2 ** 20  # entries of cols and y per chunk: 4 MB in float32, small enough to stay in cache


def same_chunk(x, w):
    r"""How many images per chunk. For N images ``cols`` is (C*KH*KW, N*H*W) and ``y`` (F, N*H*W),
    together tens of MB; on the CPU a "same" convolution takes the batch in chunks of about
    ``CHUNK`` such entries. On the GPU, one chunk: there the launches cost, not the cache."""
    N, _, H, W = x.shape
    F, C, KH, KW = w.shape
    if is_cupy_array(x):
        return N
    return max(1, min(N, CHUNK // ((C * KH * KW + F) * H * W)))


def conv_same_forward(x, w, b, padding):
    r"""``nnref.layers.conv.conv2d_forward`` for a "same" convolution; returns ``y`` (N, F, H, W),
    a view of an (F, N, H, W) array.

    Faster: one chunk of images at a time (:func:`same_chunk`), each chunk's ``cols`` (from
    :func:`im2col_same`) used while it is in cache and then dropped; backward builds it again
    (one more copy is cheaper than a trip of the whole matrix through main memory).
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


def conv_same_backward(dy, cache: SameCache):
    r"""``nnref.layers.conv.conv2d_backward`` for a "same" convolution: ``(dx, dw, db)``.

    Faster: by the chunks of :func:`conv_same_forward`, rebuilding each chunk's ``cols``;
    $\mathrm{d}W$ and $\mathrm{d}b$ are sums over the chunks.
    """
    x, w, has_bias, padding = cache
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


def conv2d_fast_forward(x, w, b=None, stride=(1, 1), padding=(0, 0)):
    r"""``nnref.layers.conv.conv2d_forward`` with ``dilation=1``, ``groups=1``; returns ``(y, cache)``.

    A "same" convolution goes to :func:`conv_same_forward`; any other builds ``cols`` with
    :func:`im2col_strided`, its columns ``(i, j, n)`` when $N \ge O_W$ (runs of N), else
    ``(n, i, j)`` (runs of OW). Faster than the reference's $K_H K_W$ strided slice copies.
    """
    F, C, KH, KW = w.shape
    N, _, H, W = x.shape
    if is_same_conv((KH, KW), stride, padding):            # in chunks; backward rebuilds cols
        return conv_same_forward(x, w, b, padding), SameCache(x, w, b is not None, tuple(padding))
    batch_last = N >= output_size(W, KW, stride[1], padding[1])
    cols, (OH, OW) = im2col_strided(x, (KH, KW), stride, padding, batch_last)
    y = w.reshape(F, -1) @ cols                            # (F, N*OH*OW)
    if b is not None:
        y += b[:, None]
    if batch_last:                                         # columns (i, j, n)
        y = y.reshape(F, OH, OW, N).transpose(3, 0, 1, 2)
    else:                                                  # columns (n, i, j)
        y = y.reshape(F, N, OH, OW).transpose(1, 0, 2, 3)
    return y, StridedCache(batch_last, x.shape, w, cols, b is not None, tuple(stride), tuple(padding))


def conv2d_fast_backward(dy, cache):
    r"""``nnref.layers.conv.conv2d_backward`` for a cache of :func:`conv2d_fast_forward`:
    ``(dx, dw, db)``, ``db`` None without bias.

    Faster: $\mathrm{d}Y$ laid out in the column order of ``cols`` (free when ``dy`` came from
    forward's transposed view), $\mathrm{d}W$ as ``(cols @ dY.T).T`` (the BLAS orientation that
    is quicker here), $\mathrm{d}b$ as a BLAS product with ones, and :func:`col2im_strided`.
    """
    if isinstance(cache, SameCache):
        return conv_same_backward(dy, cache)
    batch_last, x_shape, w, cols, has_bias, stride, padding = cache
    xp = get_array_module(dy, w)
    N, F, OH, OW = dy.shape
    if batch_last:
        dY = to_batch_last(dy).reshape(F, -1)              # (F, OH*OW*N)
    else:
        dY = dy.transpose(1, 0, 2, 3).reshape(F, -1)       # (F, N*OH*OW); free if dy came from forward
    dw = (cols @ dY.T).T.reshape(w.shape)                 # = dY cols^T; BLAS is faster this way round
    db = dY @ xp.ones(dY.shape[1], dtype=dY.dtype) if has_bias else None  # row sums, as a BLAS product
    dcols = w.reshape(F, -1).T @ dY
    return col2im_strided(dcols, x_shape, w.shape[2:], stride, padding, batch_last), dw, db
