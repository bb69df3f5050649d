"""Numerical differentiation and a full gradient check of any module.

The analytic ``backward`` of a layer is trusted only after it agrees, element by
element, with central differences of the forward pass in float64.
"""
from __future__ import annotations

import inspect

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


def _is_array(a):
    return hasattr(a, "shape") and hasattr(a, "dtype") and hasattr(a, "ndim")


def _input_names(module, n):
    """Names of forward's first ``n`` positional parameters (``input``; ``input1``, ``input2``;
    ``query``, ``key``, ``value``), or ``input 0``, ``input 1`` ... where forward takes ``*args``."""
    try:
        params = [p for p in inspect.signature(module.forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params[:n]]
    return names if len(names) == n else [f"input {i}" for i in range(n)]


def _as_list(returned, inputs, who):
    """``backward``'s return as one entry per input: a tuple gives one gradient per input in order
    (None: that input has none); anything else is the first input's gradient and the other
    inputs are held fixed (a recurrent layer's initial state)."""
    if not isinstance(returned, tuple):
        return [returned] + [None] * (len(inputs) - 1)
    if len(returned) != len(inputs):
        raise GradcheckError(f"{who}: backward returned {len(returned)} gradients for "
                             f"{len(inputs)} inputs")
    return list(returned)


def gradient_errors(module: Module, *inputs, h=1e-6, seed=0, kwargs=None, outputs=None):
    r"""Compare ``module.backward`` with central differences of ``module.forward``.

    The module runs as ``module(*inputs, **kwargs)``. The scalar under test is
    $L = \sum_k \langle y_k, r_k \rangle$ over the differentiated outputs $y_k$ with fixed random
    $r_k$: every output (tuples such as ``(out, (h_n, c_n))`` included), or, with ``outputs``, the
    elements of a tuple output at those positions (``outputs=(0,)`` for ``y, w = mha(q, k, v)``).
    ``backward`` gets one gradient per differentiated output, shaped like it.

    ``backward`` returns a gradient per input: a tuple holds one per positional input, in order
    (``Bilinear``: ``(d_input1, d_input2)``); a single array is the first input's, and further
    inputs are held fixed (a recurrent layer's initial state). Every input with a gradient is
    checked, and so is every parameter. An array passed in several places (``mha(x, x, x)``) gets
    each of its gradients checked on its own. Float inputs and parameters must be float64.

    Returns ``{name: max |analytic - numeric| / max(1, max |numeric|)}`` for each input with a
    gradient (named after forward's parameters: ``'input'``, ``'input1'``, ``'query'``) and every
    named parameter.
    """
    who = type(module).__name__
    kwargs = {} if kwargs is None else dict(kwargs)
    if not inputs:
        raise TypeError("gradcheck: expected at least one input")
    check_array(inputs[0], "gradcheck")
    floats = [a for a in _leaves(list(inputs)) if _is_array(a) and a.dtype.kind == "f"]
    if any(a.dtype != np.float64 for a in floats) or any(p.dtype != np.float64 for p in module.parameters()):
        raise TypeError("gradcheck needs float64 input and parameters: float32 differences are too coarse")

    def chosen(out):
        if outputs is None:
            return list(out) if isinstance(out, tuple) else [out]
        return [out[k] for k in outputs]

    y = module(*inputs, **kwargs)
    rng = RNG(seed)
    xp = get_array_module(*[a for a in _leaves(chosen(y)) if a is not None])
    dys = [_like(o, lambda a: None if a is None else xp.asarray(rng.normal(a.shape, dtype=a.dtype)))
           for o in chosen(y)]

    module.zero_grad()
    module(*inputs, **kwargs)
    grads = _as_list(module.backward(*dys), inputs, who)
    names = _input_names(module, len(inputs))
    analytic = {names[i]: g for i, g in enumerate(grads) if g is not None}
    analytic.update({name: p.grad.copy() for name, p in module.named_parameters() if p.requires_grad})

    # each position its own copy, so that perturbing one does not move another that is the same array
    own = [a.copy() if _is_array(a) else a for a in inputs]

    def loss():
        out = chosen(module(*own, **kwargs))
        return float(sum((o * r).sum() for o, r in zip(_leaves(out), _leaves(dys)) if r is not None))

    numeric = {names[i]: numerical_gradient(loss, own[i], h) for i, g in enumerate(grads) if g is not None}
    numeric.update({name: numerical_gradient(loss, p.data, h) for name, p in module.named_parameters()
                    if p.requires_grad})
    errors = {}
    for name, a in analytic.items():
        n = asnumpy(numeric[name])
        if tuple(a.shape) != tuple(n.shape):
            raise GradcheckError(f"{who}: the gradient of {name!r} has shape {tuple(a.shape)}, "
                                 f"expected {tuple(n.shape)}")
        errors[name] = float(np.abs(asnumpy(a) - n).max(initial=0.0) / max(1.0, np.abs(n).max(initial=0.0)))
    return errors


def gradcheck(module: Module, *inputs, tol=1e-6, h=1e-6, seed=0, kwargs=None, outputs=None):
    """``True`` when every gradient error of :func:`gradient_errors` is below ``tol``; else raises
    :class:`GradcheckError` naming the worst array. ``gradcheck(m, x)``, ``gradcheck(lstm, x, (h0, c0))``,
    ``gradcheck(bilinear, x1, x2)``, ``gradcheck(mha, q, k, v, outputs=(0,))``.

    >>> import numpy as np
    >>> from nnref import Linear, manual_seed
    >>> _ = manual_seed(0)
    >>> gradcheck(Linear(3, 2, dtype=np.float64), np.random.default_rng(0).normal(size=(4, 3)))
    True
    """
    errors = gradient_errors(module, *inputs, h=h, seed=seed, kwargs=kwargs, outputs=outputs)
    worst = max(errors, key=errors.get)
    if errors[worst] > tol:
        raise GradcheckError(f"{type(module).__name__}: gradient of {worst!r} is off by "
                             f"{errors[worst]:.3g} (tolerance {tol:g}); all errors: {errors}")
    return True
