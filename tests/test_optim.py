import copy
import inspect
from functools import partial

import numpy as np
import pytest

import nnref
from nnref.module import Parameter
from nnref.optim import adam_update, sgd_update
from tests.parity import assert_close, dev

STEPS = 6


def _step_both(torch, opt, ref, ours, theirs, steps):
    """The same gradients into both optimisers' parameters, one step each, parameters compared."""
    for step in steps:
        for p, t in zip(ours, theirs):
            g = _grad(t.detach().numpy(), step)
            p.grad[...], t.grad = dev(g), torch.tensor(g)
        opt.step()
        ref.step()
        for i, (p, t) in enumerate(zip(ours, theirs)):
            assert_close(p.data, t, rtol=1e-11, atol=1e-13, what=f"parameter {i} after step {step}")


def _grad(w, step):
    """A gradient that depends on the weights and changes with the step (so momentum matters)."""
    return np.sin(w * (step + 1)) + 0.3 * w ** 3 - 0.5


def _trajectories(torch, make_ours, make_theirs, shapes=((3, 4), (5,))):
    rng = np.random.default_rng(0)
    starts = [rng.normal(size=s) for s in shapes]
    ours = [Parameter(dev(w.copy())) for w in starts]
    theirs = [torch.tensor(w.copy(), requires_grad=True) for w in starts]
    opt, ref = make_ours(ours), make_theirs(theirs)
    for step in range(STEPS):
        opt.zero_grad()
        ref.zero_grad()
        for p, t in zip(ours, theirs):
            g = _grad(t.detach().numpy(), step)
            p.grad[...] = dev(g)
            t.grad = torch.tensor(g)
        opt.step()
        ref.step()
        for i, (p, t) in enumerate(zip(ours, theirs)):
            assert_close(p.data, t, rtol=1e-11, atol=1e-13, what=f"parameter {i} after step {step}")


SGD_CASES = [
    {"lr": 0.1},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"lr": 0.1, "weight_decay": 0.01},
    {"lr": 0.1, "momentum": 0.8, "weight_decay": 0.05},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1},
    {"lr": 0.1, "momentum": 0.9, "dampening": 0.3},
    {"lr": 0.1, "momentum": 0.9, "maximize": True},
    {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1, "maximize": True},
]


@pytest.mark.parametrize("kwargs", SGD_CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_sgd_matches_torch(torch, kwargs):
    _trajectories(torch, lambda ps: nnref.SGD(ps, **kwargs), lambda ps: torch.optim.SGD(ps, **kwargs))


ADAM_CASES = [
    {},
    {"lr": 0.05, "betas": (0.8, 0.99)},
    {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.01, "eps": 1e-3},
    {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
    {"lr": 0.05, "amsgrad": True},
    {"lr": 0.05, "weight_decay": 0.1, "maximize": True},
    {"lr": 0.05, "betas": (0.5, 0.9), "weight_decay": 0.1, "amsgrad": True, "maximize": True},
    {"lr": 0.05, "foreach": False, "fused": None, "capturable": False, "differentiable": False},
]


@pytest.mark.parametrize("kwargs", ADAM_CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_adam_matches_torch(torch, kwargs):
    _trajectories(torch, lambda ps: nnref.Adam(ps, **kwargs), lambda ps: torch.optim.Adam(ps, **kwargs))


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.02, "weight_decay": 0.3},
                                    {"lr": 0.02, "amsgrad": True, "maximize": True}])
def test_adamw_matches_torch(torch, kwargs):
    _trajectories(torch, lambda ps: nnref.AdamW(ps, **kwargs), lambda ps: torch.optim.AdamW(ps, **kwargs))


def test_sgd_momentum_closed_form():
    """Constant gradient g: v_t = g (1 + μ + ... + μ^(t-1)), so w_t = w_0 - η g Σ_k (1-μ^k)/(1-μ)."""
    w, g, lr, mu = np.zeros(1), np.ones(1), 0.1, 0.5
    state = {}
    for _ in range(4):
        sgd_update(w, g, state, lr, momentum=mu)
    expected = -lr * sum((1 - mu ** k) / (1 - mu) for k in range(1, 5))
    np.testing.assert_allclose(w, [expected], rtol=1e-15)


