r"""The convolution layer: ``torch.nn.Conv2d`` (which computes a cross-correlation).

Two reference implementations of the same map: ``conv2d_loop_*`` loops over every output
element exactly as the definition reads (what the page shows first; ``conv2d_naive_*`` adds
dilation and groups to it and is the test oracle), and
``conv2d_forward`` / ``conv2d_backward`` unfold the input with im2col so that each group of
channels is one matrix product each way. Padding modes other than zeros are a separate step,
:func:`pad2d`. The layer uses the faster but equal functions of :mod:`nnref.fast.conv` where
they apply (``groups=1``, ``dilation=1``).
"""
from __future__ import annotations

from typing import NamedTuple


from ..backend import get_array_module
from ..checks import check_pair
from .window import output_size


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
    return (check_pair(stride, "stride", "conv2d"), check_pair(padding, "padding", "conv2d"),
            check_pair(dilation, "dilation", "conv2d"))


# --8<-- [start:conv_loop]
def conv2d_loop_forward(x, w, b, stride=(1, 1), padding=(0, 0)):
    r"""The definition, one output element at a time (slow; the reference for every other version).

    Shapes: ``x`` (N, C, H, W), ``w`` (F, C, KH, KW), ``b`` (F,) -> ``y`` (N, F, OH, OW);
    ``stride`` and ``padding`` are (H, W) pairs.

    $$
    y_{n,f,i,j} = b_f + \sum_{c=0}^{C-1}\sum_{u=0}^{K_H-1}\sum_{v=0}^{K_W-1}
    \tilde x_{n,c,\,iS_H+u,\,jS_W+v}\; w_{f,c,u,v}
    $$

    where $\tilde x$ is ``x`` with ``padding`` zeros on each side.
    """
    xp = get_array_module(x, w)
    (SH, SW), (PH, PW) = stride, padding
    N, C, H, W = x.shape                                  # x: (N, C, H, W)
    F, _, KH, KW = w.shape                                # w: (F, C, KH, KW), b: (F,)
    OH, OW = output_size(H, KH, SH, PH), output_size(W, KW, SW, PW)
    x_pad = xp.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))  # x̃: P zeros on each side
    y = xp.zeros((N, F, OH, OW), dtype=x.dtype)          # y: (N, F, OH, OW)
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    patch = x_pad[n, :, i * SH:i * SH + KH, j * SW:j * SW + KW]
                    y[n, f, i, j] = (patch * w[f]).sum() + b[f]   # patch: (C, KH, KW)
    return y
# --8<-- [end:conv_loop]


# --8<-- [start:conv_loop_backward]
def conv2d_loop_backward(dy, x, w, stride=(1, 1), padding=(0, 0)):
    r"""Gradients of the definition, one output element at a time: each $y_{n,f,i,j}$ sends
    $\mathrm{d}y_{n,f,i,j}$ back to the patch and the kernel it was made of. Returns ``(dx, dw, db)``.
    """
    xp = get_array_module(dy, x, w)
    (SH, SW), (PH, PW) = stride, padding
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    x_pad = xp.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    dx_pad, dw = xp.zeros_like(x_pad), xp.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for i in range(dy.shape[2]):
                for j in range(dy.shape[3]):
                    rows, cols = slice(i * SH, i * SH + KH), slice(j * SW, j * SW + KW)
                    patch = (n, slice(None), rows, cols)
                    dw[f] += dy[n, f, i, j] * x_pad[patch]    # the patch, times dy
                    dx_pad[patch] += dy[n, f, i, j] * w[f]    # the kernel, times dy
    return dx_pad[:, :, PH:PH + H, PW:PW + W], dw, dy.sum(axis=(0, 2, 3))
# --8<-- [end:conv_loop_backward]


