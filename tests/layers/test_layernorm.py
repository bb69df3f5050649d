import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import nnref
from nnref.gradcheck import gradcheck
from nnref.layers.layernorm import layernorm_backward, layernorm_forward
from tests.parity import assert_close, assert_step_matches_torch, dev, load_from_torch

SHAPES = [  # (normalized_shape as given to both libraries, input shape)
    (5, (3, 5)),
    (5, (2, 4, 5)),
    ((4,), (4,)),
    ([3, 4], (2, 3, 4)),
    ((2, 3, 4), (2, 2, 3, 4)),
]


def _pair(torch, normalized_shape, **kwargs):
    ref = torch.nn.LayerNorm(normalized_shape, dtype=torch.float64, **kwargs)
    with torch.no_grad():   # non-trivial γ and β
        if ref.weight is not None:
            ref.weight.uniform_(0.5, 1.5)
        if ref.bias is not None:
            ref.bias.uniform_(-1.0, 1.0)
    m = load_from_torch(nnref.LayerNorm(normalized_shape, dtype=np.float64, **kwargs), ref)
    return m, ref


@pytest.mark.parametrize("normalized_shape, shape", SHAPES)
@pytest.mark.parametrize("kwargs", [{}, dict(elementwise_affine=False), dict(bias=False), dict(eps=1e-2)])
def test_matches_torch(torch, normalized_shape, shape, kwargs):
    """Output, input gradient and weight/bias gradients, for several normalized_shapes and options."""
    m, ref = _pair(torch, normalized_shape, **kwargs)
    assert list(m.state_dict()) == list(ref.state_dict())
    assert repr(m) == repr(ref)
    rng = np.random.default_rng(0)
    for mode in ("train", "eval"):   # no running statistics: both modes compute the same
        getattr(m, mode)(), getattr(ref, mode)()
        m.zero_grad(), ref.zero_grad()
        x = rng.normal(size=shape) * 3 + 2
        assert_step_matches_torch(torch, m, ref, x, rng, rtol=1e-9, atol=1e-11)


def test_defaults_match_torch(torch):
    m, ref = nnref.LayerNorm(6), torch.nn.LayerNorm(6)
    assert m.normalized_shape == ref.normalized_shape == (6,)
    assert [(k, tuple(v.shape)) for k, v in m.state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
    for key, value in ref.state_dict().items():
        assert_close(m.state_dict()[key], value, what=key)
    assert m.weight.dtype == np.float32 and repr(m) == repr(ref)


@pytest.mark.parametrize("normalized_shape, shape", [(4, (3, 4)), ((2, 3), (2, 2, 3))])
def test_gradcheck(normalized_shape, shape):
    m = nnref.LayerNorm(normalized_shape, dtype=np.float64)
    rng = np.random.default_rng(1)
    m.weight.data[...] = dev(rng.uniform(0.5, 1.5, m.weight.shape))
    m.bias.data[...] = dev(rng.normal(size=m.bias.shape))
    assert gradcheck(m, dev(rng.normal(size=shape) * 2 + 1))


def test_backward_matches_naive_loop():
    """The compact dx formula against the chain rule written out term by term for one sample."""
    rng = np.random.default_rng(2)
    D, eps = 5, 1e-5
    x, dy, g = rng.normal(size=(1, D)), rng.normal(size=(1, D)), rng.uniform(0.5, 1.5, D)
    _, cache = layernorm_forward(x, g, rng.normal(size=D), eps)
    dx, _, _ = layernorm_backward(dy, cache)
    mu, s = x.mean(), np.sqrt(x.var() + eps)
    naive = np.zeros(D)
    for i in range(D):
        for j in range(D):
            # d y_j / d x_i = g_j ((δ_ij - 1/D) / s - (x_j - μ)(x_i - μ) / (D s³))
            d = g[j] * (((i == j) - 1 / D) / s - (x[0, j] - mu) * (x[0, i] - mu) / (D * s**3))
            naive[i] += dy[0, j] * d
    np.testing.assert_allclose(dx[0], naive, rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(lead=st.lists(st.integers(0, 3), max_size=2), norm=st.lists(st.integers(1, 4), min_size=1, max_size=2),
       seed=st.integers(0, 2**16))
def test_each_sample_is_normalised(lead, norm, seed):
    x = np.random.default_rng(seed).normal(size=(*lead, *norm)) * 4 + 3
    y = nnref.asnumpy(nnref.LayerNorm(norm, eps=1e-12, dtype=np.float64)(dev(x)))
    assert y.shape == x.shape
    axes = tuple(range(len(lead), x.ndim))
    np.testing.assert_allclose(y.mean(axis=axes), 0, atol=1e-9)
    if int(np.prod(norm)) > 1:
        np.testing.assert_allclose(y.var(axis=axes), 1, rtol=1e-6)


def test_float16_like_torch(torch):
    ref = torch.nn.LayerNorm(4)
    m = load_from_torch(nnref.LayerNorm(4), ref)
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(3, 4)) * 300 + 1000).astype(np.float16)
    dy = rng.normal(size=(3, 4)).astype(np.float16)
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    yt.backward(torch.tensor(dy))
    y = m(dev(x))
    dx = m.backward(dev(dy))
    assert y.dtype == dx.dtype == np.float16 and np.isfinite(nnref.asnumpy(y)).all()
    assert_close(y.astype(np.float32), yt.float(), rtol=2e-3, atol=2e-3, what="float16 output")
    assert_close(dx.astype(np.float32), xt.grad.float(), rtol=2e-2, atol=2e-3, what="float16 input gradient")


