"""Loss functions: ``loss = fn(pred, target)`` is a Python float, ``fn.backward()`` is dL/dpred."""
from __future__ import annotations

from .backend import get_array_module
from .checks import check_float, need_cache

REDUCTIONS = ("mean", "sum")


# --8<-- [start:mse]
def mse_forward(pred, target, reduction="mean"):
    """Mean squared error over all ``n`` elements (``reduction='sum'`` drops the 1/n):

    $$
    L = \\frac{1}{n}\\sum_i (\\hat y_i - y_i)^2
    $$
    """
    diff = pred - target
    total = (diff * diff).sum()
    scale = 1.0 / diff.size if reduction == "mean" else 1.0
    return total * scale, (diff, scale)


def mse_backward(cache):
    """Gradient of the mean squared error:

    $$
    \\frac{\\partial L}{\\partial \\hat y_i} = \\frac{2}{n}(\\hat y_i - y_i)
    $$
    """
    diff, scale = cache
    return (2 * scale) * diff
# --8<-- [end:mse]


# --8<-- [start:cross_entropy]
def log_softmax(z, axis=-1):
    """Log-softmax along ``axis``, shifted by the max so ``exp`` cannot overflow:

    $$
    \\log\\mathrm{softmax}(z)_c = z_c - m - \\log\\sum_k e^{z_k - m},\\quad m = \\max_k z_k
    $$

    Subtracting the max keeps ``exp`` from overflowing even for logits of size 1e4.
    """
    xp = get_array_module(z)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


def cross_entropy_forward(logits, target, reduction="mean"):
    """Softmax cross-entropy over classes. ``logits`` (N, C); ``target`` (N,) class indices
    or (N, C) class probabilities.

    $$
    L = -\\frac1N \\sum_n \\log \\mathrm{softmax}(z_n)_{y_n}
    $$
    """
    xp = get_array_module(logits, target)
    logp = log_softmax(logits, axis=1)
    n = logits.shape[0]
    if target.ndim == 1:  # class indices: pick log p of the right class, no one-hot matrix
        picked = logp[xp.arange(n), target]
    else:                 # class probabilities
        picked = (target * logp).sum(axis=1)
    scale = 1.0 / n if reduction == "mean" else 1.0
    return -picked.sum() * scale, (logp, target, scale)


def cross_entropy_backward(cache):
    """Gradient of the cross-entropy with respect to the logits:

    $$
    \\frac{\\partial L}{\\partial z_n} = \\frac1N\\left(\\mathrm{softmax}(z_n) - \\mathrm{onehot}(y_n)\\right)
    $$
    """
    logp, target, scale = cache
    xp = get_array_module(logp)
    grad = xp.exp(logp)
    if target.ndim == 1:
        grad[xp.arange(grad.shape[0]), target] -= 1
    else:
        grad -= target
    return grad * scale
# --8<-- [end:cross_entropy]


class _Loss:
    def __init__(self, reduction: str = "mean"):
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction
        self._cache = None

    def __call__(self, pred, target):
        return self.forward(pred, target)

    def backward(self):
        """dL/dpred for the last call, with pred's shape and dtype."""
        return self._backward(need_cache(self._cache, type(self).__name__))


class MSELoss(_Loss):
    """``torch.nn.MSELoss(reduction='mean')``: mean squared error over all elements."""

    def forward(self, pred, target):
        check_float(pred, "MSELoss")
        if tuple(pred.shape) != tuple(target.shape):
            raise ValueError(f"MSELoss: pred has shape {tuple(pred.shape)} but target has shape "
                             f"{tuple(target.shape)}; they must match")
        loss, self._cache = mse_forward(pred, target.astype(pred.dtype, copy=False), self.reduction)
        return float(loss)

    def _backward(self, cache):
        return mse_backward(cache)


class CrossEntropyLoss(_Loss):
    """``torch.nn.CrossEntropyLoss(reduction='mean')`` on logits (N, C) and integer targets (N,)
    or probability targets (N, C)."""

    def forward(self, logits, target):
        check_float(logits, "CrossEntropyLoss")
        if logits.ndim != 2:
            raise ValueError(f"CrossEntropyLoss: expected logits of shape (N, C), got {tuple(logits.shape)}")
        n, c = logits.shape
        if target.ndim == 1:
            if target.dtype.kind not in "iu":
                raise TypeError(f"CrossEntropyLoss: class-index targets must be integers, got {target.dtype}")
            if target.shape[0] != n:
                raise ValueError(f"CrossEntropyLoss: {n} rows of logits but {target.shape[0]} targets")
            if n and (int(target.min()) < 0 or int(target.max()) >= c):
                raise ValueError(f"CrossEntropyLoss: target classes must lie in [0, {c - 1}]")
        elif tuple(target.shape) == (n, c):
            check_float(target, "CrossEntropyLoss (probability target)")
            target = target.astype(logits.dtype, copy=False)
        else:
            raise ValueError(f"CrossEntropyLoss: target must have shape ({n},) or ({n}, {c}), "
                             f"got {tuple(target.shape)}")
        loss, self._cache = cross_entropy_forward(logits, target, self.reduction)
        return float(loss)

    def _backward(self, cache):
        return cross_entropy_backward(cache)
