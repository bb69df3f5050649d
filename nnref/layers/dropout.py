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

from ..backend import backend_of, default_rng, to_backend

MODES = ("inverted", "classic")


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
    if not training or (p == 0 and mask is None):   # test: y = x, classic y = (1-p) x (p = 0: identity)
        scale = 1.0 - p if mode == "classic" else 1.0
        return (x if scale == 1.0 else x * scale), scale
    if mask is None:
        mask = dropout_mask(x.shape, p, like=x)      # m_i ~ Bernoulli(1-p)
    if mode == "inverted":
        scale = 1.0 / (1.0 - p) if p < 1 else 0.0    # c = 1/(1-p); p = 1 keeps nothing: output zeros
    else:
        scale = 1.0                                  # classic: c = 1, only zero
    factor = mask.astype(x.dtype) * x.dtype.type(scale)  # c·m: 0 or c, in the input's dtype
    return x * factor, factor                            # y = c·m ⊙ x
# --8<-- [end:dropout_forward]


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


# --8<-- [start:dropout_backward]
def dropout_backward(dy, cache):
    r"""Gradient of dropout: the same mask and scale as the forward pass:

    $$
    \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} \odot \text{factor}
    $$

    the same mask and scale as the forward pass: dropped elements get no gradient.
    """
    factor = cache
    return dy * factor                               # dx = dy ⊙ c·m
# --8<-- [end:dropout_backward]
