"""Batch normalisation: normalise each channel over the batch, then scale by γ and shift by β.

Training uses the statistics of the batch (biased variance) and updates running averages
(unbiased variance, as PyTorch keeps them); evaluation uses the running averages.
Every shape is handled as ``(N, C, P)``: ``(N, C)`` has P = 1, ``(N, C, L)`` P = L and
``(N, C, H, W)`` P = H·W, so one pair of functions serves ``BatchNorm1d`` and ``BatchNorm2d``.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module, module_for
from ..checks import backward_cache, check_float, check_ndim, check_size
from ..module import Module, Parameter


def _channel_sum(a):
    """Σ over N and P of an (N, C, P) array -> (C,): the sums over P as one matrix-vector
    product (BLAS, on every core), then over N."""
    xp = get_array_module(a)
    N, C, P = a.shape
    return (a.reshape(N * C, P) @ xp.ones(P, dtype=a.dtype)).reshape(N, C).sum(axis=0)


def _channel_dot(a, b):
    """Σ over N and P of a·b -> (C,), without the product array. (For this reduction
    ``optimize=True`` is 3-4× slower: it would route it through a transposed BLAS call.)"""
    return get_array_module(a).einsum("ncp,ncp->c", a, b)


def _per_channel(v, P):
    """(C,) -> a contiguous (C, P) array of v[c] repeated. Elementwise operations of an (N, C, P)
    array with it run over whole contiguous (C, P) blocks, about twice as fast as broadcasting
    the column ``v[:, None]`` (a short inner loop of P with a stride-0 operand)."""
    return get_array_module(v).repeat(v[:, None], P, axis=1)


# --8<-- [start:batchnorm_forward]
def batchnorm_forward(x, gamma, beta, running_mean=None, running_var=None,
                      momentum=0.1, eps=1e-5, training=True):
    """Batch normalisation over every axis but the channel axis 1.

    Shapes: ``x`` (N, C), (N, C, L) or (N, C, H, W); ``gamma``, ``beta``, ``running_*`` (C,).
    With M = N·L (or N·H·W) values per channel:

    $$
    \\mu = \\frac1M\\sum_i x_i,\\quad \\sigma^2 = \\frac1M\\sum_i (x_i-\\mu)^2,\\quad
    \\hat x_i = \\frac{x_i-\\mu}{\\sqrt{\\sigma^2+\\epsilon}},\\quad y_i = \\gamma\\,\\hat x_i + \\beta
    $$

    In training the running statistics (if given) are updated in place with the *unbiased*
    variance, ``r <- (1 - momentum) r + momentum * batch``:

    $$
    \\hat\\mu \\leftarrow (1-m)\\,\\hat\\mu + m\\,\\mu,\\qquad
    \\hat\\sigma^2 \\leftarrow (1-m)\\,\\hat\\sigma^2 + m\\,\\frac{M}{M-1}\\,\\sigma^2
    $$

    In evaluation ``running_mean`` and ``running_var`` replace μ and σ².
    Returns ``(y, cache)``.
    """
    xp = get_array_module(x)
    N, C = x.shape[:2]
    x3 = x.reshape(N, C, -1)                # (N, C, P): reductions over axes 0 and 2
    P = x3.shape[2]
    M = N * P
    if training:
        if M < 2:
            raise ValueError(f"batchnorm_forward: expected more than 1 value per channel when "
                             f"training, got input of shape {tuple(x.shape)}")
        mean = _channel_sum(x3) / M
        xhat = x3 - _per_channel(mean, P)
        var = _channel_dot(xhat, xhat) / M  # biased: this is what normalises the batch
        if running_mean is not None:
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean
            running_var[...] = (1 - momentum) * running_var + momentum * var * (M / (M - 1))
    else:
        mean, var = running_mean.astype(x.dtype), running_var.astype(x.dtype)
        xhat = x3 - _per_channel(mean, P)
    inv_std = 1 / xp.sqrt(var + eps)
    xhat *= _per_channel(inv_std, P)        # in place: x - μ becomes x̂
    y = xhat * _per_channel(gamma, P)
    y += _per_channel(beta, P)
    return y.reshape(x.shape), (xhat, gamma, inv_std, training)
# --8<-- [end:batchnorm_forward]


# --8<-- [start:batchnorm_backward]
def batchnorm_backward(dy, cache):
    """Gradients of ``batchnorm_forward``; returns ``(dx, dgamma, dbeta)``.

    $$
    \\frac{\\partial L}{\\partial\\beta} = \\sum_i dy_i,\\qquad
    \\frac{\\partial L}{\\partial\\gamma} = \\sum_i dy_i\\,\\hat x_i
    $$

    Training (μ and σ depend on every x_i of the channel):

    $$
    \\frac{\\partial L}{\\partial x_i} = \\frac{\\gamma}{M\\sqrt{\\sigma^2+\\epsilon}}
    \\left(M\\,dy_i - \\sum_j dy_j - \\hat x_i \\sum_j dy_j\\,\\hat x_j\\right)
    $$

    Evaluation (μ and σ are constants): $\\partial L/\\partial x_i = \\gamma\\,dy_i/\\sqrt{\\hat\\sigma^2+\\epsilon}$.
    """
    xhat, gamma, inv_std, training = cache
    N, C, P = xhat.shape
    dy3 = dy.reshape(N, C, -1)
    dbeta = _channel_sum(dy3)
    dgamma = _channel_dot(dy3, xhat)
    if training:
        M = N * P
        dx = xhat * _per_channel(dgamma / M, P)   # x̂ Σdy·x̂ / M
        dx += _per_channel(dbeta / M, P)          #   + Σdy / M
        dx -= dy3                                 # sign flipped, fixed by the next line
        dx *= _per_channel(-gamma * inv_std, P)
    else:
        dx = dy3 * _per_channel(gamma * inv_std, P)
    return dx.reshape(dy.shape), dgamma, dbeta
# --8<-- [end:batchnorm_backward]


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d; they differ only in the input layouts they accept."""

    _ndims: tuple = ()
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype=np.float32, *,
                 bias: bool = True):
        super().__init__()
        who = type(self).__name__
        if int(num_features) != num_features or num_features <= 0:
            raise ValueError(f"{who}: num_features must be a positive integer, got {num_features}")
        if not eps > 0:
            raise ValueError(f"{who}: eps must be > 0, got {eps}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{who}: momentum must lie in [0, 1] (or be None for a cumulative "
                             f"average), got {momentum}")
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        xp = module_for()
        C = self.num_features
        # affine=False: no γ, β (fixed at 1 and 0); bias=False: no β; track_running_stats=False:
        # no running statistics, the batch's own are used in evaluation too. All as in PyTorch,
        # where the missing entries are None and absent from state_dict.
        self.register_parameter("weight", Parameter(xp.ones(C, dtype=dtype)) if affine else None)   # γ
        self.register_parameter("bias", Parameter(xp.zeros(C, dtype=dtype)) if affine and bias else None)  # β
        if track_running_stats:
            self.register_buffer("running_mean", xp.zeros(C, dtype=dtype))
            self.register_buffer("running_var", xp.ones(C, dtype=dtype))
            self.register_buffer("num_batches_tracked", xp.zeros((), dtype=np.int64))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None
        self._cache = None

    def forward(self, x):
        who = type(self).__name__
        check_float(x, who)
        check_ndim(x, who, self._ndims, self._layout)
        check_size(x, who, 1, self.num_features, "channels")
        xp = get_array_module(x, *(p.data for p in self.parameters()), self.running_mean)  # one device
        factor = self.momentum
        batch_stats = self.training or not self.track_running_stats
        if batch_stats and x.size // self.num_features < 2:
            raise ValueError(f"{who}: expected more than 1 value per channel when training, "
                             f"got input of shape {tuple(x.shape)}")
        if self.training and self.track_running_stats:
            self.num_batches_tracked[...] += 1   # in place: assigning the attribute would unregister the buffer
            if factor is None:                   # momentum=None: cumulative average, as PyTorch
                factor = 1.0 / float(self.num_batches_tracked)
        C = self.num_features
        gamma = xp.ones(C, dtype=x.dtype) if self.weight is None else self.weight.data.astype(x.dtype, copy=False)
        beta = xp.zeros(C, dtype=x.dtype) if self.bias is None else self.bias.data.astype(x.dtype, copy=False)
        y, cache = batchnorm_forward(x, gamma, beta, self.running_mean, self.running_var, factor, self.eps,
                                     batch_stats)       # running statistics: updated, used, or None
        self._cache = (cache, y.shape)
        return y

    def backward(self, dy):
        dx, dgamma, dbeta = batchnorm_backward(dy, backward_cache(self._cache, dy, type(self).__name__))
        if self.weight is not None:
            self.weight.accumulate(dgamma)
        if self.bias is not None:
            self.bias.accumulate(dbeta)
        return dx

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """``torch.nn.BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True,
    track_running_stats=True, *, bias=True)`` for (N, C) or (N, C, L).

    Parameters ``weight`` (γ, ones) and ``bias`` (β, zeros), None with ``affine=False``
    (``bias`` also with ``bias=False``); buffers
    ``running_mean`` (zeros), ``running_var`` (ones) and ``num_batches_tracked`` (0-d int64),
    None with ``track_running_stats=False`` (then evaluation also normalises by the batch's
    own statistics); in PyTorch's ``state_dict`` order.
    """

    _ndims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """``torch.nn.BatchNorm2d(num_features, eps=1e-5, momentum=0.1, affine=True,
    track_running_stats=True, *, bias=True)`` for (N, C, H, W); see BatchNorm1d."""

    _ndims = (4,)
    _layout = "(N, C, H, W)"
