r"""The training loop: mini-batches, gradient accumulation, penalties, clipping, early stopping.

``fit(model, loss_fn, optimizer, (x, y), (x_val, y_val), epochs=..., batch_size=...)`` runs the
usual loop and returns a :class:`History` of per-epoch losses and metrics:

- each epoch shuffles the samples with a seeded :class:`nnref.backend.RNG` (:func:`batches`);
- ``accumulation_steps=k`` runs ``k`` micro-batches forward and backward before one optimiser
  step, each ``dL/dpred`` scaled by its share of the samples, which gives exactly the gradient of
  one batch ``k`` times larger (:func:`accumulate_gradients`);
- ``penalty`` (an :class:`nnref.regularization.L1Penalty` / ``L2Penalty`` or a list of them)
  adds its gradient once per step, ``clip_grad_norm`` then bounds the total gradient norm;
- validation runs in ``model.eval()`` mode; :class:`EarlyStopping` watches the validation loss;
- a loss, gradient or weight that stops being finite raises :class:`TrainingDiverged` naming the
  epoch and step, with weights, buffers and optimiser state put back to the end of the last
  finished step; Ctrl-C does the same and re-raises ``KeyboardInterrupt`` with ``exc.history``;
- a tqdm progress bar is shown only when stdout and stderr are terminals (``progress=None``).
"""
from __future__ import annotations

import math
import sys
from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from .backend import RNG, get_array_module
from .clip import clip_grad_norm as _clip_grad_norm
from .checks import check_array
from .module import Module


class TrainingDiverged(FloatingPointError):
    """The loss, a gradient or a weight became NaN or infinite during :func:`fit`.

    ``epoch`` and ``step`` say where (both count from 1); ``history`` holds the finished epochs.
    """

    def __init__(self, message, epoch, step, history=None):
        super().__init__(message)
        self.epoch, self.step, self.history = epoch, step, history


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


def _metric_fns(metrics):
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


# --8<-- [start:early_stopping]
class EarlyStopping:
    """Stop when the *validation* loss has not improved for ``patience`` epochs.

    An epoch improves when ``value < best - min_delta``. With ``restore_best_weights`` a copy of
    the state at the best epoch is kept, and :meth:`restore` (called by :func:`fit` when training
    ends, stopped early or not) loads it back.
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, restore_best_weights: bool = True):
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f"EarlyStopping: patience must be an integer >= 1, got {patience!r}")
        if not min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta!r}")
        self.patience, self.min_delta, self.restore_best_weights = patience, min_delta, restore_best_weights
        self.reset()

    def reset(self):
        self.best, self.best_epoch, self.best_state = math.inf, None, None
        self.epoch, self.wait, self.stopped_epoch = 0, 0, None

    def update(self, value: float, model: Module | None = None) -> bool:
        """Record one epoch's validation loss; ``True`` means: stop now."""
        self.epoch += 1
        if value < self.best - self.min_delta:   # NaN never improves
            self.best, self.best_epoch, self.wait = float(value), self.epoch, 0
            if self.restore_best_weights and model is not None:
                self.best_state = {k: v.copy() for k, v in model.state_dict().items()}
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = self.epoch
            return True
        return False

    def restore(self, model: Module) -> bool:
        """Load the best epoch's weights into ``model``; ``False`` when there is nothing to load."""
        if not (self.restore_best_weights and self.best_state is not None):
            return False
        model.load_state_dict(self.best_state)
        return True
# --8<-- [end:early_stopping]


class History:
    """Per-epoch records of :func:`fit`: ``history["train_loss"]``, ``history["val_loss"]``,
    ``history["train_accuracy"]`` ... (lists, one value per finished epoch), plus ``steps``
    (optimiser steps taken), ``stopped_epoch`` and ``best_epoch`` (from early stopping, else None).
    """

    def __init__(self):
        self.records: dict[str, list] = {}
        self.steps, self.stopped_epoch, self.best_epoch = 0, None, None

    def append(self, **values):
        for key, value in values.items():
            self.records.setdefault(key, []).append(float(value))

    def __getitem__(self, key):
        return self.records[key]

    def __contains__(self, key):
        return key in self.records

    def keys(self):
        return self.records.keys()

    @property
    def epochs(self) -> int:
        return len(self.records.get("train_loss", []))

    @property
    def train_loss(self):
        return self.records.get("train_loss", [])

    @property
    def val_loss(self):
        return self.records.get("val_loss", [])

    def __repr__(self):
        return (f"History(epochs={self.epochs}, steps={self.steps}, keys={list(self.records)}, "
                f"stopped_epoch={self.stopped_epoch}, best_epoch={self.best_epoch})")


def _check_data(data, who):
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


def _take(a, idx):
    """Rows ``idx`` (host int64) of ``a``, on ``a``'s device."""
    return a[get_array_module(a).asarray(idx)]


