r"""``torch.nn.LayerNorm`` around the reference pair of :mod:`nnref.layers.layernorm`."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..backend import get_array_module
from ..checks import backward_cache, check_float, check_real, compute_dtype, param_dtype
from ..layers.layernorm import layernorm_backward, layernorm_forward
from ..module import Module, Parameter


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
        if len(normalized_shape) == 0 or not all(n >= 0 for n in normalized_shape):
            # torch: "Expected normalized_shape to be at least 1-dimensional" (at the first call)
            raise ValueError(f"LayerNorm: normalized_shape must hold at least one size, none negative, "
                             f"got {tuple(normalized_shape)}")
        check_real(eps, "eps", "LayerNorm", minimum=0)   # torch allows 0: then only x's spread guards 1/σ
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
        dt = compute_dtype(x.dtype)       # float16 is normalised in float32, as torch does
        gamma = xp.ones(S, dtype=dt) if self.weight is None else self.weight.data.astype(dt, copy=False)
        beta = xp.zeros(S, dtype=dt) if self.bias is None else self.bias.data.astype(dt, copy=False)
        y, cache = layernorm_forward(x.astype(dt, copy=False), gamma, beta, self.eps)
        y = y.astype(x.dtype, copy=False)
        self._cache = (cache, y.shape, y.dtype)
        return y

    def backward(self, dy):
        cache, dy = backward_cache(self._cache, dy, "LayerNorm")
        dx, dgamma, dbeta = layernorm_backward(dy.astype(cache.x_hat.dtype, copy=False), cache)
        if self.weight is not None:
            self.weight.accumulate(dgamma)
        if self.bias is not None:
            self.bias.accumulate(dbeta)
        return dx.astype(dy.dtype, copy=False)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")
