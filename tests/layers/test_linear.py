import numpy as np
import pytest

import nnref
from nnref.gradcheck import gradcheck
from nnref.layers.linear import linear_backward, linear_forward
from tests.parity import assert_close, assert_step_matches_torch, dev, load_from_torch


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,)])
def test_linear_matches_torch(torch, bias, shape):
    rng = np.random.default_rng(1)
    ref = torch.nn.Linear(4, 3, bias=bias).double()
    if bias:
        torch.nn.init.uniform_(ref.bias, 0.5, 1.5)   # clearly non-zero
    m = load_from_torch(nnref.Linear(4, 3, bias=bias, dtype=np.float64), ref)
    assert_step_matches_torch(torch, m, ref, rng.normal(size=shape), rng)
    assert list(m.state_dict()) == list(ref.state_dict())


def test_linear_gradcheck():
    m = nnref.Linear(3, 2, dtype=np.float64)
    assert gradcheck(m, dev(np.random.default_rng(2).normal(size=(4, 3))))


def test_grads_accumulate_until_zero_grad():
    m = nnref.Linear(3, 2, dtype=np.float64)
    x, dy = dev(np.ones((2, 3))), dev(np.ones((2, 2)))
    m(x); m.backward(dy)
    once = nnref.asnumpy(m.weight.grad).copy()
    m(x); m.backward(dy)
    assert_close(m.weight.grad, 2 * once, what="accumulated gradient")
    m.zero_grad()
    assert not nnref.asnumpy(m.weight.grad).any()


def test_pure_functions_need_only_numpy():
    x = np.arange(6.0).reshape(2, 3)
    W = np.eye(3)[:2]
    y, cache = linear_forward(x, W, np.array([1.0, -1.0]))
    np.testing.assert_array_equal(y, [[1.0, 0.0], [4.0, 3.0]])
    dx, dW, db = linear_backward(np.ones((2, 2)), cache)
    np.testing.assert_array_equal(db, [2.0, 2.0])
    np.testing.assert_array_equal(dW, [[3.0, 5.0, 7.0], [3.0, 5.0, 7.0]])


def test_dtype_follows_input():
    m = nnref.Linear(3, 2)  # float32 weights
    assert m.weight.dtype == np.float32
    assert m(dev(np.ones((1, 3), np.float32))).dtype == np.float32
    y = m(dev(np.ones((1, 3), np.float64)))
    assert y.dtype == np.float64
    assert m.backward(dev(np.ones((1, 2)))).dtype == np.float64
    assert m.weight.grad.dtype == np.float32


def test_linear_errors():
    m = nnref.Linear(3, 2)
    with pytest.raises(RuntimeError, match="Linear.backward called before forward"):
        m.backward(dev(np.ones((1, 2), np.float32)))
    with pytest.raises(ValueError, match=r"Linear: expected 3 input features"):
        m(dev(np.ones((4, 5), np.float32)))
    with pytest.raises(TypeError, match="Linear: expected a floating-point array"):
        m(dev(np.ones((4, 3), np.int64)))
    with pytest.raises(ValueError, match="Linear: out_features must be zero or positive, got -2"):
        nnref.Linear(3, -2)
    with pytest.raises(TypeError, match=r"Linear: in_features must be an int, got 2.5"):
        nnref.Linear(2.5, 3)
    with pytest.raises(TypeError, match=r"Linear: out_features must be an int, got True"):
        nnref.Linear(3, True)
    with pytest.raises(TypeError, match="Linear: dtype must be a floating-point dtype"):
        nnref.Linear(3, 2, dtype=np.int32)
    with pytest.raises(ValueError, match="Linear: device must be None, 'cpu', 'cuda'"):
        nnref.Linear(3, 2, device="tpu")


def test_zero_in_features_gives_the_bias_like_torch(torch):
    ref = torch.nn.Linear(0, 3).double()
    m = load_from_torch(nnref.Linear(0, 3, dtype=np.float64), ref)
    x = np.zeros((2, 0))
    assert_close(m(dev(x)), ref(torch.tensor(x)), what="output")


def test_device_and_dtype():
    m = nnref.Linear(3, 2, device="cpu", dtype="float64")
    assert type(m.weight.data) is np.ndarray and m.weight.dtype == np.float64 and m.bias.dtype == np.float64
    assert nnref.Linear(3, 2).weight.dtype == np.float32


def test_float16_input_stays_float16(torch):
    m = nnref.Linear(3, 2)
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float16)
    y = m(dev(x))
    assert y.dtype == np.float16 and m.backward(y).dtype == np.float16


@pytest.mark.parametrize("features", [(0, 3), (3, 0), (4, 3)], ids=["no-inputs", "no-outputs", "plain"])
def test_zero_features_and_leading_axes_follow_torch(features, torch):
    """torch takes Linear(0, n) and Linear(n, 0); inputs with several leading axes are one batch."""
    rng = np.random.default_rng(0)
    ref = torch.nn.Linear(*features).double()
    m = load_from_torch(nnref.Linear(*features, dtype=np.float64), ref)
    x = rng.normal(size=(2, 4, features[0]))
    dy = rng.normal(size=(2, 4, features[1]))
    xt = torch.tensor(x, requires_grad=True)
    ref(xt).backward(torch.tensor(dy))
    assert_close(m(dev(x)), ref(torch.tensor(x)), what="output")
    assert_close(m.backward(dev(dy)), xt.grad, what="input gradient")
    assert_close(m.weight.grad, ref.weight.grad, what="weight gradient")
    assert_close(m.bias.grad, ref.bias.grad, what="bias gradient")
