"""GRU against torch.nn.GRU (float64), gradient checks through time, the two candidate forms."""
import numpy as np
import pytest

import nnref
from nnref.gradcheck import gradcheck, numerical_gradient
from nnref.layers.gru import gru_cell_backward, gru_cell_forward
from tests.layers.test_rnn import check_h0_gradient, recurrent_parity
from tests.parity import assert_close, dev


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_parity_with_torch(torch, num_layers, bidirectional, batch_first, with_state):
    recurrent_parity(torch, "GRU", num_layers=num_layers, bidirectional=bidirectional,
                     batch_first=batch_first, with_state=with_state)


@pytest.mark.parametrize("with_state", [False, True])
def test_unbatched_and_no_bias(torch, with_state):
    recurrent_parity(torch, "GRU", unbatched=True, with_state=with_state, num_layers=2, bidirectional=True)
    recurrent_parity(torch, "GRU", bias=False, with_state=with_state, bidirectional=True)


def test_single_step_and_output_gradient_only(torch):
    recurrent_parity(torch, "GRU", T=1, B=1, with_state=True)
    recurrent_parity(torch, "GRU", d_state=False, with_state=True, num_layers=2)


def test_gradcheck():
    m = nnref.GRU(2, 3, num_layers=2, bidirectional=True, dtype=np.float64)
    rng = np.random.default_rng(1)
    x, h0 = dev(rng.normal(size=(4, 2, 2))), dev(rng.normal(size=(4, 2, 3)))
    assert gradcheck(m, x, h0)
    assert gradcheck(m, x, h0)


def test_initial_state_gradient_numerically():
    check_h0_gradient(nnref.GRU(2, 3, num_layers=2, bidirectional=True, dtype=np.float64))


def test_cell_matches_the_formulas_and_reset_after_the_product():
    rng = np.random.default_rng(5)
    B, H = 3, 4
    a0, gh, h_prev = rng.normal(size=(B, 3 * H)), rng.normal(size=(B, 3 * H)), rng.normal(size=(B, H))
    sig = lambda v: 1 / (1 + np.exp(-v))
    r, z = sig(a0[:, :H] + gh[:, :H]), sig(a0[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(a0[:, 2 * H:] + r * gh[:, 2 * H:])          # r applied after W_hn h + b_hn
    a, h = a0.copy(), np.empty((B, H))
    gru_cell_forward(a, gh, h_prev, h)
    assert_close(h, (1 - z) * n + z * h_prev, what="h_t")
    dh = rng.normal(size=(B, H))

    def loss():
        a2, h2 = a0.copy(), np.empty((B, H))
        gru_cell_forward(a2, gh, h_prev, h2)
        return float((h2 * dh).sum())

    da, dgh, d = np.empty_like(a0), np.empty_like(gh), dh.copy()
    gru_cell_backward(d, a, gh, h_prev, da, dgh)
    assert_close(da, numerical_gradient(loss, a0), rtol=1e-6, atol=1e-8, what="da")
    assert_close(dgh, numerical_gradient(loss, gh), rtol=1e-6, atol=1e-8, what="dgh")
    assert_close(d, dh * z, what="direct path dh * z")


def test_bad_inputs():
    m = nnref.GRU(3, 4, bidirectional=True)
    x = dev(np.zeros((5, 2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"GRU: expected h0 of shape \(2, 2, 4\), got \(1, 2, 4\)"):
        m(x, dev(np.zeros((1, 2, 4), dtype=np.float32)))
    with pytest.raises(ValueError, match="GRU: expected 3 input features"):
        m(dev(np.zeros((5, 2, 2), dtype=np.float32)))
    with pytest.raises(RuntimeError, match="GRU.backward called before forward"):
        m.backward(dev(np.zeros((5, 2, 8), dtype=np.float32)))
    out, h_n = m(x)
    assert out.shape == (5, 2, 8) and out.dtype == np.float32
    with pytest.raises(ValueError, match=r"GRU.backward: expected d_out of shape \(5, 2, 8\)"):
        m.backward(out[..., :4])
