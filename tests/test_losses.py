import numpy as np
import pytest

import nnref
from tests.parity import assert_close, dev


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_matches_torch(torch, reduction):
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    pt = torch.tensor(pred, requires_grad=True)
    lt = torch.nn.MSELoss(reduction=reduction)(pt, torch.tensor(target))
    lt.backward()
    fn = nnref.MSELoss(reduction)
    loss = fn(dev(pred), dev(target))
    assert isinstance(loss, float)
    assert loss == pytest.approx(lt.item(), rel=1e-12)
    assert_close(fn.backward(), pt.grad, what="MSE gradient")


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_cross_entropy_matches_torch(torch, reduction, scale):
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(5, 4)) * scale   # 1e4: naive exp would overflow
    target = np.array([0, 3, 1, 1, 2])
    zt = torch.tensor(logits, requires_grad=True)
    lt = torch.nn.CrossEntropyLoss(reduction=reduction)(zt, torch.tensor(target))
    lt.backward()
    fn = nnref.CrossEntropyLoss(reduction)
    with np.errstate(over="raise", invalid="raise"):
        loss = fn(dev(logits), dev(target))
        grad = fn.backward()
    assert np.isfinite(loss)
    assert loss == pytest.approx(lt.item(), rel=1e-12)
    assert_close(grad, zt.grad, what="cross-entropy gradient")


def test_cross_entropy_probability_targets(torch):
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(3, 4))
    probs = rng.dirichlet(np.ones(4), size=3)
    zt = torch.tensor(logits, requires_grad=True)
    lt = torch.nn.CrossEntropyLoss()(zt, torch.tensor(probs))
    lt.backward()
    fn = nnref.CrossEntropyLoss()
    assert fn(dev(logits), dev(probs)) == pytest.approx(lt.item(), rel=1e-12)
    assert_close(fn.backward(), zt.grad, what="soft-target gradient")


def test_float32_gradient_stays_float32():
    fn = nnref.CrossEntropyLoss()
    fn(dev(np.zeros((2, 3), np.float32)), dev(np.array([0, 2])))
    assert fn.backward().dtype == np.float32


def test_errors():
    with pytest.raises(ValueError, match="reduction must be one of"):
        nnref.MSELoss("none")
    with pytest.raises(ValueError, match="MSELoss: pred has shape"):
        nnref.MSELoss()(dev(np.zeros((2, 3))), dev(np.zeros((3, 2))))
    with pytest.raises(ValueError, match=r"target classes must lie in \[0, 2\]"):
        nnref.CrossEntropyLoss()(dev(np.zeros((2, 3))), dev(np.array([0, 3])))
    with pytest.raises(TypeError, match="class-index targets must be integers"):
        nnref.CrossEntropyLoss()(dev(np.zeros((2, 3))), dev(np.array([0.0, 1.0])))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        nnref.MSELoss().backward()
