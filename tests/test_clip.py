"""clip_grad_norm / clip_grad_value against torch.nn.utils.clip_grad_norm_ / clip_grad_value_."""
import inspect
import math

import numpy as np
import pytest

import nnref
from nnref import Parameter, clip_grad_norm, clip_grad_value
from nnref.backend import asnumpy
from tests.parity import assert_close, dev


def _pair(torch, scale, seed=0):
    rng = np.random.default_rng(seed)
    grads = [rng.normal(size=s) * scale for s in [(3, 4), (4,), (2, 2, 2)]]
    ours = []
    for g in grads:
        p = Parameter(dev(np.zeros_like(g)))
        p.grad[...] = dev(g)
        ours.append(p)
    theirs = []
    for g in grads:
        t = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        t.grad = torch.tensor(g)
        theirs.append(t)
    return ours, theirs


@pytest.mark.parametrize("scale", [0.01, 1.0, 100.0])
@pytest.mark.parametrize("max_norm", [0.5, 5.0])
def test_clip_grad_norm_matches_torch(torch, scale, max_norm):
    ours, theirs = _pair(torch, scale)
    total = clip_grad_norm(ours, max_norm)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    assert isinstance(total, float)
    assert total == pytest.approx(float(total_t), rel=1e-12)
    for p, t in zip(ours, theirs):
        assert_close(p.grad, t.grad, what="clipped gradient")
    after = np.sqrt(sum(float((asnumpy(p.grad) ** 2).sum()) for p in ours))
    assert after <= max_norm * (1 + 1e-9)
    if total <= max_norm:  # below the limit nothing changes
        assert after == pytest.approx(total)


@pytest.mark.parametrize("clip_value", [0.1, 1.0])
def test_clip_grad_value_matches_torch(torch, clip_value):
    ours, theirs = _pair(torch, 1.0, seed=1)
    assert clip_grad_value(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, t in zip(ours, theirs):
        assert_close(p.grad, t.grad, what="clamped gradient")


def test_module_parameters_and_float32():
    m = nnref.LSTM(3, 4)
    out, _ = m(dev(np.ones((5, 2, 3), dtype=np.float32)))
    m.backward(out * 1000)
    total = clip_grad_norm(m.parameters(), 1.0)
    assert total > 1.0
    norm = np.sqrt(sum(float((asnumpy(p.grad).astype(np.float64) ** 2).sum()) for p in m.parameters()))
    assert norm == pytest.approx(1.0, rel=1e-5)
    assert all(p.grad.dtype == np.float32 for p in m.parameters())


def _clip_both(torch, grads, ours_call, torch_call):
    """Gradients ``grads`` (host arrays) on fresh nnref and torch parameters; clip both and
    compare every gradient (NaN where torch has NaN). Returns the two results."""
    ours, theirs = [], []
    for g in grads:
        p = Parameter(dev(np.zeros_like(g)))
        p.grad[...] = dev(g)
        ours.append(p)
        t = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        t.grad = torch.tensor(g)
        theirs.append(t)
    result, expected = ours_call(ours), torch_call(theirs)
    for p, t in zip(ours, theirs):
        assert_close(p.grad, t.grad, rtol=1e-12, atol=1e-14, what="clipped gradient")
    return result, expected


def _same_float(ours, theirs):
    """nnref's float equals torch's 0-d tensor (NaN equals NaN)."""
    theirs = float(theirs)
    assert isinstance(ours, float)
    assert (math.isnan(ours) and math.isnan(theirs)) or ours == pytest.approx(theirs, rel=1e-12), (ours, theirs)


GRADS = [np.array([[3.0, -4.0], [0.5, 1e-3]]), np.zeros(3), np.array([-2.0, 7.0, 0.25])]


@pytest.mark.filterwarnings("error")     # |0|^p = inf for p < 0 is part of torch's rule, not a warning
@pytest.mark.parametrize("norm_type", [1, 2, 2.0, 3, 0.5, math.inf, "inf", -math.inf, 0, -1])
@pytest.mark.parametrize("max_norm", [0.5, 5.0])
def test_norm_types_match_torch(torch, norm_type, max_norm):
    """Every norm torch's ``float(norm_type)`` takes; one gradient all zeros, so that p = 0 (torch
    counts the parameters with a nonzero gradient) and p < 0 (the norm is 0) show torch's rule."""
    total, expected = _clip_both(torch, GRADS, lambda ps: clip_grad_norm(ps, max_norm, norm_type=norm_type),
                                 lambda ts: torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type=norm_type))
    _same_float(total, expected)