def test_adam_first_step_moves_by_lr():
    """Bias correction makes Adam's first step exactly lr·sign(g) (up to eps), whatever |g|."""
    for g in (1e-4, 3.0, -250.0):
        w, state = np.zeros(1), {}
        adam_update(w, np.array([g]), state, lr=0.01, eps=0.0)
        np.testing.assert_allclose(w, [-0.01 * np.sign(g)], rtol=1e-12)


def test_optimiser_trains_a_module_like_torch(torch):
    """One Linear layer, MSE loss, 5 SGD-with-momentum steps: the same weights as torch."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    ref = torch.nn.Linear(3, 2).double()
    m = nnref.Linear(3, 2, dtype=np.float64)
    m.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    opt, topt = nnref.SGD(m.parameters(), lr=0.1, momentum=0.9), torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    loss, tloss = nnref.MSELoss(), torch.nn.MSELoss()
    for _ in range(5):
        opt.zero_grad()
        loss(m(dev(x)), dev(y))
        m.backward(loss.backward())
        opt.step()
        topt.zero_grad()
        tloss(ref(torch.tensor(x)), torch.tensor(y)).backward()
        topt.step()
    assert_close(m.weight.data, ref.weight, what="weight after 5 steps")
    assert_close(m.bias.data, ref.bias, what="bias after 5 steps")


def test_zero_grad_clears_every_parameter():
    ps = [Parameter(dev(np.ones(3))), Parameter(dev(np.ones((2, 2))))]
    for p in ps:
        p.grad[...] = 5
    nnref.Adam(ps).zero_grad()
    assert all(not nnref.asnumpy(p.grad).any() for p in ps)


def test_float32_parameters_stay_float32():
    p = Parameter(dev(np.ones(3, np.float32)))
    p.grad[...] = 0.5
    for opt in (nnref.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1), nnref.Adam([p], weight_decay=0.1)):
        opt.step()
        opt.step()
        assert p.data.dtype == np.float32


def test_signatures_are_torchs(torch):
    for name in ["SGD", "Adam", "AdamW"]:
        ours = inspect.signature(getattr(nnref, name).__init__).parameters
        theirs = inspect.signature(getattr(torch.optim, name).__init__).parameters
        assert [(p.name, p.default, p.kind) for p in ours.values()] == \
               [(p.name, p.default, p.kind) for p in theirs.values()]


def test_param_groups_match_torch(torch):
    """Two groups with their own lr and momentum, and named parameters, as torch takes them."""
    rng = np.random.default_rng(3)
    starts = [rng.normal(size=(2, 3)), rng.normal(size=4)]
    ours = [Parameter(dev(w.copy())) for w in starts]
    theirs = [torch.tensor(w.copy(), requires_grad=True) for w in starts]
    opt = nnref.SGD([{"params": [("w", ours[0])]}, {"params": [("b", ours[1])], "lr": 0.3}], lr=0.1, momentum=0.5)
    ref = torch.optim.SGD([{"params": [("w", theirs[0])]}, {"params": [("b", theirs[1])], "lr": 0.3}],
                          lr=0.1, momentum=0.5)
    assert opt.state_dict()["param_groups"] == ref.state_dict()["param_groups"]
    for step in range(3):
        for p, t in zip(ours, theirs):
            g = _grad(t.detach().numpy(), step)
            p.grad[...] = dev(g)
            t.grad = torch.tensor(g)
        opt.step()
        ref.step()
    for p, t in zip(ours, theirs):
        assert_close(p.data, t, what="parameter after 3 grouped steps")


@pytest.mark.parametrize("make", [lambda ps: nnref.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: nnref.Adam(ps, lr=0.1, amsgrad=True),
                                  lambda ps: nnref.AdamW(ps, lr=0.1)], ids=["SGD", "Adam", "AdamW"])
def test_state_dict_round_trip_continues_the_same_trajectory(make):
    """Save after 2 steps, run 2 more, load, run the 2 again: the same weights both times."""
    rng = np.random.default_rng(4)
    ps = [Parameter(dev(rng.normal(size=(3, 2)))), Parameter(dev(rng.normal(size=3)))]
    opt = make(ps)

    def run(steps, start):
        for step in range(start, start + steps):
            for p in ps:
                p.grad[...] = dev(_grad(nnref.asnumpy(p.data), step))
            opt.step()

    run(2, 0)
    saved_opt, saved_w = opt.state_dict(), [p.data.copy() for p in ps]
    run(2, 2)
    after = [p.data.copy() for p in ps]
    opt.load_state_dict(saved_opt)
    for p, w in zip(ps, saved_w):
        p.data[...] = w
    run(2, 2)
    for p, w in zip(ps, after):
        assert_close(p.data, w, rtol=0, atol=0, what="weights after reloading the optimiser")


def test_state_dict_uses_torchs_keys_and_values(torch):
    rng = np.random.default_rng(5)
    w = rng.normal(size=3)
    p, t = Parameter(dev(w.copy())), torch.tensor(w.copy(), requires_grad=True)
    opt, ref = nnref.Adam([p], lr=0.1, amsgrad=True), torch.optim.Adam([t], lr=0.1, amsgrad=True)
    for step in range(2):
        g = _grad(w, step)
        p.grad[...] = dev(g)
        t.grad = torch.tensor(g)
        opt.step()
        ref.step()
    ours, theirs = opt.state_dict()["state"][0], ref.state_dict()["state"][0]
    assert set(ours) == set(theirs)
    assert ours["step"] == int(theirs["step"])
    for k in ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]:
        assert_close(ours[k], theirs[k], what=k)


def test_load_state_dict_checks_before_writing():
    p = Parameter(dev(np.ones(3)))
    opt = nnref.SGD([p], lr=0.1, momentum=0.9)
    bad = {"state": {0: {"momentum_buffer": np.ones(4)}}, "param_groups": opt.state_dict()["param_groups"]}
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: state 'momentum_buffer' of parameter 0 has shape \(4,\)"):
        opt.load_state_dict(bad)
    assert opt.state == {}
    with pytest.raises(ValueError, match="param groups have other sizes"):
        nnref.SGD([p, Parameter(dev(np.ones(2)))], lr=0.1).load_state_dict(opt.state_dict())
    for bad in (None, "x", {"state": {}}):
        with pytest.raises(TypeError, match="SGD.load_state_dict: expected the dict that state_dict"):
            opt.load_state_dict(bad)


def test_optimiser_errors():
    p = [Parameter(dev(np.ones(2)))]
    with pytest.raises(ValueError, match="SGD: invalid learning rate: -0.1"):
        nnref.SGD(p, lr=-0.1)
    with pytest.raises(ValueError, match="SGD: invalid momentum value: -0.9"):
        nnref.SGD(p, lr=0.1, momentum=-0.9)
    with pytest.raises(ValueError, match="SGD: invalid weight_decay value: nan"):
        nnref.SGD(p, lr=0.1, weight_decay=float("nan"))
    with pytest.raises(ValueError, match="SGD: Nesterov momentum requires a momentum and zero dampening"):
        nnref.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="SGD: Nesterov momentum requires"):
        nnref.SGD(p, lr=0.1, momentum=0.9, nesterov=True, dampening=0.1)
    with pytest.raises(ValueError, match=r"Adam: invalid beta parameter at index 1: 1.0"):
        nnref.Adam(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match=r"AdamW: invalid beta parameter at index 0: -0.1"):
        nnref.AdamW(p, betas=(-0.1, 0.9))
    with pytest.raises(ValueError, match="Adam: invalid epsilon value"):
        nnref.Adam(p, eps=-1e-8)
    with pytest.raises(ValueError, match="Adam: invalid learning rate"):
        nnref.Adam(p, lr=float("nan"))
    with pytest.raises(ValueError, match="Adam: invalid learning rate: -1"):
        nnref.Adam([{"params": p, "lr": -1}])
    with pytest.raises(ValueError, match="Adam: got an empty parameter list"):
        nnref.Adam([])
    with pytest.raises(TypeError, match="SGD: parameter 0 is ndarray, expected nnref.Parameter"):
        nnref.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(TypeError, match="SGD: param_group must be a dict, but got Parameter"):
        nnref.SGD([{"params": p}, p[0]], lr=0.1)
    with pytest.raises(KeyError, match="SGD: a param group needs a 'params' key"):
        nnref.SGD([{"lr": 0.1}])
    with pytest.raises(TypeError, match="SGD: a param group's 'params' must be a Parameter or an iterable"):
        nnref.SGD([{"params": 5}])
    with pytest.raises(TypeError, match="SGD: params argument given to the optimizer should be an iterable"):
        nnref.SGD(5)
    with pytest.raises(TypeError, match=r"SGD: lr must be a number, got '0.1' \(str\)"):
        nnref.SGD(p, lr="0.1")
    with pytest.raises(TypeError, match=r"SGD: momentum must be a number, got None \(NoneType\)"):
        nnref.SGD(p, momentum=None)
    with pytest.raises(TypeError, match=r"Adam: betas\[1\] must be a number, got '0.999' \(str\)"):
        nnref.Adam(p, betas=(0.9, "0.999"))
    with pytest.raises(TypeError, match="AdamW: eps must be a number"):
        nnref.AdamW(p, eps=[1e-8])
    with pytest.raises(TypeError, match=r"Adam: betas must be a pair \(beta1, beta2\), got float"):
        nnref.Adam(p, betas=0.9)
    with pytest.raises(ValueError, match=r"Adam: betas must be a pair \(beta1, beta2\), got 3 values"):
        nnref.Adam(p, betas=(0.9, 0.99, 0.5))   # torch ignores the third
    with pytest.raises(ValueError, match="SGD: invalid learning rate: nan"):
        nnref.SGD(p, lr=float("nan"))           # torch's `lr < 0` lets NaN through
    for cls in (nnref.SGD, nnref.Adam, nnref.AdamW):
        with pytest.raises(NotImplementedError, match=f"{cls.__name__}: differentiable=True"):
            cls(p, differentiable=True)


def _torch_error(torch_call):
    """The exception torch raises, so a test can require nnref's to carry the same text."""
    with pytest.raises(Exception) as err:
        torch_call()
    return err.value


