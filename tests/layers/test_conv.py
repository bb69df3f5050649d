"""Conv2d and its reference functions (nnref/layers/conv.py) against torch and the naive loops.

The fast paths (nnref/fast/conv.py) are checked against the reference in tests/fast/test_conv.py.
"""
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import nnref
from nnref.backend import asnumpy
from nnref.gradcheck import gradcheck
from nnref.layers.conv import (col2im, conv2d_backward, conv2d_forward, conv2d_naive_backward,
                               conv2d_naive_forward, im2col, pad2d, pad2d_backward, receptive_field)
from nnref.layers.window import output_size
from tests.parity import assert_close, assert_step_matches_torch, dev, load_from_torch

FEW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
MODES = ["zeros", "reflect", "replicate", "circular"]


@st.composite
def conv_cases(draw):
    """Random groups, channels, rectangular kernels, strides, paddings, dilations and inputs the
    dilated kernel fits in. Returns ``(shape, F, kernel, stride, padding, dilation, groups)``."""
    groups = draw(st.integers(1, 3))
    c, f = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 10))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 10))
    n = draw(st.integers(1, 3))
    return (n, c, h, w), f, (kh, kw), (sh, sw), (ph, pw), (dh, dw), groups


def _torch_pair(torch, *args, bias=True, **kwargs):
    """A torch Conv2d in float64 with clearly non-zero biases, and nnref's copy of it."""
    ref = torch.nn.Conv2d(*args, bias=bias, **kwargs).double()
    if bias:
        torch.nn.init.uniform_(ref.bias, 0.5, 1.5)
    return load_from_torch(nnref.Conv2d(*args, bias=bias, **kwargs, dtype=np.float64), ref), ref


def _check_step(torch, args, kwargs, shape, seed=0):
    m, ref = _torch_pair(torch, *args, **kwargs)
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Using padding='same' with even kernel")
        y, yt = assert_step_matches_torch(torch, m, ref, rng.normal(size=shape), rng)
    assert y.shape == tuple(yt.shape)
    assert repr(m) == repr(ref)                     # torch's extra_repr, option by option
    return y


@FEW
@given(case=conv_cases(), bias=st.booleans(), mode=st.sampled_from(MODES), seed=st.integers(0, 2**16))
def test_forward_and_all_gradients_match_torch(torch, case, bias, mode, seed):
    shape, f, k, s, p, d, g = case
    if mode == "reflect":                           # torch: reflect padding must be < the input size
        p = tuple(min(pi, n - 1) for pi, n in zip(p, shape[2:]))
        shape = shape[:2] + tuple(max(n, dk * (kk - 1) + 1 - 2 * pi) for n, dk, kk, pi in zip(shape[2:], d, k, p))
    if mode == "circular":
        p = tuple(min(pi, n) for pi, n in zip(p, shape[2:]))
        shape = shape[:2] + tuple(max(n, dk * (kk - 1) + 1 - 2 * pi) for n, dk, kk, pi in zip(shape[2:], d, k, p))
    y = _check_step(torch, (shape[1], f, k, s, p, d, g), dict(bias=bias, padding_mode=mode), shape, seed)
    assert y.shape[2:] == tuple(output_size(n, kk, ss, pp, dd) for n, kk, ss, pp, dd in zip(shape[2:], k, s, p, d))


@pytest.mark.parametrize("args,kwargs,shape", [
    ((4, 6, 3), dict(groups=2, padding=1), (2, 4, 7, 6)),                         # grouped
    ((6, 3, (3, 2)), dict(groups=3, stride=(2, 1)), (2, 6, 7, 5)),               # F/G = 1
    ((4, 4, 3), dict(groups=4, padding=1), (3, 4, 6, 6)),                         # depthwise
    ((3, 6, 3), dict(groups=3, stride=2, padding=1), (2, 3, 7, 8)),               # depthwise, multiplier 2
    ((3, 4, 3), dict(dilation=2, stride=2, padding=2), (2, 3, 9, 8)),             # dilation + stride + padding
    ((3, 4, (3, 2)), dict(dilation=(3, 2), stride=(1, 2), padding=(1, 0)), (2, 3, 9, 7)),
    ((4, 6, (3, 2), (2, 1), (1, 2), (2, 1), 2), {}, (2, 4, 9, 8)),               # all positional
])
def test_groups_and_dilation_match_torch(torch, args, kwargs, shape):
    _check_step(torch, args, kwargs, shape)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kwargs,shape", [(dict(padding=1), (2, 3, 5, 6)),
                                          (dict(padding=(2, 1), stride=2), (2, 3, 5, 4)),
                                          (dict(padding=(1, 3), dilation=(2, 1)), (2, 3, 6, 4)),
                                          (dict(padding=2, groups=3), (2, 3, 3, 3))])
