r"""Early stopping on the validation loss, and the per-epoch ``History`` that :func:`fit` returns."""
from __future__ import annotations

import math

from ..module import Module


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
        if value < self.best - self.min_delta:   # V_t < V* − δ: a new best (NaN never is)
            self.best, self.best_epoch, self.wait = float(value), self.epoch, 0
            if self.restore_best_weights and model is not None:
                self.best_state = {k: v.copy() for k, v in model.state_dict().items()}
            return False
        self.wait += 1                           # one more epoch without a new best
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
