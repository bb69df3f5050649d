r"""Batch normalisation: normalise each channel over the batch, then scale by γ and shift by β.

Training uses the statistics of the batch (biased variance) and updates running averages
(unbiased variance, as PyTorch keeps them); evaluation uses the running averages. The channel
axis is axis 1; every other axis (the batch, and L or H, W) is averaged over, so one pair of
functions serves ``BatchNorm1d`` and ``BatchNorm2d``. The modules call the faster equivalents in
``nnref/fast/batchnorm.py``.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .. import backend
from ..backend import get_array_module
from ..checks import backward_cache, check_float, check_ndim, check_size, param_dtype
from ..fast import batchnorm as fast
from ..module import Module, Parameter


class BatchNormCache(NamedTuple):
    x_hat: Any        # (N, C, ...) the normalised input
    gamma: Any        # (C,)
    inv_std: Any      # (C,) 1 / sqrt(σ² + ε)
    training: bool    # batch statistics (μ, σ² depend on x) or running ones (constants)


def _channel_axes(x):
    """The axes averaged over (all but the channel axis 1) and the shape that makes a (C,) vector
    broadcast along axis 1: for (N, C, H, W), ``(0, 2, 3)`` and ``(1, C, 1, 1)``."""
    return (0,) + tuple(range(2, x.ndim)), (1, -1) + (1,) * (x.ndim - 2)


# --8<-- [start:batchnorm_forward]
def batchnorm_forward(x, gamma, beta, running_mean=None, running_var=None,
                      momentum=0.1, eps=1e-5, training=True):
    r"""Batch normalisation over every axis but the channel axis 1.

    Shapes: ``x`` (N, C), (N, C, L) or (N, C, H, W); ``gamma``, ``beta``, ``running_*`` (C,).
    With M = N·L (or N·H·W) values per channel:

    $$
    \mu = \frac1M\sum_i x_i,\quad \sigma^2 = \frac1M\sum_i (x_i-\mu)^2,\quad
    \hat x_i = \frac{x_i-\mu}{\sqrt{\sigma^2+\epsilon}},\quad y_i = \gamma\,\hat x_i + \beta
    $$

    In training the running statistics (if given) are updated in place with the *unbiased*
    variance:

    $$
    \hat\mu \leftarrow (1-m)\,\hat\mu + m\,\mu,\qquad
    \hat\sigma^2 \leftarrow (1-m)\,\hat\sigma^2 + m\,\frac{M}{M-1}\,\sigma^2
    $$

    In evaluation ``running_mean`` and ``running_var`` replace μ and σ².
    Returns ``(y, BatchNormCache)``.
    """
    xp = get_array_module(x)
    axes, col = _channel_axes(x)            # col: (C,) -> (1, C, 1, ...) broadcasts along axis 1
    if training:
        M = x.size // x.shape[1]            # values per channel
        if M == 1:
            raise ValueError(f"batchnorm_forward: expected more than 1 value per channel when "
                             f"training, got input of shape {tuple(x.shape)}")
        mu = x.mean(axis=axes)                                  # (C,)
        var = ((x - mu.reshape(col)) ** 2).mean(axis=axes)      # (C,) biased: it normalises the batch
        if running_mean is not None:
            running_mean[...] = (1 - momentum) * running_mean + momentum * mu
            running_var[...] = (1 - momentum) * running_var + momentum * var * M / (M - 1)
    else:
        mu, var = running_mean, running_var
    inv_std = 1 / xp.sqrt(var + eps)                            # (C,)
    x_hat = (x - mu.reshape(col)) * inv_std.reshape(col)        # (N, C, ...)
    y = gamma.reshape(col) * x_hat + beta.reshape(col)
    return y, BatchNormCache(x_hat, gamma, inv_std, training)
# --8<-- [end:batchnorm_forward]


# --8<-- [start:batchnorm_backward]
def batchnorm_backward(dy, cache):
    r"""Gradients of ``batchnorm_forward``; returns ``(dx, dgamma, dbeta)``.

    $$
    \frac{\partial L}{\partial\beta} = \sum_i dy_i,\qquad
    \frac{\partial L}{\partial\gamma} = \sum_i dy_i\,\hat x_i
    $$

    Training (μ and σ depend on every x_i of the channel):

    $$
    \frac{\partial L}{\partial x_i} = \frac{\gamma}{M\sqrt{\sigma^2+\epsilon}}
    \left(M\,dy_i - \sum_j dy_j - \hat x_i \sum_j dy_j\,\hat x_j\right)
    $$

    Evaluation (μ and σ are constants): $\partial L/\partial x_i = \gamma\,dy_i/\sqrt{\hat\sigma^2+\epsilon}$.
    """
    x_hat, gamma, inv_std, training = cache
    axes, col = _channel_axes(dy)
    dbeta = dy.sum(axis=axes)                                   # (C,)
    dgamma = (dy * x_hat).sum(axis=axes)                        # (C,)
    if training:
        M = dy.size // dy.shape[1]
        dx = (gamma * inv_std / M).reshape(col) * (M * dy - dbeta.reshape(col) - x_hat * dgamma.reshape(col))
    else:
        dx = (gamma * inv_std).reshape(col) * dy
    return dx, dgamma, dbeta
# --8<-- [end:batchnorm_backward]


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d; they differ only in the input layouts they accept."""

    _ndims: tuple = ()
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-05, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None, dtype=None, *,
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
        dtype = param_dtype(dtype, who)
        name = backend.device_backend(device, who)
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        C = self.num_features

        def const(value, dt=dtype, shape=(C,)):
            return backend.to_backend(np.full(shape, value, dtype=dt), name)

        # affine=False: no γ, β (fixed at 1 and 0); bias=False: no β; track_running_stats=False:
        # no running statistics, the batch's own are used in evaluation too. All as in PyTorch,
        # where the missing entries are None and absent from state_dict.
        self.register_parameter("weight", Parameter(const(1.0)) if affine else None)          # γ
        self.register_parameter("bias", Parameter(const(0.0)) if affine and bias else None)   # β
        if track_running_stats:
            self.register_buffer("running_mean", const(0.0))
            self.register_buffer("running_var", const(1.0))
            self.register_buffer("num_batches_tracked", const(0, np.int64, ()))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None
        self._cache = None

    def forward(self, input):
        x, who = input, type(self).__name__
        check_float(x, who)
        check_ndim(x, who, self._ndims, self._layout)
        xp = get_array_module(x, *(p.data for p in self.parameters()), self.running_mean)  # one device
        if x.size == 0:     # torch returns any empty input as it is, whatever its channel count
            if self.training and self.track_running_stats:
                self.num_batches_tracked[...] += 1          # and counts it, statistics unchanged
            self._cache = (BatchNormCache(x, None, None, False), x.shape)
            return x.copy()
        if self.affine or self.track_running_stats:   # else nothing has C entries: torch takes any C
            check_size(x, who, 1, self.num_features, "channels")
        C = x.shape[1]
        batch_stats = self.training or not self.track_running_stats
        if batch_stats and x.size == C:
            raise ValueError(f"{who}: expected more than 1 value per channel when training, "
                             f"got input of shape {tuple(x.shape)}")
        factor = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked[...] += 1   # in place: assigning the attribute would unregister the buffer
            if factor is None:                   # momentum=None: cumulative average, as PyTorch
                factor = 1.0 / float(self.num_batches_tracked)
        # float16 is normalised in float32, as torch accumulates it (its squares overflow float16)
        dt = np.dtype(np.float32) if x.dtype == np.float16 else x.dtype
        gamma = xp.ones(C, dtype=dt) if self.weight is None else self.weight.data.astype(dt, copy=False)
        beta = xp.zeros(C, dtype=dt) if self.bias is None else self.bias.data.astype(dt, copy=False)
        if batch_stats:                        # running statistics, if any, updated in place
            y, cache = fast.batchnorm_forward(x.astype(dt, copy=False), gamma, beta, self.running_mean,
                                              self.running_var, factor, self.eps, True)
        else:
            y, cache = fast.batchnorm_forward(x.astype(dt, copy=False), gamma, beta,
                                              self.running_mean.astype(dt), self.running_var.astype(dt),
                                              factor, self.eps, False)
        y = y.astype(x.dtype, copy=False)
        self._cache = (cache, y.shape)
        return y

    def backward(self, dy):
        cache = backward_cache(self._cache, dy, type(self).__name__)
        if dy.size == 0:                         # an empty input: γ and β get zero gradients
            return dy.copy()
        dx, dgamma, dbeta = fast.batchnorm_backward(dy.astype(cache.x_hat.dtype, copy=False), cache)
        if self.weight is not None:
            self.weight.accumulate(dgamma)
        if self.bias is not None:
            self.bias.accumulate(dbeta)
        return dx.astype(dy.dtype, copy=False)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    r"""``torch.nn.BatchNorm1d(num_features, eps=1e-05, momentum=0.1, affine=True,
    track_running_stats=True, device=None, dtype=None, *, bias=True)`` for (N, C) or (N, C, L).

    Parameters ``weight`` (γ, ones) and ``bias`` (β, zeros), None with ``affine=False``
    (``bias`` also with ``bias=False``); buffers
    ``running_mean`` (zeros), ``running_var`` (ones) and ``num_batches_tracked`` (0-d int64),
    None with ``track_running_stats=False`` (then evaluation also normalises by the batch's
    own statistics); in PyTorch's ``state_dict`` order. ``momentum=None``: a cumulative average.
    float16 input is normalised in float32 and returned as float16, as torch does.
    """

    _ndims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    r"""``torch.nn.BatchNorm2d(num_features, eps=1e-05, momentum=0.1, affine=True,
    track_running_stats=True, device=None, dtype=None, *, bias=True)`` for (N, C, H, W);
    see BatchNorm1d."""

    _ndims = (4,)
    _layout = "(N, C, H, W)"