def test_each_padding_mode_matches_torch(torch, mode, kwargs, shape):
    """reflect, replicate and circular: an explicit padding step, then an unpadded convolution;
    the gradient of the padded entries is folded back onto the entries they copied."""
    _check_step(torch, (3, 3, 3), dict(padding_mode=mode, **kwargs), shape)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("k,d", [((3, 3), (1, 1)), ((2, 4), (1, 1)), ((4, 1), (2, 1)),
                                 ((3, 2), (2, 3)), ((5, 2), (1, 2))])
def test_same_padding_with_dilation_and_even_kernels_matches_torch(torch, mode, k, d):
    """'same' pads D(K-1) per axis, the odd one after; with a non-zero mode, by that mode."""
    y = _check_step(torch, (2, 3, k), dict(padding="same", dilation=d, padding_mode=mode), (2, 2, 7, 8))
    assert y.shape[2:] == (7, 8)


@pytest.mark.parametrize("k,p", [((3, 3), 1), ((2, 4), "valid"), ((4, 1), "same")])
def test_valid_padding_matches_torch(torch, k, p):
    _check_step(torch, (2, 3, k), dict(padding=p), (2, 2, 5, 6))


@pytest.mark.parametrize("k,p,hw", [((3, 3), (1, 1), (6, 5)), ((5, 3), (2, 1), (7, 4)),
                                     ((1, 1), (0, 0), (3, 3)), ((3, 3), (1, 1), (1, 6)),
                                     ((3, 3), (1, 1), (5, 1)), ((7, 1), (3, 0), (4, 2))])
def test_same_size_convolutions_match_torch_at_the_edges(torch, k, p, hw):
    """Stride 1 with 2P = K - 1 (the layer's chunked fast path): single rows or columns and
    kernels taller than the input too."""
    y = _check_step(torch, (3, 4, k, 1, p), {}, (2, 3) + hw)
    assert y.shape[2:] == hw


@pytest.mark.parametrize("kwargs", [dict(stride=1, padding=1), dict(stride=2, padding=1), dict(padding=0),
                                    dict(groups=2, dilation=2, padding_mode="reflect", padding=2)])
def test_unbatched_input_matches_torch(torch, kwargs):
    """torch.nn.Conv2d also takes one image (C, H, W); so does nnref, returning (F, OH, OW)."""
    y = _check_step(torch, (2, 4, 3), kwargs, (2, 6, 5))
    assert len(y.shape) == 3


@pytest.mark.parametrize("kwargs", [dict(padding=1), dict(stride=2), dict(groups=2, dilation=2),
                                    dict(padding=1, padding_mode="circular"), dict(padding="same")])
def test_empty_batch_gives_empty_output_like_torch(torch, kwargs):
    y = _check_step(torch, (2, 4, 3), kwargs, (0, 2, 5, 6))
    assert y.shape[0] == 0


def test_empty_image_follows_torch(torch):
    """torch takes an empty image only in an empty batch with zero padding, and refuses it otherwise."""
    _check_step(torch, (2, 4, 3), dict(padding=2), (0, 2, 5, 0))
    for shape, mode in [((2, 2, 5, 0), "zeros"), ((2, 5, 0), "zeros"), ((0, 2, 0, 5), "replicate")]:
        with pytest.raises(RuntimeError):
            torch.nn.Conv2d(2, 4, 3, padding=2, padding_mode=mode)(torch.zeros(shape))
        with pytest.raises(ValueError, match="Conv2d: expected an image of height and width >= 1"):
            nnref.Conv2d(2, 4, 3, padding=2, padding_mode=mode)(dev(np.zeros(shape)))


