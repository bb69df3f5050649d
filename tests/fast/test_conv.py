"""nnref/fast/conv.py equals the reference functions of nnref/layers/conv.py (float64).

The fast paths apply to groups=1, dilation=1 and zero padding: the batch-last or row-ordered
im2col/col2im, and the chunked "same" convolution (whole-row shifts).
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import nnref
from nnref.fast import conv as fast
from nnref.fast.conv import (SameCache, StridedCache, col2im_strided, conv2d_fast_backward, conv2d_fast_forward,
                             im2col_same, im2col_strided, is_same_conv, same_chunk, to_batch_last)
from nnref.layers.conv import ConvCache, col2im, conv2d_backward, conv2d_forward, im2col
from tests.parity import assert_close, dev

FEW = settings(max_examples=25, deadline=None)


@st.composite
def cases(draw):
    """Random shapes, kernels, strides, paddings; one draw in three a "same" convolution."""
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    if draw(st.integers(0, 2)) == 0:
        kh, kw = 2 * (kh // 2) + 1, 2 * (kw // 2) + 1
        s, p = (1, 1), ((kh - 1) // 2, (kw - 1) // 2)
    else:
        s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    h = draw(st.integers(max(1, kh - 2 * p[0]), 9))
    w = draw(st.integers(max(1, kw - 2 * p[1]), 9))
    n, c, f = draw(st.integers(1, 9)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    return (n, c, h, w), f, (kh, kw), s, p


def assert_fast_equals_reference(x, w, b, s, p, rng):
    y, cache = conv2d_fast_forward(x, w, b, s, p)
    y_ref, cache_ref = conv2d_forward(x, w, b, s, p)
    assert isinstance(cache_ref, ConvCache) and not isinstance(cache, ConvCache)
    assert_close(y, y_ref, what="forward")
    dy = dev(rng.normal(size=y.shape))
    got, expected = conv2d_fast_backward(dy, cache), conv2d_backward(dy, cache_ref)
    for g, e, what in zip(got, expected, ("dx", "dw", "db")):
        if e is None:
            assert g is None, what
        else:
            assert_close(g, e, what=what)
    return cache


@FEW
@given(case=cases(), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_fast_path_equals_the_reference(case, bias, seed):
    shape, f, k, s, p = case
    rng = np.random.default_rng(seed)
    x, w, b = dev(rng.normal(size=shape)), dev(rng.normal(size=(f, shape[1]) + k)), dev(rng.normal(size=f))
    cache = assert_fast_equals_reference(x, w, b if bias else None, s, p, rng)
    assert isinstance(cache, SameCache) == is_same_conv(k, s, p)


@pytest.mark.parametrize("shape,s,p,k,path", [
    ((6, 2, 5, 5), (2, 2), (1, 1), (3, 3), "batch_last"), ((1, 2, 7, 9), (2, 1), (1, 0), (3, 3), "rows"),
    ((5, 2, 6, 6), (1, 1), (0, 0), (3, 3), "batch_last"), ((2, 2, 5, 6), (1, 1), (1, 1), (3, 3), "same"),
    ((2, 3, 1, 6), (1, 1), (1, 1), (3, 3), "same"), ((2, 3, 5, 1), (1, 1), (1, 1), (3, 3), "same"),
    ((2, 3, 4, 2), (1, 1), (3, 0), (7, 1), "same"), ((3, 1, 3, 3), (1, 1), (0, 0), (1, 1), "same"),
    ((2, 2, 1, 1), (1, 1), (2, 2), (5, 5), "same"), ((1, 1, 5, 12), (5, 5), (0, 0), (5, 5), "rows"),
])
def test_each_path_equals_the_reference(shape, s, p, k, path):
    """The layout follows the longer run (N against OW); edge cases of the 'same' shifts: a single
    row or column, kernels taller than the input, 1x1."""
    rng = np.random.default_rng(3)
    x, w, b = (dev(rng.normal(size=sz)) for sz in (shape, (4, shape[1]) + k, (4,)))
    cache = assert_fast_equals_reference(x, w, b, s, p, rng)
    kind = "same" if isinstance(cache, SameCache) else ("batch_last" if cache.batch_last else "rows")
    assert kind == path


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7])
@pytest.mark.parametrize("k,p", [((3, 3), (1, 1)), ((5, 3), (2, 1))])
def test_same_convolution_in_chunks_of_images(monkeypatch, n, k, p):
    """Chunks of 2 images: batches of one chunk, several, and a short last one give the same
    output and gradients (dW and db summed over the chunks)."""
    shape, F = (n, 2, 4, 3), 3
    per_image = (shape[1] * k[0] * k[1] + F) * shape[2] * shape[3]     # cols and y entries
    monkeypatch.setattr(fast, "CHUNK", 2 * per_image + 1)
    assert same_chunk(np.zeros(shape), np.zeros((F, shape[1]) + k)) == min(n, 2)
    rng = np.random.default_rng(6)
    x, w, b = (dev(rng.normal(size=sz)) for sz in (shape, (F, shape[1]) + k, (F,)))
    assert isinstance(assert_fast_equals_reference(x, w, b, (1, 1), p, rng), SameCache)


@pytest.mark.parametrize("k,p", [((3, 3), (1, 1)), ((5, 3), (2, 1)), ((1, 1), (0, 0)), ((7, 5), (3, 2))])
def test_im2col_same_equals_im2col(k, p):
    x = dev(np.random.default_rng(4).normal(size=(2, 3, 5, 4)))
    assert is_same_conv(k, (1, 1), p)
    assert_close(im2col_same(x, k, p), im2col(x, k, (1, 1), p))


@FEW
@given(case=cases(), seed=st.integers(0, 2**16))
def test_strided_columns_are_the_reference_columns_reordered(case, seed):
    shape, _, k, s, p = case
    x = dev(np.random.default_rng(seed).normal(size=shape))
    cols = im2col(x, k, s, p)
    rows_cols, (oh, ow) = im2col_strided(x, k, s, p)
    assert_close(rows_cols, cols)
    cols_bl, size = im2col_strided(x, k, s, p, batch_last=True)
    assert size == (oh, ow)
    n, rows = shape[0], cols.shape[0]
    assert_close(cols_bl.reshape(rows, oh, ow, n), cols.reshape(rows, n, oh, ow).transpose(0, 2, 3, 1))


@FEW
@given(case=cases(), batch_last=st.booleans(), seed=st.integers(0, 2**16))
def test_col2im_strided_equals_col2im(case, batch_last, seed):
    shape, _, k, s, p = case
    rng = np.random.default_rng(seed)
    cols, (oh, ow) = im2col_strided(dev(rng.normal(size=shape)), k, s, p, batch_last)
    c = rng.normal(size=cols.shape)
    n, rows = shape[0], cols.shape[0]
    c_ref = c.reshape(rows, oh, ow, n).transpose(0, 3, 1, 2).reshape(rows, -1) if batch_last else c
    assert_close(col2im_strided(dev(c), shape, k, s, p, batch_last), col2im(dev(c_ref), shape, k, s, p))


def test_to_batch_last_pads_and_moves_the_batch_inside():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    xt = to_batch_last(dev(x), (1, 2))
    assert xt.shape == (3, 6, 9, 2)
    assert_close(xt, np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2))).transpose(1, 2, 3, 0))
    already = dev(np.ascontiguousarray(x.transpose(1, 2, 3, 0))).transpose(3, 0, 1, 2)
    assert to_batch_last(already).base is already.base                # a view, no copy


@pytest.mark.parametrize("kwargs,fast_cache", [(dict(padding=1), SameCache), (dict(stride=2), StridedCache),
                                               (dict(dilation=2), ConvCache), (dict(groups=2), ConvCache),
                                               (dict(padding=1, padding_mode="reflect"), StridedCache),
                                               (dict(padding="same"), SameCache)])
def test_the_layer_takes_the_fast_path_where_it_applies(kwargs, fast_cache):
    m = nnref.Conv2d(2, 4, 3, **kwargs)
    m(dev(np.zeros((2, 2, 6, 6), np.float32)))
    step, _, _ = m._cache
    assert type(step.conv) is fast_cache
