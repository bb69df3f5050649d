r"""Gradient clipping, as torch 2.13's ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``.

Both change ``p.grad`` in place, between ``backward`` and the optimiser's ``step``.
``parameters`` is one ``Parameter`` or an iterable of them (read once, so a generator works); a
parameter whose ``grad`` is None is skipped, as in torch. ``foreach`` only chooses among torch's
kernels and changes no number: it is accepted and ignored.

>>> import numpy as np
>>> from nnref import Parameter
>>> p = Parameter(np.zeros(2)); p.grad[...] = [3.0, 4.0]
>>> clip_grad_norm([p], 1.0)          # returns the norm before clipping
5.0
>>> np.round(p.grad, 6).tolist()
[0.6, 0.8]
"""
from __future__ import annotations

import math
import types
import warnings

import numpy as np

from .backend import get_array_module
from .module import Parameter, parameter_list


# --8<-- [start:clip_grad_norm]
def vector_norm(x, p: float) -> float:
    r"""``torch.linalg.vector_norm(x, p)`` of an array, as a float computed in float64:

    $$
    \|x\|_p = \Big(\sum_i |x_i|^p\Big)^{1/p},\qquad
    \|x\|_{\infty} = \max_i |x_i|,\qquad \|x\|_{-\infty} = \min_i |x_i|,\qquad
    \|x\|_0 = \#\{i : x_i \ne 0\}
    $$
    """
    xp = get_array_module(x)
    a = xp.abs(x.astype(xp.float64))
    if p == math.inf:
        return float(a.max()) if a.size else 0.0
    if p == -math.inf:
        return float(a.min()) if a.size else math.inf
    if p == 0:
        return float(xp.count_nonzero(a))
    with np.errstate(divide="ignore"):     # p < 0: |0|^p = inf makes the norm 0, as in torch
        return float((a ** p).sum() ** (1 / p))


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach=None) -> float:
    r"""Scale all gradients together so that their joint ``norm_type``-norm is at most ``max_norm``.

    $$
    \|g\| = \big\|\,(\|g_1\|, \|g_2\|, \dots)\,\big\| \ \text{(one norm per parameter, then their norm)},\qquad
    g \leftarrow g \cdot \min\left(1,\ \frac{\text{max\_norm}}{\|g\| + 10^{-6}}\right)
    $$

    For ``norm_type`` $p$ (a float, ``inf`` or the string ``'inf'``) this is the $p$-norm of all
    gradients as one vector (for $p = 0$ it counts the parameters with a nonzero gradient, as
    torch). The direction of the update is kept, only its length shrinks. Returns $\|g\|$ before
    clipping, as a float (torch returns it as a 0-d tensor).

    A gradient that is not finite spreads, exactly as in torch: NaN makes $\|g\|$ NaN, and the
    factor NaN, so every gradient becomes NaN; $\pm\infty$ makes $\|g\| = \infty$ and the factor 0,
    so the infinite entries become NaN and all others 0 (with ``max_norm=inf`` the factor is
    $\infty/\infty$, NaN everywhere). ``error_if_nonfinite=True`` raises ``RuntimeError`` instead,
    before any gradient changes. ``max_norm=0`` zeroes the gradients; a negative ``max_norm`` is a
    ``ValueError`` (torch would multiply the gradients by a negative factor, reversing the step).
    """
    grads = _grads(parameters, "clip_grad_norm", warn_if_empty_generator=True)
    max_norm = _limit(max_norm, "max_norm", "clip_grad_norm")
    p = _norm_type(norm_type)
    total = vector_norm(np.array([vector_norm(g, p) for g in grads]), p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm: the total norm of order {p} for gradients from `parameters` "
                           "is non-finite, so it cannot be clipped. To disable this error and scale the "
                           "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
    scale = float(np.minimum(max_norm / (total + 1e-6), 1.0))   # np.minimum keeps NaN, as torch.clamp
    with np.errstate(invalid="ignore"):  # inf · 0 = NaN is the result torch gives too
        for g in grads:
            g *= scale                  # torch multiplies even by 1 (and by NaN)
    return total
# --8<-- [end:clip_grad_norm]


# --8<-- [start:clip_grad_value]
def clip_grad_value(parameters, clip_value: float, foreach=None) -> None:
    r"""Clamp every gradient element into $[-c, c]$ with $c$ = ``clip_value`` (this changes the direction):

    $$
    g_i \leftarrow \min(\max(g_i, -c),\ c)
    $$

    NaN stays NaN (as ``torch.clamp``). ``clip_value=0`` zeroes the gradients; a negative one is a
    ``ValueError`` (torch would set every element to ``clip_value``, since its lower bound then
    exceeds the upper one).
    """
    grads = _grads(parameters, "clip_grad_value")
    c = _limit(clip_value, "clip_value", "clip_grad_value")
    for g in grads:
        get_array_module(g).clip(g, -c, c, out=g)
# --8<-- [end:clip_grad_value]


def _grads(parameters, who: str, warn_if_empty_generator: bool = False) -> list:
    """The ``grad`` arrays of one ``Parameter`` or an iterable of them, skipping None, as torch."""
    if isinstance(parameters, Parameter):
        parameters = [parameters]
    generator = isinstance(parameters, types.GeneratorType)
    try:
        parameters = list(parameters)
    except TypeError:
        raise TypeError(f"{who}: parameters must be a Parameter or an iterable of Parameters, "
                        f"got {type(parameters).__name__}") from None
    parameters = parameter_list(parameters, who)
    if generator and warn_if_empty_generator and not parameters:
        warnings.warn(f"`parameters` is an empty generator, no gradient clipping will occur ({who}).",
                      stacklevel=3)
    return [p.grad for p in parameters if p.grad is not None]


def _limit(value, name: str, who: str) -> float:
    """``value`` as a float >= 0: ``TypeError`` if it is no real number, ``ValueError`` if negative or NaN."""
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{who}: {name} must be a real number, got {type(value).__name__}") from None
    if not value >= 0:
        raise ValueError(f"{who}: {name} must be >= 0, got {value}")
    return value


def _norm_type(norm_type) -> float:
    """torch's ``float(norm_type)``: a number, or a string such as ``'inf'``."""
    try:
        return float(norm_type)
    except (TypeError, ValueError) as err:   # TypeError for None and the like, ValueError for 'abc'
        raise type(err)(f"clip_grad_norm: norm_type must be a number or 'inf', got {norm_type!r}") from None
