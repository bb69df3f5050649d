"""The training loop: batching, gradient accumulation, early stopping, the NaN guard, clipping,
the progress bar, and whole runs against a hand-written PyTorch loop."""
import io
import math
import sys

import numpy as np
import pytest

import nnref
from nnref import backend
from nnref.clip import clip_grad_norm, clip_grad_value
from nnref.train import (EarlyStopping, History, TrainingDiverged, accumulate_gradients, accuracy,
                         batches, evaluate, fit, plain_fit)
from tests.parity import assert_close, dev


def _mlp(dtype=np.float64, d_in=5, hidden=7, d_out=3):
    return nnref.Sequential(nnref.Linear(d_in, hidden, dtype=dtype), nnref.Tanh(),
                            nnref.Linear(hidden, d_out, dtype=dtype))


def _data(n=24, d_in=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return dev(rng.normal(size=(n, d_in))), dev(rng.integers(0, classes, n))


def _grads(model):
    return [backend.asnumpy(p.grad).copy() for p in model.parameters()]


def _weights(model):
    return [backend.asnumpy(p.data).copy() for p in model.parameters()]


# -- batches ------------------------------------------------------------------------------------

@pytest.mark.parametrize("n,bs", [(10, 3), (12, 4), (1, 5), (7, 1)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_batches_cover_every_index_once(n, bs, shuffle):
    parts = batches(n, bs, shuffle=shuffle, seed=3)
    assert sorted(np.concatenate(parts).tolist()) == list(range(n))
    assert [len(p) for p in parts] == [bs] * (n // bs) + ([n % bs] if n % bs else [])
    assert all(p.dtype == np.int64 for p in parts)


def test_batches_drop_last_and_order():
    assert [p.tolist() for p in batches(7, 3, shuffle=False)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [p.tolist() for p in batches(7, 3, shuffle=False, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]


def test_batches_are_seeded():
    a = np.concatenate(batches(50, 8, seed=1))
    b = np.concatenate(batches(50, 8, seed=1))
    c = np.concatenate(batches(50, 8, seed=2))
    assert (a == b).all() and not (a == c).all()
    assert (a == np.random.default_rng(1).permutation(50)).all()   # the seed's NumPy permutation
    # an RNG continues its stream: a new order each epoch, every index once in each
    rng = backend.RNG(1)
    e1, e2 = np.concatenate(batches(50, 8, seed=rng)), np.concatenate(batches(50, 8, seed=rng))
    assert (e1 == a).all() and not (e1 == e2).all() and sorted(e2.tolist()) == list(range(50))


@pytest.mark.parametrize("args", [(-1, 2), (5, 0), (5, 2.5), (2.0, 1)])
def test_batches_reject_bad_sizes(args):
    with pytest.raises(ValueError, match="batches"):
        batches(*args)


# -- gradient accumulation ------------------------------------------------------------------------

@pytest.mark.parametrize("sizes", [[6, 6, 6, 6], [5, 7, 12], [1, 23]])
def test_accumulation_equals_full_batch_gradient(torch, sizes):
    x, y = _data(24)
    model, loss_fn = _mlp(), nnref.CrossEntropyLoss()
    model.zero_grad()
    edges = np.cumsum([0] + sizes)
    micro = [(x[a:b], y[a:b]) for a, b in zip(edges[:-1], edges[1:])]
    loss, _ = accumulate_gradients(model, loss_fn, micro)
    # independent: the full batch through torch autograd on the same weights
    tm = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3)).double()
    tm.load_state_dict({k: torch.tensor(backend.asnumpy(v)) for k, v in model.state_dict().items()})
    tloss = torch.nn.functional.cross_entropy(tm(torch.tensor(backend.asnumpy(x))),
                                              torch.tensor(backend.asnumpy(y)))
    tloss.backward()
    assert abs(loss - tloss.item()) < 1e-12
    for g, tp in zip(_grads(model), tm.parameters()):
        assert np.abs(g - tp.grad.numpy()).max() < 1e-12


def test_accumulation_with_sum_reduction_adds_gradients():
    x, y = _data(12)
    model, loss_fn = _mlp(), nnref.CrossEntropyLoss(reduction="sum")
    model.zero_grad()
    accumulate_gradients(model, loss_fn, [(x[:12], y[:12])])
    full = _grads(model)
    model.zero_grad()
    loss, _ = accumulate_gradients(model, loss_fn, [(x[:5], y[:5]), (x[5:], y[5:])])
    for a, b in zip(_grads(model), full):
        assert np.abs(a - b).max() < 1e-12


@pytest.mark.parametrize("shuffle", [False, True])
def test_fit_with_accumulation_equals_fit_with_the_larger_batch(shuffle):
    x, y = _data(30)
    runs = []
    for bs, k in [(12, 1), (4, 3), (3, 4)]:
        nnref.manual_seed(5)
        model = _mlp()
        opt = nnref.SGD(model.parameters(), lr=0.3, momentum=0.9)
        h = fit(model, nnref.CrossEntropyLoss(), opt, (x, y), epochs=3, batch_size=bs,
                accumulation_steps=k, shuffle=shuffle, seed=7)
        runs.append((_weights(model), h))
    (w0, h0), *others = runs
    for w, h in others:
        assert h.steps == h0.steps == 3 * 3   # 30 samples in steps of 12, 12, 6
        for a, b in zip(w, w0):
            assert np.abs(a - b).max() < 1e-12
        assert max(abs(a - b) for a, b in zip(h.train_loss, h0.train_loss)) < 1e-12


@pytest.mark.parametrize("make_opt", [lambda ps: nnref.SGD(ps, lr=0.3, momentum=0.9),
                                      lambda ps: nnref.Adam(ps, lr=0.02)])
def test_plain_fit_takes_the_same_steps_as_fit(make_opt):
    """The plain loop of the training page is fit without its options: same seed, same weights."""
    x, y = _data(30)
    runs = []
    for train in (plain_fit, fit):
        nnref.manual_seed(3)
        model = nnref.Sequential(nnref.Linear(5, 8, dtype=np.float64), nnref.BatchNorm1d(8, dtype=np.float64),
                                 nnref.ReLU(), nnref.Dropout(0.2), nnref.Linear(8, 3, dtype=np.float64))
        out = train(model, nnref.CrossEntropyLoss(), make_opt(model.parameters()), (x, y),
                    epochs=4, batch_size=7, seed=11)
        runs.append((out if train is plain_fit else out.train_loss, model.state_dict()))
    (plain_losses, plain_state), (fit_losses, fit_state) = runs
    assert len(plain_losses) == 4
    assert np.allclose(plain_losses, fit_losses, rtol=1e-12)
    for key in fit_state:
        assert (backend.asnumpy(plain_state[key]) == backend.asnumpy(fit_state[key])).all(), key


def test_batchnorm_breaks_the_accumulation_identity_in_training_mode():
    """Micro-batches see their own batch statistics: the gradients differ (the page's claim)."""
    x, y = _data(24)
    model = nnref.Sequential(nnref.Linear(5, 7, dtype=np.float64), nnref.BatchNorm1d(7, dtype=np.float64),
                             nnref.Tanh(), nnref.Linear(7, 3, dtype=np.float64))
    diffs = {}
    for mode in ("train", "eval"):
        getattr(model, mode)()
        state = {k: v.copy() for k, v in model.state_dict().items()}
        model.zero_grad()
        accumulate_gradients(model, nnref.CrossEntropyLoss(), [(x, y)])
        full = _grads(model)
        model.load_state_dict(state)
        model.zero_grad()
        accumulate_gradients(model, nnref.CrossEntropyLoss(), [(x[i:i + 6], y[i:i + 6]) for i in range(0, 24, 6)])
        model.load_state_dict(state)
        diffs[mode] = max(np.abs(a - b).max() for a, b in zip(_grads(model), full))
    assert diffs["train"] > 1e-3
    assert diffs["eval"] < 1e-12


# -- a whole run against torch --------------------------------------------------------------------

def test_fit_matches_a_torch_loop(torch):
    x, y = _data(22)
    model = _mlp()
    tm = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3)).double()
    tm.load_state_dict({k: torch.tensor(backend.asnumpy(v)) for k, v in model.state_dict().items()})
    h = fit(model, nnref.CrossEntropyLoss(), nnref.SGD(model.parameters(), lr=0.2, momentum=0.5),
            (x, y), epochs=2, batch_size=8, seed=11)
    topt = torch.optim.SGD(tm.parameters(), lr=0.2, momentum=0.5)
    tx, ty = torch.tensor(backend.asnumpy(x)), torch.tensor(backend.asnumpy(y))
    rng = np.random.default_rng(11)   # fit draws each epoch's permutation from RNG(seed)
    losses = []
    for _ in range(2):
        order, total = rng.permutation(22), 0.0
        for i in range(0, 22, 8):
            idx = torch.tensor(order[i:i + 8])
            topt.zero_grad()
            loss = torch.nn.functional.cross_entropy(tm(tx[idx]), ty[idx])
            loss.backward()
            topt.step()
            total += loss.item() * len(idx) / 22
        losses.append(total)
    for (name, p), (tname, tp) in zip(model.named_parameters(), tm.named_parameters()):
        assert name == tname
        assert_close(p.data, tp, rtol=1e-10, atol=1e-12, what=name)
    np.testing.assert_allclose(h.train_loss, losses, rtol=1e-12)
    assert h.steps == 6 and h.epochs == 2


def test_history_losses_and_metrics_are_size_weighted_means(torch):
    x, y = _data(10)
    xv, yv = _data(7, seed=1)
    model = _mlp()
    h = fit(model, nnref.CrossEntropyLoss(), nnref.SGD(model.parameters(), lr=0.0), (x, y), (xv, yv),
            epochs=2, batch_size=4, metrics=["accuracy"])
    # lr = 0: the weights never move, so every epoch's mean over batches 4, 4, 2 is the full-data value
    tm = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3)).double()
    tm.load_state_dict({k: torch.tensor(backend.asnumpy(v)) for k, v in model.state_dict().items()})
    for data, prefix in [((x, y), "train"), ((xv, yv), "val")]:
        logits = tm(torch.tensor(backend.asnumpy(data[0])))
        target = torch.tensor(backend.asnumpy(data[1]))
        loss = torch.nn.functional.cross_entropy(logits, target).item()
        acc = (logits.argmax(1) == target).double().mean().item()
        np.testing.assert_allclose(h[f"{prefix}_loss"], [loss, loss], rtol=1e-12)
        np.testing.assert_allclose(h[f"{prefix}_accuracy"], [acc, acc], rtol=1e-12)
    assert set(h.keys()) == {"train_loss", "train_accuracy", "val_loss", "val_accuracy"}
    assert "val_loss" in h and "History(epochs=2" in repr(h)