def test_empty_batch_and_dtype_follow_input(torch):
    m = nnref.LayerNorm(3)
    y = m(dev(np.zeros((0, 3))))
    assert y.shape == tuple(torch.nn.LayerNorm(3)(torch.zeros(0, 3)).shape) and y.dtype == np.float64
    assert m.backward(y).shape == (0, 3)
    assert float(abs(m.weight.grad).sum()) == 0


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"LayerNorm: expected input of shape \(\*, 4\) \(trailing shape \(4,\)\), "
                                         r"got shape \(2, 5\)"):
        nnref.LayerNorm(4)(dev(np.ones((2, 5))))
    with pytest.raises(ValueError, match=r"LayerNorm: expected input of shape \(\*, 3, 4\).*got shape \(4,\)"):
        nnref.LayerNorm((3, 4))(dev(np.ones(4)))
    with pytest.raises(TypeError, match="LayerNorm: expected a floating-point array"):
        nnref.LayerNorm(4)(dev(np.ones((2, 4), np.int64)))
    with pytest.raises(TypeError, match="LayerNorm: normalized_shape must be"):
        nnref.LayerNorm(2.5)
    with pytest.raises(ValueError, match=r"LayerNorm: normalized_shape must hold at least one size, none "
                                         r"negative, got \(3, -1\)"):
        nnref.LayerNorm((3, -1))
    with pytest.raises(ValueError, match=r"LayerNorm: normalized_shape must hold at least one size.*got \(\)"):
        nnref.LayerNorm(())                       # torch: "at least 1-dimensional", at the first call
    with pytest.raises(ValueError, match="LayerNorm: eps must be >= 0"):
        nnref.LayerNorm(3, eps=-1e-5)
    with pytest.raises(TypeError, match="LayerNorm: eps must be a number, got None"):
        nnref.LayerNorm(3, eps=None)
    with pytest.raises(TypeError, match="LayerNorm: dtype must be a floating-point dtype"):
        nnref.LayerNorm(3, dtype=np.int32)
    with pytest.raises(RuntimeError, match="LayerNorm.backward called before forward"):
        nnref.LayerNorm(3).backward(dev(np.ones((2, 3))))
    m = nnref.LayerNorm(3)
    m(dev(np.ones((2, 3))))
    with pytest.raises(ValueError, match="LayerNorm.backward: expected a gradient of the output's shape"):
        m.backward(dev(np.ones((1, 3))))


def test_what_torch_accepts_runs_as_in_torch(torch):
    """eps=0 and an empty normalized axis: torch runs both, and so does nnref, with torch's numbers."""
    x = np.random.default_rng(0).normal(size=(3, 4))
    m, ref = nnref.LayerNorm(4, eps=0, dtype=np.float64), torch.nn.LayerNorm(4, eps=0, dtype=torch.float64)
    assert_close(m(dev(x)), ref(torch.tensor(x)), what="eps=0")
    m, ref = nnref.LayerNorm(0), torch.nn.LayerNorm(0)
    y = m(dev(np.ones((2, 0), np.float32)))
    assert y.shape == tuple(ref(torch.ones(2, 0)).shape) == (2, 0)
    assert m.backward(y).shape == (2, 0) and m.weight.grad.shape == (0,)


def test_exported_from_both_places():
    assert nnref.layers.LayerNorm is nnref.LayerNorm
