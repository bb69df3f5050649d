r"""Loss functions, the maths: mean squared error, log-softmax and softmax cross-entropy.

Each is a pure pair ``xxx_forward(...) -> (loss, cache)`` / ``xxx_backward(dloss, cache)`` with
``reduction`` ``'mean'``, ``'sum'`` or ``'none'``; the Modules ``MSELoss`` and
``CrossEntropyLoss`` (torch's signatures) are in ``nnref/nn/losses.py``. A mean over nothing
(empty batch, every target ignored) is ``nan``, as in torch.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ..backend import get_array_module


def _mean_scale(count) -> float:
    """1/count for a mean; ``nan`` for a mean over nothing (torch's 0/0)."""
    return 1.0 / count if count else math.nan


# --8<-- [start:mse]
def mse_forward(input, target, reduction="mean"):
    r"""Squared error of every element; ``'mean'`` divides the sum by the ``n`` elements:

    $$
    \ell_i = (\hat y_i - y_i)^2,\qquad L = \frac{1}{n}\sum_i \ell_i
    $$
    """
    diff = input - target
    loss = diff * diff                     # ℓ_i = (ŷ_i − y_i)², per element
    if reduction == "none":
        return loss, MSECache(diff, 1.0)
    scale = _mean_scale(diff.size) if reduction == "mean" else 1.0   # 1/n ('sum': 1)
    return loss.sum() * scale, MSECache(diff, scale)                 # L = (1/n) Σ ℓ_i


class MSECache(NamedTuple):
    diff: object     # input - target, any shape
    scale: float     # 1/n for 'mean', 1 for 'sum' and 'none'


def mse_backward(dloss, cache):
    r"""``dloss``: the upstream gradient (1.0 for a reduced loss, per element for ``'none'``):

    $$
    \frac{\partial L}{\partial \hat y_i} = \frac{2}{n}(\hat y_i - y_i)
    $$
    """
    return (2 * cache.scale) * dloss * cache.diff       # (2/n)(ŷ − y), times the upstream gradient
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
    logp = log_softmax(z, axis=1)                               # log p, (N, C, d1, ...)
    a = q if weight is None else q * weight.reshape((1, -1) + (1,) * (z.ndim - 2))   # a = w q
    loss = -(a * logp).sum(axis=1)                              # ℓ_n = −Σ_c a_c log p_c, (N, d1, ...)
    if reduction == "none":
        return loss, CrossEntropyCache(xp.exp(logp), a, 1.0)
    if denominator is None:
        denominator = loss.size
    if reduction == "sum":
        return loss.sum(), CrossEntropyCache(xp.exp(logp), a, 1.0)
    if not denominator:     # every target ignored: torch's 0/0 = nan, but a zero gradient
        return loss.sum() * math.nan, CrossEntropyCache(xp.exp(logp), a, 0.0)
    return loss.sum() / denominator, CrossEntropyCache(xp.exp(logp), a, 1.0 / denominator)


class CrossEntropyCache(NamedTuple):
    p: object        # softmax(z), (N, C, d1, ...)
    a: object        # w_c * q_c: weighted target distribution, (N, C, d1, ...)
    scale: float     # 1/(sum of the kept targets' weights) for 'mean', else 1


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
    return d * (a.sum(axis=1, keepdims=True) * p - a)         # (Σ_c a_c) p − a
# --8<-- [end:cross_entropy]


# --8<-- [start:target_distribution]
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
# --8<-- [end:target_distribution]
