import numpy as np
import pytest

import nnref
from nnref.gradcheck import gradcheck
from nnref.layers.dropout import dropout_backward, dropout_forward, dropout_mask
from tests.parity import assert_close, dev


def _fixed_mask(shape, p, seed=3):
    return np.random.default_rng(seed).random(shape) >= p


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9])
@pytest.mark.parametrize("shape", [(6, 5), (2, 3, 4, 5)])
def test_inverted_matches_torch_ops(torch, p, shape):
    # F.dropout's mask cannot be set, so the reference is x * mask / (1 - p) built from torch ops
    rng = np.random.default_rng(1)
    x, dy = rng.normal(size=shape), rng.normal(size=shape)
    mask = _fixed_mask(shape, p)
    xt = torch.tensor(x, requires_grad=True)
    yt = xt * torch.tensor(mask, dtype=torch.float64) / (1 - p)
    yt.backward(torch.tensor(dy))
    m = nnref.Dropout(p)
    y = m(dev(x), mask=dev(mask))
    assert_close(y, yt, what="output")
    assert_close(m.backward(dev(dy)), xt.grad, what="input gradient")


def test_classic_matches_torch_ops(torch):
    rng = np.random.default_rng(2)
    x, dy = rng.normal(size=(7, 4)), rng.normal(size=(7, 4))
    mask = _fixed_mask(x.shape, 0.3)
    xt = torch.tensor(x, requires_grad=True)
    (xt * torch.tensor(mask, dtype=torch.float64)).backward(torch.tensor(dy))
    m = nnref.Dropout(0.3, mode="classic")
    assert_close(m(dev(x), mask=dev(mask)), torch.tensor(x * mask), what="classic output")
    assert_close(m.backward(dev(dy)), xt.grad, what="classic input gradient")
    m.eval()
    assert_close(m(dev(x)), torch.tensor(x) * 0.7, what="classic eval output")
    assert_close(m.backward(dev(dy)), torch.tensor(dy) * 0.7, what="classic eval gradient")


def test_eval_is_identity_like_torch(torch):
    x = np.random.default_rng(4).normal(size=(3, 4))
    ref = torch.nn.Dropout(0.5).eval()
    m = nnref.Dropout(0.5).eval()
    xd = dev(x)
    y = m(xd)
    assert y is xd  # PyTorch also returns its input unchanged in eval mode
    assert_close(y, ref(torch.tensor(x)), what="eval output")
    assert_close(m.backward(dev(np.ones((3, 4)))), np.ones((3, 4)), what="eval gradient")


def test_p_one_drops_everything_like_torch(torch):
    x = np.random.default_rng(5).normal(size=(4, 3))
    expected = torch.nn.functional.dropout(torch.tensor(x), p=1.0, training=True)
    m = nnref.Dropout(1.0)
    assert_close(m(dev(x)), expected, what="p=1 output")
    assert not nnref.asnumpy(m.backward(dev(np.ones((4, 3))))).any()
    m.eval()
    assert_close(m(dev(x)), x, what="p=1 inverted eval output")
    c = nnref.Dropout(1.0, mode="classic")
    assert not nnref.asnumpy(c(dev(x))).any()
    assert not nnref.asnumpy(c.eval()(dev(x))).any()


