"""RNN against torch.nn.RNN; ``recurrent_parity`` is shared with the LSTM and GRU tests."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import nnref
from nnref.backend import asnumpy
from nnref.gradcheck import gradcheck, numerical_gradient
from nnref.layers.rnn import rnn_backward, rnn_forward
from tests.parity import assert_close, dev, load_from_torch


def recurrent_parity(torch, kind, *, num_layers=1, bidirectional=False, batch_first=False,
                     with_state=False, unbatched=False, d_state=True, T=5, B=3, I=4, H=6, seed=0, **kw):
    """Forward, final states, dx, initial-state gradients and every parameter gradient of
    ``nnref.<kind>`` equal ``torch.nn.<kind>`` in float64 on the same (torch-initialised) weights."""
    args = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, **kw)
    ref = getattr(torch.nn, kind)(I, H, **args).double().eval()     # eval: dropout off, as in ours below
    ours = load_from_torch(getattr(nnref, kind)(I, H, dtype=np.float64, **args), ref).eval()
    assert list(ours.state_dict()) == list(ref.state_dict())
    for name, p in ref.named_parameters():  # the check needs non-zero, distinct biases
        if name.startswith("bias"):
            assert len(set(p.detach().numpy().round(12))) == p.numel() and (p != 0).all()
    rng = np.random.default_rng(seed)
    L = num_layers * (2 if bidirectional else 1)
    n_states = 2 if kind == "LSTM" else 1
    x_shape = (T, I) if unbatched else ((B, T, I) if batch_first else (T, B, I))
    sizes = (kw.get("proj_size") or H, H)[:n_states]          # h has proj_size features, c hidden_size
    s_shapes = [(L, n) if unbatched else (L, B, n) for n in sizes]
    x = rng.normal(size=x_shape)
    states = [rng.normal(size=s) for s in s_shapes]
    xt = torch.tensor(x, requires_grad=True)
    st_t = [torch.tensor(s, requires_grad=True) for s in states]

    def pack(seq):
        return seq[0] if n_states == 1 else tuple(seq)

    out_t, fin_t = ref(xt, pack(st_t) if with_state else None)
    out, fin = ours(dev(x), pack([dev(s) for s in states]) if with_state else None)
    fin_t = [fin_t] if n_states == 1 else list(fin_t)
    fin = [fin] if n_states == 1 else list(fin)
    assert_close(out, out_t, what="output")
    for a, e, what in zip(fin, fin_t, ("h_n", "c_n")):
        assert_close(a, e, what=what)
    d_out = rng.normal(size=tuple(out_t.shape))
    d_fin = [rng.normal(size=s) for s in s_shapes]
    loss = (out_t * torch.tensor(d_out)).sum()
    if d_state:
        loss = loss + sum((f * torch.tensor(d)).sum() for f, d in zip(fin_t, d_fin))
    loss.backward()
    dx = ours.backward(dev(d_out), pack([dev(d) for d in d_fin]) if d_state else None)
    assert_close(dx, xt.grad, what="input gradient")
    if with_state:
        assert_close(ours.dh0, st_t[0].grad, what="dh0")
        if n_states == 2:
            assert_close(ours.dc0, st_t[1].grad, what="dc0")
    ref_params = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, ref_params[name].grad, what=f"gradient of {name}")
    return ours


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_parity_with_torch(torch, nonlinearity, num_layers, bidirectional, batch_first, with_state):
    recurrent_parity(torch, "RNN", nonlinearity=nonlinearity, num_layers=num_layers,
                     bidirectional=bidirectional, batch_first=batch_first, with_state=with_state)


@pytest.mark.parametrize("with_state", [False, True])
def test_unbatched_and_no_bias(torch, with_state):
    recurrent_parity(torch, "RNN", unbatched=True, with_state=with_state, num_layers=2, bidirectional=True)
    recurrent_parity(torch, "RNN", bias=False, with_state=with_state, num_layers=2)


def test_gradient_of_output_only_and_of_state_only(torch):
    recurrent_parity(torch, "RNN", d_state=False, with_state=True, bidirectional=True)
    ours = recurrent_parity(torch, "RNN", T=1, B=1, with_state=True)
    assert ours.dh0.shape == (1, 1, 6)


@settings(max_examples=15, deadline=None)
@given(T=st.integers(1, 6), B=st.integers(1, 4), I=st.integers(1, 5), H=st.integers(1, 5),
       num_layers=st.integers(1, 3), bidirectional=st.booleans(), batch_first=st.booleans())
def test_shapes_property(T, B, I, H, num_layers, bidirectional, batch_first):
    torch = pytest.importorskip("torch")
    torch.manual_seed(T * 100 + B * 10 + H)
    recurrent_parity(torch, "RNN", T=T, B=B, I=I, H=H, num_layers=num_layers,
                     bidirectional=bidirectional, batch_first=batch_first, with_state=True)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_gradcheck(nonlinearity):
    m = nnref.RNN(2, 3, num_layers=2, nonlinearity=nonlinearity, bidirectional=True, dtype=np.float64)
    x = dev(np.random.default_rng(1).normal(size=(4, 2, 2)))
    h0 = dev(np.random.default_rng(2).normal(size=(4, 2, 3)))
    assert gradcheck(m, x)
    assert gradcheck(m, x, h0)


def check_h0_gradient(m, T=4, B=2, seed=3):
    """``m.dh0`` after backward equals central differences of <out, d_out> + <h_n, d_hn> in h0."""
    rng = np.random.default_rng(seed)
    L = m.num_layers * m.num_directions
    x, h0 = dev(rng.normal(size=(T, B, m.input_size))), dev(rng.normal(size=(L, B, m.hidden_size)))
    d_out = dev(rng.normal(size=(T, B, m.num_directions * m.hidden_size)))
    d_hn = dev(rng.normal(size=(L, B, m.hidden_size)))

    def loss():
        out, h_n = m(x, h0)
        return float((out * d_out).sum() + (h_n * d_hn).sum())

    m(x, h0)
    m.backward(d_out, d_hn)
    assert_close(m.dh0, numerical_gradient(loss, h0), rtol=1e-6, atol=1e-8, what="dh0")


def test_initial_state_gradient_numerically():
    check_h0_gradient(nnref.RNN(2, 3, num_layers=2, dtype=np.float64))


def test_bptt_sums_the_per_step_gradients():
    """The GEMM in rnn_backward equals the notes' sum of per-step gradients, written as a loop."""
    rng = np.random.default_rng(4)
    T, B, I, H = 6, 2, 3, 4
    x, h0 = rng.normal(size=(T, B, I)), rng.normal(size=(B, H))
    W_ih, W_hh, b_ih, b_hh = (rng.normal(size=s) * 0.5 for s in [(H, I), (H, H), (H,), (H,)])
    out, h_n, cache = rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh)
    d_out = rng.normal(size=(T, B, H))
    dx, dh0, dW_ih, dW_hh, db, _ = rnn_backward(d_out, None, cache)
    # naive: h_t by an explicit loop, then dh_t from t = T down to 1
    hs = [h0]
    for t in range(T):
        hs.append(np.tanh(x[t] @ W_ih.T + b_ih + hs[-1] @ W_hh.T + b_hh))
    assert_close(out, np.stack(hs[1:]), what="h_t")
    dW_hh_sum, dh = np.zeros_like(W_hh), np.zeros((B, H))
    for t in reversed(range(T)):
        dz = (d_out[t] + dh) * (1 - hs[t + 1] ** 2)
        dW_hh_sum += dz.T @ hs[t]
        dh = dz @ W_hh
    assert_close(dW_hh, dW_hh_sum, what="dW_hh")
    assert_close(dh0, dh, what="dh0")