def _same_error(ours_call, torch_call, who):
    """nnref raises torch's exception type, its message names ``who`` and holds torch's text."""
    theirs = _torch_error(torch_call)
    with pytest.raises(type(theirs)) as ours:
        ours_call()
    text = str(ours.value)
    assert who in text and str(theirs).strip("'").lower() in text.lower(), f"nnref: {text!r}, torch: {theirs!r}"


# every ValueError (and RuntimeError) torch 2.13's constructors raise for a bad number or combination
CONSTRUCTOR_ERRORS = [
    ("SGD", {"lr": -0.1}), ("SGD", {"momentum": -0.5}), ("SGD", {"weight_decay": -1e-4}),
    ("SGD", {"nesterov": True}), ("SGD", {"momentum": 0.9, "nesterov": True, "dampening": 0.1}),
    ("SGD", {"fused": True, "foreach": True}), ("SGD", {"fused": True, "differentiable": True}),
    ("Adam", {"lr": -1.0}), ("Adam", {"eps": -1e-8}), ("Adam", {"eps": float("nan")}),
    ("Adam", {"betas": (1.0, 0.999)}), ("Adam", {"betas": (0.9, -0.1)}), ("Adam", {"weight_decay": -0.1}),
    ("Adam", {"fused": True, "foreach": True}), ("Adam", {"fused": True, "differentiable": True}),
    ("AdamW", {"lr": -1.0}), ("AdamW", {"eps": -1.0}), ("AdamW", {"betas": (0.9, 1.5)}),
    ("AdamW", {"weight_decay": -0.01}), ("AdamW", {"fused": True, "foreach": True}),
]


