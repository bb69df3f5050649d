"""Input checks shared by the layers: each error names the layer and what it expected."""
from __future__ import annotations


def check_float(x, who: str):
    """``TypeError`` unless ``x`` is a floating-point array (float16/32/64)."""
    kind = getattr(getattr(x, "dtype", None), "kind", None)
    if kind != "f":
        got = getattr(x, "dtype", type(x).__name__)
        raise TypeError(f"{who}: expected a floating-point array (float32 or float64), got {got}")
    return x


def check_array(x, who: str, what: str = "input"):
    """``TypeError`` unless ``x`` is a NumPy or CuPy array: Python lists, tuples and scalars are
    refused everywhere (``what`` names the argument, e.g. ``'target'``)."""
    if not (hasattr(x, "shape") and hasattr(x, "dtype") and hasattr(x, "ndim")):
        raise TypeError(f"{who}: expected an array for {what}, got {type(x).__name__} "
                        "(convert it with nnref.backend.asarray)")
    return x


def param_dtype(dtype, who: str):
    """torch's ``dtype=`` argument for a layer's parameters: None -> float32; any NumPy float dtype
    (or a torch float dtype, by name); ``TypeError`` naming ``who`` otherwise."""
    import numpy as np
    if dtype is None:
        return np.dtype(np.float32)
    if type(dtype).__module__ == "torch":                   # torch.float64 -> 'float64'
        dtype = str(dtype).replace("torch.", "")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f":
        raise TypeError(f"{who}: dtype must be a floating-point dtype (float16, float32 or float64), "
                        f"got {dtype!r}")
    return dt


def read_only_output(y):
    """What a layer returns when its cache keeps ``y`` itself (Sigmoid, Tanh, the recurrent layers).

    A read-only view on NumPy: changing the output in place (``y += 1``) then raises instead of
    silently corrupting the gradient, and costs nothing. CuPy arrays have no read-only flag, so
    there the caller gets a copy and the cache keeps the original.
    """
    import numpy as np
    if isinstance(y, np.generic):                   # NumPy returns a scalar for a 0-d result
        y = np.asarray(y)
    if hasattr(y, "flags") and hasattr(y.flags, "writeable"):
        view = y.view()
        view.flags.writeable = False
        return view
    return y.copy()


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


def need_cache(cache, who: str):
    """``RuntimeError`` when ``backward`` runs before ``forward``."""
    if cache is None:
        raise RuntimeError(f"{who}.backward called before forward (nothing to differentiate)")
    return cache


def backward_cache(stored, dy, who: str):
    """What ``forward`` saved as ``(cache, output_shape)``, after checking ``dy`` against it.

    ``RuntimeError`` before any forward; ``ValueError`` unless ``dy`` has the output's shape:
    NumPy would otherwise broadcast a wrong-shaped gradient, e.g. (1, D) against (N, D),
    and return a wrong result without a word.
    """
    cache, shape = need_cache(stored, who)
    got = getattr(dy, "shape", None)
    if got is None or tuple(got) != tuple(shape):
        raise ValueError(f"{who}.backward: expected a gradient of the output's shape {tuple(shape)}, "
                         f"got {tuple(got) if got is not None else type(dy).__name__}")
    return cache
