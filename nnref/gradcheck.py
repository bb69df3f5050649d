"""Numerical differentiation and a full gradient check of any module.

The analytic ``backward`` of a layer is trusted only after it agrees, element by
element, with central differences of the forward pass in float64.
"""
from __future__ import annotations

import numpy as np

from .backend import asnumpy, get_array_module, RNG
from .checks import check_array
from .module import Module


# --8<-- [start:differences]
def forward_difference(f, x, h=1e-6):
    r"""Forward difference, with error $O(h)$:

    $$
    f'(x) \approx \frac{f(x+h) - f(x)}{h}
    $$
    """
    return (f(x + h) - f(x)) / h


def central_difference(f, x, h=1e-6):
    r"""Central difference, with error $O(h^2)$:

    $$
    f'(x) \approx \frac{f(x+h) - f(x-h)}{2h}
    $$
    """
    return (f(x + h) - f(x - h)) / (2 * h)
# --8<-- [end:differences]


# --8<-- [start:numerical_gradient]
def numerical_gradient(f, x, h=1e-6):
    r"""Central-difference gradient of a scalar function ``f()`` with respect to array ``x``.

    ``x`` is changed in place one element at a time (and restored), so ``f`` may read it
    from anywhere, e.g. a layer's weight. Returns an array of ``x``'s shape:

    $$
    \frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}
    $$
    """
    xp = get_array_module(x)
    grad = xp.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)  # views: writing flat[i] writes x
    for i in range(flat.size):
        old = flat[i].copy()
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        f_minus = f()
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad
# --8<-- [end:numerical_gradient]


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the numerical one."""


def _leaves(tree):
    if isinstance(tree, (tuple, list)):
        return [leaf for t in tree for leaf in _leaves(t)]
    return [tree]


def _like(tree, make):
    if isinstance(tree, (tuple, list)):
        return type(tree)(_like(t, make) for t in tree)
    return make(tree)


def gradient_errors(module: Module, x, *args, h=1e-6, seed=0):
    r"""Compare ``module.backward`` with central differences of ``module.forward``.

    The scalar under test is $L = \sum_k \langle y_k, r_k \rangle$ over every output
    array $y_k$ (tuples such as ``(out, (h_n, c_n))`` included) with fixed random $r_k$.
    ``x`` must be float64, and so must the module's parameters. ``args`` go to ``forward``
    after ``x`` and are held fixed.

    Returns ``{name: max |analytic - numeric| / max(1, max |numeric|)}`` for ``'input'``
    and every named parameter.
    """
    check_array(x, "gradcheck")
    if x.dtype != np.float64 or any(p.dtype != np.float64 for p in module.parameters()):
        raise TypeError("gradcheck needs float64 input and parameters: float32 differences are too coarse")
    y = module(x, *args)
    rng = RNG(seed)
    dys = _like(y, lambda a: rng.normal(a.shape, dtype=a.dtype) if a is not None else None)
    # move the random weights to the output's device
    dys = _like(dys, lambda a: a if a is None else get_array_module(_leaves(y)[0]).asarray(a))

    def loss():
        out = module(x, *args)
        return float(sum((o * r).sum() for o, r in zip(_leaves(out), _leaves(dys)) if r is not None))

    module.zero_grad()
    module(x, *args)
    dx = module.backward(*dys) if isinstance(y, tuple) else module.backward(dys)
    analytic = {"input": dx}
    analytic.update({name: p.grad.copy() for name, p in module.named_parameters()})
    numeric = {"input": numerical_gradient(loss, x, h)}
    numeric.update({name: numerical_gradient(loss, p.data, h) for name, p in module.named_parameters()})
    errors = {}
    for name, a in analytic.items():
        n = asnumpy(numeric[name])
        errors[name] = float(np.abs(asnumpy(a) - n).max(initial=0.0) / max(1.0, np.abs(n).max(initial=0.0)))
    return errors


def gradcheck(module: Module, x, *args, tol=1e-6, h=1e-6, seed=0):
    """``True`` when every gradient error of :func:`gradient_errors` is below ``tol``; else raises
    :class:`GradcheckError` naming the worst array.

    >>> import numpy as np
    >>> from nnref import Linear, manual_seed
    >>> _ = manual_seed(0)
    >>> gradcheck(Linear(3, 2, dtype=np.float64), np.random.default_rng(0).normal(size=(4, 3)))
    True
    """
    errors = gradient_errors(module, x, *args, h=h, seed=seed)
    worst = max(errors, key=errors.get)
    if errors[worst] > tol:
        raise GradcheckError(f"{type(module).__name__}: gradient of {worst!r} is off by "
                             f"{errors[worst]:.3g} (tolerance {tol:g}); all errors: {errors}")
    return True