@pytest.mark.parametrize("name,kwargs", CONSTRUCTOR_ERRORS,
                         ids=[f"{n}-{','.join(f'{a}={b}' for a, b in k.items())}" for n, k in CONSTRUCTOR_ERRORS])
def test_constructor_errors_are_torchs(torch, name, kwargs):
    t = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    _same_error(lambda: getattr(nnref, name)([Parameter(dev(np.zeros(2)))], **kwargs),
                lambda: getattr(torch.optim, name)([t], **kwargs), f"{name}: ")


def test_group_errors_are_torchs(torch):
    """A parameter in two groups, a set, names in some params or some groups only, a bare
    parameter as ``params``, a group that is no dict: torch's exception and text, naming SGD."""
    p, q = Parameter(dev(np.zeros(2))), Parameter(dev(np.zeros(3)))
    t, u = (torch.zeros(n, dtype=torch.float64, requires_grad=True) for n in (2, 3))
    cases = [
        (lambda a, b: [{"params": [a]}, {"params": [b, a]}]),
        (lambda a, b: [{"params": {a, b}}]),
        (lambda a, b: [("a", a), b]),
        (lambda a, b: [{"params": [("a", a)]}, {"params": [b]}]),
    ]
    for make in cases:
        _same_error(partial(nnref.SGD, make(p, q)), partial(torch.optim.SGD, make(t, u)), "SGD: ")
    opt, ref = nnref.Adam([p]), torch.optim.Adam([t])
    _same_error(lambda: opt.add_param_group({"params": [q, p]}), lambda: ref.add_param_group({"params": [u, t]}),
                "Adam: ")
    _same_error(lambda: opt.add_param_group({"params": {q}}), lambda: ref.add_param_group({"params": {u}}), "Adam: ")
    with pytest.raises(TypeError, match="Adam: param_group must be a dict, but got Parameter"):
        opt.add_param_group(q)
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["params"] == [p]


