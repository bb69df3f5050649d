r"""Mini-batches: shuffled index batches, gradient accumulation over micro-batches, data checks."""
from __future__ import annotations

import numpy as np

from ..backend import RNG, get_array_module
from ..checks import check_array


# --8<-- [start:batches]
def batches(n: int, batch_size: int, shuffle: bool = True, seed=None, drop_last: bool = False):
    """Split ``range(n)`` into index arrays of ``batch_size`` (the last one may be smaller).

    Every index appears exactly once. ``shuffle=True`` permutes them first with ``seed`` (an int,
    ``None`` for fresh entropy, or an :class:`~nnref.backend.RNG` whose stream continues, which
    is how :func:`fit` gets a new order each epoch). Indices are host (NumPy) int64 arrays.
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"batches: n must be an integer >= 0, got {n!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batches: batch_size must be an integer >= 1, got {batch_size!r}")
    if shuffle:
        rng = seed if isinstance(seed, RNG) else RNG(seed)
        order = rng.permutation(n)
    else:
        order = np.arange(n)
    stop = n - n % batch_size if drop_last else n
    return [order[i:i + batch_size] for i in range(0, stop, batch_size)]
# --8<-- [end:batches]


# --8<-- [start:accumulate]
def accumulate_gradients(model, loss_fn, micro_batches, metrics=None):
    r"""Forward and backward over ``micro_batches = [(x_1, y_1), ..., (x_k, y_k)]``, adding into
    every ``p.grad`` the gradient of the loss of their union (a batch of $N = \sum_i n_i$ rows).

    A mean-reduced loss of the union is the size-weighted mean of the micro-batch losses, and
    differentiation is linear, so

    $$
    L = \sum_{i=1}^{k} \frac{n_i}{N} L_i \quad\Longrightarrow\quad
    \frac{\partial L}{\partial \theta} = \sum_{i=1}^{k} \frac{n_i}{N}
    \frac{\partial L_i}{\partial \theta}:
    $$

    each $\partial L_i/\partial \hat y$ is scaled by $n_i/N$ ($=1/k$ for equal sizes) before
    ``model.backward``. With ``reduction='sum'`` the weights are 1. Returns
    ``(L, {name: size-weighted mean of metric})``. ``p.grad`` is not cleared first.
    """
    metrics = metrics or {}
    total = sum(x.shape[0] for x, _ in micro_batches)
    mean = getattr(loss_fn, "reduction", "mean") == "mean"
    loss, scores = 0.0, dict.fromkeys(metrics, 0.0)
    for x, y in micro_batches:
        share = x.shape[0] / total
        weight = share if mean else 1.0
        pred = model(x)
        loss += weight * loss_fn(pred, y)
        model.backward(loss_fn.backward() * weight)
        for name, fn in metrics.items():
            scores[name] += share * fn(pred, y)
    return loss, scores
# --8<-- [end:accumulate]


def check_data(data, who):
    """``data = (x, y)`` as two arrays with the same number of rows (at least one); ``who`` names it."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError(f"fit: {who} must be a pair (x, y) of arrays, got {type(data).__name__}")
    x, y = data
    check_array(x, "fit", f"{who}'s inputs")
    check_array(y, "fit", f"{who}'s targets")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"fit: {who} has {x.shape[0]} inputs but {y.shape[0]} targets")
    if x.shape[0] == 0:
        raise ValueError(f"fit: {who} is empty")
    return x, y


def take_rows(a, idx):
    """Rows ``idx`` (host int64) of ``a``, on ``a``'s device."""
    return a[get_array_module(a).asarray(idx)]