@pytest.mark.parametrize("mode", ["inverted", "classic"])
def test_p_zero_is_identity_like_torch(torch, mode):
    x = dev(np.random.default_rng(9).normal(size=(3, 4)))
    m = nnref.Dropout(0.0, mode=mode)
    assert m(x) is x   # torch returns its input for p = 0 too
    assert_close(x, torch.nn.functional.dropout(torch.tensor(nnref.asnumpy(x)), p=0.0, training=True),
                 what="p=0 output")
    assert_close(m.backward(dev(np.ones((3, 4)))), np.ones((3, 4)), what="p=0 gradient")


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_random_masks_keep_rate_and_expectation(p):
    nnref.manual_seed(10)
    n = 200_000
    m = nnref.Dropout(p)
    y = nnref.asnumpy(m(dev(np.ones(n))))
    keep = y != 0
    # keep-rate ~ Binomial(n, 1-p)/n: 5 standard deviations
    assert abs(keep.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_array_equal(keep, nnref.asnumpy(m.last_mask))
    np.testing.assert_allclose(y[keep], 1 / (1 - p))
    # E[y] = 1: sd of the mean is sqrt(p/(1-p)/n)
    assert abs(y.mean() - 1) < 5 * np.sqrt(p / (1 - p) / n)


def test_classic_and_inverted_equal_in_expectation():
    """Averaged over many masks, training output / eval output is the same for both forms."""
    nnref.manual_seed(11)
    x = dev(np.random.default_rng(6).normal(size=(4, 5)))
    p, reps = 0.4, 20_000
    for mode in ("inverted", "classic"):
        m = nnref.Dropout(p, mode=mode)
        mean = sum(nnref.asnumpy(m(x)) for _ in range(reps)) / reps
        expected = nnref.asnumpy(m.eval()(x))
        # per element sd of the mean: |x| sqrt(p(1-p)/reps) * scale, scale <= 1/(1-p)
        bound = 5 * np.abs(nnref.asnumpy(x)) * np.sqrt(p * (1 - p) / reps) / (1 - p) + 1e-12
        assert (np.abs(mean - expected) <= bound).all(), mode
    # the two eval outputs differ by exactly the factor 1 - p
    assert_close(nnref.Dropout(p, mode="classic").eval()(x), (1 - p) * nnref.asnumpy(x), what="classic eval")


def test_masks_differ_between_calls_and_follow_the_seed():
    x = dev(np.ones((50, 50), np.float32))
    nnref.manual_seed(7)
    m = nnref.Dropout(0.5)
    a, b = nnref.asnumpy(m(x)), nnref.asnumpy(m(x))
    assert (a != b).any()
    nnref.manual_seed(7)
    np.testing.assert_array_equal(nnref.asnumpy(nnref.Dropout(0.5)(x)), a)


def test_mask_function_draws_on_the_host():
    rng = nnref.backend.RNG(0)
    mask = dropout_mask((1000,), 0.25, rng=rng)
    expected = np.random.default_rng(0).random(1000) >= 0.25
    np.testing.assert_array_equal(nnref.asnumpy(mask), expected)
    assert mask.dtype == np.bool_


@pytest.mark.parametrize("mode", ["inverted", "classic"])
def test_gradcheck_with_fixed_mask(mode):
    x = np.random.default_rng(8).normal(size=(4, 6))
    mask = dev(_fixed_mask(x.shape, 0.5))

    class FixedMask(nnref.Dropout):                  # mask is keyword-only; gradcheck passes none
        def forward(self, input):
            return super().forward(input, mask=mask)
    assert gradcheck(FixedMask(0.5, mode=mode), dev(x))


def test_pure_functions_need_only_numpy():
    x = np.arange(1.0, 7.0).reshape(2, 3)
    mask = np.array([[1, 0, 1], [0, 1, 1]], dtype=bool)
    y, cache = dropout_forward(x, 0.5, mask)
    np.testing.assert_array_equal(y, [[2.0, 0.0, 6.0], [0.0, 10.0, 12.0]])
    np.testing.assert_array_equal(dropout_backward(np.ones((2, 3)), cache), 2.0 * mask)
    y, _ = dropout_forward(x, 0.5, mask, mode="classic")
    np.testing.assert_array_equal(y, x * mask)
    y, _ = dropout_forward(x, 0.5, None, mode="classic", training=False)
    np.testing.assert_array_equal(y, 0.5 * x)


def test_dtype_follows_input():
    m = nnref.Dropout(0.5)
    for dtype in (np.float32, np.float64):
        y = m(dev(np.ones((3, 3), dtype)))
        assert y.dtype == dtype
        assert m.backward(dev(np.ones((3, 3), dtype))).dtype == dtype


def test_dropout_errors():
    with pytest.raises(ValueError, match=r"Dropout: p must be a probability in \[0, 1\], got 1.5"):
        nnref.Dropout(1.5)
    with pytest.raises(ValueError, match="Dropout: p must be a probability"):
        nnref.Dropout(-0.1)
    with pytest.raises(ValueError, match="Dropout: mode must be 'inverted' or 'classic'"):
        nnref.Dropout(0.5, mode="scaled")
    m = nnref.Dropout(0.5)
    with pytest.raises(RuntimeError, match="Dropout.backward called before forward"):
        m.backward(dev(np.ones(3)))
    with pytest.raises(TypeError, match="Dropout: expected a floating-point array"):
        m(dev(np.ones(3, np.int64)))
    with pytest.raises(ValueError, match=r"Dropout: mask must have the input's shape \(3,\)"):
        m(dev(np.ones(3)), mask=dev(np.ones(4, bool)))


def test_repr_and_no_state():
    assert repr(nnref.Dropout(0.2)) == "Dropout(p=0.2, inplace=False)"            # torch's repr
    assert repr(nnref.Dropout(0.2, mode="classic")) == "Dropout(p=0.2, inplace=False, mode='classic')"
    assert nnref.Dropout().state_dict() == {}
    assert nnref.layers.Dropout is nnref.Dropout


@pytest.mark.parametrize("mode", ["inverted", "classic"])
def test_inplace_writes_into_the_input(mode):
    x = np.random.default_rng(5).normal(size=(4, 6))
    mask = dev(_fixed_mask(x.shape, 0.5))
    expected = nnref.Dropout(0.5, mode=mode)
    y_expected = expected(dev(x), mask=mask)
    dy = dev(np.random.default_rng(6).normal(size=x.shape))
    m, xd = nnref.Dropout(0.5, inplace=True, mode=mode), dev(x.copy())
    y = m(xd, mask=mask)
    assert y is xd
    assert_close(xd, y_expected, what="in-place output")
    assert_close(m.backward(dy), expected.backward(dy), what="in-place gradient")


def test_inplace_matches_torch_in_eval_and_at_p_one(torch):
    x = np.random.default_rng(7).normal(size=(3, 5))
    for p, train in ((0.4, False), (1.0, True)):
        m, ref = nnref.Dropout(p, True), torch.nn.Dropout(p, True)
        m.train(train), ref.train(train)
        xd, xt = dev(x.copy()), torch.tensor(x)
        m(xd), ref(xt)
        assert_close(xd, xt, what=f"input after in-place p={p} train={train}")


def test_inplace_refuses_a_read_only_input():
    y = nnref.Sigmoid()(dev(np.zeros((2, 3))))
    if hasattr(y.flags, "writeable"):
        with pytest.raises(ValueError, match=r"Dropout\(inplace=True\): the input is read-only"):
            nnref.Dropout(0.5, inplace=True)(y)


def test_p_type_and_float16():
    with pytest.raises(TypeError, match="Dropout: p must be a number"):
        nnref.Dropout("0.5")
    x = dev(np.ones((4, 4), np.float16))
    assert nnref.Dropout(0.5)(x).dtype == np.float16
