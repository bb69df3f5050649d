r"""L1 and L2 penalties on the weights: values, gradients, and the L1 proximal step.

The notes' conventions: L1 adds $\lambda\sum_i |w_i|$ to the loss, L2 adds $\lambda\sum_i w_i^2$.
Their gradients are added into ``p.grad`` before the optimiser step, so an L2 penalty with
coefficient ``lam`` gives exactly the step of ``SGD(weight_decay=2 * lam)`` (torch adds
``weight_decay * w`` to the gradient, which is the gradient of ``(weight_decay / 2) * ||w||^2``).

>>> import numpy as np
>>> w = np.array([-2.0, 0.0, 3.0])
>>> float(l1_penalty(w, 0.1)), l1_grad(w, 0.1).tolist()
(0.5, [-0.1, 0.0, 0.1])
>>> float(l2_penalty(w, 0.1)), l2_grad(w, 0.1).tolist()
(1.3, [-0.4, 0.0, 0.6000000000000001])
"""
from __future__ import annotations

from .backend import get_array_module
from .module import parameter_list


# --8<-- [start:l1]
def l1_penalty(w, lam):
    r"""The L1 penalty of the parameters:

    $$
    R_1(w) = \lambda \sum_i |w_i|
    $$
    """
    xp = get_array_module(w)
    return lam * xp.abs(w).sum()


def l1_grad(w, lam):
    r"""Gradient of the L1 penalty:

    $$
    \frac{\partial R_1}{\partial w_i} = \lambda\,\mathrm{sign}(w_i)
    $$

    $|w|$ has no derivative at 0; any value in $[-\lambda, \lambda]$ is a subgradient there and
    ``sign(0) = 0`` picks the middle one (as ``torch.sign`` and autograd of ``abs`` do).
    """
    xp = get_array_module(w)
    return lam * xp.sign(w)
# --8<-- [end:l1]


# --8<-- [start:l2]
def l2_penalty(w, lam):
    r"""The L2 penalty of the parameters:

    $$
    R_2(w) = \lambda \sum_i w_i^2
    $$

    (the notes' convention, no 1/2)."""
    return lam * (w * w).sum()


def l2_grad(w, lam):
    r"""Gradient of the L2 penalty:

    $$
    \frac{\partial R_2}{\partial w_i} = 2\lambda\, w_i
    $$

    Added to the gradient before ``w -= lr * g`` this is SGD's ``weight_decay = 2 * lam``.
    """
    return (2 * lam) * w
# --8<-- [end:l2]


# --8<-- [start:soft_threshold]
def soft_threshold(w, t):
    r"""The proximal step of $t\sum_i|w_i|$: $\arg\min_z \tfrac12\|z - w\|^2 + t\|z\|_1$.

    $$
    \mathrm{prox}(w)_i = \mathrm{sign}(w_i)\,\max(|w_i| - t,\ 0)
    $$

    Applied after a plain gradient step with ``t = lr * lam`` (ISTA), it sets small weights
    to exactly 0, which the subgradient ``lam * sign(w)`` never does: that one only makes
    them jump around 0 by about ``lr * lam``.
    """
    xp = get_array_module(w)
    return xp.sign(w) * xp.maximum(xp.abs(w) - t, 0)
# --8<-- [end:soft_threshold]


class _Penalty:
    """A penalty on a list of ``Parameter``: ``value()`` is the float added to the loss,
    ``backward()`` adds its gradient into each ``p.grad``."""

    def __init__(self, params, lam: float):
        self.params = parameter_list(params, type(self).__name__)
        if not lam >= 0:
            raise ValueError(f"{type(self).__name__}: lam must be >= 0, got {lam}")
        self.lam = lam

    def value(self) -> float:
        return float(sum(float(self._penalty(p.data, self.lam)) for p in self.params))

    __call__ = value

    def backward(self):
        for p in self.params:
            p.accumulate(self._grad(p.data, self.lam))

    def __repr__(self):
        return f"{type(self).__name__}(lam={self.lam}, {len(self.params)} parameters)"


class L1Penalty(_Penalty):
    r"""$\lambda\sum|w|$ over ``params``: ``value()`` and ``backward()`` (adds $\lambda\,\mathrm{sign}(w)$)."""

    _penalty, _grad = staticmethod(l1_penalty), staticmethod(l1_grad)


class L2Penalty(_Penalty):
    r"""$\lambda\sum w^2$ over ``params``: ``value()`` and ``backward()`` (adds $2\lambda w$).

    Equivalent to ``SGD(..., weight_decay=2 * lam)`` on the same parameters.
    """

    _penalty, _grad = staticmethod(l2_penalty), staticmethod(l2_grad)


def weight_parameters(module):
    """The parameters whose name starts with ``weight`` (``weight``, ``0.weight``, ``weight_ih_l0``):
    what one usually penalises; biases are left free, since shrinking them does not make the
    model simpler. BatchNorm's γ is also named ``weight`` and is included."""
    return [p for name, p in module.named_parameters() if name.rsplit(".", 1)[-1].startswith("weight")]
