r"""The training loop: mini-batches, gradient accumulation, penalties, clipping, early stopping.

``plain_fit(model, loss_fn, optimizer, (x, y), epochs=..., batch_size=...)`` is the loop alone
(zero_grad, forward, loss, backward, step for each shuffled batch).
``fit(model, loss_fn, optimizer, (x, y), (x_val, y_val), epochs=..., batch_size=...)`` runs the
same loop and returns a :class:`History` of per-epoch losses and metrics:

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
from .batching import accumulate_gradients, batches, check_data, take_rows
from .early_stopping import EarlyStopping, History
from .loop import (Snapshot, StepRule, TrainingDiverged, fit, plain_fit, restore, snapshot, train_epoch,
                   train_step, validate)
from .metrics import METRICS, accuracy, evaluate, metric_functions

__all__ = ["fit", "plain_fit", "train_step", "train_epoch", "validate", "snapshot", "restore", "Snapshot", "StepRule",
           "TrainingDiverged", "EarlyStopping", "History", "batches", "accumulate_gradients", "accuracy",
           "evaluate", "METRICS", "metric_functions", "check_data", "take_rows"]
