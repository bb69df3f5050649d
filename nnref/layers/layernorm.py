r"""Layer normalisation: normalise each sample over its last axes, then scale by γ and shift by β.

Where BatchNorm averages one feature over the batch, LayerNorm averages one sample over its
features (the trailing ``normalized_shape`` axes, e.g. the D features of one token). No
statistic crosses samples, so training and evaluation compute the same thing and there are
no running averages.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .. import backend
from ..backend import get_array_module
from ..checks import backward_cache, check_float, param_dtype
from ..module import Module, Parameter


class LayerNormCache(NamedTuple):
    x_hat: Any      # (..., *normalized_shape) the normalised input
    gamma: Any      # normalized_shape
    inv_std: Any    # (..., 1, ..., 1) 1 / sqrt(σ² + ε) per sample, kept broadcastable


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
    xp = get_array_module(x)
    axes = tuple(range(x.ndim - gamma.ndim, x.ndim))        # the normalised (trailing) axes
    mu = x.mean(axis=axes, keepdims=True)                     # (..., 1, ..., 1)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)      # biased, as BatchNorm's
    inv_std = 1 / xp.sqrt(var + eps)
    x_hat = (x - mu) * inv_std                                # (..., *S)
    y = gamma * x_hat + beta                                  # γ, β broadcast over the leading axes
    return y, LayerNormCache(x_hat, gamma, inv_std)
# --8<-- [end:layernorm_forward]


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


class LayerNorm(Module):
    r"""``torch.nn.LayerNorm(normalized_shape, eps=1e-05, elementwise_affine=True, bias=True,
    device=None, dtype=None)``: normalise over the trailing axes ``normalized_shape``.

    ``normalized_shape`` is an int (the last axis) or a tuple/list of the trailing sizes; the input
    is (..., *normalized_shape). Parameters ``weight`` (γ, ones) and ``bias`` (β, zeros) of shape
    ``normalized_shape``; none with ``elementwise_affine=False``, no ``bias`` with ``bias=False``.
    float16 input is normalised in float32 and returned as float16, as torch does.
    """

    def __init__(self, normalized_shape, eps: float = 1e-05, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (normalized_shape,)
        if not isinstance(normalized_shape, (tuple, list)) or \
                not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in normalized_shape):
            raise TypeError(f"LayerNorm: normalized_shape must be an int or a tuple/list of ints, "
                            f"got {normalized_shape!r}")
        if not all(n > 0 for n in normalized_shape):
            raise ValueError(f"LayerNorm: normalized_shape must hold positive sizes, got {tuple(normalized_shape)}")
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be > 0, got {eps}")
        dtype = param_dtype(dtype, "LayerNorm")
        name = backend.device_backend(device, "LayerNorm")
        self.normalized_shape = tuple(int(n) for n in normalized_shape)
        self.eps, self.elementwise_affine = eps, bool(elementwise_affine)

        def const(value):
            return Parameter(backend.to_backend(np.full(self.normalized_shape, value, dtype=dtype), name))

        self.register_parameter("weight", const(1.0) if elementwise_affine else None)             # γ
        self.register_parameter("bias", const(0.0) if elementwise_affine and bias else None)      # β
        self._cache = None

    def forward(self, input):
        x, S = input, self.normalized_shape
        check_float(x, "LayerNorm")
        if tuple(x.shape[x.ndim - len(S):]) != S or x.ndim < len(S):
            raise ValueError(f"LayerNorm: expected input of shape (*, {', '.join(map(str, S))}) "
                             f"(trailing shape {S}), got shape {tuple(x.shape)}")
        xp = get_array_module(x, *(p.data for p in self.parameters()))   # one device
        # float16 is normalised in float32, as torch accumulates it (its squares overflow float16)
        dt = np.dtype(np.float32) if x.dtype == np.float16 else x.dtype
        gamma = xp.ones(S, dtype=dt) if self.weight is None else self.weight.data.astype(dt, copy=False)
        beta = xp.zeros(S, dtype=dt) if self.bias is None else self.bias.data.astype(dt, copy=False)
        y, cache = layernorm_forward(x.astype(dt, copy=False), gamma, beta, self.eps)
        y = y.astype(x.dtype, copy=False)
        self._cache = (cache, y.shape)
        return y

    def backward(self, dy):
        cache = backward_cache(self._cache, dy, "LayerNorm")
        dx, dgamma, dbeta = layernorm_backward(dy.astype(cache.x_hat.dtype, copy=False), cache)
        if self.weight is not None:
            self.weight.accumulate(dgamma)
        if self.bias is not None:
            self.bias.accumulate(dbeta)
        return dx.astype(dy.dtype, copy=False)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")
