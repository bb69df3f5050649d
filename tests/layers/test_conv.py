import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import nnref
from nnref.backend import asnumpy
from nnref.gradcheck import gradcheck
from nnref.layers.conv import (col2im, conv2d_backward, conv2d_forward, conv2d_naive_backward,
                               conv2d_naive_forward, conv_output_size, im2col, im2col_same, is_same_conv,
                               receptive_field, to_batch_last)
from tests.parity import assert_close, assert_step_matches_torch, dev, load_from_torch

FEW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def conv_cases(draw):
    """Random channels, rectangular kernels, strides, paddings and rectangular inputs >= the kernel."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kh - 2 * ph), 9))
    w = draw(st.integers(max(1, kw - 2 * pw), 9))
    n, c, f = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    return (n, c, h, w), f, (kh, kw), (sh, sw), (ph, pw)


def _torch_pair(torch, c, f, k, s, p, bias=True):
    ref = torch.nn.Conv2d(c, f, k, s, p, bias=bias).double()
    if bias:
        torch.nn.init.uniform_(ref.bias, 0.5, 1.5)   # clearly non-zero biases
    return load_from_torch(nnref.Conv2d(c, f, k, s, p, bias=bias, dtype=np.float64), ref), ref


@pytest.mark.parametrize("k,p,hw", [((3, 3), (1, 1), (6, 5)), ((5, 3), (2, 1), (7, 4)),
                                     ((1, 1), (0, 0), (3, 3)), ((3, 3), (1, 1), (1, 6)),
                                     ((3, 3), (1, 1), (5, 1)), ((7, 1), (3, 0), (4, 2))])
def test_same_convolution_fast_path_matches_torch(torch, k, p, hw):
    """Stride 1 with 2p = k - 1 takes the whole-row-shift path (conv.py, ``conv_same``): check it
    at the edges too (a single row or column, kernels taller than the input)."""
    m, ref = _torch_pair(torch, 3, 4, k, 1, p)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 3) + hw)
    _, yt = assert_step_matches_torch(torch, m, ref, x, rng)
    assert tuple(yt.shape[2:]) == hw


@FEW
@given(case=conv_cases(), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_forward_and_all_gradients_match_torch(torch, case, bias, seed):
    shape, f, k, s, p = case
    m, ref = _torch_pair(torch, shape[1], f, k, s, p, bias)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    y, _ = assert_step_matches_torch(torch, m, ref, x, rng)
    assert y.shape[2:] == (conv_output_size(shape[2], k[0], s[0], p[0]),
                           conv_output_size(shape[3], k[1], s[1], p[1]))


@FEW
@given(case=conv_cases(), seed=st.integers(0, 2**16))
def test_im2col_version_equals_the_naive_loops(case, seed):
    shape, f, k, s, p = case
    rng = np.random.default_rng(seed)
    x, w, b = dev(rng.normal(size=shape)), dev(rng.normal(size=(f, shape[1]) + k)), dev(rng.normal(size=f))
    y, cache = conv2d_forward(x, w, b, s, p)
    assert_close(y, conv2d_naive_forward(x, w, b, s, p), what="forward")
    dy = dev(rng.normal(size=y.shape))
    for got, expected, what in zip(conv2d_backward(dy, cache), conv2d_naive_backward(dy, x, w, s, p),
                                   ("dx", "dw", "db")):
        assert_close(got, expected, what=what)


@FEW
@given(case=conv_cases(), batch_last=st.booleans(), seed=st.integers(0, 2**16))
def test_col2im_is_the_adjoint_of_im2col(case, batch_last, seed):
    """<im2col(x), c> == <x, col2im(c)> for all x, c: the defining property of the backward map."""
    shape, _, k, s, p = case
    rng = np.random.default_rng(seed)
    x = dev(rng.normal(size=shape))
    cols, _ = im2col(x, k, s, p, batch_last)
    c = dev(rng.normal(size=cols.shape))
    back = col2im(c, shape, k, s, p, batch_last)
    assert back.shape == shape
    assert_close(float((cols * c).sum()), float((x * back).sum()), rtol=1e-10)


@FEW
@given(case=conv_cases(), seed=st.integers(0, 2**16))
def test_batch_last_columns_are_the_same_columns_reordered(case, seed):
    shape, _, k, s, p = case
    x = dev(np.random.default_rng(seed).normal(size=shape))
    cols, (oh, ow) = im2col(x, k, s, p)
    cols_bl, size = im2col(x, k, s, p, batch_last=True)
    assert size == (oh, ow)
    n, rows = shape[0], cols.shape[0]
    assert_close(cols_bl.reshape(rows, oh, ow, n), cols.reshape(rows, n, oh, ow).transpose(0, 2, 3, 1))


def test_to_batch_last_pads_and_moves_the_batch_inside():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    xt = to_batch_last(dev(x), (1, 2))
    assert xt.shape == (3, 6, 9, 2)
    assert_close(xt, np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2))).transpose(1, 2, 3, 0))
    already = dev(np.ascontiguousarray(x.transpose(1, 2, 3, 0))).transpose(3, 0, 1, 2)
    assert to_batch_last(already).base is already.base                # a view, no copy


@pytest.mark.parametrize("shape,s,p,layout", [((6, 2, 5, 5), (2, 2), (1, 1), "batch_last"),
                                              ((1, 2, 7, 9), (2, 1), (1, 0), "rows"),
                                              ((5, 2, 6, 6), (1, 1), (0, 0), "batch_last"),
                                              ((2, 2, 5, 6), (1, 1), (1, 1), "same")])
def test_each_layout_matches_the_naive_loops(shape, s, p, layout):
    """The layer picks the column order by the longer run (N against OW); check each one."""
    rng = np.random.default_rng(3)
    x, w, b = (dev(rng.normal(size=sz)) for sz in (shape, (4, shape[1], 3, 3), (4,)))
    y, cache = conv2d_forward(x, w, b, s, p)
    assert cache[0] == layout
    assert_close(y, conv2d_naive_forward(x, w, b, s, p), what="forward")
    dy = dev(rng.normal(size=y.shape))
    for got, expected, what in zip(conv2d_backward(dy, cache), conv2d_naive_backward(dy, x, w, s, p),
                                   ("dx", "dw", "db")):
        assert_close(got, expected, what=what)


@pytest.mark.parametrize("k,p", [((3, 3), (1, 1)), ((5, 3), (2, 1))])
def test_same_convolution_in_chunks_of_images(monkeypatch, k, p):
    """A batch larger than one chunk (here 5 images in chunks of 2, 2, 1) gives the same
    output and gradients: dW and db are summed over the chunks."""
    from nnref.layers import conv
    shape, F = (5, 2, 4, 3), 3
    per_image = (shape[1] * k[0] * k[1] + F) * shape[2] * shape[3]     # cols and y entries
    monkeypatch.setattr(conv, "CHUNK", 2 * per_image + 1)
    assert conv.same_chunk(np.zeros(shape), np.zeros((F, shape[1]) + k)) == 2
    rng = np.random.default_rng(6)
    x, w, b = (dev(rng.normal(size=sz)) for sz in (shape, (F, shape[1]) + k, (F,)))
    y, cache = conv2d_forward(x, w, b, (1, 1), p)
    assert cache[0] == "same"
    assert_close(y, conv2d_naive_forward(x, w, b, (1, 1), p), what="forward")
    dy = dev(rng.normal(size=y.shape))
    for got, expected, what in zip(conv2d_backward(dy, cache), conv2d_naive_backward(dy, x, w, (1, 1), p),
                                   ("dx", "dw", "db")):
        assert_close(got, expected, what=what)


@pytest.mark.parametrize("k,p", [((3, 3), (1, 1)), ((5, 3), (2, 1)), ((1, 1), (0, 0))])
def test_same_path_builds_the_im2col_matrix(k, p):
    x = dev(np.random.default_rng(4).normal(size=(2, 3, 5, 4)))
    assert is_same_conv(k, (1, 1), p)
    assert_close(im2col_same(x, k, p), im2col(x, k, (1, 1), p)[0])


def test_gradcheck():
    m = nnref.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 2), dtype=np.float64)
    assert gradcheck(m, dev(np.random.default_rng(0).normal(size=(2, 2, 5, 4))))


def test_gradcheck_without_bias():
    m = nnref.Conv2d(3, 2, 2, stride=2, bias=False, dtype=np.float64)
    assert gradcheck(m, dev(np.random.default_rng(1).normal(size=(1, 3, 5, 6))))


def test_state_dict_keys_shapes_and_init_match_torch(torch):
    m, ref = nnref.Conv2d(3, 8, (3, 5)), torch.nn.Conv2d(3, 8, (3, 5))
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == \
           {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    bound = 1 / np.sqrt(3 * 3 * 5)   # torch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    w = asnumpy(m.weight.data)
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert list(nnref.Conv2d(3, 8, 3, bias=False).state_dict()) == ["weight"]


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
    m = nnref.Conv2d(1, 2, 2, dtype=np.float64)
    x = dev(np.random.default_rng(0).normal(size=(2, 1, 4, 4)))
    m.backward(m(x) * 0 + 1)
    once = asnumpy(m.weight.grad).copy()
    m.backward(m(x) * 0 + 1)
    assert_close(m.weight.grad, 2 * once, what="accumulated weight gradient")
    m.zero_grad()
    assert float(abs(m.weight.grad).max()) == 0


def test_parameter_count_formula():
    for c, f, (kh, kw), bias in [(3, 32, (3, 3), True), (64, 128, (1, 1), False), (16, 8, (5, 3), True)]:
        m = nnref.Conv2d(c, f, (kh, kw), bias=bias)
        assert sum(p.data.size for p in m.parameters()) == f * (c * kh * kw + bias)


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
    for bad in [dict(kernel_size=0), dict(kernel_size=(3, 3, 3)), dict(kernel_size=3, stride=0),
                dict(kernel_size=3, padding=-1), dict(kernel_size=2.5)]:
        with pytest.raises(ValueError, match="Conv2d: "):
            nnref.Conv2d(1, 1, **bad)
    with pytest.raises(ValueError, match="Conv2d: in_channels and out_channels"):
        nnref.Conv2d(0, 1, 3)


@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 1), (1, 0)])
def test_unbatched_input_matches_torch(torch, stride, padding):
    """torch.nn.Conv2d also takes one image (C, H, W); so does nnref, returning (F, OH, OW)."""
    m, ref = _torch_pair(torch, 2, 3, (3, 3), stride, padding)
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, 6, 5))
    y, yt = assert_step_matches_torch(torch, m, ref, x, rng)
    assert y.shape == tuple(yt.shape) and len(y.shape) == 3


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel:UserWarning")
@pytest.mark.parametrize("k", [(3, 3), (2, 4), (4, 1), (5, 2)])
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_string_padding_matches_torch(torch, k, padding):
    """'same' keeps H x W, also for even kernels (the extra zero goes after, as in PyTorch)."""
    ref = torch.nn.Conv2d(2, 3, k, padding=padding).double()
    m = load_from_torch(nnref.Conv2d(2, 3, k, padding=padding, dtype=np.float64), ref)
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2, 2, 5, 6))
    y, _ = assert_step_matches_torch(torch, m, ref, x, rng)
    if padding == "same":
        assert y.shape[2:] == x.shape[2:]
    assert f"padding={padding}," in repr(m)


def test_string_padding_errors():
    with pytest.raises(ValueError, match=r"Conv2d: padding='same' needs stride 1"):
        nnref.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"Conv2d: padding must be an int, an \(h, w\) pair, 'same' or 'valid', got 'full'"):
        nnref.Conv2d(1, 1, 3, padding="full")

