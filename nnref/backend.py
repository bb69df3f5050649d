"""The one place that knows NumPy from CuPy.

Every layer asks ``xp = get_array_module(x)`` and then writes plain array code
against ``xp``, so one source runs on the CPU (NumPy) and on the GPU (CuPy).

The default backend comes from the environment variable ``NNREF_BACKEND``
(``numpy`` or ``cupy``), can be changed with :func:`set_backend`, or for a block
with :func:`use_backend`::

    >>> from nnref import backend
    >>> backend.get_backend()
    'numpy'
    >>> with backend.use_backend("numpy"):
    ...     backend.zeros((2,)).dtype
    dtype('float32')

Random numbers are always drawn on the host by NumPy and then moved, so the same
seed gives the same numbers on both backends.
"""
from __future__ import annotations

import contextlib
import os

import numpy as np

try:  # CuPy is optional: without a GPU the package is pure NumPy.
    import cupy as _cupy
except Exception:  # ImportError, or a CUDA library that fails to load
    _cupy = None

BACKENDS = ("numpy", "cupy")


def cupy_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def _check_name(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    if name == "cupy" and not cupy_available():
        raise RuntimeError("backend 'cupy' was asked for, but CuPy is not installed or sees no GPU")
    return name


_default = os.environ.get("NNREF_BACKEND", "numpy").strip().lower() or "numpy"
if _default not in BACKENDS:
    raise ValueError(f"NNREF_BACKEND must be one of {BACKENDS}, got {_default!r}")


def get_backend() -> str:
    """Name of the default backend: ``'numpy'`` or ``'cupy'``."""
    return _default


def set_backend(name: str) -> None:
    """Make ``name`` (``'numpy'`` or ``'cupy'``) the default backend."""
    global _default
    _default = _check_name(name)


@contextlib.contextmanager
def use_backend(name: str):
    """Context manager: the default backend is ``name`` inside the block."""
    global _default
    previous, _default = _default, _check_name(name)
    try:
        yield
    finally:
        _default = previous


def module_for(name: str | None = None):
    """The array module (``numpy`` or ``cupy``) of a backend; the default one when ``name`` is None."""
    name = _check_name(name or _default)
    return _cupy if name == "cupy" else np


def is_cupy_array(a) -> bool:
    return _cupy is not None and isinstance(a, _cupy.ndarray)


def get_array_module(*arrays):
    """The array module of the arrays: ``numpy`` for NumPy arrays (and Python scalars), ``cupy`` for CuPy.

    Mixing NumPy and CuPy arrays raises ``TypeError``: a silent copy between devices
    would hide a slow host round trip.
    """
    if _cupy is None:  # nothing to mix: the common CPU case, kept cheap for per-step callers
        return np
    kinds = {is_cupy_array(a) for a in arrays if a is not None and not np.isscalar(a)}
    if len(kinds) > 1:
        raise TypeError("NumPy and CuPy arrays mixed in one call; move them to one device "
                        "first (nnref.backend.to_backend)")
    return _cupy if kinds == {True} else np


def device_backend(device, who: str) -> str:
    """torch's ``device=`` argument as an nnref backend name.

    ``None`` -> the default backend; ``'cpu'`` -> ``'numpy'``; ``'cuda'``, ``'cuda:N'`` -> ``'cupy'``
    (nnref uses CuPy's current device, so only ``N = 0`` or the current one is accepted);
    the backend names ``'numpy'`` and ``'cupy'`` themselves; a torch ``device`` object by its
    ``type`` and ``index``. ``ValueError`` naming ``who`` for anything else, ``RuntimeError`` for
    a GPU without CuPy and a GPU.
    """
    if device is None:
        return _default
    kind, index = None, None
    if not isinstance(device, str):                     # a torch.device: its type and index
        kind, index = getattr(device, "type", None), getattr(device, "index", None)
    if kind is None:
        if not isinstance(device, str):
            raise ValueError(f"{who}: device must be None, 'cpu', 'cuda', 'cuda:N', 'numpy' or 'cupy', "
                             f"got {device!r}")
        kind, _, number = device.strip().partition(":")
        if number:
            if not number.isdigit():
                raise ValueError(f"{who}: device index must be a non-negative integer, got {device!r}")
            index = int(number)
    if kind in ("cpu", "numpy"):                        # torch takes 'cpu:1' too: one host
        return "numpy"
    if kind in ("cuda", "cupy"):
        if not cupy_available():
            raise RuntimeError(f"{who}: device={device!r} needs CuPy and a GPU, and none was found")
        if index not in (None, _cupy.cuda.runtime.getDevice()):
            raise ValueError(f"{who}: device {device!r}: nnref computes on CuPy's current device "
                             f"({_cupy.cuda.runtime.getDevice()}); select it with cupy.cuda.Device(N).use()")
        return "cupy"
    raise ValueError(f"{who}: device must be None, 'cpu', 'cuda', 'cuda:N', 'numpy' or 'cupy', got {device!r}")


def backend_of(a) -> str:
    """``'cupy'`` for a CuPy array, else ``'numpy'``."""
    return "cupy" if is_cupy_array(a) else "numpy"


def asnumpy(a):
    """A NumPy copy (or view, on the CPU) of ``a``; moves CuPy arrays to the host."""
    if is_cupy_array(a):
        return _cupy.asnumpy(a)
    return np.asarray(a)


def to_backend(a, name: str | None = None, dtype=None):
    """Move ``a`` (NumPy, CuPy, list or scalar) to backend ``name`` (default: the default backend)."""
    xp = module_for(name)
    if xp is np:
        a = asnumpy(a)
        return a if dtype is None else a.astype(dtype, copy=False)
    return _cupy.asarray(a, dtype=dtype)


def asarray(a, dtype=None):
    """``a`` as an array of the default backend."""
    return to_backend(a, None, dtype)


_default_dtype = np.dtype(np.float32)


def float_dtype(dtype, who: str):
    """``dtype`` as a NumPy floating-point dtype: a NumPy dtype or its name, or a torch dtype
    (``torch.float64``, by name); ``TypeError`` naming ``who`` for anything else."""
    if type(dtype).__module__ == "torch":                   # torch.float64 -> 'float64'
        dtype = str(dtype).replace("torch.", "")
    try:
        dt = None if dtype is None else np.dtype(dtype)     # np.dtype(None) would be float64
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f" or dt.itemsize not in (2, 4, 8):   # no longdouble: torch has none
        raise TypeError(f"{who}: dtype must be a floating-point dtype (float16, float32 or float64), "
                        f"got {dtype!r}")
    return dt


def set_default_dtype(dtype) -> None:
    """The dtype of new parameters when a layer gets ``dtype=None`` (like ``torch.set_default_dtype``):
    float32 at start; float16, float32 or float64. ``TypeError`` for anything else."""
    global _default_dtype
    _default_dtype = float_dtype(dtype, "set_default_dtype")


def get_default_dtype():
    """The dtype of new parameters (see :func:`set_default_dtype`), a NumPy dtype."""
    return _default_dtype


def zeros(shape, dtype=None, like=None):
    """Zeros on the backend of ``like``, or on the default backend; ``dtype`` None: the default dtype."""
    xp = get_array_module(like) if like is not None else module_for()
    return xp.zeros(shape, dtype=_default_dtype if dtype is None else dtype)


class RNG:
    """A seeded random generator that draws on the host and moves the result.

    The same seed gives bit-identical numbers on NumPy and CuPy.

    >>> a = RNG(0).normal((2, 3))
    >>> b = RNG(0).normal((2, 3))
    >>> bool((a == b).all()), a.dtype
    (True, dtype('float32'))
    """

    def __init__(self, seed=None, backend: str | None = None):
        self.host = np.random.default_rng(seed)
        self.backend = backend

    def _move(self, a, dtype):
        return to_backend(np.asarray(a, dtype=dtype), self.backend)

    def normal(self, size, mean=0.0, std=1.0, dtype=np.float32):
        return self._move(self.host.normal(mean, std, size), dtype)

    def uniform(self, size, low=0.0, high=1.0, dtype=np.float32):
        return self._move(self.host.uniform(low, high, size), dtype)

    def random(self, size, dtype=np.float32):
        return self._move(self.host.random(size), dtype)

    def integers(self, low, high, size, dtype=np.int64):
        return self._move(self.host.integers(low, high, size), dtype)

    def permutation(self, n):
        """A permutation of ``range(n)`` as a host (NumPy) int64 array: indices for batching."""
        return self.host.permutation(n)



_global_rng = RNG(0)


def manual_seed(seed: int) -> RNG:
    """Reseed the generator that layers use to initialise their weights (like ``torch.manual_seed``).

    Like torch, any integer works: a negative seed is taken modulo $2^{64}$ (torch's
    ``manual_seed(-1)`` gives ``initial_seed() == 2**64 - 1``), as NumPy takes only seeds >= 0.
    """
    global _global_rng
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: expected an integer seed, got {type(seed).__name__}")
    _global_rng = RNG(int(seed) % 2**64)
    return _global_rng


def default_rng() -> RNG:
    """The generator behind weight initialisation and dropout masks; see :func:`manual_seed`."""
    return _global_rng
