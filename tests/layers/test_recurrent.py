"""What RNN, LSTM and GRU share (nnref/layers/recurrent.py, nnref/nn/recurrent.py): the stack of
layers and directions, its BPTT, and the parameter layout of ``RecurrentBase``.

``stacked_forward`` is checked against a loop written out by hand with a toy cell whose outputs
show where every number came from; ``stacked_backward`` against central differences through the
reference RNN cell, with dropout between the layers (the same mask in every evaluation).
"""
import numpy as np
import pytest

import nnref
from nnref.gradcheck import numerical_gradient
from nnref.layers.recurrent import stacked_backward, stacked_forward
from nnref.layers.rnn import rnn_backward, rnn_forward
from tests.parity import assert_close, dev


def toy_run(x, state, w):
    """A 'cell' with one unit, out_t = w * (sum of x_1 .. x_t over time and features) + h0: its
    output shows which inputs, in which order, with which weight and initial state it read."""
    (h0,) = state
    out = w * np.cumsum(x.sum(axis=2, keepdims=True), axis=0) + h0
    return out, (out[-1],), None


@pytest.mark.parametrize("num_layers,D", [(1, 1), (1, 2), (3, 1), (2, 2)])
def test_stack_runs_layers_and_directions_as_torch_lays_them_out(num_layers, D):
    T, B, H = 4, 2, 1
    x = np.arange(1.0, T + 1)[:, None, None] * np.ones((T, B, H))
    h0 = np.arange(num_layers * D, dtype=float)[:, None, None] * np.ones((num_layers * D, B, H))
    scale = lambda layer, d: 10.0 ** layer * (1 + d)                     # noqa: E731
    out, (h_n,), caches, drops = stacked_forward(toy_run, x, (h0,), scale, num_layers, D)

    expected_in, finals = x, []
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            k = layer * D + d
            seq = expected_in if d == 0 else expected_in[::-1]         # reverse: the time-reversed sequence
            o = scale(layer, d) * np.cumsum(seq.sum(axis=2, keepdims=True), axis=0) + h0[k]
            finals.append(o[-1])                                        # index k = layer * D + d
            outs.append(o if d == 0 else o[::-1])                       # out[t] belongs to x[t]
        expected_in = np.concatenate(outs, axis=2)
    np.testing.assert_allclose(out, expected_in)               # (T, B, D * H): the top layer's directions
    np.testing.assert_allclose(h_n, np.stack(finals))
    assert len(caches) == num_layers * D and drops == [None] * (num_layers - 1)


def rnn_weights(rng, I, H, num_layers, D):
    return {(layer, d): [rng.normal(size=s) * 0.5 for s in ((H, I if layer == 0 else D * H), (H, H), (H,), (H,))]
            for layer in range(num_layers) for d in range(D)}


@pytest.mark.parametrize("dropout", [0.0, 0.4])
def test_stacked_backward_is_the_gradient_of_stacked_forward(dropout):
    """Two layers, both directions, a loss on every output and on every final state."""
    rng = np.random.default_rng(0)
    T, B, I, H, L, D = 3, 2, 3, 4, 2, 2
    x, h0 = dev(rng.normal(size=(T, B, I))), dev(rng.normal(size=(L * D, B, H)))
    weights = {k: [dev(a) for a in v] for k, v in rnn_weights(rng, I, H, L, D).items()}
    g_out, g_h = dev(rng.normal(size=(T, B, D * H))), dev(rng.normal(size=(L * D, B, H)))

    def run(inp, state, w):
        out, h_n, cache = rnn_forward(inp, state[0], *w)
        return out, (h_n,), cache

    def run_backward(d_out, d_state, cache):
        dx, dh0, *grads = rnn_backward(d_out, d_state[0], cache)
        return dx, (dh0,), grads

    def forward():
        nnref.manual_seed(3)                      # the same dropout mask in every evaluation
        return stacked_forward(run, x, (h0,), lambda layer, d: weights[layer, d], L, D, dropout)

    def loss():
        out, (h_n,), _, _ = forward()
        return float((out * g_out).sum() + (h_n * g_h).sum())

    _, _, caches, drops = forward()
    assert (drops[0] is not None) == (dropout > 0)
    dx, (dh0,), grads = stacked_backward(run_backward, g_out, (g_h,), caches, L, D, drops)
    assert_close(dx, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8, what="input gradient")
    assert_close(dh0, numerical_gradient(loss, h0), rtol=1e-6, atol=1e-8, what="initial state gradient")
    for (layer, d), w in weights.items():
        for name, analytic, param in zip(("W_ih", "W_hh", "b_ih", "b_hh"), grads[layer * D + d], w):
            assert_close(analytic, numerical_gradient(loss, param), rtol=1e-6, atol=1e-8,
                         what=f"{name} of layer {layer} direction {d}")


@pytest.mark.parametrize("kind,extra", [("RNN", {}), ("LSTM", {}), ("LSTM", {"proj_size": 2}), ("GRU", {})])
def test_parameters_are_laid_out_as_torchs(torch, kind, extra):
    """RecurrentBase: names, order and shapes of every layer's and direction's parameters."""
    ours = getattr(nnref, kind)(3, 4, num_layers=2, bidirectional=True, **extra)
    ref = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=True, **extra)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in ref.state_dict().items()]


@pytest.mark.parametrize("kind,extra", [("RNN", {}), ("LSTM", {"proj_size": 2}), ("GRU", {"bias": False})])
def test_all_weights_and_flatten_parameters_as_torch(torch, kind, extra):
    """torch code calls ``flatten_parameters()`` (cuDNN) and reads ``all_weights``: the same
    Parameters grouped per layer and direction, in torch's order."""
    ours = getattr(nnref, kind)(3, 4, num_layers=2, bidirectional=True, **extra)
    ref = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=True, **extra)
    assert ours.flatten_parameters() is None and ref.flatten_parameters() is None

    def names(m):
        return [[n for n, p in m.named_parameters() if any(p is q for q in group)] for group in m.all_weights]
    assert names(ours) == names(ref)