@pytest.mark.filterwarnings("error")     # inf · 0 = NaN is the result, not a warning
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("norm_type", [2.0, 1, math.inf])
@pytest.mark.parametrize("max_norm", [1.0, math.inf])
def test_non_finite_gradients_spread_as_in_torch(torch, bad, norm_type, max_norm):
    """NaN: every gradient NaN. ±inf: its entries NaN, the rest 0 (max_norm=inf: all NaN)."""
    grads = [g.copy() for g in GRADS]
    grads[2][1] = bad
    total, expected = _clip_both(torch, grads, lambda ps: clip_grad_norm(ps, max_norm, norm_type),
                                 lambda ts: torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type))
    _same_float(total, expected)


def test_error_if_nonfinite_raises_torchs_error_before_clipping(torch):
    grads = [g.copy() for g in GRADS]
    grads[0][0, 0] = np.nan
    p, t = Parameter(dev(np.zeros(2))), torch.zeros(2, dtype=torch.float64, requires_grad=True)
    p.grad[...], t.grad = dev([np.nan, 1.0]), torch.tensor([np.nan, 1.0], dtype=torch.float64)
    with pytest.raises(RuntimeError) as theirs:
        torch.nn.utils.clip_grad_norm_([t], 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError) as ours:
        clip_grad_norm([p], 1.0, error_if_nonfinite=True)
    assert str(ours.value) == "clip_grad_norm: t" + str(theirs.value)[1:]
    assert_close(p.grad, t.grad, what="gradient left as it was")
    assert clip_grad_norm([p], 1.0, error_if_nonfinite=False) != clip_grad_norm([p], 1.0)   # nan: both NaN


@pytest.mark.parametrize("foreach", [None, False, True])
def test_single_parameter_none_grads_and_foreach(torch, foreach):
    """One Parameter for ``parameters`` (torch: one tensor); ``grad`` None skipped; ``foreach``
    accepted and ignored: the same numbers as torch's for every choice."""
    g = np.array([3.0, -4.0, 12.0])
    total, expected = _clip_both(torch, [g], lambda ps: clip_grad_norm(ps[0], 2.0, foreach=foreach),
                                 lambda ts: torch.nn.utils.clip_grad_norm_(ts[0], 2.0, foreach=foreach))
    _same_float(total, expected)
    _clip_both(torch, [g], lambda ps: clip_grad_value(ps[0], 3.5, foreach=foreach),
               lambda ts: torch.nn.utils.clip_grad_value_(ts[0], 3.5, foreach=foreach))
    p, q = Parameter(dev(np.zeros(2))), Parameter(dev(np.zeros(2)))
    p.grad[...], q.grad = dev([3.0, 4.0]), None
    t, u = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    t.grad = torch.tensor([3.0, 4.0])
    assert clip_grad_norm([p, q], 1.0) == float(torch.nn.utils.clip_grad_norm_([t, u], 1.0)) == 5.0
    clip_grad_value((x for x in [q, p]), 0.5)
    torch.nn.utils.clip_grad_value_((x for x in [u, t]), 0.5)
    assert q.grad is None and u.grad is None
    assert_close(p.grad, t.grad, what="clamped gradient")


