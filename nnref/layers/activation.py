r"""Activation functions: elementwise non-linearities and their derivatives.

Each comes as a pure pair ``xxx_forward(x) -> (y, cache)`` / ``xxx_backward(dy, cache) -> dx``
and as a ``Module``. All keep the input's shape and float dtype.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ..backend import get_array_module, is_cupy_array
from ..checks import backward_cache, check_float, read_only_output
from ..module import Module


# --8<-- [start:relu]
def relu_forward(x):
    r"""ReLU, elementwise; the cache is ``x``:

    $$
    \mathrm{ReLU}(x) = \max(0, x)
    $$
    """
    xp = get_array_module(x)
    return xp.maximum(x, 0), x


def relu_backward(dy, x, grad_at_zero=0.0):
    r"""ReLU's derivative, with a chosen value at 0:

    $$
    \mathrm{ReLU}'(x) = 1\ (x>0),\quad 0\ (x<0),\quad g_0\ (x=0)
    $$

    At ``x == 0`` ReLU has no derivative; any ``g_0`` in [0, 1] is a subgradient.
    ``g_0 = 0`` is PyTorch's choice (the left derivative), ``g_0 = 1`` the right one.
    """
    grad = (x > 0).astype(dy.dtype)
    if grad_at_zero != 0.0:
        grad[x == 0] = grad_at_zero
    return dy * grad
# --8<-- [end:relu]


# --8<-- [start:leaky_relu]
class LeakyReLUCache(NamedTuple):
    x: object
    negative_slope: float


def leaky_relu_forward(x, negative_slope=0.01):
    r"""Leaky ReLU with slope ``a = negative_slope`` below 0:

    $$
    \mathrm{LeakyReLU}(x) = x\ (x>0),\quad a x\ (x\le 0)
    $$
    """
    xp = get_array_module(x)
    return xp.where(x > 0, x, negative_slope * x), LeakyReLUCache(x, negative_slope)


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
    return dy * y * (1 - y)
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
    return dy * (1 - y * y)
# --8<-- [end:tanh]


# --8<-- [start:softplus]
class SoftplusCache(NamedTuple):
    x: object
    beta: float
    threshold: float


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
class GELUCache(NamedTuple):
    x: object
    approximate: str
    s: object             # tanh(...) for the tanh form, Phi(x) for the exact one


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
        t = xp.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))
        return 0.5 * x * (1 + t), GELUCache(x, approximate, t)
    cdf = (0.5 * (1 + _erf(x / math.sqrt(2)))).astype(x.dtype, copy=False)   # SciPy's erf widens float16
    return x * cdf, GELUCache(x, approximate, cdf)


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


def writable_input(x, who: str):
    r"""``x`` itself, for a layer with ``inplace=True`` that will write its output into it;
    ``ValueError`` naming ``who`` when ``x`` is read-only (e.g. the output of Sigmoid or Tanh,
    whose backward needs it unchanged)."""
    if not getattr(getattr(x, "flags", None), "writeable", True):
        raise ValueError(f"{who}(inplace=True): the input is read-only (e.g. the output of "
                         f"Sigmoid or Tanh, kept for their backward); use inplace=False")
    return x


class _Activation(Module):
    r"""Shared plumbing: check the input, keep the cache, refuse ``backward`` before ``forward``.

    ``inplace`` layers write the result into the input, as PyTorch does. Their cache then sees
    the output where it kept the input; ``_cache_survives_inplace`` says whether the backward
    formula still holds on it, otherwise the cache keeps a copy of the input.
    """
    inplace = False

    def __init__(self):
        super().__init__()
        self._cache = None

    def _cache_survives_inplace(self):
        return False

    def forward(self, input):
        who = type(self).__name__
        check_float(input, who)
        if not self.inplace:
            y, cache = self._forward(input)
        else:
            writable_input(input, who)
            source = input if self._cache_survives_inplace() else input.copy()
            y, cache = self._forward(source)
            input[...] = y
            y = input
        self._cache = (cache, y.shape)
        return y

    def backward(self, dy):
        return self._backward(dy, backward_cache(self._cache, dy, type(self).__name__))


class ReLU(_Activation):
    r"""``torch.nn.ReLU(inplace=False)``. ``grad_at_zero`` (keyword-only, in [0, 1]) is the
    subgradient used at x == 0; 0 like PyTorch."""

    def __init__(self, inplace: bool = False, *, grad_at_zero: float = 0.0):
        super().__init__()
        if not 0.0 <= grad_at_zero <= 1.0:
            raise ValueError(f"ReLU: grad_at_zero must be a subgradient in [0, 1], got {grad_at_zero}")
        self.inplace, self.grad_at_zero = bool(inplace), grad_at_zero

    def _cache_survives_inplace(self):
        return self.grad_at_zero == 0      # y > 0 exactly where x > 0, but y == 0 hides x == 0

    def _forward(self, x):
        return relu_forward(x)

    def _backward(self, dy, x):
        return relu_backward(dy, x, self.grad_at_zero)

    def extra_repr(self):
        parts = ["inplace=True"] if self.inplace else []
        parts += [f"grad_at_zero={self.grad_at_zero}"] if self.grad_at_zero != 0 else []
        return ", ".join(parts)


class LeakyReLU(_Activation):
    r"""``torch.nn.LeakyReLU(negative_slope=0.01, inplace=False)``."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, bool(inplace)

    def _cache_survives_inplace(self):
        return self.negative_slope >= 0   # then y > 0 exactly where x > 0

    def _forward(self, x):
        return leaky_relu_forward(x, self.negative_slope)

    def _backward(self, dy, cache):
        return leaky_relu_backward(dy, cache)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Sigmoid(_Activation):
    r"""``torch.nn.Sigmoid()``. The output is read-only: backward needs it unchanged."""

    def _forward(self, x):
        y, cache = sigmoid_forward(x)
        return read_only_output(y), cache

    def _backward(self, dy, y):
        return sigmoid_backward(dy, y)


class Tanh(_Activation):
    r"""``torch.nn.Tanh()``. The output is read-only: backward needs it unchanged."""

    def _forward(self, x):
        y, cache = tanh_forward(x)
        y = get_array_module(x).asarray(y)        # NumPy's tanh of a 0-d array is a scalar
        return read_only_output(y), y

    def _backward(self, dy, y):
        return tanh_backward(dy, y)


class Softplus(_Activation):
    r"""``torch.nn.Softplus(beta=1.0, threshold=20.0)``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        if beta <= 0:
            raise ValueError(f"Softplus: beta must be positive, got {beta}")
        self.beta, self.threshold = beta, threshold

    def _forward(self, x):
        return softplus_forward(x, self.beta, self.threshold)

    def _backward(self, dy, cache):
        return softplus_backward(dy, cache)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class GELU(_Activation):
    r"""``torch.nn.GELU(approximate='none')``; ``approximate='tanh'`` for the tanh form."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def _forward(self, x):
        return gelu_forward(x, self.approximate)

    def _backward(self, dy, cache):
        return gelu_backward(dy, cache)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"
