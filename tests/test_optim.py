import inspect

import numpy as np
import pytest

import nnref
from nnref.module import Parameter
from nnref.optim import adam_update, sgd_update
from tests.parity import assert_close, dev

STEPS = 6


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
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.1, weight_decay=0.01),
    dict(lr=0.1, momentum=0.8, weight_decay=0.05),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1),
    dict(lr=0.1, momentum=0.9, dampening=0.3),
    dict(lr=0.1, momentum=0.9, maximize=True),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True),
]


@pytest.mark.parametrize("kwargs", SGD_CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_sgd_matches_torch(torch, kwargs):
    _trajectories(torch, lambda ps: nnref.SGD(ps, **kwargs), lambda ps: torch.optim.SGD(ps, **kwargs))


ADAM_CASES = [
    dict(),
    dict(lr=0.05, betas=(0.8, 0.99)),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.01, eps=1e-3),
    dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    dict(lr=0.05, amsgrad=True),
    dict(lr=0.05, weight_decay=0.1, maximize=True),
    dict(lr=0.05, betas=(0.5, 0.9), weight_decay=0.1, amsgrad=True, maximize=True),
    dict(lr=0.05, foreach=False, fused=None, capturable=False, differentiable=False),
]


@pytest.mark.parametrize("kwargs", ADAM_CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_adam_matches_torch(torch, kwargs):
    _trajectories(torch, lambda ps: nnref.Adam(ps, **kwargs), lambda ps: torch.optim.Adam(ps, **kwargs))


@pytest.mark.parametrize("kwargs", [dict(), dict(lr=0.02, weight_decay=0.3),
                                    dict(lr=0.02, amsgrad=True, maximize=True)])
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
    opt = nnref.SGD([{"params": [("w", ours[0])]}, {"params": ours[1:], "lr": 0.3}], lr=0.1, momentum=0.5)
    ref = torch.optim.SGD([{"params": theirs[:1]}, {"params": theirs[1:], "lr": 0.3}], lr=0.1, momentum=0.5)
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
    with pytest.raises(TypeError, match="param groups must all be dicts"):
        nnref.SGD([{"params": p}, p[0]], lr=0.1)
    for cls in (nnref.SGD, nnref.Adam, nnref.AdamW):
        with pytest.raises(NotImplementedError, match=f"{cls.__name__}: differentiable=True"):
            cls(p, differentiable=True)