def test_validation_runs_in_eval_mode():
    modes = []

    class Spy(nnref.Module):
        def forward(self, x):
            modes.append(self.training)
            return x

        def backward(self, dy):
            return dy

    model = nnref.Sequential(nnref.Linear(5, 3, dtype=np.float64), Spy())
    x, y = _data(8)
    fit(model, nnref.CrossEntropyLoss(), nnref.SGD(model.parameters(), lr=0.1), (x, y), (x, y),
        epochs=2, batch_size=4)
    assert modes == [True, True, False, False] * 2   # two training batches, then two validation ones
    assert model.training


def test_evaluate_restores_the_previous_mode():
    model = _mlp().eval()
    x, y = _data(9)
    out = evaluate(model, nnref.CrossEntropyLoss(), (x, y), batch_size=4, metrics={"acc": accuracy})
    assert not model.training and set(out) == {"loss", "acc"}


def test_accuracy_with_indices_and_one_hot():
    pred = np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert accuracy(pred, np.array([0, 1, 1])) == pytest.approx(2 / 3)
    assert accuracy(pred, np.eye(2)[[0, 1, 1]]) == pytest.approx(2 / 3)


# -- early stopping -------------------------------------------------------------------------------

def test_early_stopping_on_a_scripted_curve():
    es = EarlyStopping(patience=3)
    curve = [1.0, 0.8, 0.7, 0.72, 0.71, 0.75, 0.6]
    stops = [es.update(v) for v in curve[:6]]
    assert stops == [False] * 5 + [True]
    assert (es.best, es.best_epoch, es.stopped_epoch) == (0.7, 3, 6)


