"""nnref.fast.batchnorm equals the reference functions of nnref.layers.batchnorm (float64)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from nnref.fast import batchnorm as fast
from nnref.layers import batchnorm as ref
from tests.parity import assert_close, dev


def _inputs(shape, seed):
    rng = np.random.default_rng(seed)
    C = shape[1]
    x = dev(rng.normal(size=shape) * rng.uniform(0.1, 5.0, size=(1, C) + (1,) * (len(shape) - 2)) + 3.0)
    dy = dev(rng.normal(size=shape))
    gamma, beta = dev(rng.uniform(0.5, 1.5, C)), dev(rng.normal(size=C))
    mean, var = dev(rng.normal(size=C)), dev(rng.uniform(0.5, 2.0, C))
    return x, dy, gamma, beta, mean, var


def _check(shape, training, seed=0, momentum=0.1, eps=1e-5):
    x, dy, gamma, beta, mean, var = _inputs(shape, seed)
    stats_r = (mean.copy(), var.copy())
    stats_f = (mean.copy(), var.copy())
    y_r, c_r = ref.batchnorm_forward(x, gamma, beta, *stats_r, momentum, eps, training)
    y_f, c_f = fast.batchnorm_forward(x, gamma, beta, *stats_f, momentum, eps, training)
    assert type(c_f) is ref.BatchNormCache and c_f.x_hat.shape == c_r.x_hat.shape == x.shape
    assert_close(y_f, y_r, rtol=1e-12, atol=1e-12, what="output")
    for what, a, b in zip(("running_mean", "running_var"), stats_f, stats_r):
        assert_close(a, b, rtol=1e-12, atol=1e-14, what=what)
    for i, what in enumerate(("x_hat", "gamma", "inv_std")):
        assert_close(c_f[i], c_r[i], rtol=1e-12, atol=1e-12, what=f"cache {what}")
    assert c_f.training == c_r.training == training
    g_r = ref.batchnorm_backward(dy, c_r)
    g_f = fast.batchnorm_backward(dy, c_f)
    for what, a, b in zip(("dx", "dgamma", "dbeta"), g_f, g_r):
        assert a.shape == b.shape
        assert_close(a, b, rtol=1e-10, atol=1e-12, what=what)
    # the caches are interchangeable: the reference backward accepts the fast forward's cache
    for a, b in zip(ref.batchnorm_backward(dy, c_f), g_r):
        assert_close(a, b, rtol=1e-10, atol=1e-12, what="reference backward of the fast cache")


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(2, 1), (2, 3), (1, 3, 2), (4, 3, 5), (2, 3, 4, 5), (1, 2, 1, 2), (3, 2, 1, 1)])
def test_fast_equals_reference(shape, training):
    _check(shape, training)


def test_fast_equals_reference_momentum_and_eps():
    _check((4, 3, 2, 2), True, momentum=1.0, eps=1e-3)
    _check((4, 3, 2, 2), True, momentum=0.0)


def test_fast_rejects_one_value_per_channel_like_reference():
    for f in (ref.batchnorm_forward, fast.batchnorm_forward):
        with pytest.raises(ValueError, match="expected more than 1 value per channel"):
            f(dev(np.ones((1, 3, 1, 1))), dev(np.ones(3)), dev(np.zeros(3)))


def test_fast_handles_non_contiguous_input():
    x, dy, gamma, beta, _, _ = _inputs((3, 4, 5, 6), 1)
    xs, dys = x[:, :, ::-1, ::2], dy[:, :, ::-1, ::2]   # negative and non-unit strides
    y_r, c_r = ref.batchnorm_forward(xs, gamma, beta)
    y_f, c_f = fast.batchnorm_forward(xs, gamma, beta)
    assert_close(y_f, y_r, rtol=1e-12, atol=1e-12, what="output")
    assert_close(fast.batchnorm_backward(dys, c_f)[0], ref.batchnorm_backward(dys, c_r)[0],
                 rtol=1e-10, atol=1e-12, what="dx")


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 4), c=st.integers(1, 4), spatial=st.lists(st.integers(1, 4), max_size=2),
       training=st.booleans(), seed=st.integers(0, 2**16))
def test_fast_equals_reference_hypothesis(n, c, spatial, training, seed):
    shape = (n, c, *spatial)
    if training and n * int(np.prod(spatial)) == 1:
        return   # one value per channel: an error for both (test above)
    _check(shape, training, seed)
