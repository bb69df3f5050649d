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
    """gru_cell_forward is the page's formulas (r applied after W_hn h + b_hn); its backward
    equals central differences for every input and parameter."""
    rng = np.random.default_rng(5)
    B, I, H = 3, 2, 4
    x, h_prev = rng.normal(size=(B, I)), rng.normal(size=(B, H))
    W_ih, W_hh = rng.normal(size=(3 * H, I)), rng.normal(size=(3 * H, H))
    b_ih, b_hh = rng.normal(size=3 * H), rng.normal(size=3 * H)
    sig = lambda v: 1 / (1 + np.exp(-v))
    a, g = x @ W_ih.T + b_ih, h_prev @ W_hh.T + b_hh
    r, z = sig(a[:, :H] + g[:, :H]), sig(a[:, H:2 * H] + g[:, H:2 * H])
    n = np.tanh(a[:, 2 * H:] + r * g[:, 2 * H:])          # r applied after W_hn h + b_hn
    h, cache = gru_cell_forward(x, h_prev, W_ih, W_hh, b_ih, b_hh)
    assert_close(h, (1 - z) * n + z * h_prev, what="h_t")
    dh = rng.normal(size=(B, H))

    def loss():
        return float((gru_cell_forward(x, h_prev, W_ih, W_hh, b_ih, b_hh)[0] * dh).sum())

    grads = gru_cell_backward(dh, cache, W_ih, W_hh)
    for got, wrt, what in zip(grads, (x, h_prev, W_ih, W_hh, b_ih, b_hh),
                              ("dx", "dh_prev", "dW_ih", "dW_hh", "db_ih", "db_hh")):
        assert_close(got, numerical_gradient(loss, wrt), rtol=1e-6, atol=1e-8, what=what)


def test_dropout_in_eval_is_torchs(torch):
    recurrent_parity(torch, "GRU", dropout=0.5, num_layers=2, bidirectional=True, with_state=True)


def test_dropout_in_train_gradient_is_numerical():
    """Under a fixed mask (the same seed before every forward) backward is the derivative."""
    m = nnref.GRU(2, 3, num_layers=3, dropout=0.5, bidirectional=True, dtype=np.float64).train()
    rng = np.random.default_rng(4)
    x, d_out = dev(rng.normal(size=(4, 2, 2))), dev(rng.normal(size=(4, 2, 6)))

    def loss():
        nnref.manual_seed(5)
        return float((m(x)[0] * d_out).sum())

    loss()
    m.zero_grad()
    assert_close(m.backward(d_out), numerical_gradient(loss, x), rtol=1e-6, atol=1e-8, what="dx")
    W = m.weight_hh_l1_reverse
    assert_close(W.grad, numerical_gradient(loss, W.data), rtol=1e-6, atol=1e-8, what="dW_hh_l1_reverse")


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