def test_early_stopping_min_delta_and_nan():
    es = EarlyStopping(patience=3, min_delta=0.05)
    assert [es.update(v) for v in [1.0, 0.9, 0.87, 0.86, 0.84]] == [False] * 5
    assert (es.best, es.best_epoch, es.wait) == (0.84, 5, 0)   # 0.84 < 0.9 - 0.05
    es = EarlyStopping(patience=2)
    assert [es.update(v) for v in [1.0, math.nan, math.nan]] == [False, False, True]
    assert es.best_epoch == 1


class _ScriptedValidation(nnref.MSELoss):
    """MSE while training; in evaluation returns the next value of a script and keeps the weights."""

    def __init__(self, model, script):
        super().__init__()
        self.model, self.script, self.seen = model, list(script), []

    def forward(self, pred, target):
        loss = super().forward(pred, target)
        if self.model.training:
            return loss
        self.seen.append(_weights(self.model))
        return self.script[len(self.seen) - 1]


@pytest.mark.parametrize("restore", [True, False])
def test_fit_stops_on_validation_loss_and_restores_best_weights(restore):
    rng = np.random.default_rng(0)
    x, y = dev(rng.normal(size=(16, 3))), dev(rng.normal(size=(16, 2)))
    model = nnref.Linear(3, 2, dtype=np.float64)
    script = [1.0, 0.8, 0.7, 0.72, 0.71, 0.75, 0.6, 0.5, 0.4, 0.3]
    loss_fn = _ScriptedValidation(model, script)
    es = EarlyStopping(patience=3, restore_best_weights=restore)
    h = fit(model, loss_fn, nnref.SGD(model.parameters(), lr=0.1), (x, y), (x[:4], y[:4]), epochs=10,
            batch_size=4, early_stopping=es)   # one validation batch per epoch
    assert h.val_loss == script[:6] and h.epochs == 6
    assert (h.stopped_epoch, h.best_epoch) == (6, 3)
    expected = loss_fn.seen[2] if restore else loss_fn.seen[5]
    for a, b in zip(_weights(model), expected):
        assert (a == b).all()
    assert not all((a == b).all() for a, b in zip(loss_fn.seen[2], loss_fn.seen[5]))


