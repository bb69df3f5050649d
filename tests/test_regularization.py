"""L1 / L2 penalties: values, gradients (numerical and torch autograd), L2 == SGD weight decay,
the L1 proximal step, and the training loop's ``penalty`` argument."""
import numpy as np
import pytest

import nnref
from nnref import backend
from nnref.gradcheck import numerical_gradient
from nnref.regularization import (L1Penalty, L2Penalty, l1_grad, l1_penalty, l2_grad, l2_penalty,
                                  soft_threshold, weight_parameters)
from nnref.train import fit
from tests.parity import assert_close, dev


def _w(shape=(4, 3), seed=0):
    w = np.random.default_rng(seed).normal(size=shape)
    w[np.abs(w) < 0.05] = 0.3   # keep away from the kink of |w| for central differences
    return dev(w)


def test_penalty_values_closed_form():
    w = _w()
    host = backend.asnumpy(w)
    assert float(l1_penalty(w, 0.3)) == pytest.approx(0.3 * np.abs(host).sum(), rel=1e-14)
    assert float(l2_penalty(w, 0.3)) == pytest.approx(0.3 * (host ** 2).sum(), rel=1e-14)


@pytest.mark.parametrize("penalty,grad", [(l1_penalty, l1_grad), (l2_penalty, l2_grad)])
def test_penalty_gradients_match_central_differences(penalty, grad):
    w = _w()
    numeric = numerical_gradient(lambda: float(penalty(w, 0.7)), w)
    assert_close(grad(w, 0.7), numeric, rtol=1e-7, atol=1e-8, what=penalty.__name__)


def test_penalty_gradients_match_torch_autograd(torch):
    w = _w((5, 2), seed=1)
    t = torch.tensor(backend.asnumpy(w), requires_grad=True)
    (0.2 * t.abs().sum() + 0.05 * (t ** 2).sum()).backward()
    assert_close(l1_grad(w, 0.2) + l2_grad(w, 0.05), t.grad, what="L1 + L2 gradient")


def test_l1_subgradient_at_zero_is_zero(torch):
    w = dev(np.array([0.0, -1.0, 2.0]))
    t = torch.tensor([0.0, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    t.abs().sum().backward()
    assert_close(l1_grad(w, 1.0), t.grad, what="sign(0)")
    assert backend.asnumpy(l1_grad(w, 1.0))[0] == 0.0


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_l2_penalty_step_equals_sgd_weight_decay_in_torch(torch, momentum):
    lam, lr = 0.03, 0.1
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 4)), rng.normal(size=(8, 2))
    model = nnref.Linear(4, 2, dtype=np.float64)
    tm = torch.nn.Linear(4, 2).double()
    tm.load_state_dict({k: torch.tensor(backend.asnumpy(v)) for k, v in model.state_dict().items()})
    # nnref: explicit penalty lam * sum(w^2) on every parameter, SGD without weight decay
    opt = nnref.SGD(model.parameters(), lr=lr, momentum=momentum)
    pen = L2Penalty(model.parameters(), lam)
    # torch: no penalty, weight_decay = 2 * lam (torch adds weight_decay * w to the gradient)
    topt = torch.optim.SGD(tm.parameters(), lr=lr, momentum=momentum, weight_decay=2 * lam)
    loss_fn = nnref.MSELoss()
    for _ in range(3):
        model.zero_grad()
        loss_fn(model(dev(x)), dev(y))
        model.backward(loss_fn.backward())
        pen.backward()
        opt.step()
        topt.zero_grad()
        torch.nn.functional.mse_loss(tm(torch.tensor(x)), torch.tensor(y)).backward()
        topt.step()
    for (name, p), tp in zip(model.named_parameters(), tm.parameters()):
        assert_close(p.data, tp, rtol=1e-12, atol=1e-14, what=name)


def test_penalty_classes_sum_over_parameters_and_accumulate():
    model = nnref.Sequential(nnref.Linear(3, 4, dtype=np.float64), nnref.Tanh(), nnref.Linear(4, 2, dtype=np.float64))
    weights = weight_parameters(model)
    assert [p is q for p, q in zip(weights, [model[0].weight, model[2].weight])] == [True, True]
    pen = L1Penalty(weights, 0.5)
    expected = 0.5 * sum(np.abs(backend.asnumpy(p.data)).sum() for p in weights)
    assert pen() == pytest.approx(expected, rel=1e-14) and pen.value() == pen()
    model.zero_grad()
    for p in weights:
        p.grad[...] = 1.0
    pen.backward()
    for p in weights:
        assert_close(p.grad, 1.0 + 0.5 * np.sign(backend.asnumpy(p.data)), what="accumulated grad")
    assert float(abs(model[0].bias.grad).sum()) == 0.0   # biases are not penalised
    assert "L1Penalty(lam=0.5, 2 parameters)" == repr(pen)


def test_penalty_classes_reject_bad_arguments():
    model = nnref.Linear(2, 2)
    with pytest.raises(ValueError, match="lam must be >= 0"):
        L2Penalty(model.parameters(), -1.0)
    with pytest.raises(TypeError, match="expected nnref.Parameter"):
        L1Penalty([np.zeros(3)], 0.1)


def test_soft_threshold_is_the_proximal_step():
    w = dev(np.array([-2.0, -0.3, 0.0, 0.1, 0.25, 1.5]))
    t = 0.25
    grid = np.linspace(-3, 3, 600001)   # brute force: argmin_z 0.5 (z - w)^2 + t |z|
    expected = [grid[np.argmin(0.5 * (grid - wi) ** 2 + t * np.abs(grid))] for wi in backend.asnumpy(w)]
    assert_close(soft_threshold(w, t), np.array(expected), rtol=0, atol=1e-5, what="prox")
    assert (backend.asnumpy(soft_threshold(w, t))[2:5] == 0).all()   # |w| <= t: exactly 0


def test_fit_with_l2_penalty_equals_fit_with_weight_decay():
    rng = np.random.default_rng(0)
    x, y = dev(rng.normal(size=(20, 4))), dev(rng.integers(0, 3, 20))
    weights = []
    for use_penalty in (True, False):
        nnref.manual_seed(3)
        model = nnref.Sequential(nnref.Linear(4, 6, dtype=np.float64), nnref.ReLU(), nnref.Linear(6, 3, dtype=np.float64))
        if use_penalty:
            opt = nnref.SGD(model.parameters(), lr=0.1)
            penalty = L2Penalty(model.parameters(), 0.01)
        else:
            opt, penalty = nnref.SGD(model.parameters(), lr=0.1, weight_decay=0.02), None
        fit(model, nnref.CrossEntropyLoss(), opt, (x, y), epochs=3, batch_size=5, seed=0, penalty=penalty)
        weights.append([backend.asnumpy(p.data) for p in model.parameters()])
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