def test_bare_parameter_is_refused_but_a_group_may_hold_one(torch):
    t = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    p = Parameter(dev(np.array([1.0, 2.0])))
    theirs = str(_torch_error(lambda: torch.optim.SGD(t, lr=0.1)))
    with pytest.raises(TypeError, match="SGD: params argument given to the optimizer should be an iterable of "
                                        "Parameters or dicts, but got Parameter"):
        nnref.SGD(p, lr=0.1)
    assert theirs.startswith("params argument given to the optimizer should be an iterable of Tensors or dicts")
    opt, ref = nnref.Adam([{"params": p}], lr=0.1), torch.optim.Adam([{"params": t}], lr=0.1)
    assert opt.param_groups[0]["params"] == [p] and ref.param_groups[0]["params"] == [t]
    for step in range(3):
        g = _grad(t.detach().numpy(), step)
        p.grad[...], t.grad = dev(g), torch.tensor(g)
        opt.step()
        ref.step()
    assert_close(p.data, t, what="parameter given as a group's single 'params'")


def _without_params(group):
    return {k: v for k, v in group.items() if k != "params"}


@pytest.mark.parametrize("name,kwargs,extra", [("SGD", {"lr": 0.1, "momentum": 0.9}, {"lr": 0.3, "nesterov": True}),
                                               ("Adam", {"lr": 0.05, "amsgrad": True}, {"betas": (0.5, 0.9)}),
                                               ("AdamW", {"lr": 0.05}, {"weight_decay": 0.2})])
