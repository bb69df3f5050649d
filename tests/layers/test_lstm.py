"""LSTM against torch.nn.LSTM (float64): plain, LSTMP (proj_size), dropout; gradient checks, bad inputs."""
import numpy as np
import pytest

import nnref
from nnref.gradcheck import gradcheck, numerical_gradient
from nnref.layers.dropout import dropout_mask
from nnref.layers.lstm import lstm_cell_backward, lstm_cell_forward
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


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_projection_parity_with_torch(torch, num_layers, bidirectional, batch_first, with_state):
    """LSTMP: h_t = W_hr (o * tanh c_t) has proj_size features, c_t hidden_size."""
    recurrent_parity(torch, "LSTM", proj_size=3, num_layers=num_layers, bidirectional=bidirectional,
                     batch_first=batch_first, with_state=with_state)


def test_projection_unbatched_single_step_and_no_bias(torch):
    recurrent_parity(torch, "LSTM", proj_size=2, unbatched=True, with_state=True, num_layers=2, bidirectional=True)
    recurrent_parity(torch, "LSTM", proj_size=1, T=1, B=1, with_state=True, bias=False)


def test_projection_gradcheck():
    m = nnref.LSTM(2, 3, num_layers=2, bidirectional=True, proj_size=2, dtype=np.float64)
    rng = np.random.default_rng(2)
    x = dev(rng.normal(size=(3, 2, 2)))
    state = (dev(rng.normal(size=(4, 2, 2))), dev(rng.normal(size=(4, 2, 3))))
    assert gradcheck(m, x, state)


def test_dropout_in_eval_is_torchs(torch):
    recurrent_parity(torch, "LSTM", dropout=0.5, num_layers=3, bidirectional=True, with_state=True)


@pytest.mark.parametrize("p", [0.3, 1.0])
def test_dropout_in_train_is_torchs_with_the_same_mask(torch, p):
    """Training with dropout p: layer 1 reads mask * out_0 / (1 - p) (zeros for p = 1), layer 2's
    output is not dropped. Built in torch from single layers and the mask nnref drew; outputs,
    input and every parameter gradient agree."""
    T, B, I, H, L = 4, 3, 3, 5, 3
    ours = nnref.LSTM(I, H, num_layers=L, dropout=p, bidirectional=True, dtype=np.float64).train()
    rng = np.random.default_rng(0)
    x, d_out = rng.normal(size=(T, B, I)), rng.normal(size=(T, B, 2 * H))
    nnref.manual_seed(11)
    out, _ = ours(dev(x))
    dx = ours.backward(dev(d_out))
    nnref.manual_seed(11)                      # the same draws: the masks nnref used, in order
    masks = [nnref.backend.asnumpy(dropout_mask((T, B, 2 * H), p)) for _ in range(L - 1)]
    state = ours.state_dict()
    layers = []
    for k in range(L):
        ref = torch.nn.LSTM(I if k == 0 else 2 * H, H, bidirectional=True).double()
        ref.load_state_dict({n: torch.tensor(nnref.backend.asnumpy(state[n.replace("_l0", f"_l{k}")]))
                             for n in ref.state_dict()})
        layers.append(ref)
    xt = torch.tensor(x, requires_grad=True)
    h = xt
    for k, ref in enumerate(layers):
        if k:
            scale = 0.0 if p == 1 else 1 / (1 - p)
            h = h * torch.tensor(masks[k - 1].astype(np.float64) * scale)
        h, _ = ref(h)
    h.backward(torch.tensor(d_out))
    assert_close(out, h, what="output")
    assert_close(dx, xt.grad, what="input gradient")
    for name, prm in ours.named_parameters():
        k = int(name.split("_l")[1][0])
        theirs = dict(layers[k].named_parameters())[name.replace(f"_l{k}", "_l0")]
        assert_close(prm.grad, theirs.grad, what=f"gradient of {name}")


def test_dropout_in_train_gradient_is_numerical():
    """Under a fixed mask (the same seed before every forward) backward is the derivative."""
    m = nnref.LSTM(2, 3, num_layers=2, dropout=0.4, proj_size=2, dtype=np.float64).train()
    rng = np.random.default_rng(4)
    x, d_out = dev(rng.normal(size=(4, 2, 2))), dev(rng.normal(size=(4, 2, 2)))

    def loss():
        nnref.manual_seed(5)
        return float((m(x)[0] * d_out).sum())

    loss()
    m.zero_grad()
    dx = m.backward(d_out)
    assert_close(dx, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8, what="dx")
    W = m.weight_ih_l1
    assert_close(W.grad, numerical_gradient(loss, W.data), rtol=1e-6, atol=1e-8, what="dW_ih_l1")
    nnref.manual_seed(5)
    dropped, _ = m(x)
    assert float(abs(nnref.backend.asnumpy(dropped) - nnref.backend.asnumpy(m.eval()(x)[0])).max()) > 1e-3