def test_early_stopping_needs_validation_data():
    x, y = _data(8)
    model = _mlp()
    with pytest.raises(ValueError, match="validation loss"):
        fit(model, nnref.CrossEntropyLoss(), nnref.SGD(model.parameters(), lr=0.1), (x, y),
            early_stopping=EarlyStopping())


@pytest.mark.parametrize("kwargs", [dict(patience=0), dict(patience=1.5), dict(min_delta=-0.1)])
def test_early_stopping_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="EarlyStopping"):
        EarlyStopping(**kwargs)


# -- the NaN guard ----------------------------------------------------------------------------------

class _Recorder(nnref.SGD):
    """SGD that keeps the weights it saw before each step, the gradient norm it got, and may poison."""

    def __init__(self, params, lr, poison_step=None, **kw):
        super().__init__(params, lr, **kw)
        self.before, self.after, self.norms, self.poison_step = [], [], [], poison_step

    def step(self):
        self.before.append([backend.asnumpy(p.data).copy() for p in self.params])
        self.norms.append(math.sqrt(sum(float((p.grad ** 2).sum()) for p in self.params)))
        super().step()
        self.after.append([backend.asnumpy(p.data).copy() for p in self.params])
        if len(self.before) == self.poison_step:
            self.params[0].data[0, 0] = np.inf


class _NanAt(nnref.CrossEntropyLoss):
    def __init__(self, call):
        super().__init__()
        self.calls, self.nan_call = 0, call

    def forward(self, pred, target):
        self.calls += 1
        loss = super().forward(pred, target)
        return math.nan if self.calls == self.nan_call else loss


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_weights():
    x, y = _data(12)
    model = _mlp()
    opt = _Recorder(model.parameters(), lr=0.1)
    with pytest.raises(TrainingDiverged, match=r"loss became nan at epoch 2, step 5 \(batch 2 of 3") as err:
        # 3 steps per epoch, no validation: the 5th loss is epoch 2's second batch
        fit(model, _NanAt(5), opt, (x, y), epochs=4, batch_size=4)
    assert isinstance(err.value, FloatingPointError)
    assert (err.value.epoch, err.value.step) == (2, 5)
    assert "after step 4" in str(err.value)
    assert err.value.history.epochs == 1 and err.value.history.steps == 4
    # the weights step 5 started from: the end of the last finished step
    for a, b in zip(_weights(model), opt.after[3]):
        assert (a == b).all()


