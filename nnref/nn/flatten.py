r"""``torch.nn.Flatten`` around :mod:`nnref.layers.flatten`."""
from __future__ import annotations

from ..checks import backward_cache, check_array, check_float, check_int
from ..layers.flatten import flatten_backward, flatten_forward
from ..module import Module


class Flatten(Module):
    r"""``torch.nn.Flatten(start_dim=1, end_dim=-1)``; no parameters. Like every nnref layer it
    takes float arrays only (torch's also reshapes integer tensors)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = check_int(start_dim, "start_dim", "Flatten", minimum=None)
        self.end_dim = check_int(end_dim, "end_dim", "Flatten", minimum=None)
        self._cache = None

    def forward(self, input):
        x = check_float(check_array(input, "Flatten"), "Flatten")
        if x.ndim == 0:                      # torch treats a 0-d input as one element: shape (1,)
            x = x.reshape(1)
        nd, s, e = x.ndim, self.start_dim, self.end_dim
        if not (-nd <= s < nd and -nd <= e < nd):
            raise ValueError(f"Flatten: start_dim={s} and end_dim={e} must lie in [{-nd}, {nd - 1}] "
                             f"for an input of shape {tuple(x.shape)}")
        if s % nd > e % nd:
            raise ValueError(f"Flatten: start_dim={s} comes after end_dim={e} "
                             f"for an input of shape {tuple(x.shape)}")
        y, cache = flatten_forward(x, s, e)
        self._cache = ((cache, input.shape), y.shape, y.dtype)
        return y

    def backward(self, dy):
        (cache, x_shape), dy = backward_cache(self._cache, dy, "Flatten")
        return flatten_backward(dy, cache).reshape(x_shape)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
