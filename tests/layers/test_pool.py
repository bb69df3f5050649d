import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import nnref
from nnref.backend import asnumpy
from nnref.gradcheck import gradcheck
from tests.parity import assert_close, dev

FEW = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

INPUTS = {  # how the input is drawn: continuous, or with many ties
    "normal": lambda rng, shape: rng.normal(size=shape),
    "relu": lambda rng, shape: np.maximum(rng.normal(size=shape), 0),        # zeros tie
    "constant": lambda rng, shape: np.full(shape, 0.5),                       # every window all equal
    "integers": lambda rng, shape: rng.integers(-2, 3, size=shape).astype(np.float64),
    # windows whose every input element is -inf tie with the -inf padding
    "minus_inf": lambda rng, shape: np.where(rng.random(shape) < 0.7, -np.inf, rng.normal(size=shape)),
}


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))   # torch: pad <= kernel/2
    h = draw(st.integers(max(1, kh - 2 * ph), 9))
    w = draw(st.integers(max(1, kw - 2 * pw), 9))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (n, c, h, w), (kh, kw), stride, (ph, pw)


def _run(torch, m, torch_fn, x, dy_seed):
    xt = torch.tensor(x, requires_grad=True)
    yt = torch_fn(xt)
    dy = np.random.default_rng(dy_seed).normal(size=tuple(yt.shape))
    yt.backward(torch.tensor(dy))
    y = m(dev(x))
    return y, m.backward(dev(dy)), yt, xt.grad


@FEW
@given(case=pool_cases(), kind=st.sampled_from(sorted(INPUTS)), seed=st.integers(0, 2**16))
def test_maxpool_matches_torch_including_ties(torch, case, kind, seed):
    shape, k, s, p = case
    x = INPUTS[kind](np.random.default_rng(seed), shape)
    y, dx, yt, dxt = _run(torch, nnref.MaxPool2d(k, s, p),
                          lambda t: torch.nn.functional.max_pool2d(t, k, s, p), x, seed)
    assert_close(y, yt, what="output")
    assert_close(dx, dxt, what="input gradient")   # on a tie only the first maximum gets it


@FEW
@given(case=pool_cases(), count_include_pad=st.booleans(), seed=st.integers(0, 2**16))
def test_avgpool_matches_torch(torch, case, count_include_pad, seed):
    shape, k, s, p = case
    x = np.random.default_rng(seed).normal(size=shape)
    y, dx, yt, dxt = _run(torch, nnref.AvgPool2d(k, s, p, count_include_pad=count_include_pad),
                          lambda t: torch.nn.functional.avg_pool2d(t, k, s, p, count_include_pad=count_include_pad),
                          x, seed)
    assert_close(y, yt, what="output")
    assert_close(dx, dxt, what="input gradient")


def test_maxpool_tie_gradient_goes_to_the_first_maximum_only():
    """An all-equal 2x2 window: the whole gradient lands on its top-left element (row-major first)."""
    m = nnref.MaxPool2d(2)
    x = dev(np.zeros((1, 1, 2, 4)))
    x[0, 0, 1, 3] = 1.0                      # second window: a unique maximum at the bottom right
    m(x)
    dx = asnumpy(m.backward(dev(np.array([[[[3.0, 5.0]]]]))))
    assert dx.tolist() == [[[[3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 5.0]]]]


@pytest.mark.parametrize("name", ["MaxPool2d", "AvgPool2d"])
@pytest.mark.parametrize("args", [(3,), ((2, 3),), (3, 1), ([2, 3], [1, 2], [1, 0]), (2, None, 1), ((2,), (1,))])
def test_attributes_and_repr_are_torchs(torch, name, args):
    """Attributes keep what was given and the repr prints torch's words; the stride defaults to the
    kernel size; one-element tuples stand for both axes, as in torch."""
    ours, ref = getattr(nnref, name)(*args), getattr(torch.nn, name)(*args)
    for attr in ("kernel_size", "stride", "padding", "ceil_mode"):
        assert getattr(ours, attr) == getattr(ref, attr), attr
    assert repr(ours) == repr(ref)
    x = np.random.default_rng(0).normal(size=(1, 2, 6, 7))
    assert_close(ours(dev(x)), ref(torch.tensor(x)), what="output")


def test_a_changed_attribute_takes_effect():
    m = nnref.MaxPool2d(2)
    assert m(dev(np.zeros((1, 1, 4, 4)))).shape == (1, 1, 2, 2)
    m.stride = 1                                # torch reads its attributes at every call
    assert m(dev(np.zeros((1, 1, 4, 4)))).shape == (1, 1, 3, 3)