def test_zero_limits_zero_the_gradients_as_torch(torch):
    for ours_call, torch_call in [(lambda ps: clip_grad_norm(ps, 0), lambda ts: torch.nn.utils.clip_grad_norm_(ts, 0)),
                                  (lambda ps: clip_grad_value(ps, 0.0), lambda ts: torch.nn.utils.clip_grad_value_(ts, 0.0))]:
        _clip_both(torch, GRADS, ours_call, torch_call)
    ours = Parameter(dev(np.zeros(2)))
    ours.grad[...] = dev([1.0, -2.0])
    clip_grad_norm(ours, 0.0)
    assert not asnumpy(ours.grad).any()


def test_negative_limits_are_errors_where_torch_gives_nonsense(torch):
    """torch flips the gradients for a negative max_norm and sets them all to a negative
    clip_value: nnref refuses both."""
    _, t = _pair(torch, 1.0)
    before = [x.grad.clone() for x in t]
    torch.nn.utils.clip_grad_norm_(t, -1.0)
    assert all((x.grad * b <= 0).all() for x, b in zip(t, before))     # every sign reversed
    torch.nn.utils.clip_grad_value_(t, -0.5)
    assert all((x.grad == -0.5).all() for x in t)
    p = Parameter(dev(np.ones(2)))
    with pytest.raises(ValueError, match="clip_grad_norm: max_norm must be >= 0, got -1.0"):
        clip_grad_norm([p], -1.0)
    with pytest.raises(ValueError, match="clip_grad_norm: max_norm must be >= 0, got nan"):
        clip_grad_norm([p], float("nan"))
    with pytest.raises(ValueError, match="clip_grad_value: clip_value must be >= 0, got -0.5"):
        clip_grad_value([p], -0.5)
    assert (asnumpy(p.grad) == 0).all()


def test_bad_arguments():
    p = Parameter(dev(np.zeros(2)))
    for bad in (None, "1.0", [1.0], np.ones(2)):
        with pytest.raises(TypeError, match=f"clip_grad_norm: max_norm must be a real number, got {type(bad).__name__}"):
            clip_grad_norm([p], bad)
        with pytest.raises(TypeError, match="clip_grad_value: clip_value must be a real number"):
            clip_grad_value([p], bad)
    assert clip_grad_norm([p], np.float32(1.0)) == clip_grad_norm([p], np.array(1.0)) == 0.0
    with pytest.raises(ValueError, match="clip_grad_norm: norm_type must be a number or 'inf', got 'two'"):
        clip_grad_norm([p], 1.0, norm_type="two")
    with pytest.raises(TypeError, match="clip_grad_norm: norm_type must be a number or 'inf', got None"):
        clip_grad_norm([p], 1.0, norm_type=None)
    with pytest.raises(TypeError, match="clip_grad_norm: parameters must be a Parameter or an iterable"):
        clip_grad_norm(3, 1.0)
    with pytest.raises(TypeError, match="clip_grad_value: parameter 1 is ndarray, expected nnref.Parameter"):
        clip_grad_value([p, np.zeros(2)], 1.0)


def test_empty_generator_warns_as_torch(torch):
    with pytest.warns(UserWarning) as theirs:
        assert float(torch.nn.utils.clip_grad_norm_((x for x in []), 1.0)) == 0.0
    with pytest.warns(UserWarning) as ours:
        assert clip_grad_norm((x for x in []), 1.0) == 0.0
    assert str(ours[0].message).startswith(str(theirs[0].message).rstrip("."))
    assert clip_grad_norm([], 1.0) == 0.0


@pytest.mark.parametrize("name", ["clip_grad_norm", "clip_grad_value"])
def test_signatures_are_torchs(torch, name):
    ours = inspect.signature(getattr(nnref, name)).parameters
    theirs = inspect.signature(getattr(torch.nn.utils, name + "_")).parameters
    assert [(p.name, p.default, p.kind) for p in ours.values()] == \
           [(p.name, p.default, p.kind) for p in theirs.values()]
