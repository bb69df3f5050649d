r"""Activation functions: elementwise non-linearities and their derivatives.

Each comes as a pure pair ``xxx_forward(x) -> (y, cache)`` / ``xxx_backward(dy, cache) -> dx``
(the Modules are in ``nnref/nn/activation.py``). All keep the input's shape and float dtype.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ..backend import get_array_module, is_cupy_array


# --8<-- [start:relu]
def relu_forward(x):
    r"""ReLU, elementwise; the cache is ``x``:

    $$
    \mathrm{ReLU}(x) = \max(0, x)
    $$
    """
    xp = get_array_module(x)
    return xp.maximum(x, 0), x          # max(0, x); the cache is x itself


def relu_backward(dy, x, grad_at_zero=0.0):
    r"""ReLU's derivative, with a chosen value at 0:

    $$
    \mathrm{ReLU}'(x) = 1\ (x>0),\quad 0\ (x<0),\quad g_0\ (x=0)
    $$

    At ``x == 0`` ReLU has no derivative; any ``g_0`` in [0, 1] is a subgradient.
    ``g_0 = 0`` is PyTorch's choice (the left derivative), ``g_0 = 1`` the right one.
    """
    grad = (x > 0).astype(dy.dtype)     # ReLU'(x): 1 where x > 0, else 0
    if grad_at_zero != 0.0:
        grad[x == 0] = grad_at_zero     # the chosen value at x = 0
    return dy * grad                    # dx = dy ⊙ ReLU'(x)
# --8<-- [end:relu]


# --8<-- [start:leaky_relu]
def leaky_relu_forward(x, negative_slope=0.01):
    r"""Leaky ReLU with slope ``a = negative_slope`` below 0:

    $$
    \mathrm{LeakyReLU}(x) = x\ (x>0),\quad a x\ (x\le 0)
    $$
    """
    xp = get_array_module(x)
    return xp.where(x > 0, x, negative_slope * x), LeakyReLUCache(x, negative_slope)


class LeakyReLUCache(NamedTuple):
    x: object
    negative_slope: float


def leaky_relu_backward(dy, cache: LeakyReLUCache):
    r"""Derivative 1 for x > 0 and ``a`` for x <= 0 (PyTorch takes ``a`` at 0)."""
    xp = get_array_module(dy)
    return xp.where(cache.x > 0, dy, cache.negative_slope * dy)
# --8<-- [end:leaky_relu]


# --8<-- [start:sigmoid]
def sigmoid(x):
    r"""The logistic sigmoid, accurate in both tails:

    $$
    \sigma(x) = \frac{1}{1+e^{-x}} = \frac{e^{x}}{1+e^{x}}
    $$

    Both forms are used with $e^{-|x|} \le 1$, which never overflows: the first for
    $x \ge 0$, the second for $x < 0$, where $1 - \sigma(-x)$ would round tiny values to 0
    (``sigmoid(-20)`` is about 2.06e-9 in float32, as in PyTorch).
    """
    xp = get_array_module(x)
    e = xp.exp(-xp.abs(x))                          # e^{-|x|} in (0, 1]
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def sigmoid_forward(x):
    r"""The sigmoid layer's forward pass; the cache is the output $y = \sigma(x)$."""
    y = sigmoid(x)
    return y, y


def sigmoid_backward(dy, y):
    r"""Sigmoid's derivative from its output ``y``:

    $$
    \sigma'(x) = \sigma(x)\,(1-\sigma(x))
    $$
    """
    return dy * y * (1 - y)             # dx = dy ⊙ σ(x)(1 − σ(x))
# --8<-- [end:sigmoid]


# --8<-- [start:tanh]
def tanh_forward(x):
    r"""Hyperbolic tangent; the cache is the output:

    $$
    \tanh(x) = \frac{e^x - e^{-x}}{e^x + e^{-x}}
    $$
    """
    xp = get_array_module(x)
    y = xp.tanh(x)
    return y, y


def tanh_backward(dy, y):
    r"""Tanh's derivative from its output ``y``:

    $$
    \tanh'(x) = 1 - \tanh^2(x)
    $$
    """
    return dy * (1 - y * y)             # dx = dy ⊙ (1 − tanh²x)
# --8<-- [end:tanh]


# --8<-- [start:softplus]
def softplus_forward(x, beta=1.0, threshold=20.0):
    r"""Softplus, a smooth ReLU:

    $$
    \mathrm{Softplus}(x) = \frac{1}{\beta}\log\left(1 + e^{\beta x}\right)
    $$

    A smooth ReLU: it tends to ``max(0, x)`` as ``beta`` grows. Where ``beta*x > threshold``
    it returns ``x`` itself (the difference is below float precision), as PyTorch does.
    """
    xp = get_array_module(x)
    bx = beta * x
    # logaddexp(0, bx) = log(1 + e^{bx}) without overflow
    y = xp.where(bx > threshold, x, xp.logaddexp(0, bx) / beta).astype(x.dtype, copy=False)
    return y, SoftplusCache(x, beta, threshold)


class SoftplusCache(NamedTuple):
    x: object
    beta: float
    threshold: float


def softplus_backward(dy, cache: SoftplusCache):
    r"""The logistic function of ``beta*x`` (exactly 1 above the threshold):

    $$
    \mathrm{Softplus}'(x) = \sigma(\beta x)
    $$
    """
    xp = get_array_module(dy)
    bx = cache.beta * cache.x
    return xp.where(bx > cache.threshold, dy, dy * sigmoid(bx))
# --8<-- [end:softplus]


def _erf(x):
    r"""erf from SciPy (CPU) or CuPy's SciPy (GPU): NumPy itself has no erf."""
    if is_cupy_array(x):
        from cupyx.scipy.special import erf
    else:
        from scipy.special import erf
    return erf(x)


# --8<-- [start:gelu]
def gelu_forward(x, approximate="none"):
    r"""GELU, exact (erf) or with ``approximate='tanh'``:

    $$
    \mathrm{GELU}(x) = x\,\Phi(x) = \tfrac{x}{2}\left(1+\mathrm{erf}\tfrac{x}{\sqrt2}\right)
    $$

    ``approximate='tanh'``:

    $$
    \tfrac{x}{2}\left(1+\tanh\left(\sqrt{2/\pi}\,(x+0.044715x^3)\right)\right)
    $$
    """
    xp = get_array_module(x)
    if approximate == "tanh":
        t = xp.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x))
        return 0.5 * x * (1 + t), GELUCache(x, approximate, t)
    cdf = (0.5 * (1 + _erf(x / math.sqrt(2)))).astype(x.dtype, copy=False)   # SciPy's erf widens float16
    return x * cdf, GELUCache(x, approximate, cdf)


class GELUCache(NamedTuple):
    x: object
    approximate: str
    s: object             # tanh(...) for the tanh form, Phi(x) for the exact one


def gelu_backward(dy, cache: GELUCache):
    r"""Derivative of the exact form (the tanh form is differentiated the same way):

    $$
    \mathrm{GELU}'(x) = \Phi(x) + x\,\varphi(x)
    $$
    """
    x, approximate, s = cache
    xp = get_array_module(dy)
    if approximate == "tanh":
        k = math.sqrt(2 / math.pi)
        inner_grad = k * (1 + 3 * 0.044715 * x * x)
        return dy * (0.5 * (1 + s) + 0.5 * x * (1 - s * s) * inner_grad)
    pdf = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return dy * (s + x * pdf)
# --8<-- [end:gelu]
