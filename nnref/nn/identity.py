r"""``torch.nn.Identity`` around :mod:`nnref.layers.identity`."""
from __future__ import annotations

from ..checks import backward_cache, check_array, check_float
from ..layers.identity import identity_backward, identity_forward
from ..module import Module


class Identity(Module):
    r"""``torch.nn.Identity(*args, **kwargs)``: a placeholder; it takes any arguments and ignores
    them, as torch's does, and has no parameters. ``forward`` returns the input array itself (the
    same object, as torch's), ``backward`` the gradient unchanged (cast to the input's dtype). Like
    every nnref layer it takes float arrays only (torch's also passes integer tensors through)."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        self._cache = None

    def forward(self, input):
        x = check_float(check_array(input, "Identity"), "Identity")
        y, cache = identity_forward(x)
        self._cache = (cache, y.shape, y.dtype)
        return y

    def backward(self, dy):
        cache, dy = backward_cache(self._cache, dy, "Identity")
        return identity_backward(dy, cache)
