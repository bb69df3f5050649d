"""The index-target cross-entropy fast path equals the reference in float64."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnref.fast.losses import cross_entropy_index_backward, cross_entropy_index_forward
from nnref.layers.losses import cross_entropy_backward, cross_entropy_forward, target_distribution


def _both(z, y, reduction, dloss):
    q, _ = target_distribution(y, z.shape[1])
    ref, ref_cache = cross_entropy_forward(z, q.astype(z.dtype), None, reduction)
    fast, fast_cache = cross_entropy_index_forward(z, y, reduction)
    np.testing.assert_allclose(fast, ref, rtol=1e-13, atol=1e-15)
    d = dloss if reduction != "none" else np.full(ref.shape, dloss)
    np.testing.assert_allclose(cross_entropy_index_backward(d, fast_cache),
                               cross_entropy_backward(d, ref_cache), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_edge_cases(reduction):
    rng = np.random.default_rng(0)
    for n, c in [(1, 1), (1, 5), (7, 2), (3, 10)]:
        z = rng.normal(size=(n, c)) * 30                         # large logits: the shift matters
        _both(z, rng.integers(0, c, n), reduction, 0.7)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 9), c=st.integers(1, 7), reduction=st.sampled_from(["mean", "sum", "none"]),
       seed=st.integers(0, 10_000))
def test_hypothesis_shapes(n, c, reduction, seed):
    rng = np.random.default_rng(seed)
    _both(rng.normal(size=(n, c)), rng.integers(0, c, n), reduction, float(rng.normal()))


def test_the_backward_leaves_the_cache_alone():
    z, y = np.random.default_rng(1).normal(size=(4, 3)), np.array([0, 2, 1, 2])
    _, cache = cross_entropy_index_forward(z, y)
    first = cross_entropy_index_backward(1.0, cache)
    np.testing.assert_array_equal(cross_entropy_index_backward(1.0, cache), first)
