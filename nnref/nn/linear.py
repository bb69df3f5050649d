r"""``torch.nn.Linear`` around the reference pair of :mod:`nnref.layers.linear`."""
from __future__ import annotations

import math

from ..backend import default_rng, device_backend, to_backend
from ..checks import backward_cache, check_float, check_int, check_ndim, check_same_backend, check_size, param_dtype
from ..layers.linear import linear_backward, linear_forward
from ..module import Module, Parameter


class Linear(Module):
    r"""``torch.nn.Linear(in_features, out_features, bias=True, device=None, dtype=None)``:
    ``weight`` (out_features, in_features), ``bias`` (out_features,).

    Both start as U(-1/sqrt(in_features), 1/sqrt(in_features)), PyTorch's default, drawn on the
    host by :func:`nnref.backend.default_rng` and moved to ``device`` (None: the default backend).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.in_features = check_int(in_features, "in_features", "Linear")
        self.out_features = check_int(out_features, "out_features", "Linear")
        where, dtype = device_backend(device, "Linear"), param_dtype(dtype, "Linear")
        bound = 1.0 / math.sqrt(in_features) if in_features else 0.0   # torch: 0 without inputs
        host = default_rng().host

        def uniform(shape):
            return Parameter(to_backend(host.uniform(-bound, bound, shape).astype(dtype), where))
        self.weight = uniform((out_features, in_features))
        self.register_parameter("bias", uniform((out_features,)) if bias else None)
        self._cache = None

    def forward(self, input):
        check_float(input, "Linear")
        check_ndim(input, "Linear", range(1, 33), "(*, in_features)")
        check_size(input, "Linear", -1, self.in_features, "input features")
        check_same_backend(input, self.weight.data, "Linear")
        W = self.weight.data.astype(input.dtype, copy=False)  # compute in the input's dtype
        b = None if self.bias is None else self.bias.data.astype(input.dtype, copy=False)
        # (N, L, in) @ Wᵀ makes NumPy call BLAS once per leading index; the same rows as one
        # (N·L, in) matrix are one call (2x faster single-threaded, far more under load)
        rows = input.reshape(math.prod(input.shape[:-1]), self.in_features) if input.ndim > 2 else input
        y, cache = linear_forward(rows, W, b)
        y = y.reshape(*input.shape[:-1], self.out_features)
        self._cache = (cache, y.shape, y.dtype)
        return y

    def backward(self, dy):
        cache, dy = backward_cache(self._cache, dy, "Linear")
        dx, dW, db = linear_backward(dy.reshape(cache.x.shape[:-1] + (self.out_features,)), cache)
        self.weight.accumulate(dW)
        if db is not None:
            self.bias.accumulate(db)
        return dx.reshape(*dy.shape[:-1], self.in_features)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
