"""nnref.fast.lstm equals the reference nnref.layers.lstm (float64), plus its layout helpers."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from nnref.fast.lstm import (ORDER, gate_blocks, gate_scale, lstm_backward_fast, lstm_forward_fast,
                             lstm_gates_backward, lstm_gates_forward, torch_rows)
from nnref.gradcheck import numerical_gradient
from nnref.layers.lstm import lstm_backward, lstm_forward
from tests.fast.recurrent_equal import assert_fast_equals_reference
from tests.parity import assert_close


def check(T, B, I, H, **kw):
    assert_fast_equals_reference(lstm_forward, lstm_backward, lstm_forward_fast, lstm_backward_fast,
                                 T, B, I, H, 4, lstm=True, **kw)


@pytest.mark.parametrize("T,B,I,H", [(1, 1, 1, 1), (1, 3, 2, 4), (5, 1, 3, 2), (6, 4, 5, 3), (3, 0, 2, 3)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("d_state", [True, False])
def test_fast_equals_reference(T, B, I, H, bias, d_state):
    check(T, B, I, H, bias=bias, d_state=d_state)


@settings(max_examples=25, deadline=None)
@given(T=st.integers(1, 7), B=st.integers(1, 5), I=st.integers(1, 6), H=st.integers(1, 6),
       bias=st.booleans(), seed=st.integers(0, 1000))
def test_fast_equals_reference_property(T, B, I, H, bias, seed):
    check(T, B, I, H, bias=bias, seed=seed)


def test_gates_match_the_textbook_formulas():
    """The halved-z tanh form equals σ and tanh; the pointwise backward equals differences."""
    rng = np.random.default_rng(5)
    B, H = 3, 4
    z, c_prev = rng.normal(size=(4, B, H)) * 3, rng.normal(size=(B, H))   # [z_i, z_f, z_o, z_g], not halved
    sig = lambda v: 1 / (1 + np.exp(-v))
    i, f, o, g = sig(z[0]), sig(z[1]), sig(z[2]), np.tanh(z[3])
    scale = gate_scale(np, np.float64)
    a, c, tc, h = z * scale, *(np.empty((B, H)) for _ in range(3))
    lstm_gates_forward(a, c_prev, c, tc, h)
    assert_close(a, np.stack([i, f, o, g]), what="gates")
    assert_close(c, f * c_prev + i * g, what="c_t")
    assert_close(h, o * np.tanh(f * c_prev + i * g), what="h_t")
    dh, dc_in = rng.normal(size=(B, H)), rng.normal(size=(B, H))

    def loss():
        a2, c2, tc2, h2 = z * scale, *(np.empty((B, H)) for _ in range(3))
        lstm_gates_forward(a2, c_prev, c2, tc2, h2)
        return float((h2 * dh).sum() + (c2 * dc_in).sum())

    dz, dc = np.empty_like(z), dc_in.copy()
    lstm_gates_backward(dh, dc, a, c_prev, tc, dz)
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