def _all_finite(arrays) -> bool:
    return all(bool(get_array_module(a).isfinite(a).all()) for a in arrays)


def evaluate(model, loss_fn, data, batch_size=None, metrics=None) -> dict:
    """Mean loss and metrics of ``model`` on ``data = (x, y)`` in ``eval()`` mode (the previous
    mode is put back), in batches of ``batch_size`` (default: all at once)."""
    fns = _metric_fns(metrics)
    x, y = _check_data(data, "val_data")
    n = x.shape[0]
    mean = getattr(loss_fn, "reduction", "mean") == "mean"
    was_training = model.training
    model.eval()
    try:
        out = dict.fromkeys(["loss", *fns], 0.0)
        for idx in batches(n, batch_size or n, shuffle=False):
            pred = model(_take(x, idx))
            target = _take(y, idx)
            share = len(idx) / n
            out["loss"] += (share if mean else 1.0) * loss_fn(pred, target)
            for name, fn in fns.items():
                out[name] += share * fn(pred, target)
        return out
    finally:
        model.train(was_training)


def _progress_enabled(progress) -> bool:
    if progress is None:   # auto: only for a person watching a terminal
        return all(getattr(s, "isatty", lambda: False)() for s in (sys.stdout, sys.stderr))
    return bool(progress)



# --8<-- [start:train_step]
class StepRule(NamedTuple):
    """What every optimiser step of :func:`fit` does besides forward and backward."""
    penalties: list          # L1Penalty / L2Penalty objects: their gradients are added
    clip_grad_norm: float | None
    metrics: dict            # name -> function(pred, target)


def train_step(model, loss_fn, optimizer, micro_batches, rule: StepRule):
    """One optimiser step on ``micro_batches``. Returns ``(loss, metrics, problem)``: ``problem``
    is None, or says what stopped being finite (then the caller must undo the step)."""
    model.zero_grad()
    loss, scores = accumulate_gradients(model, loss_fn, micro_batches, rule.metrics)
    for pen in rule.penalties:
        pen.backward()
    if not math.isfinite(loss):
        return loss, scores, f"the training loss became {loss}"
    if not _all_finite(p.grad for p in model.parameters()):
        return loss, scores, "a gradient became NaN or infinite"
    if rule.clip_grad_norm is not None:
        _clip_grad_norm(model.parameters(), rule.clip_grad_norm)
    optimizer.step()
    if not _all_finite(p.data for p in model.parameters()):
        return loss, scores, "a weight became NaN or infinite after the update"
    return loss, scores, None
# --8<-- [end:train_step]


# --8<-- [start:snapshot]
class Snapshot(NamedTuple):
    """Everything a step changes: parameters and buffers (``state_dict``) and the optimiser's state."""
    step: int                # the state *before* this optimiser step (counting from 1)
    model: dict
    optimizer: dict


def snapshot(model, optimizer, step) -> Snapshot:
    return Snapshot(step, {k: v.copy() for k, v in model.state_dict().items()}, optimizer.state_dict())


def restore(model, optimizer, saved: Snapshot):
    """Put back parameters, buffers (BatchNorm's running statistics) and optimiser state together."""
    model.load_state_dict(saved.model)
    optimizer.load_state_dict(saved.optimizer)
# --8<-- [end:snapshot]


# --8<-- [start:train_epoch]
def train_epoch(model, loss_fn, optimizer, data, steps, rule, history, epoch, bar):
    """One epoch: ``steps`` is a list of index-array lists, one list (of micro-batches) per step.

    Before each step the model and optimiser state is saved. A step that makes the loss, a
    gradient or a weight non-finite, or that Ctrl-C interrupts, is undone: the state goes back to
    the end of the last finished step, then :class:`TrainingDiverged` (or the interrupt) is raised.
    Returns the epoch's size-weighted mean loss and metrics, keyed ``train_<name>``.
    """
    x, y = data
    mean = getattr(loss_fn, "reduction", "mean") == "mean"
    sums = dict.fromkeys(["loss", *rule.metrics], 0.0)
    for b, group in enumerate(steps, 1):
        before = snapshot(model, optimizer, history.steps + 1)
        micro = [(_take(x, idx), _take(y, idx)) for idx in group]
        try:
            loss, scores, problem = train_step(model, loss_fn, optimizer, micro, rule)
        except KeyboardInterrupt:
            restore(model, optimizer, before)     # never leave a half-updated model behind
            raise
        if problem:
            restore(model, optimizer, before)
            raise _diverged(problem, epoch, before.step, b, len(steps), history)
        history.steps = before.step
        share = sum(len(idx) for idx in group) / x.shape[0]
        sums["loss"] += (share if mean else 1.0) * loss     # the epoch's loss, reduced like loss_fn
        for name in rule.metrics:
            sums[name] += share * scores[name]
        bar.update(1)
        bar.set_postfix(epoch=epoch, loss=f"{loss:.4g}", refresh=False)
    return {f"train_{k}": v for k, v in sums.items()}
