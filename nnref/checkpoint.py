"""Save and load a module's ``state_dict`` as a ``.npz`` file: atomic, pickle-free, any device.

- ``save`` writes every array (moved to the host with ``asnumpy``) into a temporary file
  next to the target and then renames it over the target with ``os.replace``: a crash
  mid-write leaves the old checkpoint intact, never half a file.
- ``load`` reads with ``allow_pickle=False`` (an ``.npz`` can otherwise run code on load)
  and hands the arrays to ``module.load_state_dict``, which checks keys and shapes, casts to
  the module's dtypes and moves them to the module's device (NumPy or CuPy).

>>> import os, tempfile, numpy as np, nnref
>>> _ = nnref.manual_seed(0)
>>> a, b = nnref.Linear(3, 2), nnref.Linear(3, 2)
>>> path = os.path.join(tempfile.mkdtemp(), "linear.npz")
>>> save(a, path)
>>> _ = load(b, path)
>>> bool((a.weight.data == b.weight.data).all())
True
"""
from __future__ import annotations

import os
import uuid
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from .backend import asnumpy
from .module import StateDictShapeError

# What a damaged file can raise inside np.load / zipfile: it is reported as ValueError.
_CORRUPT = (ValueError, EOFError, zipfile.BadZipFile, zlib.error)


# --8<-- [start:save]
def save(module, path) -> None:
    """Write ``module.state_dict()`` to ``path`` as an uncompressed ``.npz`` (one ``<key>.npy``
    per array, keys as in PyTorch: ``0.weight``, ``running_var`` ...), atomically."""
    path = os.fspath(path)
    _check_module(module, "save")
    state = OrderedDict((k, asnumpy(v)) for k, v in module.state_dict().items())
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):   # else open() would name the temporary file, not the target
        raise FileNotFoundError(f"checkpoint.save: cannot write {path!r}: directory {directory!r} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"checkpoint.save: cannot write {path!r}: it is a directory")
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "xb") as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                for key, array in state.items():
                    with zf.open(f"{key}.npy", "w", force_zip64=True) as entry:
                        # allow_pickle=False: an object array is refused here, not written
                        np.lib.format.write_array(entry, array, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows: readers see old or new, never half
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
# --8<-- [end:save]


def load_state(path) -> OrderedDict:
    """The arrays of a checkpoint as an ``OrderedDict`` of NumPy arrays, in file order.

    Raises ``ValueError`` naming the file when it is not a readable ``.npz`` (truncated,
    corrupted, a single ``.npy``) or holds pickled objects.
    """
    path = os.fspath(path)
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not a state dict (.npz)")
        with npz:
            return OrderedDict((k, npz[k]) for k in npz.files)
    except _CORRUPT as exc:
        reason = str(exc)
        if "Object arrays" in reason:
            reason = "it holds an object array, which only pickle could load (never done here)"
        elif "pickled data" in reason:
            reason = "it is neither .npz nor .npy, and is never unpickled"
        raise ValueError(f"checkpoint {path!r} is corrupt or not an nnref .npz checkpoint: {reason}") from exc


# --8<-- [start:load]
def _check_module(module, what):
    if not (hasattr(module, "state_dict") and hasattr(module, "load_state_dict")):
        raise TypeError(f"checkpoint.{what}: expected an nnref Module, got {type(module).__name__}")


def load(module, path, strict: bool = True):
    """Load a checkpoint written by :func:`save` into ``module`` (on its device and dtypes).

    A missing or unexpected key (``strict=True``) raises ``KeyError``, a wrong shape
    ``ValueError`` (both also ``RuntimeError``, torch's class), a non-numeric array ``TypeError``;
    each names the key and the file. All or nothing: every array is checked and converted before
    any is written. Returns ``module``.
    """
    _check_module(module, "load")
    state = load_state(path)
    current = module.state_dict()
    for key, value in state.items():   # all shapes first: a mismatch must not leave a half-loaded model
        if key in current and tuple(value.shape) != tuple(current[key].shape):
            raise StateDictShapeError(f"checkpoint {os.fspath(path)!r}: key {key!r} has shape "
                                      f"{tuple(value.shape)}, expected {tuple(current[key].shape)} "
                                      f"for {type(module).__name__}")
    try:
        module.load_state_dict(state, strict=strict)
    except KeyError as exc:            # str() of a KeyError is its repr: take the message itself
        raise type(exc)(f"checkpoint {os.fspath(path)!r}: {exc.args[0]}") from exc
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"checkpoint {os.fspath(path)!r}: {exc}") from exc
    return module
# --8<-- [end:load]
