import numpy as np
import pytest

import nnref
from nnref.backend import asnumpy
from nnref.gradcheck import gradcheck
from tests.parity import assert_close, dev


@pytest.mark.parametrize("start_dim, end_dim", [(1, -1), (0, -1), (1, 2), (2, 3), (-3, -2), (3, 3), (0, 0)])
def test_matches_torch(torch, start_dim, end_dim):
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5))
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.Flatten(start_dim, end_dim)(xt)
    dy = np.random.default_rng(1).normal(size=tuple(yt.shape))
    yt.backward(torch.tensor(dy))
    m = nnref.Flatten(start_dim, end_dim)
    y = m(dev(x))
    assert_close(y, yt, what="output")
    assert_close(m.backward(dev(dy)), xt.grad, what="input gradient")


def test_row_major_order_of_a_feature_map():
    """x[n, c, h, w] goes to column (c*H + h)*W + w: the order a Linear layer after it sees."""
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    y = asnumpy(nnref.Flatten()(dev(x)))
    assert y.shape == (2, 60) and y[1, (2 * 4 + 1) * 5 + 3] == x[1, 2, 1, 3]


def test_non_contiguous_input():
    host = np.random.default_rng(0).normal(size=(3, 2, 4, 5)).transpose(1, 0, 3, 2)
    m = nnref.Flatten()
    y = m(dev(host))
    assert_close(y, np.ascontiguousarray(host).reshape(2, 60), what="output")
    assert_close(m.backward(y), host, what="input gradient")


def test_gradcheck():
    # gradcheck perturbs x through a flat view, so it needs a contiguous x
    assert gradcheck(nnref.Flatten(1, 2), dev(np.random.default_rng(0).normal(size=(3, 2, 4, 5))))


def test_errors():
    with pytest.raises(ValueError, match=r"Flatten: start_dim=1 and end_dim=-1 must lie in \[-1, 0\]"):
        nnref.Flatten()(dev(np.zeros(3)))
    with pytest.raises(ValueError, match="Flatten: start_dim=2 comes after end_dim=1"):
        nnref.Flatten(2, 1)(dev(np.zeros((2, 3, 4))))
    with pytest.raises(RuntimeError, match="Flatten.backward called before forward"):
        nnref.Flatten().backward(dev(np.zeros((2, 3))))


def test_rejects_lists_and_non_int_dims():
    with pytest.raises(TypeError, match="Flatten: expected an array for input, got list"):
        nnref.Flatten()([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(TypeError, match="Flatten: start_dim must be an int"):
        nnref.Flatten(1.0)


def test_empty_batch_and_any_dtype(torch):
    x = np.zeros((0, 3, 4))
    assert nnref.Flatten()(dev(x)).shape == tuple(torch.nn.Flatten()(torch.tensor(x)).shape) == (0, 12)
    assert nnref.Flatten()(dev(np.ones((2, 3, 4), np.float16))).dtype == np.float16


@pytest.mark.parametrize("start_dim,end_dim", [(0, -1), (0, 0), (-1, -1)])
def test_a_0d_input_is_one_element_as_torch(torch, start_dim, end_dim):
    m = nnref.Flatten(start_dim, end_dim)
    y = m(dev(np.array(3.0)))
    assert y.shape == tuple(torch.nn.Flatten(start_dim, end_dim)(torch.tensor(3.0)).shape) == (1,)
    assert m.backward(dev(np.ones(1))).shape == ()
