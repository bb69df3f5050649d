r"""Layer normalisation: normalise each sample over its last axes, then scale by γ and shift by β.

Where BatchNorm averages one feature over the batch, LayerNorm averages one sample over its
features (the trailing ``normalized_shape`` axes, e.g. the D features of one token). No
statistic crosses samples, so training and evaluation compute the same thing and there are
no running averages.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from ..backend import get_array_module


# --8<-- [start:layernorm_forward]
def layernorm_forward(x, gamma, beta, eps=1e-5):
    r"""Layer normalisation over the trailing ``gamma.ndim`` axes of ``x``.

    Shapes: ``x`` (..., *S) with S the normalised shape; ``gamma``, ``beta`` S. With D the
    number of values in S (D = prod(S)), for each sample (each index of the leading axes):

    $$
    \mu = \frac1D\sum_k x_k,\quad \sigma^2 = \frac1D\sum_k (x_k-\mu)^2,\quad
    \hat x_k = \frac{x_k-\mu}{\sqrt{\sigma^2+\epsilon}},\quad y_k = \gamma_k\,\hat x_k + \beta_k
    $$

    Returns ``(y, LayerNormCache)``.
    """
    # x: (..., *S); gamma, beta: S, the normalized_shape
    xp = get_array_module(x)
    axes = tuple(range(x.ndim - gamma.ndim, x.ndim))        # the normalised (trailing) axes
    mu = x.mean(axis=axes, keepdims=True)                     # μ per sample, (..., 1, ..., 1)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)      # σ², biased, as BatchNorm's
    inv_std = 1 / xp.sqrt(var + eps)                          # 1/√(σ²+ε)
    x_hat = (x - mu) * inv_std                                # x̂ = (x − μ)/√(σ²+ε), (..., *S)
    y = gamma * x_hat + beta                                  # y = γ x̂ + β; γ, β broadcast over the samples
    return y, LayerNormCache(x_hat, gamma, inv_std)
# --8<-- [end:layernorm_forward]


# --8<-- [start:layernorm_cache]
class LayerNormCache(NamedTuple):
    x_hat: Any      # (..., *normalized_shape) the normalised input
    gamma: Any      # normalized_shape
    inv_std: Any    # (..., 1, ..., 1) 1 / sqrt(σ² + ε) per sample, kept broadcastable
# --8<-- [end:layernorm_cache]


# --8<-- [start:layernorm_backward]
def layernorm_backward(dy, cache):
    r"""Gradients of ``layernorm_forward``; returns ``(dx, dgamma, dbeta)``.

    γ and β are shared by every sample, so their gradients sum over the leading axes:
    $\partial L/\partial\gamma_k = \sum_{\text{samples}} dy_k\,\hat x_k$,
    $\partial L/\partial\beta_k = \sum_{\text{samples}} dy_k$. Within a sample, with
    $g_k = \gamma_k\,dy_k$ (the gradient reaching $\hat x_k$), the same algebra as BatchNorm's
    over D values instead of M:

    $$
    \frac{\partial L}{\partial x_k} = \frac{1}{D\sqrt{\sigma^2+\epsilon}}
    \left(D\,g_k - \sum_j g_j - \hat x_k \sum_j g_j\,\hat x_j\right)
    $$
    """
    x_hat, gamma, inv_std = cache
    axes = tuple(range(dy.ndim - gamma.ndim, dy.ndim))        # within a sample
    batch_axes = tuple(range(dy.ndim - gamma.ndim))           # across samples
    D = gamma.size
    dgamma = (dy * x_hat).sum(axis=batch_axes)                # S
    dbeta = dy.sum(axis=batch_axes)                           # S
    g = dy * gamma                                            # ∂L/∂x̂
    dx = inv_std / D * (D * g - g.sum(axis=axes, keepdims=True)
                        - x_hat * (g * x_hat).sum(axis=axes, keepdims=True))
    return dx, dgamma, dbeta
# --8<-- [end:layernorm_backward]