def test_float32_by_default_and_init_range():
    m = nnref.RNN(3, 16, num_layers=2, bidirectional=True)
    for name, p in m.named_parameters():
        assert p.dtype == np.float32, name
        assert float(abs(asnumpy(p.data)).max()) <= 1 / 4
    x = dev(np.ones((5, 2, 3), dtype=np.float32))
    out, h_n = m(x)
    assert out.dtype == np.float32 and out.shape == (5, 2, 32) and h_n.shape == (4, 2, 16)
    assert m.backward(out).dtype == np.float32
    assert repr(m) == "RNN(3, 16, num_layers=2, bidirectional=True)"
    assert repr(nnref.RNN(1, 2, nonlinearity="relu", batch_first=True)) == \
        "RNN(1, 2, batch_first=True, nonlinearity='relu')"


def test_same_objects_exported():
    assert nnref.RNN is nnref.layers.RNN and nnref.LSTM is nnref.layers.LSTM and nnref.GRU is nnref.layers.GRU


def test_bad_inputs():
    m = nnref.RNN(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"RNN: expected 3 input features"):
        m(dev(np.zeros((5, 2, 7), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"RNN: expected input of shape \(T, B, input_size\)"):
        m(dev(np.zeros((5, 2, 1, 3), dtype=np.float32)))
    with pytest.raises(TypeError, match="RNN: expected a floating-point array"):
        m(dev(np.zeros((5, 2, 3), dtype=np.int64)))
    x = dev(np.zeros((5, 2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"RNN: expected h0 of shape \(2, 2, 4\), got \(1, 2, 4\)"):
        m(x, dev(np.zeros((1, 2, 4), dtype=np.float32)))
    with pytest.raises(TypeError, match="h0 has dtype float64 but the input float32"):
        m(x, dev(np.zeros((2, 2, 4))))
    with pytest.raises(ValueError, match=r"RNN: expected h0 of shape \(2, 4\)"):
        m(dev(np.zeros((5, 3), dtype=np.float32)), dev(np.zeros((2, 2, 4), dtype=np.float32)))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        nnref.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="RNN: hidden_size must be greater than zero"):
        nnref.RNN(3, 0)
    with pytest.raises(ValueError, match="RNN: expected a sequence of at least one step"):
        m(dev(np.zeros((0, 2, 3), dtype=np.float32)))
    with pytest.raises(RuntimeError, match="RNN.backward called before forward"):
        nnref.RNN(3, 4).backward(dev(np.zeros((5, 2, 4), dtype=np.float32)))
    out, h_n = m(x)
    with pytest.raises(ValueError, match=r"RNN.backward: expected d_out of shape \(5, 2, 4\)"):
        m.backward(out[:, :1])
    with pytest.raises(ValueError, match=r"final h_n of shape \(2, 2, 4\)"):
        m.backward(out, h_n[:1])


def test_signature_is_torchs(torch):
    """Constructor and forward parameters: torch 2.13's names, order and defaults."""
    import inspect
    import typing
    for kind in ("RNN", "LSTM", "GRU"):
        theirs = inspect.signature(typing.get_overloads(getattr(torch.nn, kind).__init__)[0])
        ours = inspect.signature(getattr(nnref, kind).__init__)
        assert [(p.name, p.default, p.kind) for p in ours.parameters.values()] == \
            [(p.name, p.default, p.kind) for p in theirs.parameters.values()], kind
        assert list(inspect.signature(getattr(nnref, kind).forward).parameters) == ["self", "input", "hx"]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_constructor_validation_as_torch(torch, kind):
    """Every argument torch refuses, nnref refuses with the same exception class, naming the layer."""
    bad = [((4, 2.5), {}, "hidden_size"), ((4.0, 2), {}, "input_size"), ((4, 2, 1.5), {}, "num_layers"),
           ((4, 0), {}, "hidden_size"), ((0, 2), {}, "input_size"), ((4, 2, 0), {}, "num_layers"),
           ((4, 2), dict(dropout=1.5), "dropout"), ((4, 2), dict(dropout=-0.1), "dropout")]
    if kind == "LSTM":
        bad += [((4, 3), dict(proj_size=3), "proj_size"), ((4, 3), dict(proj_size=-1), "proj_size"),
                ((4, 3), dict(proj_size=1.5), "proj_size")]
    for args, kw, what in bad:
        with pytest.raises(Exception) as theirs:
            getattr(torch.nn, kind)(*args, **kw)
        with pytest.raises(theirs.type, match=f"{kind}: {what}"):
            getattr(nnref, kind)(*args, **kw)
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        getattr(nnref, kind)(4, 2, dropout=0.5)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_empty_batch_as_torch(torch, kind):
    """B = 0: empty outputs and states of the right shapes, and an empty input gradient."""
    m = getattr(nnref, kind)(4, 3, num_layers=2, bidirectional=True)
    out, fin = m(dev(np.zeros((5, 0, 4), dtype=np.float32)))
    out_t, fin_t = getattr(torch.nn, kind)(4, 3, num_layers=2, bidirectional=True)(torch.zeros(5, 0, 4))
    assert out.shape == tuple(out_t.shape)
    for a, e in zip(fin if kind == "LSTM" else [fin], fin_t if kind == "LSTM" else [fin_t]):
        assert a.shape == tuple(e.shape)
    assert m.backward(out).shape == (5, 0, 4)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_outputs_cannot_corrupt_the_cache(kind):
    """The cache keeps ``out``: what the user gets cannot be changed in place (NumPy), or is a copy."""
    m = getattr(nnref, kind)(3, 4, dtype=np.float64)
    rng = np.random.default_rng(0)
    x, d_out = dev(rng.normal(size=(5, 2, 3))), dev(rng.normal(size=(5, 2, 4)))
    out, _ = m(x)
    expected = m.backward(d_out)
    out, _ = m(x)
    try:
        out += 1.0
    except ValueError:
        pass                                  # NumPy: read-only
    assert_close(m.backward(d_out), expected, what="dx after an in-place change of out")


def test_dropout_in_eval_is_torchs_and_in_train_the_derivative(torch):
    recurrent_parity(torch, "RNN", dropout=0.5, num_layers=2, bidirectional=True, with_state=True)
    m = nnref.RNN(2, 3, num_layers=2, dropout=0.5, nonlinearity="relu", dtype=np.float64).train()
    rng = np.random.default_rng(4)
    x, d_out = dev(rng.normal(size=(4, 2, 2))), dev(rng.normal(size=(4, 2, 3)))

    def loss():
        nnref.manual_seed(5)                  # the same mask before every forward
        return float((m(x)[0] * d_out).sum())

    loss()
    assert_close(m.backward(d_out), numerical_gradient(loss, x), rtol=1e-6, atol=1e-8, what="dx")