# --8<-- [start:dilate]
def dilate(w, dilation):
    r"""The kernel ``w`` (F, C, KH, KW) with $D - 1$ zeros between neighbouring taps:
    (F, C, D_H(KH-1)+1, D_W(KW-1)+1). A convolution with it is the dilated convolution with ``w``."""
    xp = get_array_module(w)
    (DH, DW), (F, C, KH, KW) = dilation, w.shape
    w_d = xp.zeros((F, C, DH * (KH - 1) + 1, DW * (KW - 1) + 1), dtype=w.dtype)
    w_d[:, :, ::DH, ::DW] = w                          # the real taps, D apart
    return w_d
# --8<-- [end:dilate]


# --8<-- [start:conv_naive]
def conv2d_naive_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    r"""The whole definition, dilation and groups included, built from the loop: G independent
    convolutions on slices of the channels, each with the dilated kernel (slow; a test oracle).

    Shapes: ``x`` (N, C, H, W), ``w`` (F, C/G, KH, KW), ``b`` (F,) or None -> ``y`` (N, F, OH, OW).

    $$
    y_{n,f,i,j} = b_f + \sum_{c=0}^{C/G-1}\sum_{u=0}^{K_H-1}\sum_{v=0}^{K_W-1}
    \tilde x_{n,\,g C/G + c,\,i S_H + u D_H,\,j S_W + v D_W}\; w_{f,c,u,v}
    $$

    where $g = \lfloor f/(F/G) \rfloor$ is the group of kernel f: it sees only that group's C/G
    input channels.
    """
    xp = get_array_module(x, w)
    stride, padding, dilation = pairs(stride, padding, dilation)
    b = xp.zeros(w.shape[0], dtype=w.dtype) if b is None else b
    C_g, F_g = x.shape[1] // groups, w.shape[0] // groups           # channels and kernels per group
    w_d = dilate(w, dilation)
    return xp.concatenate([conv2d_loop_forward(x[:, g * C_g:(g + 1) * C_g], w_d[g * F_g:(g + 1) * F_g],
                                               b[g * F_g:(g + 1) * F_g], stride, padding)
                           for g in range(groups)], axis=1)


def conv2d_naive_backward(dy, x, w, stride=1, padding=0, dilation=1, groups=1):
    r"""Gradients of :func:`conv2d_naive_forward`, from the loop's: ``(dx, dw, db)``; of the
    dilated kernel's gradient only the real taps count."""
    xp = get_array_module(dy, x, w)
    stride, padding, (DH, DW) = pairs(stride, padding, dilation)
    C_g, F_g = x.shape[1] // groups, w.shape[0] // groups
    w_d = dilate(w, (DH, DW))
    parts = [conv2d_loop_backward(dy[:, g * F_g:(g + 1) * F_g], x[:, g * C_g:(g + 1) * C_g],
                                  w_d[g * F_g:(g + 1) * F_g], stride, padding) for g in range(groups)]
    dx = xp.concatenate([dx_g for dx_g, _, _ in parts], axis=1)
    dw = xp.concatenate([dw_g for _, dw_g, _ in parts])[:, :, ::DH, ::DW]
    return dx, dw, xp.concatenate([db_g for _, _, db_g in parts])
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


class ConvCache(NamedTuple):
    x_shape: tuple       # (N, C, H, W)
    w: object            # (F, C/G, KH, KW)
    cols: object         # (C*KH*KW, N*OH*OW)
    has_bias: bool
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int
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
    r"""``x`` (N, C, H, W) -> (N, C, top + H + bottom, left + W + right), ``pads = ((top, bottom), (left, right))``.

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
    r"""The adjoint of :func:`pad2d`: (N, C, top + H + bottom, left + W + right) -> (N, C, H, W)."""
    (top, bottom), (left, right) = pads
    d = fold_padding(d_pad, left, right, mode)                                # along W
    return fold_padding(d.swapaxes(2, 3), top, bottom, mode).swapaxes(2, 3)  # along H
# --8<-- [end:padding_modes]
