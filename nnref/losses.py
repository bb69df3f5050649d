r"""Loss functions with ``torch.nn``'s signatures: ``MSELoss`` and ``CrossEntropyLoss``.

``loss = fn(input, target)`` is a Python ``float`` for ``reduction='mean'`` or ``'sum'`` and an
array of per-element losses for ``reduction='none'``. ``fn.backward()`` then returns
$\partial L / \partial\,\mathrm{input}$ (input's shape and dtype). With ``reduction='none'``
``fn.backward(grad)`` takes the upstream gradient of each per-element loss (ones by default,
i.e. the gradient of their sum); with ``'mean'``/``'sum'`` an optional scalar ``grad`` scales it.

float16 inputs are computed in float32 (a float16 sum of squares overflows at 65504) and the
gradient is returned in float16. A mean over nothing (empty batch, every target ignored) is
``nan``, as in torch.
"""
from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np

from .backend import get_array_module
from .checks import check_array, check_float, need_cache
from .module import Module

REDUCTIONS = ("mean", "sum", "none")


def _mean_scale(count) -> float:
    """1/count for a mean; ``nan`` for a mean over nothing (torch's 0/0)."""
    return 1.0 / count if count else math.nan


# --8<-- [start:mse]
class MSECache(NamedTuple):
    diff: object     # input - target, any shape
    scale: float     # 1/n for 'mean', 1 for 'sum' and 'none'


def mse_forward(input, target, reduction="mean"):
    r"""Squared error of every element; ``'mean'`` divides the sum by the ``n`` elements:

    $$
    \ell_i = (\hat y_i - y_i)^2,\qquad L = \frac{1}{n}\sum_i \ell_i
    $$
    """
    diff = input - target
    loss = diff * diff                     # per-element losses
    if reduction == "none":
        return loss, MSECache(diff, 1.0)
    scale = _mean_scale(diff.size) if reduction == "mean" else 1.0
    return loss.sum() * scale, MSECache(diff, scale)


def mse_backward(dloss, cache):
    r"""``dloss``: the upstream gradient (1.0 for a reduced loss, per element for ``'none'``):

    $$
    \frac{\partial L}{\partial \hat y_i} = \frac{2}{n}(\hat y_i - y_i)
    $$
    """
    return (2 * cache.scale) * dloss * cache.diff
# --8<-- [end:mse]


# --8<-- [start:log_softmax]
def log_softmax(z, axis=-1):
    r"""Log-softmax along ``axis``, shifted by the max so ``exp`` cannot overflow:

    $$
    \log\mathrm{softmax}(z)_c = z_c - m - \log\sum_k e^{z_k - m},\quad m = \max_k z_k
    $$
    """
    xp = get_array_module(z)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
# --8<-- [end:log_softmax]


# --8<-- [start:cross_entropy]
class CrossEntropyCache(NamedTuple):
    p: object        # softmax(z), (N, C, d1, ...)
    a: object        # w_c * q_c: weighted target distribution, (N, C, d1, ...)
    scale: float     # 1/(sum of the kept targets' weights) for 'mean', else 1


def target_distribution(target, num_classes, ignore_index=-100, label_smoothing=0.0):
    r"""Class indices (N, d1, ...) as distributions $q$ (N, C, d1, ...), plus the kept mask.

    $$
    q_{c} = (1-\varepsilon)\,[c = y] + \frac{\varepsilon}{C}, \qquad q = 0 \text{ where } y = \text{ignore\_index}
    $$
    """
    xp = get_array_module(target)
    keep = target != ignore_index                               # (N, d1, ...)
    classes = xp.arange(num_classes).reshape((1, -1) + (1,) * (target.ndim - 1))
    onehot = (xp.expand_dims(target, 1) == classes)             # (N, C, d1, ...)
    q = (1 - label_smoothing) * onehot + label_smoothing / num_classes
    return q * xp.expand_dims(keep, 1), keep


