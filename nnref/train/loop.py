r"""The loop itself: one step, snapshots for rolling back, one epoch, validation, ``fit``."""
from __future__ import annotations

import math
import sys
from typing import NamedTuple

from ..backend import RNG, get_array_module
from ..checks import check_int, check_real
from ..clip import clip_grad_norm as _clip_grad_norm
from .batching import accumulate_gradients, batches, check_data, take_rows
from .early_stopping import History
from .metrics import evaluate, metric_functions


class TrainingDiverged(FloatingPointError):
    """The loss, a gradient or a weight became NaN or infinite during :func:`fit`.

    ``epoch`` and ``step`` say where (both count from 1); ``history`` holds the finished epochs.
    """

    def __init__(self, message, epoch, step, history=None):
        super().__init__(message)
        self.epoch, self.step, self.history = epoch, step, history


def _all_finite(arrays) -> bool:
    return all(bool(get_array_module(a).isfinite(a).all()) for a in arrays)


def _progress_enabled(progress) -> bool:
    if progress is None:   # auto: only for a person watching a terminal
        return all(getattr(s, "isatty", lambda: False)() for s in (sys.stdout, sys.stderr))
    return bool(progress)


class _NoBar:
    """What ``fit`` calls on its progress bar, doing nothing: no bar was asked for."""

    def update(self, n=1):
        pass

    def set_postfix(self, **kwargs):
        pass

    def close(self):
        pass


def progress_bar(total: int, progress):
    """tqdm's bar over ``total`` steps when ``progress`` asks for one (None: only on a terminal).

    tqdm is imported only here, so ``import nnref`` works without it; asking for a bar
    (``progress=True``) without tqdm installed is an ``ImportError`` that says so.
    """
    if not _progress_enabled(progress):
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        if progress is None:
            return _NoBar()
        raise ImportError("fit(progress=True) draws its bar with tqdm: pip install tqdm") from None
    return tqdm(total=total, unit="step", leave=False, file=sys.stderr)


# --8<-- [start:plain_fit]
def plain_fit(model, loss_fn, optimizer, train_data, *, epochs=10, batch_size=32, seed=None):
    """The training loop alone (:func:`fit` without its options takes the same steps);
    returns each epoch's mean training loss."""
    x, y = train_data
    rng = RNG(seed)                                    # one seeded stream: a new order every epoch
    losses = []
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for idx in batches(x.shape[0], batch_size, seed=rng):
            xb, yb = take_rows(x, idx), take_rows(y, idx)
            optimizer.zero_grad()                      # 1. clear the last step's gradients
            pred = model(xb)                           # 2. forward
            loss = loss_fn(pred, yb)                   # 3. the batch's loss L_B
            model.backward(loss_fn.backward())         # 4. backward: ∂L_B/∂θ into every p.grad
            optimizer.step()                           # 5. update, e.g. θ ← θ − η ∂L_B/∂θ
            total += loss * len(idx)
        losses.append(total / x.shape[0])
    return losses
# --8<-- [end:plain_fit]


# --8<-- [start:train_step]
def train_step(model, loss_fn, optimizer, micro_batches, rule):
    """One optimiser step on ``micro_batches`` under ``rule`` (a :class:`StepRule`). Returns
    ``(loss, metrics, problem)``: ``problem`` is None, or says what stopped being finite (then
    the caller must undo the step)."""
    model.zero_grad()
    loss, scores = accumulate_gradients(model, loss_fn, micro_batches, rule.metrics)
    for pen in rule.penalties:
        pen.backward()
    if not math.isfinite(loss):
        return loss, scores, f"the training loss became {loss}"
    if not _all_finite(p.grad for p in model.parameters() if p.grad is not None):
        return loss, scores, "a gradient became NaN or infinite"
    if rule.clip_grad_norm is not None:
        _clip_grad_norm(model.parameters(), rule.clip_grad_norm)
    optimizer.step()
    if not _all_finite(p.data for p in model.parameters()):
        return loss, scores, "a weight became NaN or infinite after the update"
    return loss, scores, None


