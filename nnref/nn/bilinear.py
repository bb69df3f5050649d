r"""``torch.nn.Bilinear`` around the reference pair of :mod:`nnref.layers.bilinear`: a layer
with two inputs, ``y = bilinear(input1, input2)`` and ``d_input1, d_input2 = bilinear.backward(dy)``."""
from __future__ import annotations

import math

from ..backend import default_rng, device_backend, get_array_module, to_backend
from ..checks import backward_cache, check_float, check_int, check_same_backend, check_size, param_dtype
from ..layers.bilinear import bilinear_backward, bilinear_forward
from ..module import Module, Parameter


class Bilinear(Module):
    r"""``torch.nn.Bilinear(in1_features, in2_features, out_features, bias=True, device=None,
    dtype=None)``: ``weight`` (out_features, in1_features, in2_features), ``bias`` (out_features,).

    ``forward(input1, input2)``: ``input1`` (*, in1_features) and ``input2`` (*, in2_features)
    with the same leading axes (none for one sample) -> (*, out_features). ``backward(dy)``
    returns ``(d_input1, d_input2)``, both even when the same array was passed twice.
    Both parameters start as U(-1/sqrt(in1_features), 1/sqrt(in1_features)), torch's default.
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.in1_features = check_int(in1_features, "in1_features", "Bilinear", 1)   # torch: must be > 0
        self.in2_features = check_int(in2_features, "in2_features", "Bilinear")
        self.out_features = check_int(out_features, "out_features", "Bilinear")
        where, dtype = device_backend(device, "Bilinear"), param_dtype(dtype, "Bilinear")
        bound = 1.0 / math.sqrt(in1_features)
        host = default_rng().host

        def uniform(shape):
            return Parameter(to_backend(host.uniform(-bound, bound, shape).astype(dtype), where))
        self.weight = uniform((out_features, in1_features, in2_features))
        self.register_parameter("bias", uniform((out_features,)) if bias else None)
        self._cache = None

    def forward(self, input1, input2):
        who = "Bilinear"
        check_float(input1, f"{who} (input1)")
        check_float(input2, f"{who} (input2)")
        get_array_module(input1, input2)                       # TypeError for NumPy and CuPy mixed
        check_same_backend(input1, self.weight.data, who, "input1")
        if input1.dtype != input2.dtype:
            raise TypeError(f"{who}: input1 is {input1.dtype} but input2 {input2.dtype}; pass both in one dtype")
        if input1.ndim == 0 or input2.ndim == 0:
            raise ValueError(f"{who}: expected input1 (*, in1_features) and input2 (*, in2_features), "
                             f"got shapes {tuple(input1.shape)} and {tuple(input2.shape)}")
        if input1.shape[:-1] != input2.shape[:-1]:
            raise ValueError(f"{who}: input1 and input2 must have the same leading axes, got shapes "
                             f"{tuple(input1.shape)} and {tuple(input2.shape)}")
        check_size(input1, who, -1, self.in1_features, "input1 features")
        check_size(input2, who, -1, self.in2_features, "input2 features")
        lead = input1.shape[:-1]
        n = math.prod(lead)                                     # rows: every leading position
        A = self.weight.data.astype(input1.dtype, copy=False)   # compute in the input's dtype
        b = None if self.bias is None else self.bias.data.astype(input1.dtype, copy=False)
        y, cache = bilinear_forward(input1.reshape(n, self.in1_features), input2.reshape(n, self.in2_features), A, b)
        y = y.reshape(lead + (self.out_features,))
        self._cache = ((cache, input1.shape, input2.shape), y.shape, y.dtype)
        return y

    def backward(self, dy):
        (cache, shape1, shape2), dy = backward_cache(self._cache, dy, "Bilinear")
        dx1, dx2, dA, db = bilinear_backward(dy.reshape(cache.x1.shape[0], self.out_features), cache)
        self.weight.accumulate(dA)
        if db is not None:
            self.bias.accumulate(db)
        return dx1.reshape(shape1), dx2.reshape(shape2)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