def test_nan_on_the_first_step_keeps_the_initial_weights():
    x, y = _data(8)
    model = _mlp()
    initial = _weights(model)
    with pytest.raises(TrainingDiverged, match="step 1 .*no step had finished.*initial ones"):
        fit(model, _NanAt(1), nnref.SGD(model.parameters(), lr=0.1), (x, y), epochs=1, batch_size=4)
    for a, b in zip(_weights(model), initial):
        assert (a == b).all()


def test_infinite_weights_after_an_update_are_rolled_back():
    x, y = _data(12)
    model = _mlp()
    opt = _Recorder(model.parameters(), lr=0.1, poison_step=3)
    with pytest.raises(TrainingDiverged, match="weight became NaN or infinite .* epoch 1, step 3") as err:
        fit(model, nnref.CrossEntropyLoss(), opt, (x, y), epochs=2, batch_size=4)
    assert "after step 2" in str(err.value)
    for a, b in zip(_weights(model), opt.before[2]):
        assert (a == b).all()


def _weights_after_one_step(x, y):
    nnref.manual_seed(7)
    model = _mlp()
    fit(model, nnref.MSELoss(), nnref.SGD(model.parameters(), lr=0.1), (x[:4], y[:4]), epochs=1,
        batch_size=4, shuffle=False)
    return _weights(model)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # the overflow is the point
def test_infinite_gradient_is_caught_before_the_update():
    x, y = _data(8)
    y = dev(np.random.default_rng(0).normal(size=(8, 3)))
    y[5, 0] = np.inf       # an infinite target: the loss is inf, so is its gradient
    nnref.manual_seed(7)
    model = _mlp()
    opt = _Recorder(model.parameters(), lr=0.1)
    with pytest.raises(TrainingDiverged, match="loss became inf at epoch 1, step 2"):
        fit(model, nnref.MSELoss(), opt, (x, y), epochs=1, batch_size=4, shuffle=False)
    assert len(opt.before) == 1                   # step 2 never reached the optimiser
    for a, b in zip(_weights(model), _weights_after_one_step(x, y)):
        assert (a == b).all()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # the overflow is the point
def test_a_real_divergence_is_caught():
    x, y = _data(16)
    y = dev(np.random.default_rng(0).normal(size=(16, 3)) * 1e3)
    model = _mlp()
    with pytest.raises(TrainingDiverged) as err:
        fit(model, nnref.MSELoss(), nnref.SGD(model.parameters(), lr=10.0), (x, y), epochs=50, batch_size=4)
    assert all(np.isfinite(w).all() for w in _weights(model))
    assert err.value.step >= 2


# -- clipping ------------------------------------------------------------------------------------

def test_fit_clips_the_gradient_norm():
    x, y = _data(16)
    y = dev(np.random.default_rng(0).normal(size=(16, 3)) * 10)
    runs = {}
    for clip in (None, 0.5):
        nnref.manual_seed(1)
        model = _mlp()
        opt = _Recorder(model.parameters(), lr=0.01)
        fit(model, nnref.MSELoss(), opt, (x, y), epochs=2, batch_size=4, clip_grad_norm=clip)
        runs[clip] = opt.norms
    assert max(runs[None]) > 5                       # the raw gradients are large ...
    assert max(runs[0.5]) <= 0.5 + 1e-9              # ... and the optimiser saw them clipped
    assert min(runs[0.5]) > 0.5 - 1e-5