class StepRule(NamedTuple):
    """What every optimiser step of :func:`fit` does besides forward and backward."""
    penalties: list          # L1Penalty / L2Penalty objects: their gradients are added
    clip_grad_norm: float | None
    metrics: dict            # name -> function(pred, target)
# --8<-- [end:train_step]


# --8<-- [start:snapshot]
def snapshot(model, optimizer, step):
    """A :class:`Snapshot` of everything a step changes, taken before optimiser step ``step``."""
    return Snapshot(step, {k: v.copy() for k, v in model.state_dict().items()}, optimizer.state_dict())


def restore(model, optimizer, saved):
    """Put back parameters, buffers (BatchNorm's running statistics) and optimiser state together."""
    model.load_state_dict(saved.model)
    optimizer.load_state_dict(saved.optimizer)


class Snapshot(NamedTuple):
    """Everything a step changes: parameters and buffers (``state_dict``) and the optimiser's state."""
    step: int                # the state *before* this optimiser step (counting from 1)
    model: dict
    optimizer: dict
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
        micro = [(take_rows(x, idx), take_rows(y, idx)) for idx in group]
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


def _check_fit_parts(model, loss_fn, optimizer, early_stopping, penalties):
    r"""``TypeError`` for a part of the wrong kind, ``ValueError`` for an optimiser that holds none
    of the model's parameters (it would train nothing while ``fit`` reports losses)."""
    if not (callable(model) and hasattr(model, "backward") and hasattr(model, "parameters")):
        raise TypeError(f"fit: model must be an nnref Module, got {type(model).__name__}")
    if not (callable(loss_fn) and hasattr(loss_fn, "backward")):
        raise TypeError(f"fit: loss_fn must be an nnref loss such as nnref.CrossEntropyLoss(), "
                        f"got {type(loss_fn).__name__}")
    groups = getattr(optimizer, "param_groups", None)
    if isinstance(optimizer, type) or not isinstance(groups, list) or not hasattr(optimizer, "step"):
        raise TypeError("fit: optimizer must be an optimiser built on the model, e.g. "
                        f"nnref.SGD(model.parameters(), lr=0.1), got {getattr(optimizer, '__name__', optimizer)!r}")
    held = {id(p) for g in groups for p in g["params"]}
    trainable = [p for p in model.parameters() if p.requires_grad]
    if trainable and not any(id(p) in held for p in trainable):
        raise ValueError("fit: the optimizer holds none of the model's parameters; build it from "
                         "model.parameters()")
    for what, part, need, kind in [("early_stopping", early_stopping, "reset", "EarlyStopping"),
                                   *(("penalty", p, "backward", "L1Penalty or L2Penalty") for p in penalties)]:
        if part is not None and not hasattr(part, need):
            raise TypeError(f"fit: {what} must be an nnref {kind}, got {type(part).__name__}")


def _check_fit_arguments(train_data, val_data, epochs, batch_size, accumulation_steps, early_stopping,
                         clip_grad_norm, seed=None):
    check_data(train_data, "train_data")
    if early_stopping is not None and val_data is None:
        raise ValueError("fit: early_stopping watches the validation loss; pass val_data")
    if val_data is not None:
        check_data(val_data, "val_data")
    check_int(epochs, "epochs", "fit", 0)
    check_int(batch_size, "batch_size", "fit", 1)
    check_int(accumulation_steps, "accumulation_steps", "fit", 1)
    if seed is not None:
        check_int(seed, "seed", "fit", 0)
    if clip_grad_norm is not None and not check_real(clip_grad_norm, "clip_grad_norm", "fit") > 0:
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
                         clip_grad_norm, seed)
    penalties = [] if penalty is None else list(penalty) if isinstance(penalty, (list, tuple)) else [penalty]
    _check_fit_parts(model, loss_fn, optimizer, early_stopping, penalties)
    rule = StepRule(penalties, clip_grad_norm, metric_functions(metrics))
    n, rng, history = train_data[0].shape[0], RNG(seed), History()
    if early_stopping is not None:
        early_stopping.reset()
    per_epoch = len(batches(n, batch_size, shuffle=False)[::accumulation_steps])
    bar = progress_bar(epochs * per_epoch, progress)
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
