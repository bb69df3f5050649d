r"""``torch.nn.Dropout`` around the reference functions of :mod:`nnref.layers.dropout`."""
from __future__ import annotations

from ..checks import backward_cache, check_float, check_probability, check_same_backend, writable_input
from ..layers.dropout import MODES, dropout_backward, dropout_forward, dropout_mask
from ..module import Module


class Dropout(Module):
    r"""``torch.nn.Dropout(p=0.5, inplace=False)``; the keyword-only ``mode='classic'`` gives
    the non-inverted form of the notes.

    ``forward(input, *, mask=None)``: in training a fresh keep-mask is drawn from
    :func:`nnref.backend.default_rng` unless ``mask`` (boolean or 0/1, shape of the input) is
    given, which makes a pass reproducible (tests, pages, gradient checks). In ``eval()`` mode
    the mask is ignored. The mask of the last training pass is kept in ``last_mask``.
    ``inplace=True`` writes the result into the input, as PyTorch does.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False, *, mode: str = "inverted"):
        super().__init__()
        check_probability(p, "p", "Dropout")
        if mode not in MODES:
            raise ValueError(f"Dropout: mode must be 'inverted' or 'classic', got {mode!r}")
        self.p, self.inplace, self.mode = float(p), bool(inplace), mode
        self.last_mask = None
        self._cache = None

    def forward(self, input, *, mask=None):
        check_float(input, "Dropout")
        if self.training:
            if mask is None:
                if self.p > 0:   # p = 0 needs no mask: the output is the input itself
                    mask = dropout_mask(input.shape, self.p, like=input)
            else:
                check_same_backend(mask, input, "Dropout", "mask", "the input")
                if tuple(mask.shape) != tuple(input.shape):
                    raise ValueError(f"Dropout: mask must have the input's shape {tuple(input.shape)}, "
                                     f"got {tuple(mask.shape)}")
            self.last_mask = mask
        if self.inplace:
            writable_input(input, "Dropout")
        y, cache = dropout_forward(input, self.p, mask, self.mode, self.training)
        if self.inplace and y is not input:            # the cache is the factor, not the input
            input[...] = y
            y = input
        self._cache = (cache, y.shape, y.dtype)
        return y

    def backward(self, dy):
        cache, dy = backward_cache(self._cache, dy, "Dropout")
        return dropout_backward(dy, cache)

    def extra_repr(self):
        return (f"p={self.p}, inplace={self.inplace}"
                + ("" if self.mode == "inverted" else f", mode={self.mode!r}"))