def test_clip_functions_match_torch(torch):
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,), (2, 2)]
    grads = [rng.normal(size=s) * 3 for s in shapes]
    for max_norm in (0.5, 1e3):
        params = [nnref.Parameter(dev(np.zeros(s))) for s in shapes]
        for p, g in zip(params, grads):
            p.grad[...] = dev(g)
        tparams = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in shapes]
        for t, g in zip(tparams, grads):
            t.grad = torch.tensor(g)
        total = clip_grad_norm(params, max_norm)
        ttotal = torch.nn.utils.clip_grad_norm_(tparams, max_norm)
        assert total == pytest.approx(ttotal.item(), rel=1e-12)
        for p, t in zip(params, tparams):
            assert_close(p.grad, t.grad, what=f"clip_grad_norm {max_norm}")
    params = [nnref.Parameter(dev(np.zeros(s))) for s in shapes]
    for p, t, g in zip(params, tparams, grads):
        p.grad[...] = dev(g)
        t.grad = torch.tensor(g)
    clip_grad_value(params, 1.5)
    torch.nn.utils.clip_grad_value_(tparams, 1.5)
    for p, t in zip(params, tparams):
        assert_close(p.grad, t.grad, what="clip_grad_value")
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm(params, -1)                 # 0 is allowed, as torch: it zeroes the gradients


# -- the progress bar -----------------------------------------------------------------------------

class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _short_fit(progress=None):
    x, y = _data(8)
    model = _mlp()
    fit(model, nnref.CrossEntropyLoss(), nnref.SGD(model.parameters(), lr=0.1), (x, y), epochs=2,
        batch_size=4, progress=progress)


def test_progress_bar_is_off_when_not_a_terminal(monkeypatch):
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    _short_fit()
    assert out.getvalue() == "" and err.getvalue() == ""


def test_progress_bar_shows_on_a_terminal_and_can_be_switched_off(monkeypatch):
    out, err = _Terminal(), _Terminal()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    _short_fit()
    assert "/4 " in err.getvalue() and out.getvalue() == ""
    err.seek(0)
    err.truncate()
    _short_fit(progress=False)
    assert err.getvalue() == ""


def _bn_mlp():
    nnref.manual_seed(3)
    return nnref.Sequential(nnref.Linear(5, 7, dtype=np.float64), nnref.BatchNorm1d(7, dtype=np.float64),
                            nnref.ReLU(), nnref.Linear(7, 3, dtype=np.float64))


def _state(model, opt):
    return ({k: backend.asnumpy(v).copy() for k, v in model.state_dict().items()},
            {i: {k: backend.asnumpy(v).copy() if hasattr(v, "shape") else v for k, v in s.items()}
             for i, s in opt.state_dict()["state"].items()})


def _assert_same_state(a, b):
    (ma, oa), (mb, ob) = a, b
    assert list(ma) == list(mb) and list(oa) == list(ob)
    for k in ma:
        assert (ma[k] == mb[k]).all(), f"{k} differs"
    for i in oa:
        for k in oa[i]:
            assert np.all(oa[i][k] == ob[i][k]), f"optimiser state {i}.{k} differs"