def test_add_param_group_fills_defaults_and_steps_like_torch(torch, name, kwargs, extra):
    rng = np.random.default_rng(6)
    starts = [rng.normal(size=(2, 3)), rng.normal(size=4)]
    ours = [Parameter(dev(w.copy())) for w in starts]
    theirs = [torch.tensor(w.copy(), requires_grad=True) for w in starts]
    opt, ref = getattr(nnref, name)(ours[:1], **kwargs), getattr(torch.optim, name)(theirs[:1], **kwargs)
    for step in range(4):
        if step == 2:                       # a group added during training, as when unfreezing a layer
            assert opt.add_param_group({"params": ours[1], **extra}) is None
            ref.add_param_group({"params": theirs[1], **extra})
            assert [_without_params(g) for g in opt.param_groups] == [_without_params(g) for g in ref.param_groups]
        for p, t in zip(ours, theirs):
            g = _grad(t.detach().numpy(), step)
            p.grad[...], t.grad = dev(g), torch.tensor(g)
        opt.step()
        ref.step()
        for p, t in zip(ours, theirs):
            assert_close(p.data, t, what=f"{name} parameter after step {step}")


DUPLICATE_CASES = [
    ("SGD", {"lr": 0.1}), ("SGD", {"lr": 0.1, "momentum": 0.9}), ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.1, "maximize": True}),
    ("Adam", {"lr": 0.1}), ("Adam", {"lr": 0.1, "amsgrad": True, "weight_decay": 0.1}), ("AdamW", {"lr": 0.1}),
]


@pytest.mark.parametrize("name,kwargs", DUPLICATE_CASES,
                         ids=[f"{n}-{','.join(f'{a}={b}' for a, b in k.items())}" for n, k in DUPLICATE_CASES])
def test_duplicate_parameter_warns_and_steps_like_torch(torch, name, kwargs):
    """A parameter listed twice in a group: torch's UserWarning, and torch's numbers: its loop
    updates the parameter once per listing (Adam: twice through one state, step counting 2 per
    step; SGD: both first-step buffers start at the gradient)."""
    rng = np.random.default_rng(7)
    starts = [rng.normal(size=3), rng.normal(size=(2, 2))]
    ours = [Parameter(dev(w.copy())) for w in starts]
    theirs = [torch.tensor(w.copy(), requires_grad=True) for w in starts]
    with pytest.warns(UserWarning) as theirs_warned:
        ref = getattr(torch.optim, name)([theirs[0], theirs[1], theirs[0]], **kwargs)
    with pytest.warns(UserWarning, match=f"{name}, param group 0") as ours_warned:
        opt = getattr(nnref, name)([ours[0], ours[1], ours[0]], **kwargs)
    assert str(ours_warned[0].message).startswith(str(theirs_warned[0].message))
    _step_both(torch, opt, ref, ours, theirs, range(4))
    ours_state, theirs_state = opt.state_dict(), ref.state_dict()
    assert ours_state["param_groups"][0]["params"] == theirs_state["param_groups"][0]["params"] == [2, 1, 2]
    for i, s in theirs_state["state"].items():
        for k, v in s.items():
            assert_close(np.float64(ours_state["state"][i][k]), v, what=f"state {k} of parameter {i}")


def test_step_calls_the_closure_and_returns_its_value(torch):
    p = Parameter(dev(np.array([1.0, -2.0])))
    t = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    opt, ref = nnref.SGD([p], lr=0.1, momentum=0.5), torch.optim.SGD([t], lr=0.1, momentum=0.5)

    def closure():          # loss = Σ w², evaluated again before the update
        p.grad[...] = 2 * p.data
        return float((nnref.asnumpy(p.data) ** 2).sum())

    def torch_closure():
        ref.zero_grad()
        loss = (t ** 2).sum()
        loss.backward()
        return loss

    for _ in range(3):
        assert opt.step(closure) == pytest.approx(float(ref.step(torch_closure).detach()), rel=1e-15)
    assert_close(p.data, t, what="weights after 3 steps with a closure")
    assert opt.step() is None and nnref.Adam([p]).step() is None


