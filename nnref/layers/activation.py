"""Activation functions: elementwise non-linearities and their derivatives.

Each comes as a pure pair ``xxx_forward(x) -> (y, cache)`` / ``xxx_backward(dy, cache) -> dx``
and as a ``Module``. All keep the input's shape and float dtype.
"""
from __future__ import annotations

import math

from ..backend import get_array_module, is_cupy_array
from ..checks import backward_cache, check_float
from ..module import Module


# --8<-- [start:relu]
def relu_forward(x):
    """ReLU, elementwise; the cache is ``x``:

    $$
    \\mathrm{ReLU}(x) = \\max(0, x)
    $$
    """
    xp = get_array_module(x)
    return xp.maximum(x, 0), x


def relu_backward(dy, x, grad_at_zero=0.0):
    """ReLU's derivative, with a chosen value at 0:

    $$
    \\mathrm{ReLU}'(x) = 1\\ (x>0),\\quad 0\\ (x<0),\\quad g_0\\ (x=0)
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
def leaky_relu_forward(x, negative_slope=0.01):
    """Leaky ReLU with slope ``a = negative_slope`` below 0:

    $$
    \\mathrm{LeakyReLU}(x) = x\\ (x>0),\\quad a x\\ (x\\le 0)
    $$
    """
    xp = get_array_module(x)
    return xp.where(x > 0, x, negative_slope * x), (x, negative_slope)


def leaky_relu_backward(dy, cache):
    """Derivative 1 for x > 0 and ``a`` for x <= 0 (PyTorch takes ``a`` at 0)."""
    x, a = cache
    xp = get_array_module(dy)
    return xp.where(x > 0, dy, a * dy)
# --8<-- [end:leaky_relu]


# --8<-- [start:sigmoid]
def sigmoid_forward(x):
    """The logistic sigmoid; the cache is the output:

    $$
    \\sigma(x) = \\frac{1}{1+e^{-x}} = \\tfrac12\\left(1+\\tanh\\tfrac{x}{2}\\right)
    $$

    The tanh form cannot overflow for large ``|x|``.
    """
    xp = get_array_module(x)
    y = 0.5 * (1 + xp.tanh(0.5 * x))
    return y, y


def sigmoid_backward(dy, y):
    """Sigmoid's derivative from its output ``y``:

    $$
    \\sigma'(x) = \\sigma(x)\\,(1-\\sigma(x))
    $$
    """
    return dy * y * (1 - y)
# --8<-- [end:sigmoid]


# --8<-- [start:tanh]
def tanh_forward(x):
    """Hyperbolic tangent; the cache is the output:

    $$
    \\tanh(x) = \\frac{e^x - e^{-x}}{e^x + e^{-x}}
    $$
    """
    xp = get_array_module(x)
    y = xp.tanh(x)
    return y, y


def tanh_backward(dy, y):
    """Tanh's derivative from its output ``y``:

    $$
    \\tanh'(x) = 1 - \\tanh^2(x)
    $$
    """
    return dy * (1 - y * y)
# --8<-- [end:tanh]


# --8<-- [start:softplus]
def softplus_forward(x, beta=1.0, threshold=20.0):
    """Softplus, a smooth ReLU:

    $$
    \\mathrm{Softplus}(x) = \\frac{1}{\\beta}\\log\\left(1 + e^{\\beta x}\\right)
    $$

    A smooth ReLU: it tends to ``max(0, x)`` as ``beta`` grows. Where ``beta*x > threshold``
    it returns ``x`` itself (the difference is below float precision), as PyTorch does.
    """
    xp = get_array_module(x)
    bx = beta * x
    # logaddexp(0, bx) = log(1 + e^{bx}) without overflow
    y = xp.where(bx > threshold, x, xp.logaddexp(0, bx) / beta).astype(x.dtype, copy=False)
    return y, (x, beta, threshold)


def softplus_backward(dy, cache):
    """The logistic function of ``beta*x`` (exactly 1 above the threshold):

    $$
    \\mathrm{Softplus}'(x) = \\sigma(\\beta x)
    $$
    """
    x, beta, threshold = cache
    xp = get_array_module(dy)
    bx = beta * x
    return xp.where(bx > threshold, dy, dy * 0.5 * (1 + xp.tanh(0.5 * bx)))
# --8<-- [end:softplus]


def _erf(x):
    """erf from SciPy (CPU) or CuPy's SciPy (GPU): NumPy itself has no erf."""
    if is_cupy_array(x):
        from cupyx.scipy.special import erf
    else:
        from scipy.special import erf
    return erf(x)