class _Watched(nnref.Module):
    """Wraps a model and records the model and optimiser state at the start of every forward pass."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.opt, self.states = inner, None, []

    def forward(self, x):
        self.states.append(_state(self.inner, self.opt))
        return self.inner(x)

    def backward(self, dy):
        return self.inner.backward(dy)


class _BadAt(nnref.CrossEntropyLoss):
    """Cross-entropy that returns NaN (or raises KeyboardInterrupt) at call ``at``."""

    def __init__(self, at, what):
        super().__init__()
        self.calls, self.at, self.what = 0, at, what

    def forward(self, input, target):
        self.calls += 1
        loss = super().forward(input, target)
        if self.calls == self.at:
            if self.what == "nan":
                return math.nan
            raise KeyboardInterrupt
        return loss


def _watched(opt_cls, **kw):
    model = _Watched(_bn_mlp())
    model.opt = opt_cls(model.parameters(), **kw)
    return model, model.opt


def test_divergence_rolls_back_weights_buffers_and_optimiser_state_together():
    """NaN at step 5: parameters, BatchNorm running statistics and Adam's moments and step count are
    all as they were when step 5 began (its forward pass had already moved the running stats)."""
    x, y = _data(12)
    model, opt = _watched(nnref.Adam, lr=0.05)
    with pytest.raises(TrainingDiverged, match="step 5 .*after step 4"):
        fit(model, _BadAt(5, "nan"), opt, (x, y), epochs=3, batch_size=4)
    assert opt.state_dict()["state"][0]["step"] == 4
    _assert_same_state(_state(model.inner, opt), model.states[4])


class _PoisonedAdam(nnref.Adam):
    def step(self):
        super().step()
        if self.state_dict()["state"][0]["step"] == 3:
            self.params[0].data[0, 0] = np.inf


def test_non_finite_weights_roll_back_the_optimiser_step_too():
    x, y = _data(12)
    model, opt = _watched(_PoisonedAdam, lr=0.05)
    with pytest.raises(TrainingDiverged, match="weight became NaN or infinite .* step 3 .*after step 2"):
        fit(model, nnref.CrossEntropyLoss(), opt, (x, y), epochs=2, batch_size=4)
    assert opt.state_dict()["state"][0]["step"] == 2
    _assert_same_state(_state(model.inner, opt), model.states[2])


def test_keyboard_interrupt_returns_the_history_and_undoes_the_half_step():
    x, y = _data(12)
    model, opt = _watched(nnref.SGD, lr=0.1, momentum=0.9)
    with pytest.raises(KeyboardInterrupt) as err:     # 3 steps per epoch: step 8 is in epoch 3
        fit(model, _BadAt(8, "interrupt"), opt, (x, y), epochs=5, batch_size=4)
    h = err.value.history
    assert isinstance(h, History) and h.epochs == 2 and h.steps == 7 and len(h.train_loss) == 2
    _assert_same_state(_state(model.inner, opt), model.states[7])


def _interrupting(opt_cls, after):
    """``opt_cls`` whose step is interrupted (Ctrl-C) after ``after`` parameter updates in all,
    so the interrupted step has updated some parameters and not others."""
    class Interrupted(opt_cls):
        updates = 0

        def _update(self, p, state, group):
            if Interrupted.updates == after:
                raise KeyboardInterrupt
            Interrupted.updates += 1
            super()._update(p, state, group)
    return Interrupted


@pytest.mark.parametrize("opt_cls,kw", [(nnref.SGD, dict(lr=0.1, momentum=0.9)), (nnref.Adam, dict(lr=0.05)),
                                        (nnref.AdamW, dict(lr=0.05, amsgrad=True))], ids=["SGD", "Adam", "AdamW"])
@pytest.mark.parametrize("step,within", [(1, 1), (3, 2), (5, 3)])
def test_keyboard_interrupt_inside_the_optimiser_step_rolls_everything_back(opt_cls, kw, step, within):
    """Ctrl-C in the middle of optimiser step ``step`` (after ``within`` of its 6 parameters were
    updated): parameters, BatchNorm buffers and the optimiser's state are those at the end of
    step ``step - 1`` (the start of step ``step``), and the interrupt is re-raised with the history."""
    x, y = _data(12)
    model = _Watched(_bn_mlp())
    opt = model.opt = _interrupting(opt_cls, 6 * (step - 1) + within)(model.parameters(), **kw)
    with pytest.raises(KeyboardInterrupt) as err:
        fit(model, nnref.CrossEntropyLoss(), opt, (x, y), epochs=3, batch_size=4)
    assert err.value.history.steps == step - 1
    assert type(opt).updates == 6 * (step - 1) + within           # the step was half done
    _assert_same_state(_state(model.inner, opt), model.states[step - 1])


def test_keyboard_interrupt_with_early_stopping_keeps_the_best_weights():
    x, y = _data(12)
    xv, yv = _data(12, seed=1)
    model, opt = _watched(nnref.SGD, lr=0.1)
    stopper = EarlyStopping(patience=50)
    with pytest.raises(KeyboardInterrupt) as err:     # in epoch 5 (3 training + 3 validation batches each)
        fit(model, _BadAt(4 * 6 + 2, "interrupt"), opt, (x, y), (xv, yv), epochs=10, batch_size=4,
            early_stopping=stopper)
    h = err.value.history
    assert h.epochs == 4 and h.best_epoch == stopper.best_epoch and h.best_epoch is not None
    for k, v in model.state_dict().items():
        assert (backend.asnumpy(v) == backend.asnumpy(stopper.best_state[k])).all(), k


def test_accuracy_refuses_one_score_per_sample_and_lists():
    with pytest.raises(ValueError, match=r"accuracy: expected pred of shape \(N, C\).*got shape \(4,\)"):
        accuracy(dev(np.zeros(4)), dev(np.zeros(4, dtype=np.int64)))
    with pytest.raises(ValueError, match=r"accuracy: expected target of shape \(4,\) or \(4, 3\)"):
        accuracy(dev(np.zeros((4, 3))), dev(np.zeros(3, dtype=np.int64)))
    with pytest.raises(TypeError, match="accuracy: expected an array for target, got list"):
        accuracy(dev(np.zeros((2, 3))), [0, 1])


# -- bad arguments --------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,match", [
    (dict(epochs=-1), "epochs"),
    (dict(accumulation_steps=0), "accumulation_steps"),
    (dict(batch_size=0), "fit: batch_size"),
    (dict(clip_grad_norm=0.0), "clip_grad_norm"),
    (dict(metrics=["f1"]), "unknown metric 'f1'"),
])
def test_fit_rejects_bad_arguments(kwargs, match):
    x, y = _data(8)
    model = _mlp()
    with pytest.raises(ValueError, match=match):
        fit(model, nnref.CrossEntropyLoss(), nnref.SGD(model.parameters(), lr=0.1), (x, y), **kwargs)


def test_fit_rejects_parts_of_the_wrong_kind():
    x, y = _data(8)
    model, other = _mlp(), _mlp()
    loss, opt = nnref.CrossEntropyLoss(), nnref.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="fit: the optimizer holds none of the model's parameters"):
        fit(model, loss, nnref.SGD(other.parameters(), lr=0.1), (x, y))     # would train nothing
    for args, match in [((None, loss, opt), "fit: model must be an nnref Module"),
                        ((model, None, opt), "fit: loss_fn must be an nnref loss"),
                        ((model, loss, nnref.SGD), "fit: optimizer must be an optimiser built on the model"),
                        ((model, loss, None), "fit: optimizer must be")]:
        with pytest.raises(TypeError, match=match):
            fit(*args, (x, y))
    for kwargs, match in [({"penalty": 3}, "fit: penalty must be an nnref L1Penalty or L2Penalty, got int"),
                          ({"clip_grad_norm": "a"}, "fit: clip_grad_norm must be a number"),
                          ({"seed": "a"}, "fit: seed must be an int"),
                          ({"epochs": True}, "fit: epochs must be an int"),
                          ({"batch_size": True}, "fit: batch_size must be an int"),
                          ({"epochs": 1.0}, "fit: epochs must be an int")]:
        with pytest.raises(TypeError, match=match):
            fit(model, loss, opt, (x, y), **kwargs)
    with pytest.raises(TypeError, match="fit: early_stopping must be an nnref EarlyStopping"):
        fit(model, loss, opt, (x, y), (x, y), early_stopping="x")
    with pytest.raises(ValueError, match="fit: seed must be zero or positive, got -1"):
        fit(model, loss, opt, (x, y), seed=-1)
    assert fit(model, loss, opt, (x, y), epochs=np.int64(1)).epochs == 1


def test_fit_rejects_bad_data():
    x, y = _data(8)
    model = _mlp()
    opt = nnref.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="8 inputs but 5 targets"):
        fit(model, nnref.CrossEntropyLoss(), opt, (x, y[:5]))
    with pytest.raises(ValueError, match="pair"):
        fit(model, nnref.CrossEntropyLoss(), opt, x)
    with pytest.raises(ValueError, match="val_data has 8 inputs but 3"):
        fit(model, nnref.CrossEntropyLoss(), opt, (x, y), (x, y[:3]))
    with pytest.raises(TypeError, match="fit: expected an array for train_data's targets, got list"):
        fit(model, nnref.CrossEntropyLoss(), opt, (x, [0] * 8))


def test_history_is_empty_for_zero_epochs():
    x, y = _data(8)
    model = _mlp()
    h = fit(model, nnref.CrossEntropyLoss(), nnref.SGD(model.parameters(), lr=0.1), (x, y), epochs=0)
    assert isinstance(h, History) and h.epochs == 0 and h.steps == 0 and h.train_loss == []