def test_parameters_without_a_gradient_are_skipped(torch):
    p, q = Parameter(dev(np.ones(2))), Parameter(dev(np.ones(3)))
    q.grad = None
    p.grad[...] = 1.0
    opt = nnref.Adam([p, q], lr=0.1)
    opt.step()
    opt.zero_grad()
    assert q.grad is None and np.all(nnref.asnumpy(q.data) == 1) and 1 not in opt.state_dict()["state"]


def _as_numpy(state_dict):
    """torch's state dict with every tensor converted by hand, ``step`` as a Python float."""
    return {"state": {i: {k: float(v) if k == "step" else v.numpy() for k, v in s.items()}
                      for i, s in state_dict["state"].items()},
            "param_groups": state_dict["param_groups"]}


@pytest.mark.parametrize("convert", [lambda sd: sd, _as_numpy], ids=["tensors", "numpy"])
@pytest.mark.parametrize("name,kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
                                         ("Adam", {"lr": 0.05, "amsgrad": True}), ("AdamW", {"lr": 0.05})])
def test_load_state_dict_of_torchs_optimiser_continues_its_trajectory(torch, name, kwargs, convert):
    """torch trains 3 steps; nnref takes over its weights and optimiser state (float32 tensors,
    cast to the float64 parameters as torch would) and the next steps equal torch's own."""
    rng = np.random.default_rng(8)
    starts = [rng.normal(size=(3, 2)), rng.normal(size=3)]
    theirs = [torch.tensor(w, dtype=torch.float32, requires_grad=True) for w in starts]
    ref = getattr(torch.optim, name)(theirs, **kwargs)
    for step in range(3):
        for t in theirs:
            t.grad = torch.tensor(_grad(t.detach().double().numpy(), step), dtype=torch.float32)
        ref.step()
    ours = [Parameter(dev(t.detach().double().numpy())) for t in theirs]
    opt = getattr(nnref, name)(ours, lr=0.5)
    opt.load_state_dict(convert(ref.state_dict()))
    assert opt.param_groups[0]["lr"] == kwargs["lr"]
    assert all(type(s.get("step", 0)) is int for s in opt.state.values())
    theirs = [torch.tensor(nnref.asnumpy(p.data), requires_grad=True) for p in ours]   # torch in float64 from here
    ref64 = getattr(torch.optim, name)(theirs, **kwargs)
    ref64.load_state_dict(ref.state_dict())
    _step_both(torch, opt, ref64, ours, theirs, range(3, 6))


def test_load_state_dict_checks_torch_values(torch):
    t = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    ref = torch.optim.Adam([t])
    t.grad = torch.ones(3, dtype=torch.float64)
    ref.step()
    opt = nnref.Adam([Parameter(dev(np.zeros(4)))])
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: state 'exp_avg' of parameter 0 has shape "
                                         r"\(3,\), expected \(4,\)"):
        opt.load_state_dict(ref.state_dict())
    bad = copy.deepcopy(ref.state_dict())
    bad["state"][0]["step"] = torch.tensor(2.5)
    opt = nnref.Adam([Parameter(dev(np.zeros(3)))])
    with pytest.raises(ValueError, match="Adam.load_state_dict: state 'step' of parameter 0 is 2.5, expected a whole"):
        opt.load_state_dict(bad)
    fine = copy.deepcopy(ref.state_dict())
    fine["state"][0]["exp_avg"].requires_grad_()     # NumPy would refuse it; .detach() first, as torch's tools do
    nnref.Adam([Parameter(dev(np.zeros(3)))]).load_state_dict(fine)
    bad = {"state": {7: {}}, "param_groups": ref.state_dict()["param_groups"]}
    with pytest.raises(ValueError, match="Adam.load_state_dict: the state names parameter 7, which no saved param"):
        opt.load_state_dict(bad)
    bad = copy.deepcopy(ref.state_dict())
    bad["param_groups"][0]["lr"] = -1.0
    with pytest.raises(ValueError, match="Adam: invalid learning rate: -1.0"):
        opt.load_state_dict(bad)
    assert opt.state == {} and opt.param_groups[0]["lr"] == 0.001