def test_reference_cell_matches_the_formulas_and_differences():
    """lstm_cell_forward is the page's formulas (i, f, g, o in torch's row order); its backward
    equals central differences, with and without the projection W_hr."""
    rng = np.random.default_rng(5)
    B, I, H, P = 3, 2, 4, 2
    sig = lambda v: 1 / (1 + np.exp(-v))
    for W_hr in (None, rng.normal(size=(P, H))):
        n_h = H if W_hr is None else P
        x, h_prev, c_prev = rng.normal(size=(B, I)), rng.normal(size=(B, n_h)), rng.normal(size=(B, H))
        W_ih, W_hh = rng.normal(size=(4 * H, I)), rng.normal(size=(4 * H, n_h))
        b_ih, b_hh = rng.normal(size=4 * H), rng.normal(size=4 * H)
        z = x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh
        i, f, g, o = sig(z[:, :H]), sig(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), sig(z[:, 3 * H:])
        h, c, cache = lstm_cell_forward(x, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh, W_hr)
        m = o * np.tanh(f * c_prev + i * g)
        assert_close(c, f * c_prev + i * g, what="c_t")
        assert_close(h, m if W_hr is None else m @ W_hr.T, what="h_t")
        dh, dc = rng.normal(size=h.shape), rng.normal(size=c.shape)

        def loss():
            h2, c2, _ = lstm_cell_forward(x, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh, W_hr)
            return float((h2 * dh).sum() + (c2 * dc).sum())

        dx, dh_prev, dc_prev, dW_ih, dW_hh, db, dW_hr = lstm_cell_backward(dh, dc, cache, W_ih, W_hh, W_hr)
        for got, wrt, what in [(dx, x, "dx"), (dh_prev, h_prev, "dh_prev"), (dc_prev, c_prev, "dc_prev"),
                               (dW_ih, W_ih, "dW_ih"), (dW_hh, W_hh, "dW_hh"), (db, b_ih, "db")]:
            assert_close(got, numerical_gradient(loss, wrt), rtol=1e-6, atol=1e-8, what=what)
        if W_hr is not None:
            assert_close(dW_hr, numerical_gradient(loss, W_hr), rtol=1e-6, atol=1e-8, what="dW_hr")


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


def test_projection_shapes_and_parameter_count(torch):
    m = nnref.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2)
    ref = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2)
    assert [(k, tuple(v.shape)) for k, v in m.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
    assert sum(p.data.size for p in m.parameters()) == sum(p.numel() for p in ref.parameters())
    out, (h_n, c_n) = m(dev(np.ones((7, 2, 3), dtype=np.float32)))
    assert out.shape == (7, 2, 4) and h_n.shape == (4, 2, 2) and c_n.shape == (4, 2, 5)
    assert repr(m) == repr(ref)


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


def test_bilstm_reference_is_the_bidirectional_layer(torch):
    """bilstm_forward / bilstm_backward (the BiLSTM page's first code: two LSTMs, one on the
    reversed sequence, outputs concatenated) equal torch.nn.LSTM(bidirectional=True): output,
    final states, input and initial-state gradients and every parameter gradient."""
    from nnref.layers.lstm import bilstm_backward, bilstm_forward
    rng = np.random.default_rng(7)
    T, B, I, H = 5, 3, 2, 4
    ref = torch.nn.LSTM(I, H, bidirectional=True).double()
    w = {k: dev(v.detach().numpy()) for k, v in ref.state_dict().items()}
    names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    x, h0, c0 = rng.normal(size=(T, B, I)), rng.normal(size=(2, B, H)), rng.normal(size=(2, B, H))
    y, (fin_f, fin_b), caches = bilstm_forward(dev(x), (dev(h0[0]), dev(c0[0])), (dev(h0[1]), dev(c0[1])),
                                               [w[n] for n in names], [w[n + "_reverse"] for n in names])
    xt, h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    yt, (hnt, cnt) = ref(xt, (h0t, c0t))
    assert_close(y, yt, what="output")
    for d, fin in enumerate((fin_f, fin_b)):
        assert_close(fin[0], hnt[d], what="h_n")
        assert_close(fin[1], cnt[d], what="c_n")
    dy, dh, dc = rng.normal(size=y.shape), rng.normal(size=(2, B, H)), rng.normal(size=(2, B, H))
    (yt * torch.tensor(dy)).sum().add((hnt * torch.tensor(dh)).sum() + (cnt * torch.tensor(dc)).sum()).backward()
    dx, d0, grads = bilstm_backward(dev(dy), ((dev(dh[0]), dev(dc[0])), (dev(dh[1]), dev(dc[1]))), caches)
    assert_close(dx, xt.grad, what="dx")
    for d in range(2):
        assert_close(d0[d][0], h0t.grad[d], what="dh0")
        assert_close(d0[d][1], c0t.grad[d], what="dc0")
        for n, g in zip(names, grads[d]):
            assert_close(g, dict(ref.named_parameters())[n + ("_reverse" if d else "")].grad, what=n)