# --8<-- [end:train_epoch]


def _diverged(problem, epoch, step, batch, per_epoch, history):
    where = f"epoch {epoch}, step {step} (batch {batch} of {per_epoch} in the epoch)"
    if step > 1:
        kept = (f"weights, buffers and optimiser state are back to their values after step {step - 1}, "
                "the last step that finished with finite values")
    else:
        kept = "no step had finished, so the weights are the initial ones"
    return TrainingDiverged(f"fit: {problem} at {where}; {kept}. Try a smaller learning rate "
                            "or clip_grad_norm.", epoch, step, history)


# --8<-- [start:validate]
def validate(model, loss_fn, val_data, batch_size, rule, early_stopping):
    """Validation loss and metrics (``val_<name>``) in ``eval()`` mode, and whether to stop now."""
    val = evaluate(model, loss_fn, val_data, batch_size, rule.metrics)
    stop = early_stopping is not None and early_stopping.update(val["loss"], model)
    return {f"val_{k}": v for k, v in val.items()}, stop
# --8<-- [end:validate]


def _check_fit_arguments(train_data, val_data, epochs, batch_size, accumulation_steps, early_stopping,
                         clip_grad_norm):
    _check_data(train_data, "train_data")
    if early_stopping is not None and val_data is None:
        raise ValueError("fit: early_stopping watches the validation loss; pass val_data")
    if val_data is not None:
        _check_data(val_data, "val_data")
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be an integer >= 0, got {epochs!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"fit: batch_size must be an integer >= 1, got {batch_size!r}")
    if not isinstance(accumulation_steps, int) or accumulation_steps < 1:
        raise ValueError(f"fit: accumulation_steps must be an integer >= 1, got {accumulation_steps!r}")
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise ValueError(f"fit: clip_grad_norm must be > 0, got {clip_grad_norm!r}")


# --8<-- [start:fit]
def fit(model, loss_fn, optimizer, train_data, val_data=None, *, epochs: int = 10, batch_size: int = 32,
        accumulation_steps: int = 1, shuffle: bool = True, seed=None, early_stopping=None,
        clip_grad_norm=None, penalty=None, metrics=None, progress=None):
    """Train ``model`` for ``epochs`` passes over ``train_data = (x, y)``; returns a :class:`History`.

    Each step: :func:`train_step` on ``accumulation_steps`` micro-batches of ``batch_size``.
    Each epoch: :func:`train_epoch`, then :func:`validate` on ``val_data`` (if given).
    Divergence: :class:`TrainingDiverged`, model and optimiser rolled back (see :func:`train_epoch`).
    ``KeyboardInterrupt`` (Ctrl-C): the interrupted step is undone (with early stopping the best
    epoch's weights are loaded) and the interrupt is re-raised carrying ``exc.history``, the
    :class:`History` of the finished epochs.
    """
    _check_fit_arguments(train_data, val_data, epochs, batch_size, accumulation_steps, early_stopping,
                         clip_grad_norm)
    penalties = [] if penalty is None else list(penalty) if isinstance(penalty, (list, tuple)) else [penalty]
    rule = StepRule(penalties, clip_grad_norm, _metric_fns(metrics))
    n, rng, history = train_data[0].shape[0], RNG(seed), History()
    if early_stopping is not None:
        early_stopping.reset()
    per_epoch = len(batches(n, batch_size, shuffle=False)[::accumulation_steps])
    bar = tqdm(total=epochs * per_epoch, disable=not _progress_enabled(progress), unit="step",
               leave=False, file=sys.stderr)
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            order = batches(n, batch_size, shuffle=shuffle, seed=rng)
            steps = [order[i:i + accumulation_steps] for i in range(0, len(order), accumulation_steps)]
            record = train_epoch(model, loss_fn, optimizer, train_data, steps, rule, history, epoch, bar)
            stop = False
            if val_data is not None:
                val, stop = validate(model, loss_fn, val_data, batch_size, rule, early_stopping)
                record.update(val)
            history.append(**record)
            if stop:
                break
    except KeyboardInterrupt as exc:
        _interrupted(model, history, early_stopping, exc)
        raise
    finally:
        bar.close()
    _finish(model, history, early_stopping)
    return history
# --8<-- [end:fit]


def _interrupted(model, history, early_stopping, exc):
    _finish(model, history, early_stopping)
    exc.history = history


def _finish(model, history, early_stopping):
    if early_stopping is not None:
        early_stopping.restore(model)
        history.stopped_epoch, history.best_epoch = early_stopping.stopped_epoch, early_stopping.best_epoch
