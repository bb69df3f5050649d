"""LSTM against torch.nn.LSTM (float64), gradient checks through time, bad inputs."""
import numpy as np
import pytest

import nnref
from nnref.gradcheck import gradcheck, numerical_gradient
from nnref.layers.lstm import (ORDER, gate_blocks, gate_scale, lstm_cell_backward, lstm_cell_forward,
                               torch_rows)
from tests.layers.test_rnn import recurrent_parity
from tests.parity import assert_close, dev


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_parity_with_torch(torch, num_layers, bidirectional, batch_first, with_state):
    recurrent_parity(torch, "LSTM", num_layers=num_layers, bidirectional=bidirectional,
                     batch_first=batch_first, with_state=with_state)


@pytest.mark.parametrize("with_state", [False, True])
def test_unbatched_and_no_bias(torch, with_state):
    recurrent_parity(torch, "LSTM", unbatched=True, with_state=with_state, num_layers=2, bidirectional=True)
    recurrent_parity(torch, "LSTM", bias=False, with_state=with_state, bidirectional=True)


def test_single_step_and_output_gradient_only(torch):
    recurrent_parity(torch, "LSTM", T=1, B=1, with_state=True)
    recurrent_parity(torch, "LSTM", d_state=False, with_state=True, num_layers=2)


def test_gradcheck():
    m = nnref.LSTM(2, 3, num_layers=2, bidirectional=True, dtype=np.float64)
    rng = np.random.default_rng(1)
    x = dev(rng.normal(size=(4, 2, 2)))
    state = (dev(rng.normal(size=(4, 2, 3))), dev(rng.normal(size=(4, 2, 3))))
    assert gradcheck(m, x)
    assert gradcheck(m, x, state)
    assert gradcheck(nnref.LSTM(2, 3, batch_first=True, dtype=np.float64), x)


def test_initial_state_gradients_numerically():
    m = nnref.LSTM(2, 3, num_layers=2, dtype=np.float64)
    rng = np.random.default_rng(3)
    x, h0, c0 = (dev(rng.normal(size=s)) for s in [(4, 2, 2), (2, 2, 3), (2, 2, 3)])
    d_out, d_hn, d_cn = (dev(rng.normal(size=s)) for s in [(4, 2, 3), (2, 2, 3), (2, 2, 3)])

    def loss():
        out, (h_n, c_n) = m(x, (h0, c0))
        return float((out * d_out).sum() + (h_n * d_hn).sum() + (c_n * d_cn).sum())

    m(x, (h0, c0))
    m.backward(d_out, (d_hn, d_cn))
    assert_close(m.dh0, numerical_gradient(loss, h0), rtol=1e-6, atol=1e-8, what="dh0")
    assert_close(m.dc0, numerical_gradient(loss, c0), rtol=1e-6, atol=1e-8, what="dc0")


def test_cell_matches_the_textbook_formulas():
    """The halved-z tanh form equals σ and tanh; the cell backward equals differences."""
    rng = np.random.default_rng(5)
    B, H = 3, 4
    z, c_prev = rng.normal(size=(4, B, H)) * 3, rng.normal(size=(B, H))   # [z_i, z_f, z_o, z_g], not halved
    sig = lambda v: 1 / (1 + np.exp(-v))
    i, f, o, g = sig(z[0]), sig(z[1]), sig(z[2]), np.tanh(z[3])
    scale = gate_scale(np, np.float64)
    a, c, tc, h = z * scale, *(np.empty((B, H)) for _ in range(3))
    lstm_cell_forward(a, c_prev, c, tc, h)
    assert_close(a, np.stack([i, f, o, g]), what="gates")
    assert_close(c, f * c_prev + i * g, what="c_t")
    assert_close(h, o * np.tanh(f * c_prev + i * g), what="h_t")
    dh, dc_in = rng.normal(size=(B, H)), rng.normal(size=(B, H))

    def loss():
        a2, c2, tc2, h2 = z * scale, *(np.empty((B, H)) for _ in range(3))
        lstm_cell_forward(a2, c_prev, c2, tc2, h2)
        return float((h2 * dh).sum() + (c2 * dc_in).sum())

    dz, dc = np.empty_like(z), dc_in.copy()
    lstm_cell_backward(dh, dc, a, c_prev, tc, dz)
    assert_close(dz, numerical_gradient(loss, z), rtol=1e-6, atol=1e-8, what="d pre-activations (not halved)")
    assert_close(dc, numerical_gradient(loss, c_prev), rtol=1e-6, atol=1e-8, what="dc_prev")
    assert scale.ravel().tolist() == [0.5, 0.5, 0.5, 1.0]


def test_gate_blocks_reorder_to_i_f_o_g_and_back():
    H = 2
    W = np.arange(4 * H * 3).reshape(4 * H, 3)                  # rows: i i f f g g o o (PyTorch)
    blocks = gate_blocks(W)
    assert blocks.shape == (4, H, 3)
    for k, torch_block in enumerate(ORDER):
        assert (blocks[k] == W[torch_block * H:(torch_block + 1) * H]).all()
    assert [blocks[k, 0, 0] // (3 * H) for k in range(4)] == [0, 1, 3, 2]      # i, f, o, g
    assert (torch_rows(blocks) == W).all() and (torch_rows(gate_blocks(W[:, 0])) == W[:, 0]).all()


def test_float32_and_shapes():
    m = nnref.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True)
    out, (h_n, c_n) = m(dev(np.ones((2, 7, 3), dtype=np.float32)))
    assert out.shape == (2, 7, 10) and h_n.shape == c_n.shape == (4, 2, 5)
    assert out.dtype == h_n.dtype == c_n.dtype == np.float32
    dx = m.backward(out, (h_n, None))
    assert dx.shape == (2, 7, 3) and dx.dtype == np.float32
    assert m.dh0.shape == m.dc0.shape == (4, 2, 5)
    assert [k for k in m.state_dict()][:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert m.weight_ih_l1.shape == (20, 10) and m.weight_hh_l0_reverse.shape == (20, 5)


def test_bad_inputs():
    m = nnref.LSTM(3, 4)
    x = dev(np.zeros((5, 2, 3), dtype=np.float32))
    h = dev(np.zeros((1, 2, 4), dtype=np.float32))
    with pytest.raises(TypeError, match=r"LSTM: expected the state as a tuple \(h0, c0\)"):
        m(x, h)
    with pytest.raises(ValueError, match=r"LSTM: expected c0 of shape \(1, 2, 4\), got \(1, 3, 4\)"):
        m(x, (h, dev(np.zeros((1, 3, 4), dtype=np.float32))))
    with pytest.raises(ValueError, match="LSTM: expected 3 input features"):
        m(dev(np.zeros((5, 2, 4), dtype=np.float32)))
    with pytest.raises(RuntimeError, match="LSTM.backward called before forward"):
        m.backward(dev(np.zeros((5, 2, 4), dtype=np.float32)))
    out, (h_n, c_n) = m(x)
    with pytest.raises(TypeError, match=r"LSTM: expected the state as a tuple \(h0, c0\)"):
        m.backward(out, h_n)
    with pytest.raises(ValueError, match=r"final c_n of shape \(1, 2, 4\)"):
        m.backward(out, (h_n, c_n[0]))
