r"""Loss Modules with ``torch.nn``'s signatures: ``MSELoss`` and ``CrossEntropyLoss``.

``loss = fn(input, target)`` is a Python ``float`` for ``reduction='mean'`` or ``'sum'`` and an
array of per-element losses for ``reduction='none'``. ``fn.backward()`` then returns
$\partial L / \partial\,\mathrm{input}$ (input's shape and dtype). With ``reduction='none'``
``fn.backward(grad)`` takes the upstream gradient of each per-element loss (ones by default,
i.e. the gradient of their sum); with ``'mean'``/``'sum'`` an optional scalar ``grad`` scales it.

float16 inputs are computed in float32 (a float16 sum of squares overflows at 65504) and the
gradient is returned in float16. The maths is :mod:`nnref.layers.losses`; plain class-index
targets take the equal but faster :mod:`nnref.fast.losses`.
"""
from __future__ import annotations

import numbers
import warnings
from typing import NamedTuple

import numpy as np

from ..backend import get_array_module
from ..checks import check_array, check_float, check_gradient, check_int, check_real, compute_dtype, need_cache
from ..fast.losses import IndexCrossEntropyCache, cross_entropy_index_backward, cross_entropy_index_forward
from ..layers.losses import (cross_entropy_backward, cross_entropy_forward, mse_backward, mse_forward,
                             target_distribution)
from ..module import Module

REDUCTIONS = ("mean", "sum", "none")


