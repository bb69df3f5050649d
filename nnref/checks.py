r"""Every input check of nnref, in one place: each error names the layer (``who``) and what it expected.

Constructor arguments: :func:`check_int`, :func:`check_pair`, :func:`check_real`, :func:`check_probability`,
:func:`param_dtype`. Arrays: :func:`check_array`, :func:`check_float`, :func:`check_ndim`,
:func:`check_size`, :func:`check_same_backend`, :func:`writable_input`. Dtypes:
:func:`compute_dtype`. The backward protocol: :func:`need_cache`, :func:`backward_cache`.
Nothing here imports another part of nnref but the backend.
"""
from __future__ import annotations

import numbers

import numpy as np

from .backend import backend_of, float_dtype, get_default_dtype


# --- constructor arguments ---------------------------------------------------------------

def check_int(value, name: str, who: str, minimum: int | None = 0) -> int:
    r"""``value`` as an ``int``: ``TypeError`` unless it is an integer (a ``bool`` is not),
    ``ValueError`` below ``minimum`` (worded as torch words it for sizes; None: no bound)."""
    if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {name} must be an int, got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        bound = {0: "zero or positive", 1: "greater than zero"}.get(minimum, f"at least {minimum}")
        raise ValueError(f"{who}: {name} must be {bound}, got {value}")
    return int(value)


def check_pair(value, name: str, who: str, minimum: int = 0) -> tuple:
    r"""``3 -> (3, 3)``, ``(3,) -> (3, 3)``, ``(3, 5) -> (3, 5)``: a size argument given for both
    spatial axes (torch, too, repeats a one-element list).

    ``ValueError`` naming ``who`` and ``name`` for anything else (floats, bools, wrong length)
    or for values below ``minimum``.
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        pair_ = (value, value)
    else:
        pair_ = tuple(value) if isinstance(value, (tuple, list)) else ()
        pair_ = pair_ * 2 if len(pair_) == 1 else pair_
    ok = len(pair_) == 2 and all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))
                                 and v >= minimum for v in pair_)
    if not ok:
        raise ValueError(f"{who}: {name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return int(pair_[0]), int(pair_[1])


def check_real(value, name: str, who: str, minimum: float | None = None) -> float:
    r"""``value`` as a float: ``TypeError`` unless a real number (not a bool), ``ValueError`` below
    ``minimum`` (None: no bound). For options such as ``eps``, ``beta`` or ``negative_slope``, so a
    string fails where it is given, not at the first forward."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{who}: {name} must be a number, got {value!r} ({type(value).__name__})")
    if minimum is not None and not value >= minimum:
        raise ValueError(f"{who}: {name} must be >= {minimum}, got {value}")
    return float(value)


def check_probability(p, name: str, who: str) -> float:
    r"""``p`` as a float in [0, 1]: ``TypeError`` unless a real number (not a bool), ``ValueError``
    outside the interval."""
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
        raise TypeError(f"{who}: {name} must be a number in [0, 1], got {p!r} ({type(p).__name__})")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{who}: {name} must be a probability in [0, 1], got {p}")
    return float(p)


def param_dtype(dtype, who: str):
    """torch's ``dtype=`` argument for a layer's parameters: None -> the default dtype
    (float32 unless :func:`nnref.set_default_dtype` changed it); any NumPy float dtype (or a torch
    float dtype, by name); ``TypeError`` naming ``who`` otherwise."""
    return get_default_dtype() if dtype is None else float_dtype(dtype, who)


# --- arrays ------------------------------------------------------------------------------

def check_array(x, who: str, what: str = "input"):
    """``TypeError`` unless ``x`` is a NumPy or CuPy array: Python lists, tuples and scalars are
    refused everywhere (``what`` names the argument, e.g. ``'target'``)."""
    if not (hasattr(x, "shape") and hasattr(x, "dtype") and hasattr(x, "ndim")):
        raise TypeError(f"{who}: expected an array for {what}, got {type(x).__name__} "
                        "(convert it with nnref.backend.asarray)")
    return x


def check_float(x, who: str):
    """``TypeError`` unless ``x`` is a floating-point array (float16/32/64)."""
    kind = getattr(getattr(x, "dtype", None), "kind", None)
    if kind != "f":
        got = getattr(x, "dtype", type(x).__name__)
        raise TypeError(f"{who}: expected a floating-point array (float16, float32 or float64), got {got}")
    return x