@FEW
@given(case=conv_cases(), seed=st.integers(0, 2**16))
def test_im2col_version_equals_the_naive_loops(case, seed):
    shape, f, k, s, p, d, g = case
    rng = np.random.default_rng(seed)
    x, w, b = (dev(rng.normal(size=sz)) for sz in (shape, (f, shape[1] // g) + k, (f,)))
    y, cache = conv2d_forward(x, w, b, s, p, d, g)
    assert_close(y, conv2d_naive_forward(x, w, b, s, p, d, g), what="forward")
    dy = dev(rng.normal(size=y.shape))
    for got, expected, what in zip(conv2d_backward(dy, cache), conv2d_naive_backward(dy, x, w, s, p, d, g),
                                   ("dx", "dw", "db")):
        assert_close(got, expected, what=what)


@FEW
@given(case=conv_cases(), seed=st.integers(0, 2**16))
def test_col2im_is_the_adjoint_of_im2col(case, seed):
    """<im2col(x), c> == <x, col2im(c)> for all x, c: the defining property of the backward map."""
    shape, _, k, s, p, d, _ = case
    rng = np.random.default_rng(seed)
    x = dev(rng.normal(size=shape))
    cols = im2col(x, k, s, p, d)
    c = dev(rng.normal(size=cols.shape))
    back = col2im(c, shape, k, s, p, d)
    assert back.shape == shape
    assert_close(float((cols * c).sum()), float((x * back).sum()), rtol=1e-10)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("pads", [((1, 2), (0, 3)), ((2, 2), (3, 1)), ((0, 0), (1, 0))])
def test_pad2d_and_its_adjoint_match_torch(torch, mode, pads):
    """pad2d equals torch.nn.functional.pad, and pad2d_backward equals torch's gradient of it."""
    rng = np.random.default_rng(5)
    x, (T, B), (L, R) = rng.normal(size=(2, 3, 4, 5)), *pads
    xt = torch.tensor(x, requires_grad=True)
    tmode = "constant" if mode == "zeros" else mode
    yt = torch.nn.functional.pad(xt, (L, R, T, B), mode=tmode)
    d = rng.normal(size=tuple(yt.shape))
    yt.backward(torch.tensor(d))
    assert_close(pad2d(dev(x), pads, mode), yt, what="padded")
    assert_close(pad2d_backward(dev(d), pads, mode), xt.grad, what="folded gradient")


def test_gradcheck():
    m = nnref.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 2), dtype=np.float64)
    assert gradcheck(m, dev(np.random.default_rng(0).normal(size=(2, 2, 5, 4))))


@pytest.mark.parametrize("kwargs", [dict(bias=False, stride=2), dict(groups=3, dilation=2, padding=2),
                                    dict(padding=2, padding_mode="reflect"),
                                    dict(padding="same", padding_mode="circular")])
def test_gradcheck_other_options(kwargs):
    m = nnref.Conv2d(3, 3, 2, dtype=np.float64, **kwargs)
    assert gradcheck(m, dev(np.random.default_rng(1).normal(size=(1, 3, 5, 6))))


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_state_dict_keys_shapes_and_init_match_torch(torch, groups):
    m, ref = nnref.Conv2d(4, 8, (3, 5), groups=groups), torch.nn.Conv2d(4, 8, (3, 5), groups=groups)
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == \
           {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    bound = 1 / np.sqrt(4 // groups * 3 * 5)   # torch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    w, b = asnumpy(m.weight.data), asnumpy(m.bias.data)
    assert w.dtype == b.dtype == np.float32 and np.abs(b).max() <= bound
    assert bound >= np.abs(w).max() > 0.9 * bound          # many draws: they reach near the bound
    assert list(nnref.Conv2d(3, 8, 3, bias=False).state_dict()) == ["weight"]


def test_device_and_dtype_arguments(torch):
    m = nnref.Conv2d(2, 3, 3, device="cpu", dtype=np.float64)
    assert isinstance(m.weight.data, np.ndarray) and m.weight.data.dtype == np.float64
    assert nnref.Conv2d(2, 3, 3, dtype=torch.float64).bias.data.dtype == np.float64
    with pytest.raises(TypeError, match="Conv2d: dtype"):
        nnref.Conv2d(2, 3, 3, dtype=np.int32)
    with pytest.raises(ValueError, match="Conv2d: device"):
        nnref.Conv2d(2, 3, 3, device="tpu")


def test_dtypes_follow_the_input():
    m = nnref.Conv2d(2, 4, 3, padding=1)
    x32 = dev(np.random.default_rng(0).normal(size=(2, 2, 5, 5)).astype(np.float32))
    y = m(x32)
    assert y.dtype == np.float32 and m.backward(y).dtype == np.float32
    assert m.weight.grad.dtype == np.float32 and m.bias.grad.dtype == np.float32
    y64 = m(x32.astype(np.float64))
    assert y64.dtype == np.float64 and m.backward(y64).dtype == np.float64
    assert m.weight.grad.dtype == np.float32


def test_gradients_accumulate_until_zero_grad():
    m = nnref.Conv2d(2, 2, 2, groups=2, dtype=np.float64)
    x = dev(np.random.default_rng(0).normal(size=(2, 2, 4, 4)))
    m.backward(m(x) * 0 + 1)
    once = asnumpy(m.weight.grad).copy()
    m.backward(m(x) * 0 + 1)
    assert_close(m.weight.grad, 2 * once, what="accumulated weight gradient")
    m.zero_grad()
    assert float(abs(m.weight.grad).max()) == 0


def test_parameter_count_formula():
    for c, f, (kh, kw), g, bias in [(3, 32, (3, 3), 1, True), (64, 128, (1, 1), 1, False),
                                    (16, 8, (5, 3), 4, True), (32, 32, (3, 3), 32, False)]:
        m = nnref.Conv2d(c, f, (kh, kw), groups=g, bias=bias)
        assert sum(p.data.size for p in m.parameters()) == f * (c // g * kh * kw + bias)


@pytest.mark.parametrize("layers", [[(3, 1)], [(3, 1), (3, 1)], [(3, 1), (2, 2), (3, 1)],
                                    [(5, 2), (3, 2), (3, 1)], [(7, 2), (3, 2), (3, 1), (3, 1)]])
def test_receptive_field_equals_the_input_region_one_output_sees(layers):
    """Backpropagate a single output pixel: the input pixels with non-zero gradient are its receptive field."""
    size = 41
    net = nnref.Sequential(*[nnref.Conv2d(1, 1, k, s, dtype=np.float64) for k, s in layers])
    for conv in net:
        conv.weight.data[...] = 1.0   # positive weights: no cancellation can hide a pixel
    y = net(dev(np.zeros((1, 1, size, size))))
    dy = np.zeros(y.shape)
    dy[0, 0, y.shape[2] // 2, y.shape[3] // 2] = 1.0
    rows = np.flatnonzero(np.abs(asnumpy(net.backward(dev(dy)))[0, 0]).sum(axis=1))
    assert rows[-1] - rows[0] + 1 == receptive_field(layers)


def test_errors_name_the_layer_and_what_it_expected():
    m = nnref.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"Conv2d: expected 3 input channels"):
        m(dev(np.zeros((1, 2, 5, 5), np.float32)))
    with pytest.raises(ValueError, match=r"Conv2d: input of spatial size \(2, 5\).*smaller than the kernel"):
        m(dev(np.zeros((1, 3, 2, 5), np.float32)))
    with pytest.raises(ValueError, match=r"Conv2d: input of spatial size \(4, 5\).*dilated by \(2, 2\)"):
        nnref.Conv2d(3, 4, 3, dilation=2)(dev(np.zeros((1, 3, 4, 5), np.float32)))
    nnref.Conv2d(3, 4, 3, padding=1)(dev(np.zeros((1, 3, 1, 1), np.float32)))   # padding makes it fit
    with pytest.raises(ValueError, match=r"Conv2d: expected input of shape \(N, C, H, W\) or unbatched"):
        m(dev(np.zeros((5, 5), np.float32)))
    with pytest.raises(ValueError, match=r"Conv2d: expected 3 input channels \(axis 0\)"):
        m(dev(np.zeros((2, 5, 5), np.float32)))
    m(dev(np.zeros((1, 3, 5, 5), np.float32)))
    with pytest.raises(ValueError, match=r"Conv2d.backward: expected a gradient of the output's shape \(1, 4, 3, 3\)"):
        m.backward(dev(np.zeros((1, 4, 1, 3), np.float32)))     # would broadcast silently
    with pytest.raises(TypeError, match="Conv2d: expected a floating-point array"):
        m(dev(np.zeros((1, 3, 5, 5), np.int64)))
    with pytest.raises(RuntimeError, match="Conv2d.backward called before forward"):
        nnref.Conv2d(1, 1, 1).backward(dev(np.zeros((1, 1, 1, 1), np.float32)))


@pytest.mark.parametrize("mode,padding,size", [("reflect", 3, (3, 5)), ("reflect", (1, 5), (4, 5)),
                                               ("circular", 4, (3, 5))])
def test_padding_mode_limits_are_torchs(torch, mode, padding, size):
    """torch refuses reflect padding >= the input size and circular padding > it; so does nnref
    (numpy would reflect or wrap more than once and return something torch never does)."""
    x = np.zeros((1, 1) + size)
    with pytest.raises(RuntimeError):
        torch.nn.Conv2d(1, 1, 3, padding=padding, padding_mode=mode)(torch.tensor(x))
    with pytest.raises(ValueError, match=f"Conv2d: padding_mode='{mode}' needs padding"):
        nnref.Conv2d(1, 1, 3, padding=padding, padding_mode=mode)(dev(x))


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(kernel_size=0), ValueError, "kernel_size"), (dict(kernel_size=(3, 3, 3)), ValueError, "kernel_size"),
    (dict(kernel_size=2.5), ValueError, "kernel_size"), (dict(kernel_size=True), ValueError, "kernel_size"),
    (dict(stride=0), ValueError, "stride"), (dict(padding=-1), ValueError, "padding"),
    (dict(dilation=0), ValueError, "dilation"), (dict(dilation=(1.0, 2)), ValueError, "dilation"),
    (dict(padding="full"), ValueError, r"padding must be an int, an \(h, w\) pair, 'same' or 'valid', got 'full'"),
    (dict(padding="same", stride=2), ValueError, "padding='same' needs stride 1"),
    (dict(padding_mode="mirror"), ValueError, "padding_mode must be one of"),
    (dict(in_channels=0), ValueError, "in_channels must be greater than zero"),
    (dict(in_channels=2.0), TypeError, "in_channels must be an int"),
    (dict(out_channels=True), TypeError, "out_channels must be an int"),
    (dict(groups=0), ValueError, "groups must be greater than zero"),
    (dict(groups=4), ValueError, "in_channels must be divisible by groups"),
    (dict(in_channels=4, groups=4), ValueError, "out_channels must be divisible by groups"),
])
def test_constructor_errors_name_the_argument(kwargs, error, message):
    args = dict(in_channels=2, out_channels=6, kernel_size=3) | kwargs
    with pytest.raises(error, match="Conv2d: " + message):
        nnref.Conv2d(**args)


def test_a_layer_remembers_nothing_wrong_between_calls():
    # Conv2d keeps the last input shape's checked padding (a speed path): other shapes, changed
    # settings and a too-small input after a good one must all behave as in a fresh layer
    rng = np.random.default_rng(0)
    nnref.manual_seed(0)
    layer = nnref.Conv2d(3, 4, 3, padding=1)

    def fresh(**kw):
        other = nnref.Conv2d(3, 4, 3, **kw)
        other.load_state_dict(layer.state_dict())
        return other
    for shape in [(2, 3, 6, 6), (2, 3, 5, 8), (3, 4, 4), (2, 3, 6, 6)]:
        x = rng.normal(size=shape)
        np.testing.assert_array_equal(layer(x), fresh(padding=1)(x))
    layer.padding = (2, 2)
    small = rng.normal(size=(2, 3, 2, 2))
    np.testing.assert_array_equal(layer(small), fresh(padding=2)(small))
    layer.padding_mode = "reflect"                  # the same input is now too small
    with pytest.raises(ValueError, match="Conv2d"):
        layer(small)                                # reflect padding 2 needs size > 2
    x = rng.normal(size=(2, 3, 6, 6))
    np.testing.assert_array_equal(layer(x), fresh(padding=2, padding_mode="reflect")(x))
