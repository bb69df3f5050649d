r"""Activation Modules (``torch.nn.ReLU``, ``LeakyReLU``, ``Sigmoid``, ``Tanh``, ``Softplus``, ``GELU``)
around the reference pairs of :mod:`nnref.layers.activation`."""
from __future__ import annotations

from ..backend import get_array_module
from ..checks import backward_cache, check_float, check_real, read_only_output, writable_input
from ..layers.activation import (gelu_backward, gelu_forward, leaky_relu_backward, leaky_relu_forward,
                                 relu_backward, relu_forward, sigmoid_backward, sigmoid_forward,
                                 softplus_backward, softplus_forward, tanh_backward, tanh_forward)
from ..module import Module


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
        self._cache = (cache, y.shape, y.dtype)
        return y

    def backward(self, dy):
        cache, dy = backward_cache(self._cache, dy, type(self).__name__)
        return self._backward(dy, cache)


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
        check_real(negative_slope, "negative_slope", "LeakyReLU")
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
    r"""``torch.nn.Softplus(beta=1.0, threshold=20.0)``. Any real ``beta`` works as in torch
    (a negative one mirrors the curve; 0 gives ``inf``, as torch)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        check_real(beta, "beta", "Softplus")
        check_real(threshold, "threshold", "Softplus")
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
