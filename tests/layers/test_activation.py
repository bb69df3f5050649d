import numpy as np
import pytest

import nnref
from nnref.gradcheck import gradcheck
from tests.parity import assert_close, dev

CASES = [
    ("ReLU", lambda: nnref.ReLU(), lambda t: t.nn.ReLU()),
    ("LeakyReLU", lambda: nnref.LeakyReLU(0.2), lambda t: t.nn.LeakyReLU(0.2)),
    ("Sigmoid", lambda: nnref.Sigmoid(), lambda t: t.nn.Sigmoid()),
    ("Tanh", lambda: nnref.Tanh(), lambda t: t.nn.Tanh()),
    ("Softplus", lambda: nnref.Softplus(), lambda t: t.nn.Softplus()),
    ("Softplus-beta", lambda: nnref.Softplus(beta=3.0, threshold=5.0),
     lambda t: t.nn.Softplus(beta=3.0, threshold=5.0)),
    ("GELU", lambda: nnref.GELU(), lambda t: t.nn.GELU()),
    ("GELU-tanh", lambda: nnref.GELU("tanh"), lambda t: t.nn.GELU(approximate="tanh")),
]


def _input():
    # values across every regime: large magnitudes (saturation, softplus threshold), exact zeros
    x = np.random.default_rng(0).normal(scale=3.0, size=(6, 7))
    x[0, :4] = [0.0, -40.0, 40.0, 1e-3]
    return x


@pytest.mark.parametrize("name,make,make_ref", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(torch, name, make, make_ref):
    x = _input()
    dy = np.random.default_rng(1).normal(size=x.shape)
    xt = torch.tensor(x, requires_grad=True)
    make_ref(torch)(xt).backward(torch.tensor(dy))
    m = make()
    y = m(dev(x))
    assert_close(y, make_ref(torch)(torch.tensor(x)), rtol=1e-12, atol=1e-14, what=f"{name} output")
    assert_close(m.backward(dev(dy)), xt.grad, rtol=1e-12, atol=1e-14, what=f"{name} gradient")


@pytest.mark.parametrize("name,make,make_ref", CASES, ids=[c[0] for c in CASES])
def test_gradcheck(name, make, make_ref):
    x = np.random.default_rng(3).normal(size=(3, 4))
    x[np.abs(x) < 1e-3] = 0.5  # keep central differences away from ReLU's kink
    assert gradcheck(make(), dev(x))


@pytest.mark.parametrize("name,make,make_ref", CASES, ids=[c[0] for c in CASES])
def test_float32_stays_float32(name, make, make_ref):
    m = make()
    x = dev(np.linspace(-3, 3, 12, dtype=np.float32))
    assert m(x).dtype == np.float32
    assert m.backward(x).dtype == np.float32


@pytest.mark.parametrize("g0", [0.0, 0.5, 1.0])
def test_relu_choice_at_zero(g0):
    m = nnref.ReLU(grad_at_zero=g0)
    x = dev(np.array([-1.0, 0.0, 2.0]))
    m(x)
    assert_close(m.backward(dev(np.ones(3))), np.array([0.0, g0, 1.0]), what="ReLU gradient")


def test_sigmoid_does_not_overflow():
    with np.errstate(over="raise"):
        y = nnref.Sigmoid()(dev(np.array([-1e4, 1e4], dtype=np.float32)))
    assert_close(y, np.array([0.0, 1.0], dtype=np.float32), what="saturated sigmoid")


def test_errors():
    with pytest.raises(ValueError, match=r"grad_at_zero must be a subgradient in \[0, 1\]"):
        nnref.ReLU(grad_at_zero=2.0)
    with pytest.raises(ValueError, match="GELU: approximate must be 'none' or 'tanh'"):
        nnref.GELU("fast")
    with pytest.raises(ValueError, match="Softplus: beta must be positive"):
        nnref.Softplus(beta=0)
    with pytest.raises(TypeError, match="Tanh: expected a floating-point array"):
        nnref.Tanh()(dev(np.arange(3)))
    with pytest.raises(RuntimeError, match="Sigmoid.backward called before forward"):
        nnref.Sigmoid().backward(dev(np.ones(3)))