def check_ndim(x, who: str, ndims, layout: str):
    """``ValueError`` unless ``x.ndim`` is in ``ndims``; ``layout`` names the axes, e.g. ``'(N, C, H, W)'``."""
    ndims = (ndims,) if isinstance(ndims, int) else tuple(ndims)
    if x.ndim not in ndims:
        raise ValueError(f"{who}: expected input of shape {layout}, got shape {tuple(x.shape)}")
    return x


def check_size(x, who: str, axis: int, size: int, name: str):
    """``ValueError`` unless ``x.shape[axis] == size``; ``name`` is what that axis holds."""
    if x.shape[axis] != size:
        raise ValueError(f"{who}: expected {size} {name} (axis {axis % x.ndim}), "
                         f"got {x.shape[axis]} in input of shape {tuple(x.shape)}")
    return x


def check_same_backend(a, b, who: str, a_name: str = "input", b_name: str = "the weights"):
    """``TypeError`` when ``a`` and ``b`` live on different backends (NumPy and CuPy): a silent
    copy between devices would hide a slow host round trip."""
    if backend_of(a) != backend_of(b):
        raise TypeError(f"{who}: {a_name} is a {backend_of(a)} array but {b_name} a {backend_of(b)} "
                        "array; move one with nnref.backend.to_backend or module.to(...)")
    return a


def writable_input(x, who: str):
    r"""``x`` itself, for a layer with ``inplace=True`` that will write its output into it;
    ``ValueError`` naming ``who`` when ``x`` is read-only (e.g. the output of Sigmoid or Tanh,
    whose backward needs it unchanged)."""
    if not getattr(getattr(x, "flags", None), "writeable", True):
        raise ValueError(f"{who}(inplace=True): the input is read-only (e.g. the output of "
                         f"Sigmoid or Tanh, kept for their backward); use inplace=False")
    return x


def compute_dtype(dtype):
    """The dtype a layer computes statistics and sums in: float16 is widened to float32, as torch
    accumulates half precision in float (a float16 sum of squares overflows at 65504)."""
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def read_only_output(y):
    """What a layer returns when its cache keeps ``y`` itself (Sigmoid, Tanh, the recurrent layers).

    A read-only view on NumPy: changing the output in place (``y += 1``) then raises instead of
    silently corrupting the gradient, and costs nothing. CuPy arrays have no read-only flag, so
    there the caller gets a copy and the cache keeps the original.
    """
    if isinstance(y, np.generic):                   # NumPy returns a scalar for a 0-d result
        y = np.asarray(y)
    if hasattr(y, "flags") and hasattr(y.flags, "writeable"):
        view = y.view()
        view.flags.writeable = False
        return view
    return y.copy()


# --- the backward protocol ----------------------------------------------------------------

def need_cache(cache, who: str):
    """``RuntimeError`` when ``backward`` runs before ``forward``."""
    if cache is None:
        raise RuntimeError(f"{who}.backward called before forward (nothing to differentiate; "
                           "a .to() that casts or moves the module clears it)")
    return cache


def check_gradient(dy, who: str, what: str = "gradient"):
    """``TypeError`` naming ``who`` unless ``dy`` is a NumPy or CuPy floating-point array: an
    integer or bool gradient would make integer arithmetic truncate every gradient below it, a
    complex one lose its imaginary part, a list or torch tensor fail somewhere inside."""
    kind = getattr(getattr(dy, "dtype", None), "kind", None)
    if kind != "f" or not hasattr(dy, "shape"):
        got = getattr(dy, "dtype", None) if kind is not None else type(dy).__name__
        raise TypeError(f"{who}.backward: expected the {what} as a floating-point array, got {got}")
    return dy


def backward_cache(stored, dy, who: str):
    """``(cache, dy)``: what ``forward`` saved as ``(cache, output_shape, output_dtype)``, and ``dy``
    checked against it and cast to the output's dtype (as torch does, so that the input's
    gradient keeps the input's dtype whatever the dtype of ``dy``).

    ``RuntimeError`` before any forward; ``TypeError`` unless ``dy`` is a float array
    (:func:`check_gradient`); ``ValueError`` unless ``dy`` has the output's shape: NumPy would
    otherwise broadcast a wrong-shaped gradient, e.g. (1, D) against (N, D), and return a wrong
    result without a word.
    """
    cache, shape, dtype = need_cache(stored, who)
    got = check_gradient(dy, who).shape
    if tuple(got) != tuple(shape):
        raise ValueError(f"{who}.backward: expected a gradient of the output's shape {tuple(shape)}, "
                         f"got {tuple(got)}")
    return cache, dy.astype(dtype, copy=False)
