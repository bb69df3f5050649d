"""nnref.Bilinear: torch parity over shapes and options, torch's initialisation, the reference
pair against a naive loop, the two-input backward, and the errors."""
import numpy as np
import pytest

import nnref
from nnref.gradcheck import gradcheck
from nnref.layers.bilinear import bilinear_backward, bilinear_forward
from tests.parity import assert_close, dev, load_from_torch


def _torch_pair(torch, in1, in2, out, bias=True):
    ref = torch.nn.Bilinear(in1, in2, out, bias=bias, dtype=torch.float64)
    if bias:
        torch.nn.init.uniform_(ref.bias, 0.5, 1.5)   # clearly non-zero
    return load_from_torch(nnref.Bilinear(in1, in2, out, bias=bias, dtype=np.float64), ref), ref


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("lead", [(5,), (2, 3), (), (0,)], ids=["batch", "2-lead", "unbatched", "empty"])
def test_forward_and_both_input_gradients_match_torch(torch, lead, bias):
    rng = np.random.default_rng(0)
    m, ref = _torch_pair(torch, 3, 4, 2, bias)
    x1, x2 = rng.normal(size=lead + (3,)), rng.normal(size=lead + (4,))
    t1, t2 = torch.tensor(x1, requires_grad=True), torch.tensor(x2, requires_grad=True)
    yt = ref(t1, t2)
    dy = rng.normal(size=tuple(yt.shape))
    yt.backward(torch.tensor(dy))
    assert_close(m(dev(x1), dev(x2)), yt, what="output")
    d1, d2 = m.backward(dev(dy))
    assert_close(d1, t1.grad, what="d_input1")
    assert_close(d2, t2.grad, what="d_input2")
    for name, p in m.named_parameters():
        assert_close(p.grad, dict(ref.named_parameters())[name].grad, what=f"{name} gradient")
    assert list(m.state_dict()) == list(ref.state_dict())


def test_the_same_array_twice_gets_two_gradients(torch):
    """``m(x, x)``: torch sums both paths into ``x.grad``; nnref returns each path on its own, and
    their sum is torch's."""
    rng = np.random.default_rng(1)
    m, ref = _torch_pair(torch, 3, 3, 2)
    x = rng.normal(size=(4, 3))
    xt = torch.tensor(x, requires_grad=True)
    ref(xt, xt).sum().backward()
    xd = dev(x)
    m(xd, xd)
    d1, d2 = m.backward(dev(np.ones((4, 2))))
    assert d1 is not d2 and not np.allclose(nnref.asnumpy(d1), nnref.asnumpy(d2))
    assert_close(nnref.asnumpy(d1) + nnref.asnumpy(d2), xt.grad, what="both paths together")
    assert gradcheck(nnref.Bilinear(3, 3, 2, dtype=np.float64), xd, xd)


def test_reference_pair_equals_a_naive_loop():
    rng = np.random.default_rng(2)
    x1, x2, A, b = rng.normal(size=(3, 2)), rng.normal(size=(3, 4)), rng.normal(size=(5, 2, 4)), rng.normal(size=5)
    y, cache = bilinear_forward(x1, x2, A, b)
    naive = np.array([[x1[n] @ A[o] @ x2[n] + b[o] for o in range(5)] for n in range(3)])
    np.testing.assert_allclose(y, naive, rtol=1e-12)
    dy = rng.normal(size=(3, 5))
    dx1, dx2, dA, db = bilinear_backward(dy, cache)
    np.testing.assert_allclose(dx1, [sum(dy[n, o] * A[o] @ x2[n] for o in range(5)) for n in range(3)], rtol=1e-12)
    np.testing.assert_allclose(dx2, [sum(dy[n, o] * x1[n] @ A[o] for o in range(5)) for n in range(3)], rtol=1e-12)
    np.testing.assert_allclose(dA, [sum(dy[n, o] * np.outer(x1[n], x2[n]) for n in range(3)) for o in range(5)],
                               rtol=1e-12)
    np.testing.assert_allclose(db, dy.sum(axis=0), rtol=1e-12)


def test_initialisation_is_torchs_uniform_bound():
    """torch: weight and bias ~ U(-1/sqrt(in1_features), 1/sqrt(in1_features))."""
    m = nnref.Bilinear(16, 3, 200)
    bound = 1 / np.sqrt(16)
    for p in (m.weight.data, m.bias.data):
        p = nnref.asnumpy(p)
        assert np.abs(p).max() <= bound and np.abs(p).max() > 0.9 * bound
    w = nnref.asnumpy(m.weight.data)
    assert abs(w.var() - bound ** 2 / 3) < 0.1 * bound ** 2 / 3      # the variance of U(-a, a)
    assert m.weight.shape == (200, 16, 3) and m.weight.dtype == np.float32


def test_float32_weights_compute_in_the_input_dtype():
    m = nnref.Bilinear(2, 3, 4)
    y = m(dev(np.ones((1, 2))), dev(np.ones((1, 3))))
    assert y.dtype == np.float64
    d1, d2 = m.backward(dev(np.ones((1, 4))))
    assert d1.dtype == d2.dtype == np.float64 and m.weight.grad.dtype == np.float32


def test_errors_name_the_layer_and_the_input():
    m = nnref.Bilinear(3, 4, 2, dtype=np.float64)
    with pytest.raises(RuntimeError, match="Bilinear.backward called before forward"):
        m.backward(dev(np.ones((1, 2))))
    with pytest.raises(ValueError, match=r"Bilinear: input1 and input2 must have the same leading axes, "
                                         r"got shapes \(2, 3\) and \(3, 4\)"):
        m(dev(np.ones((2, 3))), dev(np.ones((3, 4))))
    with pytest.raises(ValueError, match="Bilinear: expected 4 input2 features"):
        m(dev(np.ones((2, 3))), dev(np.ones((2, 5))))
    with pytest.raises(TypeError, match=r"Bilinear \(input2\): expected a floating-point array"):
        m(dev(np.ones((2, 3))), dev(np.ones((2, 4), dtype=np.int64)))
    with pytest.raises(TypeError, match="Bilinear: input1 is float64 but input2 float32"):
        m(dev(np.ones((2, 3))), dev(np.ones((2, 4), dtype=np.float32)))
    with pytest.raises(ValueError, match="Bilinear: in1_features must be greater than zero"):
        nnref.Bilinear(0, 4, 2)
    m(dev(np.ones((2, 3))), dev(np.ones((2, 4))))
    with pytest.raises(ValueError, match=r"Bilinear.backward: expected a gradient of the output's shape \(2, 2\)"):
        m.backward(dev(np.ones((1, 2))))


def test_zero_sized_features_and_outputs(torch):
    """torch takes out_features=0 (an empty output); nnref also takes in2_features=0 (y = bias)."""
    m = nnref.Bilinear(3, 4, 0, dtype=np.float64)
    assert m(dev(np.ones((2, 3))), dev(np.ones((2, 4)))).shape == (2, 0)
    m = nnref.Bilinear(3, 0, 2, dtype=np.float64)
    y = m(dev(np.ones((2, 3))), dev(np.ones((2, 0))))
    assert_close(y, np.broadcast_to(nnref.asnumpy(m.bias.data), (2, 2)), what="bias only")
