r"""Batch normalisation: normalise each channel over the batch, then scale by γ and shift by β.

The channel axis is axis 1; every other axis (the batch, and L or H, W) is averaged over, so one
set of functions serves ``BatchNorm1d`` and ``BatchNorm2d``. Training uses the statistics of the
batch (biased variance), :func:`batchnorm_train_forward`; the running averages that evaluation
uses instead are kept by :func:`update_running_stats` (unbiased variance, as PyTorch keeps them)
and applied by :func:`batchnorm_eval_forward`; :func:`batchnorm_forward` is the three together,
with the Modules' arguments. The modules call the faster equivalents in ``nnref/fast/batchnorm.py``.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from ..backend import get_array_module


# --8<-- [start:batchnorm_train_forward]
def batchnorm_train_forward(x, gamma, beta, eps=1e-5):
    r"""Training-mode batch normalisation with the batch's own statistics.

    Shapes: ``x`` (N, C), (N, C, L) or (N, C, H, W); ``gamma``, ``beta`` (C,). With M = N·L
    (or N·H·W) values per channel:

    $$
    \mu = \frac1M\sum_i x_i,\quad \sigma^2 = \frac1M\sum_i (x_i-\mu)^2,\quad
    \hat x_i = \frac{x_i-\mu}{\sqrt{\sigma^2+\epsilon}},\quad y_i = \gamma\,\hat x_i + \beta
    $$
    """
    # x: (N, C), (N, C, L) or (N, C, H, W); gamma, beta: (C,)
    xp = get_array_module(x)
    axes = (0,) + tuple(range(2, x.ndim))                  # all axes but the channel axis 1
    mu = x.mean(axis=axes, keepdims=True)                  # μ per channel, shape (1, C, 1, ...)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)   # σ², biased (divided by M)
    inv_std = 1 / xp.sqrt(var + eps)                       # 1/√(σ²+ε)
    x_hat = (x - mu) * inv_std                             # x̂ = (x − μ)/√(σ²+ε)
    y = gamma.reshape(mu.shape) * x_hat + beta.reshape(mu.shape)   # y = γ x̂ + β
    return y, BatchNormCache(x_hat, gamma, inv_std.reshape(-1), True)
# --8<-- [end:batchnorm_train_forward]


# --8<-- [start:batchnorm_cache]
class BatchNormCache(NamedTuple):
    x_hat: Any        # (N, C, ...) the normalised input
    gamma: Any        # (C,)
    inv_std: Any      # (C,) 1 / sqrt(σ² + ε)
    training: bool    # batch statistics (μ, σ² depend on x) or running ones (constants)
# --8<-- [end:batchnorm_cache]


# --8<-- [start:running_stats]
def update_running_stats(x, running_mean, running_var, momentum=0.1):
    r"""Move the running averages (C,) towards this batch's statistics, in place:

    $$
    \hat\mu \leftarrow (1-m)\,\hat\mu + m\,\mu,\qquad
    \hat\sigma^2 \leftarrow (1-m)\,\hat\sigma^2 + m\,\frac{M}{M-1}\,\sigma^2
    $$
    """
    axes = (0,) + tuple(range(2, x.ndim))                  # all axes but the channel axis 1
    M = x.size // x.shape[1]                               # values per channel
    mu = x.mean(axis=axes)                                 # μ of this batch, (C,)
    var = ((x - mu.reshape((1, -1) + (1,) * (x.ndim - 2))) ** 2).mean(axis=axes)   # σ², biased, (C,)
    m = momentum
    running_mean[...] = (1 - m) * running_mean + m * mu                  # μ̂ ← (1−m) μ̂ + m μ
    running_var[...] = (1 - m) * running_var + m * var * M / (M - 1)     # σ̂² ← (1−m) σ̂² + m M/(M−1) σ²


def batchnorm_eval_forward(x, gamma, beta, running_mean, running_var, eps=1e-5):
    r"""Evaluation mode: the running averages replace μ and σ², so every sample is normalised
    alone, by the same per-channel affine map:

    $$
    \hat x_i = \frac{x_i-\hat\mu}{\sqrt{\hat\sigma^2+\epsilon}},\quad y_i = \gamma\,\hat x_i + \beta
    $$
    """
    xp = get_array_module(x)
    col = (1, -1) + (1,) * (x.ndim - 2)                    # (C,) -> (1, C, 1, ...)
    inv_std = 1 / xp.sqrt(running_var + eps)               # 1/√(σ̂²+ε)
    x_hat = (x - running_mean.reshape(col)) * inv_std.reshape(col)
    y = gamma.reshape(col) * x_hat + beta.reshape(col)
    return y, BatchNormCache(x_hat, gamma, inv_std, False)
# --8<-- [end:running_stats]


# --8<-- [start:batchnorm_forward]
def batchnorm_forward(x, gamma, beta, running_mean=None, running_var=None,
                      momentum=0.1, eps=1e-5, training=True):
    r"""What the BatchNorm modules compute, in training or in evaluation.

    Training: :func:`batchnorm_train_forward`, and the running statistics (if given) updated by
    :func:`update_running_stats`. Evaluation: :func:`batchnorm_eval_forward`.
    Returns ``(y, BatchNormCache)``.
    """
    if not training:
        return batchnorm_eval_forward(x, gamma, beta, running_mean, running_var, eps)
    if x.size == x.shape[1]:            # one value per channel: the unbiased M/(M−1) has no meaning
        raise ValueError(f"batchnorm_forward: expected more than 1 value per channel when "
                         f"training, got input of shape {tuple(x.shape)}")
    if running_mean is not None:
        update_running_stats(x, running_mean, running_var, momentum)
    return batchnorm_train_forward(x, gamma, beta, eps)
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
    axes = (0,) + tuple(range(2, dy.ndim))                 # all axes but the channel axis 1
    col = (1, -1) + (1,) * (dy.ndim - 2)                   # (C,) -> (1, C, 1, ...)
    dbeta = dy.sum(axis=axes)                              # dβ = Σ dy, (C,)
    dgamma = (dy * x_hat).sum(axis=axes)                   # dγ = Σ dy·x̂, (C,)
    if training:
        M = dy.size // dy.shape[1]
        dx = (gamma * inv_std / M).reshape(col) * (M * dy - dbeta.reshape(col) - x_hat * dgamma.reshape(col))
    else:                                                  # μ̂, σ̂² are constants: an affine map
        dx = (gamma * inv_std).reshape(col) * dy
    return dx, dgamma, dbeta
# --8<-- [end:batchnorm_backward]