def legacy_reduction(size_average, reduce, reduction, who):
    """torch's mapping of the deprecated ``size_average``/``reduce`` to ``reduction``."""
    if size_average is not None or reduce is not None:
        warnings.warn(f"{who}: size_average and reduce are deprecated, use reduction", UserWarning, stacklevel=3)
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
    if reduction not in REDUCTIONS:
        raise ValueError(f"{who}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


class LossCall(NamedTuple):
    """What a loss module keeps from its last call for ``backward``."""
    cache: object            # the reference function's cache
    loss_shape: tuple        # () for a reduced loss, the per-element shape for 'none'
    dtype: object            # the input's dtype: the gradient is returned in it
    unbatched: bool          # (C,) logits: a batch axis was added


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        self.reduction = legacy_reduction(size_average, reduce, reduction, type(self).__name__)
        self._cache = None

    def _result(self, loss, input_dtype):
        """A float for a reduced loss, the per-element array (in the input's dtype) for 'none'."""
        return loss.astype(input_dtype, copy=False) if self.reduction == "none" else float(loss)

    def backward(self, grad=None):
        r"""$\partial L/\partial\,\mathrm{input}$ for the last call, input's shape and dtype.

        ``grad``: upstream gradient; for ``reduction='none'`` an array of the loss's shape
        (default ones), otherwise a number (default 1.0).
        """
        who = type(self).__name__
        cache, loss_shape, dtype, unbatched = need_cache(self._cache, who)
        if grad is None:
            grad = 1.0
        elif self.reduction == "none":
            check_gradient(grad, who, "grad")
            if tuple(grad.shape) != loss_shape:
                raise ValueError(f"{who}.backward: expected grad of the loss's shape {loss_shape}, "
                                 f"got {tuple(grad.shape)}")
            grad = grad[None] if unbatched else grad
        elif isinstance(grad, numbers.Real) and not isinstance(grad, (bool, np.bool_)):
            pass                                       # a Python or NumPy number
        elif getattr(grad, "ndim", None) == 0:
            check_gradient(grad, who, "grad")          # a 0-d array: floating-point only
        elif hasattr(grad, "ndim"):
            raise ValueError(f"{who}.backward: the loss is a scalar ({self.reduction!r}); grad must "
                             f"be a number, got shape {tuple(grad.shape)}")
        else:
            raise TypeError(f"{who}.backward: grad must be a number (the loss is a scalar), "
                            f"got {type(grad).__name__}")
        dx = self._backward(grad, cache)
        return (dx[0] if unbatched else dx).astype(dtype, copy=False)


class TargetIndexError(IndexError, ValueError):
    r"""A class index outside ``[0, C)``: an ``IndexError`` as torch raises, and a ``ValueError``
    as nnref's other bad values."""


class MSELoss(_Loss):
    r"""``torch.nn.MSELoss(size_average=None, reduce=None, reduction='mean')``.

    ``input`` and ``target``: float arrays of the same shape. torch broadcasts a differently
    shaped target (with a warning); here that is a ``ValueError``, because it is almost always
    a bug, e.g. (N, 1) against (N,).
    """

    def forward(self, input, target):
        check_float(check_array(input, "MSELoss"), "MSELoss")
        check_float(check_array(target, "MSELoss", "target"), "MSELoss (target)")
        xp = get_array_module(input, target)          # TypeError for NumPy and CuPy mixed
        if tuple(input.shape) != tuple(target.shape):
            raise ValueError(f"MSELoss: input has shape {tuple(input.shape)} but target has shape "
                             f"{tuple(target.shape)}; they must match")
        ct = compute_dtype(input.dtype)
        loss, cache = mse_forward(xp.asarray(input, dtype=ct), xp.asarray(target, dtype=ct), self.reduction)
        self._cache = LossCall(cache, tuple(input.shape) if self.reduction == "none" else (), input.dtype, False)
        return self._result(loss, input.dtype)

    def _backward(self, grad, cache):
        return mse_backward(grad, cache)


class CrossEntropyLoss(_Loss):
    r"""``torch.nn.CrossEntropyLoss(weight=None, size_average=None, ignore_index=-100,
    reduce=None, reduction='mean', label_smoothing=0.0)``: log-softmax then negative log-likelihood.

    ``input``: logits (N, C), (N, C, d1, ...) or unbatched (C,). ``target``: integer class
    indices (N,), (N, d1, ...) or 0-d, or float class probabilities of the input's shape.
    ``weight`` (C,) rescales each class; a weighted mean divides by the sum of the kept
    targets' weights (torch's rule). Targets equal to ``ignore_index`` add nothing.
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(size_average, reduce, reduction)
        if weight is not None:
            check_float(check_array(weight, "CrossEntropyLoss", "weight"), "CrossEntropyLoss (weight)")
            if weight.ndim != 1:
                raise ValueError(f"CrossEntropyLoss: weight must have shape (C,), got {tuple(weight.shape)}")
            self.register_buffer("weight", weight)
        else:
            self.weight = None
        check_int(ignore_index, "ignore_index", "CrossEntropyLoss", minimum=None)   # 1.5: TypeError, as torch
        if not 0.0 <= check_real(label_smoothing, "label_smoothing", "CrossEntropyLoss") <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}")
        self.ignore_index, self.label_smoothing = int(ignore_index), float(label_smoothing)

    def forward(self, input, target):
        who = "CrossEntropyLoss"
        check_float(check_array(input, who), who)
        check_array(target, who, "target")
        xp = get_array_module(input, target, self.weight)
        if input.ndim == 0:
            raise ValueError(f"{who}: expected logits of shape (N, C), (N, C, d1, ...) or (C,), got {tuple(input.shape)}")
        unbatched = input.ndim == 1
        z, y = (input[None], target[None]) if unbatched else (input, target)
        if unbatched and target.dtype.kind in "iu" and tuple(target.shape) == (1,):
            y = target                  # torch takes the class of (C,) logits as shape () or (1,)
        C = z.shape[1]
        if self.weight is not None and self.weight.shape[0] != C:
            raise ValueError(f"{who}: weight has {self.weight.shape[0]} entries but the input has {C} classes")
        ct = compute_dtype(input.dtype)
        z = z.astype(ct, copy=False)
        w = None if self.weight is None else self.weight.astype(ct, copy=False)
        if target.dtype.kind == "f" and tuple(target.shape) == tuple(input.shape):   # probabilities
            q = y.astype(ct, copy=False) * (1 - self.label_smoothing) + self.label_smoothing / C
            denominator = None
        else:
            self._check_indices(y, C, tuple(input.shape), tuple(target.shape), unbatched)
            if (w is None and not self.label_smoothing and z.ndim == 2 and z.shape[0]
                    and not bool((y == self.ignore_index).any())):     # the common case, faster
                loss, cache = cross_entropy_index_forward(z, y, self.reduction)
                if unbatched and self.reduction == "none":
                    loss = loss.reshape(())
                self._cache = LossCall(cache, tuple(loss.shape) if self.reduction == "none" else (),
                                       input.dtype, unbatched)
                return self._result(loss, input.dtype)
            q, keep = target_distribution(y, C, self.ignore_index, self.label_smoothing)
            q = q.astype(ct, copy=False)
            kept = xp.where(keep, y, 0)
            denominator = float(keep.sum() if w is None else (w[kept] * keep).sum())
        loss, cache = cross_entropy_forward(z, q, w, self.reduction, denominator)
        if unbatched and self.reduction == "none":
            loss = loss.reshape(())
        self._cache = LossCall(cache, tuple(loss.shape) if self.reduction == "none" else (), input.dtype, unbatched)
        return self._result(loss, input.dtype)

    def _check_indices(self, y, C, input_shape, target_shape, unbatched):
        """``y``: the targets with the batch axis that (C,) logits got; messages give the shapes
        the caller passed (``input_shape``, ``target_shape``), not the batch of one added here."""
        who = "CrossEntropyLoss"
        batched_want = (input_shape[0],) + input_shape[2:] if not unbatched else None
        want = "() or (1,)" if unbatched else str(batched_want)
        if y.dtype.kind not in "iu":
            raise TypeError(f"{who}: target must hold integer class indices of shape {want} "
                            f"or float probabilities of the input's shape {input_shape}; got "
                            f"{y.dtype} of shape {target_shape}")
        if (tuple(y.shape) != (1,)) if unbatched else (target_shape != batched_want):
            raise ValueError(f"{who}: class-index target must have shape {want} for input of shape "
                             f"{input_shape}, got {target_shape}")
        bad = (y != self.ignore_index) & ((y < 0) | (y >= C))
        if y.size and bool(bad.any()):
            raise TargetIndexError(f"{who}: target {int(y[bad].reshape(-1)[0])} is out of bounds: class "
                             f"indices must lie in [0, {C - 1}] (or equal ignore_index={self.ignore_index})")

    def _backward(self, grad, cache):
        if isinstance(cache, IndexCrossEntropyCache):
            return cross_entropy_index_backward(grad, cache)
        return cross_entropy_backward(grad, cache)

    def extra_repr(self):
        return f"reduction={self.reduction!r}, ignore_index={self.ignore_index}, label_smoothing={self.label_smoothing}"