@pytest.mark.parametrize("k, s, p, d, ceil", [(3, 1, 1, 1, False), (2, 2, 1, 1, True), ((3, 2), 1, (1, 1), 2, True)])
def test_a_window_of_only_minus_inf_points_inside_the_input(torch, k, s, p, d, ceil):
    """All of a window's input elements -inf, like its padding: torch's argmax starts at the window's
    first element inside the input, so indices and gradient go there, never to the padding."""
    x = np.full((1, 2, 5, 4), -np.inf)
    x[0, 1, 3:, 2:] = np.arange(4.0).reshape(2, 2)       # the other channel: -inf only in part
    ref = torch.nn.MaxPool2d(k, s, p, d, return_indices=True, ceil_mode=ceil)
    m = nnref.MaxPool2d(k, s, p, d, return_indices=True, ceil_mode=ceil)
    y, dx, yt, dxt = _run(torch, m, lambda t: ref(t)[0], x, 0)
    np.testing.assert_array_equal(asnumpy(y[1]), ref(torch.tensor(x))[1].numpy(), err_msg="indices")
    assert_close(y[0], yt, what="output")
    assert_close(dx, dxt, what="input gradient")
    if d == 1 and not ceil:                         # the page's reference loop agrees
        from nnref.layers.pool import maxpool2d_backward, maxpool2d_forward
        _, cache = maxpool2d_forward(dev(x), (k, k), (s, s), (p, p))
        dy = np.random.default_rng(0).normal(size=tuple(yt.shape))    # the dy _run used
        assert_close(maxpool2d_backward(dev(dy), cache), dxt, what="reference loop's input gradient")


def test_padding_never_wins_max_pooling():
    """Padding is -inf for max pooling: an all-negative input still pools to negative numbers."""
    y = asnumpy(nnref.MaxPool2d(2, padding=1)(dev(-np.ones((1, 1, 3, 3)) - 1.0)))
    assert (y == -2.0).all()


@pytest.mark.parametrize("cls", [nnref.MaxPool2d, nnref.AvgPool2d])
def test_gradcheck(cls):
    x = np.random.default_rng(0).permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) / 7.0  # no ties
    assert gradcheck(cls(3, stride=2, padding=1), dev(x))


@pytest.mark.parametrize("cls", [nnref.MaxPool2d, nnref.AvgPool2d])
def test_dtype_kept_and_no_parameters(cls):
    m = cls(2)
    x = dev(np.random.default_rng(0).normal(size=(2, 3, 4, 4)).astype(np.float32))
    y = m(x)
    assert y.dtype == np.float32 and m.backward(y).dtype == np.float32
    assert m.parameters() == [] and list(m.state_dict()) == []


@pytest.mark.parametrize("cls", [nnref.MaxPool2d, nnref.AvgPool2d])
def test_errors_name_the_layer(cls):
    name = cls.__name__
    with pytest.raises(ValueError, match=rf"{name}: input of spatial size \(2, 5\) gives output size .*too small"):
        cls(3)(dev(np.zeros((1, 1, 2, 5))))
    with pytest.raises(ValueError, match=rf"{name}: expected input of shape \(N, C, H, W\)"):
        cls(2)(dev(np.zeros((4, 4))))
    with pytest.raises(TypeError, match=rf"{name}: expected a floating-point array"):
        cls(2)(dev(np.zeros((1, 1, 4, 4), np.int32)))
    with pytest.raises(RuntimeError, match=rf"{name}.backward called before forward"):
        cls(2).backward(dev(np.zeros((1, 1, 2, 2))))
    m = cls(2)
    m(dev(np.zeros((2, 1, 4, 4))))
    with pytest.raises(ValueError, match=rf"{name}.backward: expected a gradient of the output's shape \(2, 1, 2, 2\)"):
        m.backward(dev(np.zeros((1, 1, 2, 2))))                  # would broadcast silently
    with pytest.raises(ValueError, match=rf"{name}: padding \(2, 2\) must be at most half"):
        cls(3, padding=2)
    with pytest.raises(ValueError, match=rf"{name}: kernel_size"):
        cls(0)


@pytest.mark.parametrize("name", ["MaxPool2d", "AvgPool2d"])
def test_unbatched_input_matches_torch(torch, name):
    """Like torch, the pools take one image (C, H, W) and return (C, OH, OW)."""
    m, ref = getattr(nnref, name)(3, 2, 1), getattr(torch.nn, name)(3, 2, 1)
    x = np.random.default_rng(9).normal(size=(2, 7, 6))
    y, dx, yt, dxt = _run(torch, m, ref, x, 10)
    assert y.shape == tuple(yt.shape) and len(y.shape) == 3
    assert_close(y, yt, what="output")
    assert_close(dx, dxt, what="input gradient")



