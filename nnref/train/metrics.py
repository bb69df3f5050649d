r"""Metrics and evaluation: ``accuracy``, named metrics, ``evaluate`` in ``eval()`` mode."""
from __future__ import annotations

from ..checks import check_array
from .batching import batches, check_data, take_rows


def accuracy(pred, target) -> float:
    """Share of rows whose largest score is the target class. ``pred``: (N, C) scores;
    ``target``: (N,) class indices or (N, C) one-hot / probabilities."""
    check_array(pred, "accuracy", "pred")
    check_array(target, "accuracy", "target")
    if pred.ndim != 2:
        raise ValueError(f"accuracy: expected pred of shape (N, C), one score per class, got shape "
                         f"{tuple(pred.shape)}; for one score per sample compare (pred > threshold) yourself")
    if tuple(target.shape) not in ((pred.shape[0],), tuple(pred.shape)):
        raise ValueError(f"accuracy: expected target of shape ({pred.shape[0]},) or {tuple(pred.shape)}, "
                         f"got {tuple(target.shape)}")
    labels = target.argmax(axis=1) if target.ndim == 2 else target
    return float((pred.argmax(axis=1) == labels).mean())


METRICS = {"accuracy": accuracy}


def metric_functions(metrics):
    """``metrics`` (None, names, functions or a dict) as ``{name: function(pred, target) -> float}``."""
    if metrics is None:
        return {}
    if isinstance(metrics, dict):
        items = list(metrics.items())
    else:
        items = [(m, METRICS.get(m)) if isinstance(m, str) else (getattr(m, "__name__", repr(m)), m)
                 for m in metrics]
    for name, fn in items:
        if not callable(fn):
            raise ValueError(f"fit: unknown metric {name!r}; known names are {sorted(METRICS)}, "
                             "or pass a function (pred, target) -> float")
    return dict(items)


def evaluate(model, loss_fn, data, batch_size=None, metrics=None) -> dict:
    """Mean loss and metrics of ``model`` on ``data = (x, y)`` in ``eval()`` mode (the previous
    mode is put back), in batches of ``batch_size`` (default: all at once)."""
    fns = metric_functions(metrics)
    x, y = check_data(data, "val_data")
    n = x.shape[0]
    mean = getattr(loss_fn, "reduction", "mean") == "mean"
    was_training = model.training
    model.eval()
    try:
        out = dict.fromkeys(["loss", *fns], 0.0)
        for idx in batches(n, batch_size or n, shuffle=False):
            pred = model(take_rows(x, idx))
            target = take_rows(y, idx)
            share = len(idx) / n
            out["loss"] += (share if mean else 1.0) * loss_fn(pred, target)
            for name, fn in fns.items():
                out[name] += share * fn(pred, target)
        return out
    finally:
        model.train(was_training)
