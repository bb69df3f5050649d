r"""Batch normalisation: normalise each channel over the batch, then scale by γ and shift by β.

Training uses the statistics of the batch (biased variance) and updates running averages
(unbiased variance, as PyTorch keeps them); evaluation uses the running averages. The channel
axis is axis 1; every other axis (the batch, and L or H, W) is averaged over, so one pair of
functions serves ``BatchNorm1d`` and ``BatchNorm2d``. The modules call the faster equivalents in
``nnref/fast/batchnorm.py``.
"""
from __future__ import annotations

from typing import Any, NamedTuple


from ..backend import get_array_module


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