@st.composite
def option_cases(draw):
    """Every option at once: dilation, ceil_mode (last windows hanging over the edge), padding."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    dilation = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h = draw(st.integers(max(1, dilation[0] * (kh - 1) + 1 - 2 * ph), 10))
    w = draw(st.integers(max(1, dilation[1] * (kw - 1) + 1 - 2 * pw), 10))
    return (draw(st.integers(0, 2)), 2, h, w), (kh, kw), stride, (ph, pw), dilation, draw(st.booleans())


def _all_on_padding(shape, k, s, p, d, ceil):
    """Whether some window covers only padding (possible with dilation; nnref refuses it)."""
    from nnref.layers.window import output_size
    for i, kk, ss, pp, dd in zip(shape[2:], k, s, p, d):
        o = output_size(i, kk, ss, pp, dd, ceil)
        taps = np.arange(o)[:, None] * ss + np.arange(kk) * dd - pp
        if not ((taps >= 0) & (taps < i)).any(axis=1).all():
            return True
    return False


@FEW
@given(case=option_cases(), kind=st.sampled_from(sorted(INPUTS)), seed=st.integers(0, 2**16))
def test_maxpool_options_and_indices_match_torch(torch, case, kind, seed):
    shape, k, s, p, d, ceil = case
    if _all_on_padding(shape, k, s, p, d, ceil):
        with pytest.raises(ValueError, match="MaxPool2d: .* window lies entirely on padding"):
            nnref.MaxPool2d(k, s, p, d, ceil_mode=ceil)(dev(np.zeros(shape)))
        return
    x = INPUTS[kind](np.random.default_rng(seed), shape)
    m = nnref.MaxPool2d(k, s, p, d, return_indices=True, ceil_mode=ceil)
    xt = torch.tensor(x, requires_grad=True)
    yt, it = torch.nn.functional.max_pool2d(xt, k, s, p, d, ceil_mode=ceil, return_indices=True)
    dy = np.random.default_rng(seed + 1).normal(size=tuple(yt.shape))
    yt.backward(torch.tensor(dy))
    y, indices = m(dev(x))
    assert_close(y, yt, what="output")
    assert asnumpy(indices).dtype == np.int64
    np.testing.assert_array_equal(asnumpy(indices), it.numpy(), err_msg="indices")
    assert_close(m.backward(dev(dy)), xt.grad, what="input gradient")


@FEW
@given(case=option_cases(), count_include_pad=st.booleans(), divisor=st.sampled_from([None, 1, 3, -2]),
       seed=st.integers(0, 2**16))
def test_avgpool_options_match_torch(torch, case, count_include_pad, divisor, seed):
    shape, k, s, p, _, ceil = case
    if shape[2] + 2 * p[0] < k[0] or shape[3] + 2 * p[1] < k[1]:
        return                                           # drawn for a dilated window: too small here
    x = np.random.default_rng(seed).normal(size=shape)
    y, dx, yt, dxt = _run(torch, nnref.AvgPool2d(k, s, p, ceil, count_include_pad, divisor),
                          torch.nn.AvgPool2d(k, s, p, ceil, count_include_pad, divisor), x, seed)
    assert_close(y, yt, what="output")
    assert_close(dx, dxt, what="input gradient")


def test_ceil_mode_window_over_the_edge_divisor(torch):
    """H = W = 5, kernel 2, stride 2: ceil_mode adds a third window covering one column/row
    (torch divides its sum by the positions it covers, 1 or 2, not by 4)."""
    x = np.random.default_rng(2).normal(size=(1, 1, 5, 5))
    y = nnref.AvgPool2d(2, ceil_mode=True)(dev(x))
    assert_close(y, torch.nn.AvgPool2d(2, ceil_mode=True)(torch.tensor(x)), what="output")
    assert y.shape == (1, 1, 3, 3)


def test_nan_propagates_and_gets_the_gradient(torch):
    x = np.array([[[[1.0, np.nan, 3.0, np.nan], [0.0, 5.0, np.nan, 2.0]]]])
    m, ref = nnref.MaxPool2d((1, 4), return_indices=True), torch.nn.MaxPool2d((1, 4), return_indices=True)
    y, dx, yt, dxt = _run(torch, m, lambda t: ref(t)[0], x, 0)
    y, indices = y
    assert_close(y, yt, what="output")
    np.testing.assert_array_equal(asnumpy(indices), ref(torch.tensor(x))[1].numpy())
    assert_close(dx, dxt, what="input gradient")


@pytest.mark.parametrize("name", ["MaxPool2d", "AvgPool2d"])
def test_empty_batch_and_float16(torch, name):
    y = getattr(nnref, name)(2)(dev(np.zeros((0, 2, 4, 4))))
    assert y.shape == tuple(getattr(torch.nn, name)(2)(torch.zeros(0, 2, 4, 4)).shape) == (0, 2, 2, 2)
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 4)).astype(np.float16)
    m = getattr(nnref, name)(2)
    y = m(dev(x))
    assert y.dtype == np.float16 and m.backward(y).dtype == np.float16
    assert_close(y, getattr(torch.nn, name)(2)(torch.tensor(x)), rtol=1e-3, atol=1e-3, what="float16 output")


def test_unbatched_indices(torch):
    x = np.random.default_rng(4).normal(size=(2, 5, 6))
    y, indices = nnref.MaxPool2d(2, return_indices=True)(dev(x))
    yt, it = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    assert indices.shape == (2, 2, 3)
    np.testing.assert_array_equal(asnumpy(indices), it.numpy())


def test_option_errors():
    with pytest.raises(ValueError, match="AvgPool2d: divisor_override must be a non-zero int"):
        nnref.AvgPool2d(2, divisor_override=0)
    with pytest.raises(ValueError, match="MaxPool2d: dilation"):
        nnref.MaxPool2d(2, dilation=0)
    with pytest.raises(ValueError, match="MaxPool2d: expected non-empty channel"):
        nnref.MaxPool2d(2)(dev(np.zeros((2, 0, 4, 4))))


@pytest.mark.parametrize("cls", [nnref.MaxPool2d, nnref.AvgPool2d])
def test_a_layer_remembers_nothing_wrong_between_calls(cls):
    # the module keeps the last input size's window (a speed path): other sizes, changed
    # settings and a too-small input after a good one must all behave as in a fresh layer
    rng = np.random.default_rng(0)
    layer = cls(3, stride=2, padding=1)
    for shape in [(2, 3, 9, 9), (2, 3, 6, 11), (3, 5, 7), (2, 3, 9, 9)]:
        x = rng.normal(size=shape)
        dy = rng.normal(size=cls(3, stride=2, padding=1)(x).shape)
        fresh = cls(3, stride=2, padding=1)
        np.testing.assert_array_equal(layer(x), fresh(x))
        np.testing.assert_array_equal(layer.backward(dy), fresh.backward(dy))
    layer.padding, layer.ceil_mode = (0, 0), True
    x = rng.normal(size=(2, 3, 9, 9))
    np.testing.assert_array_equal(layer(x), cls(3, stride=2, ceil_mode=True)(x))
    with pytest.raises(ValueError, match=cls.__name__):
        layer(rng.normal(size=(2, 3, 1, 1)))        # no 3x3 window fits, as in a fresh layer


@FEW
@given(case=pool_cases(), kind=st.sampled_from(sorted(INPUTS)), seed=st.integers(0, 2**16))
def test_the_loops_equal_the_strided_views(case, kind, seed):
    """The page's first code, a loop over output cells and window positions, is the same map as
    the strided-view form the modules run: outputs, the winners on ties, and both gradients."""
    from nnref.layers.pool import (avgpool2d_backward, avgpool2d_forward, avgpool2d_views_backward,
                                   avgpool2d_views_forward, make_window, maxpool2d_backward, maxpool2d_forward,
                                   maxpool2d_views_backward, maxpool2d_views_forward)
    shape, k, s, p = case
    s = k if s is None else s
    rng = np.random.default_rng(seed)
    x = dev(INPUTS[kind](rng, shape))
    window = make_window(shape[2:], k, s, p, (1, 1), False)
    y, cache = maxpool2d_forward(x, k, s, p)
    y_views, cache_views = maxpool2d_views_forward(x, window)
    assert_close(y, y_views, rtol=0, atol=0, what="max pooling")
    np.testing.assert_array_equal(asnumpy(cache.winner), asnumpy(cache_views.winner).astype(np.int64))
    dy = dev(rng.normal(size=y.shape))
    assert_close(maxpool2d_backward(dy, cache), maxpool2d_views_backward(dy, cache_views), what="max dx")
    if kind == "minus_inf":
        return                                  # averages of -inf: nothing to compare
    y, cache = avgpool2d_forward(x, k, s, p)
    y_views, cache_views = avgpool2d_views_forward(x, window)
    assert_close(y, y_views, what="average pooling")
    assert_close(avgpool2d_backward(dy, cache), avgpool2d_views_backward(dy, cache_views), what="avg dx")
