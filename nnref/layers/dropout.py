r"""Dropout: zero each activation with probability ``p`` while training.

Two forms, both in the literature:

* ``mode='inverted'`` (the default, PyTorch's): training scales the kept activations by
  ``1/(1-p)``, evaluation is the identity;
* ``mode='classic'`` (Srivastava et al. 2014, and the study notes): training only zeros,
  evaluation multiplies every activation by ``1-p``.

Both give the same expected output in training as in evaluation. ``p`` is the probability of
*dropping*; ``p = 1`` drops everything (the output and the gradient are zeros), as in PyTorch.
"""
from __future__ import annotations

import numpy as np

from ..backend import backend_of, default_rng, to_backend
from ..checks import backward_cache, check_float
from ..module import Module
from .activation import writable_input

MODES = ("inverted", "classic")


def _check_p(p, who="Dropout"):
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"{who}: p must be a number in [0, 1], got {p!r} ({type(p).__name__})")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{who}: p is the probability of dropping an element and must lie in "
                         f"[0, 1], got {p}")


def _check_mode(mode, who="Dropout"):
    if mode not in MODES:
        raise ValueError(f"{who}: mode must be 'inverted' or 'classic', got {mode!r}")


# --8<-- [start:dropout_mask]
def dropout_mask(shape, p, like=None, rng=None):
    r"""A boolean keep-mask of ``shape``: each element is True (kept) with probability ``1-p``.

    Drawn on the host by ``rng`` (default: :func:`nnref.backend.default_rng`) and moved to the
    device of ``like``, so one seed gives the same mask on CPU and GPU.
    """
    rng = rng or default_rng()
    keep = rng.host.random(shape) >= p     # u ~ U[0, 1): P(u >= p) = 1 - p; p=1 keeps nothing
    return to_backend(keep, backend_of(like) if like is not None else rng.backend)
# --8<-- [end:dropout_mask]


# --8<-- [start:dropout_forward]
def dropout_forward(x, p, mask=None, mode="inverted", training=True):
    r"""Dropout with an explicit keep-``mask`` (1/True = keep, same shape as ``x``).

    Training, with $m_i \in \{0, 1\}$, $P(m_i = 1) = 1-p$:

    $$
    \text{inverted: } y = \frac{m \odot x}{1-p}, \qquad \text{classic: } y = m \odot x
    $$

    Evaluation (``mask`` unused): inverted $y = x$, classic $y = (1-p)\,x$. Without a mask,
    training draws one (and ``p = 0`` returns ``x`` itself).
    Returns ``(y, cache)``; the cache is the factor that multiplied ``x``.
    """
    if not training or (p == 0 and mask is None):   # p = 0 keeps everything: identity, like PyTorch
        scale = 1.0 - p if mode == "classic" else 1.0
        return (x if scale == 1.0 else x * scale), scale
    if mask is None:
        mask = dropout_mask(x.shape, p, like=x)
    if mode == "inverted":
        scale = 1.0 / (1.0 - p) if p < 1 else 0.0    # p = 1: nothing is kept, output zeros
    else:
        scale = 1.0
    factor = mask.astype(x.dtype) * x.dtype.type(scale)  # 0 or 1/(1-p), in the input's dtype
    return x * factor, factor
# --8<-- [end:dropout_forward]


# --8<-- [start:dropout_backward]
def dropout_backward(dy, cache):
    r"""Gradient of dropout: the same mask and scale as the forward pass:

    $$
    \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} \odot \text{factor}
    $$

    the same mask and scale as the forward pass: dropped elements get no gradient.
    """
    factor = cache
    return dy * factor
# --8<-- [end:dropout_backward]


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
        _check_p(p)
        _check_mode(mode)
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
                if backend_of(mask) != backend_of(input):
                    raise TypeError(f"Dropout: mask is a {backend_of(mask)} array but the input a "
                                    f"{backend_of(input)} array; move one with nnref.backend.to_backend")
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
        self._cache = (cache, y.shape)
        return y

    def backward(self, dy):
        return dropout_backward(dy, backward_cache(self._cache, dy, "Dropout"))

    def extra_repr(self):
        return (f"p={self.p}, inplace={self.inplace}"
                + ("" if self.mode == "inverted" else f", mode={self.mode!r}"))
