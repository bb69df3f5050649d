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
    ("Softplus-negative-beta", lambda: nnref.Softplus(beta=-2.0, threshold=5.0),   # torch allows it
     lambda t: t.nn.Softplus(beta=-2.0, threshold=5.0)),
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
    with pytest.raises(TypeError, match="Softplus: beta must be a number, got 'a'"):
        nnref.Softplus(beta="a")                 # at construction, not at the first forward
    with pytest.raises(TypeError, match="Softplus: threshold must be a number, got None"):
        nnref.Softplus(1.0, None)
    with pytest.raises(TypeError, match="LeakyReLU: negative_slope must be a number"):
        nnref.LeakyReLU("a")
    with pytest.raises(TypeError, match="Tanh: expected a floating-point array"):
        nnref.Tanh()(dev(np.arange(3)))
    with pytest.raises(RuntimeError, match="Sigmoid.backward called before forward"):
        nnref.Sigmoid().backward(dev(np.ones(3)))


@pytest.mark.parametrize("name,make,make_ref", CASES, ids=[c[0] for c in CASES])
def test_float16_stays_float16(torch, name, make, make_ref):
    x = np.linspace(-3, 3, 12).astype(np.float16)
    y = make()(dev(x))
    assert y.dtype == np.float16
    assert_close(y, make_ref(torch)(torch.tensor(x)).float(), rtol=2e-3, atol=2e-3, what=f"{name} float16")


def test_sigmoid_tails_match_torch(torch):
    from nnref.layers.activation import sigmoid
    for dtype, x in ((np.float32, [-20.0, -88.0, 20.0]), (np.float64, [-40.0, -700.0, 40.0])):
        ours = sigmoid(dev(np.array(x, dtype=dtype)))
        theirs = torch.sigmoid(torch.tensor(x, dtype=getattr(torch, np.dtype(dtype).name)))
        assert_close(ours, theirs, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=0, what=f"{dtype} tails")
        assert float(ours[0]) > 0                        # 1 - sigma(20) would round to 0


@pytest.mark.parametrize("name,make,make_ref", [
    ("ReLU", lambda: nnref.ReLU(inplace=True), lambda t: t.nn.ReLU(inplace=True)),
    ("LeakyReLU", lambda: nnref.LeakyReLU(0.2, True), lambda t: t.nn.LeakyReLU(0.2, True)),
    ("LeakyReLU-negative", lambda: nnref.LeakyReLU(-0.5, True), lambda t: t.nn.LeakyReLU(-0.5)),
    ("ReLU-g0", lambda: nnref.ReLU(True, grad_at_zero=1.0), None),
], ids=["ReLU", "LeakyReLU", "LeakyReLU-negative", "ReLU-g0"])
def test_inplace_writes_into_the_input_and_backward_stays_right(torch, name, make, make_ref):
    x = _input()
    dy = np.random.default_rng(1).normal(size=x.shape)
    m, xd = make(), dev(x.copy())
    y = m(xd)
    assert y is xd                                       # the result lives in the input, as in torch
    if make_ref is None:                                 # grad_at_zero=1: compare with the non-inplace layer
        ref = nnref.ReLU(grad_at_zero=1.0)
        expected_y, _ = ref(dev(x)), None
        expected_dx = ref.backward(dev(dy))
    else:
        xt = torch.tensor(x, requires_grad=True)
        yt = make_ref(torch)(xt.clone())
        yt.backward(torch.tensor(dy))
        expected_y, expected_dx = yt, xt.grad
    assert_close(xd, expected_y, what=f"{name} output")
    assert_close(m.backward(dev(dy)), expected_dx, what=f"{name} gradient")


@pytest.mark.parametrize("cls", [nnref.Sigmoid, nnref.Tanh])
def test_kept_output_is_read_only(cls):
    y = cls()(dev(np.linspace(-2, 2, 5)))
    if hasattr(y.flags, "writeable"):                    # NumPy; CuPy gets a copy instead
        with pytest.raises(ValueError):
            y += 1
        with pytest.raises(ValueError, match=r"ReLU\(inplace=True\): the input is read-only"):
            nnref.ReLU(inplace=True)(y)
