"""AdaptiveAvgPool2d and AdaptiveMaxPool2d: torch's window rule, torch parity over many input and
output sizes (larger outputs and None included, hypothesis), ties, NaN, indices, unbatched input,
the 1 x 1 mean over any leading axes, gradcheck, and the errors."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import nnref
from nnref.gradcheck import gradcheck
from nnref.layers.adaptive_pool import adaptive_windows
from tests.parity import assert_close, dev

FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

INPUTS = {  # how the input is drawn: continuous, or with many ties
    "normal": lambda rng, shape: rng.normal(size=shape),
    "relu": lambda rng, shape: np.maximum(rng.normal(size=shape), 0),
    "integers": lambda rng, shape: rng.integers(-1, 2, size=shape).astype(np.float64),
}


@given(size=st.integers(1, 40), out=st.integers(1, 40))
def test_windows_follow_torchs_rule_and_cover_the_input(size, out):
    """start = floor(i H / O), end = ceil((i + 1) H / O), in exact rational arithmetic; every
    position lies in some window, every window is non-empty and at most ceil(H / O) + 1 long."""
    windows = adaptive_windows(size, out)
    assert windows == [(math.floor(i * size / out), math.ceil((i + 1) * size / out)) for i in range(out)]
    assert windows[0][0] == 0 and windows[-1][1] == size
    assert all(a < b <= a + -(-size // out) + 1 for a, b in windows)
    assert set().union(*(range(a, b) for a, b in windows)) == set(range(size))


@st.composite
def pool_cases(draw):
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    oh = draw(st.one_of(st.none(), st.integers(1, 11)))
    ow = draw(st.one_of(st.none(), st.integers(1, 11)))
    batch = draw(st.sampled_from([(), (1,), (2,)]))          # () is unbatched (C, H, W)
    return batch + (draw(st.integers(1, 3)), h, w), (oh, ow)


def _run_both(torch, m, ref, x, seed):
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    out = yt[0] if isinstance(yt, tuple) else yt
    dy = np.random.default_rng(seed).normal(size=tuple(out.shape))
    out.backward(torch.tensor(dy))
    y = m(dev(x))
    dx = m.backward(dev(dy))
    return y, dx, yt, xt.grad


@FEW
@given(case=pool_cases(), seed=st.integers(0, 2**16))
def test_avg_matches_torch_for_every_output_size(torch, case, seed):
    shape, out = case
    x = np.random.default_rng(seed).normal(size=shape)
    y, dx, yt, dxt = _run_both(torch, nnref.AdaptiveAvgPool2d(out), torch.nn.AdaptiveAvgPool2d(out), x, seed)
    assert_close(y, yt, what="output")
    assert_close(dx, dxt, what="input gradient")


@FEW
@given(case=pool_cases(), kind=st.sampled_from(sorted(INPUTS)), seed=st.integers(0, 2**16))
def test_max_matches_torch_including_ties_and_indices(torch, case, kind, seed):
    shape, out = case
    x = INPUTS[kind](np.random.default_rng(seed), shape)
    y, dx, yt, dxt = _run_both(torch, nnref.AdaptiveMaxPool2d(out, return_indices=True),
                               torch.nn.AdaptiveMaxPool2d(out, return_indices=True), x, seed)
    assert_close(y[0], yt[0], what="output")
    np.testing.assert_array_equal(nnref.asnumpy(y[1]), yt[1].numpy(), err_msg="indices")
    assert y[1].dtype == np.int64
    assert_close(dx, dxt, what="input gradient")    # on a tie only the first maximum gets it


def test_larger_output_repeats_rows_like_torch(torch):
    """Output 5 x 7 from a 2 x 3 input: windows overlap and repeat input elements."""
    x = np.arange(12.0).reshape(1, 2, 2, 3)
    for cls in ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d"):
        y = getattr(nnref, cls)((5, 7))(dev(x))
        assert_close(y, getattr(torch.nn, cls)((5, 7))(torch.tensor(x)), what=cls)


def test_nan_is_the_maximum_and_the_last_nan_wins_as_in_torch(torch):
    nan = np.nan
    x = np.array([[[1.0, nan, 3.0], [nan, 2.0, 0.0]], [[1.0, 3.0, 3.0], [3.0, 2.0, 0.0]]])
    y, idx = nnref.AdaptiveMaxPool2d(1, return_indices=True)(dev(x))
    yt, it = torch.nn.AdaptiveMaxPool2d(1, return_indices=True)(torch.tensor(x))
    assert_close(y, yt, what="output")
    np.testing.assert_array_equal(nnref.asnumpy(idx), it.numpy())
    assert nnref.asnumpy(idx).ravel().tolist() == [3, 1]      # the last NaN; the first of the tied 3s


def test_a_window_of_minus_infinity_points_at_its_first_element_as_in_torch(torch):
    x = np.full((1, 2, 4, 5), -np.inf)
    x[0, 1, 0, 4] = 1.0
    y, idx = nnref.AdaptiveMaxPool2d((2, 3), return_indices=True)(dev(x))
    yt, it = torch.nn.AdaptiveMaxPool2d((2, 3), return_indices=True)(torch.tensor(x))
    assert_close(y, yt, what="output")
    np.testing.assert_array_equal(nnref.asnumpy(idx), it.numpy())


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (4, 5), (2, 1, 3, 4, 5), (3, 0, 4), (2, 3, 0, 5), (0, 4, 5)])
def test_one_by_one_is_the_mean_over_the_last_two_axes_as_in_torch(torch, shape):
    """torch computes a 1 x 1 output as ``mean((-1, -2))`` for any input with two axes or more:
    NaN for an empty plane."""
    x = np.random.default_rng(0).normal(size=shape)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.AdaptiveAvgPool2d(1)(xt)
    yt.sum().backward()
    m = nnref.AdaptiveAvgPool2d(1)
    y = m(dev(x))
    np.testing.assert_allclose(nnref.asnumpy(y), yt.detach().numpy(), rtol=1e-12, equal_nan=True)
    assert_close(m.backward(dev(np.ones(y.shape))), xt.grad, what="input gradient")


@pytest.mark.parametrize("cls", ["AdaptiveAvgPool2d", "AdaptiveMaxPool2d"])
def test_gradcheck(cls):
    rng = np.random.default_rng(3)
    for out, shape in [((3, 2), (2, 2, 7, 5)), (4, (3, 3, 3)), ((None, 5), (1, 2, 4, 3))]:
        assert gradcheck(getattr(nnref, cls)(out), dev(rng.normal(size=shape)))


def test_float16_stays_float16():
    x = dev(np.random.default_rng(4).normal(size=(2, 3, 5, 5)).astype(np.float16))
    for m in (nnref.AdaptiveAvgPool2d(2), nnref.AdaptiveMaxPool2d(2)):
        y = m(x)
        assert y.dtype == np.float16 and m.backward(dev(np.ones(y.shape, np.float16))).dtype == np.float16


def test_repr_is_torchs(torch):
    for args in [(3,), ((2, None),), ((2, 3), True)]:
        cls = "AdaptiveMaxPool2d" if len(args) == 2 else "AdaptiveAvgPool2d"
        assert repr(getattr(nnref, cls)(*args)) == repr(getattr(torch.nn, cls)(*args))


@pytest.mark.parametrize("bad,error", [(-1, ValueError), (2.5, TypeError), ("3", TypeError), (None, TypeError),
                                       ((1, 2, 3), ValueError), ((2, -1), ValueError), (True, TypeError)])
def test_bad_output_sizes_are_refused_when_built(bad, error):
    for cls in (nnref.AdaptiveAvgPool2d, nnref.AdaptiveMaxPool2d):
        with pytest.raises(error, match=cls.__name__):
            cls(bad)


def test_bad_inputs_name_the_layer():
    with pytest.raises(ValueError, match=r"AdaptiveAvgPool2d: expected input of shape \(N, C, H, W\)"):
        nnref.AdaptiveAvgPool2d(2)(dev(np.ones((4, 5))))
    with pytest.raises(ValueError, match="AdaptiveAvgPool2d: expected input of shape"):
        nnref.AdaptiveAvgPool2d((1, 1))(dev(np.ones((4, 5))))         # torch: at least 3 axes for a pair
    with pytest.raises(ValueError, match="AdaptiveMaxPool2d: expected a non-empty input"):
        nnref.AdaptiveMaxPool2d(2)(dev(np.ones((2, 0, 4, 5))))
    with pytest.raises(TypeError, match="AdaptiveMaxPool2d: expected a floating-point array"):
        nnref.AdaptiveMaxPool2d(2)(dev(np.ones((2, 3, 4, 5), dtype=np.int64)))
    with pytest.raises(RuntimeError, match="AdaptiveAvgPool2d.backward called before forward"):
        nnref.AdaptiveAvgPool2d(2).backward(dev(np.ones((1, 1, 2, 2))))