def cross_entropy_forward(z, q, weight=None, reduction="mean", denominator=None):
    r"""Softmax cross-entropy of logits ``z`` (N, C, d1, ...) against distributions ``q`` of the
    same shape, class weights $w$ (C,) (ones when None):

    $$
    \ell_n = -\sum_c w_c\, q_{n,c} \log \mathrm{softmax}(z_n)_c, \qquad
    L = \frac{1}{D} \sum_n \ell_n
    $$

    For ``'mean'``, $D$ is ``denominator``: torch's $\sum_n w_{y_n}$ over the kept class-index
    targets, or the number of samples $N d_1 \cdots$ for probability targets (the default).
    """
    xp = get_array_module(z, q)
    logp = log_softmax(z, axis=1)
    a = q if weight is None else q * weight.reshape((1, -1) + (1,) * (z.ndim - 2))
    loss = -(a * logp).sum(axis=1)                              # (N, d1, ...)
    if reduction == "none":
        return loss, CrossEntropyCache(xp.exp(logp), a, 1.0)
    if denominator is None:
        denominator = loss.size
    if reduction == "sum":
        return loss.sum(), CrossEntropyCache(xp.exp(logp), a, 1.0)
    if not denominator:     # every target ignored: torch's 0/0 = nan, but a zero gradient
        return loss.sum() * math.nan, CrossEntropyCache(xp.exp(logp), a, 0.0)
    return loss.sum() / denominator, CrossEntropyCache(xp.exp(logp), a, 1.0 / denominator)


def cross_entropy_backward(dloss, cache):
    r"""Gradient with respect to the logits, for upstream ``dloss`` (scalar, or (N, d1, ...)):

    $$
    \frac{\partial \ell_n}{\partial z_{n}} = \Big(\sum_c w_c q_{n,c}\Big)\,\mathrm{softmax}(z_n) - w \odot q_n
    $$
    """
    p, a, scale = cache
    d = dloss * scale
    if getattr(d, "ndim", 0):                 # per-sample gradient: broadcast over the classes
        d = get_array_module(p).expand_dims(d, 1)
    return d * (a.sum(axis=1, keepdims=True) * p - a)
# --8<-- [end:cross_entropy]


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
            check_array(grad, f"{who}.backward", "grad")
            if tuple(grad.shape) != loss_shape:
                raise ValueError(f"{who}.backward: expected grad of the loss's shape {loss_shape}, "
                                 f"got {tuple(grad.shape)}")
            grad = grad[None] if unbatched else grad
        elif getattr(grad, "ndim", 0) != 0:
            raise ValueError(f"{who}.backward: the loss is a scalar ({self.reduction!r}); grad must "
                             f"be a number, got shape {tuple(grad.shape)}")
        dx = self._backward(grad, cache)
        return (dx[0] if unbatched else dx).astype(dtype, copy=False)


def _compute_dtype(x):
    """float16 is computed in float32 (torch accumulates half in float too)."""
    return np.float32 if x.dtype == np.float16 else x.dtype


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
        ct = _compute_dtype(input)
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
        if not 0.0 <= label_smoothing <= 1.0:
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
        C = z.shape[1]
        if self.weight is not None and self.weight.shape[0] != C:
            raise ValueError(f"{who}: weight has {self.weight.shape[0]} entries but the input has {C} classes")
        ct = _compute_dtype(input)
        z = z.astype(ct, copy=False)
        w = None if self.weight is None else self.weight.astype(ct, copy=False)
        if target.dtype.kind == "f" and tuple(target.shape) == tuple(input.shape):   # probabilities
            q = y.astype(ct, copy=False) * (1 - self.label_smoothing) + self.label_smoothing / C
            denominator = None
        else:
            self._check_indices(y, z, C)
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

    def _check_indices(self, y, z, C):
        who = "CrossEntropyLoss"
        want = (z.shape[0],) + z.shape[2:]
        if y.dtype.kind not in "iu":
            raise TypeError(f"{who}: target must hold integer class indices of shape {want} "
                            f"or float probabilities of the input's shape {tuple(z.shape)}; got "
                            f"{y.dtype} of shape {tuple(y.shape)}")
        if tuple(y.shape) != want:
            raise ValueError(f"{who}: class-index target must have shape {want} for input of shape "
                             f"{tuple(z.shape)}, got {tuple(y.shape)}")
        bad = (y != self.ignore_index) & ((y < 0) | (y >= C))
        if y.size and bool(bad.any()):
            raise ValueError(f"{who}: target {int(y[bad].reshape(-1)[0])} is out of bounds: class "
                             f"indices must lie in [0, {C - 1}] (or equal ignore_index={self.ignore_index})")

    def _backward(self, grad, cache):
        if isinstance(cache, IndexCrossEntropyCache):
            return cross_entropy_index_backward(grad, cache)
        return cross_entropy_backward(grad, cache)

    def extra_repr(self):
        return f"reduction={self.reduction!r}, ignore_index={self.ignore_index}, label_smoothing={self.label_smoothing}"


# last: the speed path imports log_softmax from this module
from .fast.losses import (IndexCrossEntropyCache, cross_entropy_index_backward,  # noqa: E402
                          cross_entropy_index_forward)