# --8<-- [start:gelu]
def gelu_forward(x, approximate="none"):
    """GELU, exact (erf) or with ``approximate='tanh'``:

    $$
    \\mathrm{GELU}(x) = x\\,\\Phi(x) = \\tfrac{x}{2}\\left(1+\\mathrm{erf}\\tfrac{x}{\\sqrt2}\\right)
    $$

    ``approximate='tanh'``:

    $$
    \\tfrac{x}{2}\\left(1+\\tanh\\left(\\sqrt{2/\\pi}\\,(x+0.044715x^3)\\right)\\right)
    $$
    """
    xp = get_array_module(x)
    if approximate == "tanh":
        t = xp.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))
        return 0.5 * x * (1 + t), (x, approximate, t)
    cdf = 0.5 * (1 + _erf(x / math.sqrt(2)))
    return x * cdf, (x, approximate, cdf)


def gelu_backward(dy, cache):
    """Derivative of the exact form (the tanh form is differentiated the same way):

    $$
    \\mathrm{GELU}'(x) = \\Phi(x) + x\\,\\varphi(x)
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


class _Activation(Module):
    """Shared plumbing: check the input, keep the cache, refuse ``backward`` before ``forward``."""

    def __init__(self):
        super().__init__()
        self._cache = None

    def forward(self, x):
        check_float(x, type(self).__name__)
        y, cache = self._forward(x)
        self._cache = (cache, y.shape)
        return y

    def backward(self, dy):
        return self._backward(dy, backward_cache(self._cache, dy, type(self).__name__))


class ReLU(_Activation):
    """``torch.nn.ReLU``. ``grad_at_zero`` (in [0, 1]) is the subgradient used at x == 0; 0 like PyTorch."""

    def __init__(self, grad_at_zero: float = 0.0):
        super().__init__()
        if not 0.0 <= grad_at_zero <= 1.0:
            raise ValueError(f"ReLU: grad_at_zero must be a subgradient in [0, 1], got {grad_at_zero}")
        self.grad_at_zero = grad_at_zero

    def _forward(self, x):
        return relu_forward(x)

    def _backward(self, dy, x):
        return relu_backward(dy, x, self.grad_at_zero)

    def extra_repr(self):
        return "" if self.grad_at_zero == 0 else f"grad_at_zero={self.grad_at_zero}"


class LeakyReLU(_Activation):
    """``torch.nn.LeakyReLU(negative_slope=0.01)``."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def _forward(self, x):
        return leaky_relu_forward(x, self.negative_slope)

    def _backward(self, dy, cache):
        return leaky_relu_backward(dy, cache)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(_Activation):
    """``torch.nn.Sigmoid``."""

    def _forward(self, x):
        return sigmoid_forward(x)

    def _backward(self, dy, y):
        return sigmoid_backward(dy, y)


class Tanh(_Activation):
    """``torch.nn.Tanh``."""

    def _forward(self, x):
        return tanh_forward(x)

    def _backward(self, dy, y):
        return tanh_backward(dy, y)


class Softplus(_Activation):
    """``torch.nn.Softplus(beta=1, threshold=20)``."""

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
    """``torch.nn.GELU(approximate='none')``; ``approximate='tanh'`` for the tanh form."""

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
