"""Scaled dot-product attention (the reference pair) and MultiheadAttention, against torch 2.13.

The reference pair against ``F.scaled_dot_product_attention`` and a numerical gradient; the
Module against ``torch.nn.MultiheadAttention`` in float64 for seeded random configurations of
every option (kdim/vdim, bias, add_bias_kv, add_zero_attn, batch_first, unbatched input, boolean
and float masks of every shape, is_causal, need_weights, average_attn_weights), forward, the
returned weights, the three input gradients and every parameter gradient; float32 within its
tolerance; dropout with a known mask; what torch does with fully masked rows; bad input.
"""
import warnings

import numpy as np
import pytest

import nnref
from nnref.gradcheck import numerical_gradient
from nnref.layers.attention import (additive_mask, attention_backward, attention_forward, causal_mask,
                                    softmax_backward, softmax_forward)
from nnref.layers.dropout import dropout_mask
from nnref.nn.attention import MultiheadAttention
from tests.parity import assert_close, dev


# -- the reference pair --------------------------------------------------------------------

def test_softmax_backward_is_the_jacobian_product():
    rng = np.random.default_rng(0)
    z, da = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    a = softmax_forward(z)
    assert_close(a.sum(-1), np.ones(3), what="rows sum to 1")
    for n in range(3):
        J = np.diag(a[n]) - np.outer(a[n], a[n])            # da_j/dz_i = a_j (δ_ij - a_i), symmetric
        assert_close(softmax_backward(da, a)[n], J @ da[n], what="softmax backward")


def test_softmax_of_a_fully_masked_row_is_zero():
    z = np.array([[0.0, -np.inf, 1.0], [-np.inf, -np.inf, -np.inf]])
    a = softmax_forward(z)
    assert np.isfinite(a).all() and a[1].sum() == 0 and a[0, 1] == 0
    assert_close(a[0], np.exp([0, -np.inf, 1]) / np.exp([0, 1]).sum(), what="partly masked row")


def _sdpa_inputs(rng, shape=(2, 3, 4, 5), S=6, dv=3):
    N, H, L, d = shape
    return rng.normal(size=shape), rng.normal(size=(N, H, S, d)), rng.normal(size=(N, H, S, dv))


@pytest.mark.parametrize("mask_kind", ["none", "bool", "float", "causal", "key-padding"])
def test_attention_pair_matches_torch_sdpa(torch, mask_kind):
    rng = np.random.default_rng(1)
    q, k, v = _sdpa_inputs(rng)
    L, S = q.shape[-2], k.shape[-2]
    mask = {"none": None,
            "bool": rng.random((L, S)) < 0.3,
            "float": np.where(rng.random((2, 3, L, S)) < 0.3, -np.inf, rng.normal(size=(2, 3, L, S))),
            "causal": causal_mask(L, S),
            "key-padding": (np.arange(S) >= np.array([[4], [6]]))[:, None, None, :]}[mask_kind]
    if mask is not None:
        mask[..., 0] = False if mask.dtype == bool else 0.0        # no fully masked row here
    qt, kt, vt = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    # torch's SDPA reads a boolean mask as "True = allowed": the opposite of MultiheadAttention's
    tmask = None if mask is None else torch.tensor(~mask if mask.dtype == bool else mask)
    ot = torch.nn.functional.scaled_dot_product_attention(qt, kt, vt, attn_mask=tmask)
    O, A, cache = attention_forward(dev(q), dev(k), dev(v), None if mask is None else dev(mask))
    assert_close(O, ot, what="attention output")
    dO = rng.normal(size=O.shape)
    ot.backward(torch.tensor(dO))
    for name, ours, theirs in zip("qkv", attention_backward(dev(dO), cache), (qt, kt, vt)):
        assert_close(ours, theirs.grad, what=f"d{name}")


def test_fully_masked_rows_give_zeros_like_torch_sdpa(torch):
    rng = np.random.default_rng(2)
    q, k, v = _sdpa_inputs(rng)
    mask = np.zeros((4, 6), bool)
    mask[1] = True                                               # query 1 sees no key
    qt, kt, vt = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    ot = torch.nn.functional.scaled_dot_product_attention(qt, kt, vt, attn_mask=torch.tensor(~mask))
    O, A, cache = attention_forward(dev(q), dev(k), dev(v), dev(mask))
    assert_close(O, ot, what="output") and not nnref.asnumpy(O)[:, :, 1].any()
    dO = rng.normal(size=O.shape)
    ot.backward(torch.tensor(dO))
    for ours, theirs in zip(attention_backward(dev(dO), cache), (qt, kt, vt)):
        assert_close(ours, theirs.grad, what="gradient with a fully masked row")


def test_attention_backward_is_numerical_with_dropout_and_weight_gradient():
    """All three gradients, with a dropout keep-mask and a gradient on the returned weights too."""
    rng = np.random.default_rng(3)
    q, k, v = _sdpa_inputs(rng, shape=(1, 2, 3, 4), S=5, dv=2)
    mask = additive_mask(rng.random((3, 5)) < 0.3, np.float64)
    mask[:, 0] = 0
    keep = dropout_mask((1, 2, 3, 5), 0.4)
    dO, dW = rng.normal(size=(1, 2, 3, 2)), rng.normal(size=(1, 2, 3, 5))

    def loss():
        O, A_used, _ = attention_forward(q, k, v, mask, 0.4, keep)
        return float((O * dO).sum() + (A_used * dW).sum())

    _, _, cache = attention_forward(q, k, v, mask, 0.4, keep)
    for name, ours, x in zip("qkv", attention_backward(dO, cache, dW), (q, k, v)):
        assert_close(ours, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8, what=f"d{name}")


def test_masks():
    np.testing.assert_array_equal(causal_mask(3, 4), np.triu(np.ones((3, 4), bool), 1))
    f = additive_mask(np.array([True, False]), np.float32)
    assert f.dtype == np.float32 and f[0] == -np.inf and f[1] == 0
    g = np.array([0.5, -1.0])
    assert additive_mask(g, np.float64) is g


# -- MultiheadAttention against torch ------------------------------------------------------

def torch_pair(torch, E, H, dtype="float64", **kwargs):
    """torch's and nnref's MultiheadAttention with the same random, non-zero state."""
    tdtype = getattr(torch, dtype)
    ref = torch.nn.MultiheadAttention(E, H, dtype=tdtype, **kwargs)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for t in ref.state_dict().values():
            t.copy_(torch.randn(t.shape, generator=g, dtype=tdtype) * 0.5)
    m = MultiheadAttention(E, H, dtype=np.dtype(dtype), **kwargs)
    assert list(m.state_dict()) == list(ref.state_dict())
    m.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    return m, ref


def random_config(seed):
    """One random configuration of every option, inputs and masks included."""
    r = np.random.default_rng(seed)
    H = int(r.choice([1, 2, 3]))
    E = H * int(r.integers(1, 4))
    kw = dict(bias=bool(r.random() < 0.7), add_bias_kv=bool(r.random() < 0.3),
              add_zero_attn=bool(r.random() < 0.3), batch_first=bool(r.random() < 0.5))
    if r.random() < 0.3:
        kw.update(kdim=int(r.integers(1, 6)), vdim=int(r.integers(1, 6)))
    N, L, S = int(r.integers(1, 4)), int(r.integers(1, 5)), int(r.integers(1, 6))
    batched = bool(r.random() < 0.8)
    call = dict(need_weights=bool(r.random() < 0.6), average_attn_weights=bool(r.random() < 0.5))
    # masks never hide key 0, so that no query loses every key (that case has its own tests)
    kind = r.choice(["none", "bool", "float"])
    if kind != "none" and r.random() < 0.6:
        kpm = r.random((N, S)) < 0.4
        kpm[:, 0] = False
        call["key_padding_mask"] = kpm if kind == "bool" else np.where(kpm, -np.inf, r.normal(size=(N, S)))
    if kind != "none" and r.random() < 0.6:
        shape = (L, S) if r.random() < 0.5 else ((N if batched else 1) * H, L, S)
        am = r.random(shape) < 0.4
        if r.random() < 0.3 and L == S:
            am, call["is_causal"] = np.broadcast_to(causal_mask(L), shape).copy(), True
        am[..., 0] = False
        call["attn_mask"] = am if kind == "bool" else np.where(am, -np.inf, r.normal(size=shape))
    if not batched and "key_padding_mask" in call:
        call["key_padding_mask"] = call["key_padding_mask"][0]
    return E, H, kw, (N, L, S, batched), call


def inputs(rng, m, N, L, S, batched, same=False):
    def shape(T, D):
        if not batched:
            return (T, D)
        return (N, T, D) if m.batch_first else (T, N, D)
    q = rng.normal(size=shape(L, m.embed_dim))
    if same:
        return q, q, q
    return q, rng.normal(size=shape(S, m.kdim)), rng.normal(size=shape(S, m.vdim))


def check_against_torch(torch, m, ref, q, k, v, call, rng, rtol=1e-9, atol=1e-11, weights_grad=False):
    """Output, weights, the three input gradients and every parameter gradient agree with torch."""
    qt, kt, vt = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    ref.zero_grad()
    tcall = {key: torch.tensor(val) if isinstance(val, np.ndarray) else val for key, val in call.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # torch (and nnref) warn on mixed mask types
        yt, wt = ref(qt, kt, vt, **tcall)
        ours = {key: dev(val) if isinstance(val, np.ndarray) else val for key, val in call.items()}
        y, w = m(dev(q), dev(k), dev(v), **ours)
    assert_close(y, yt, rtol, atol, what="attn_output")
    assert (w is None) == (wt is None)
    if w is not None:
        assert_close(w, wt, rtol, atol, what="attn_output_weights")
    dy = rng.normal(size=y.shape)
    dw = rng.normal(size=w.shape) if weights_grad and w is not None else None
    loss = (yt * torch.tensor(dy)).sum() + (0 if dw is None else (wt * torch.tensor(dw)).sum())
    loss.backward()
    m.zero_grad()
    grads = m.backward(dev(dy), None if dw is None else dev(dw))
    for name, ours, theirs in zip(("query", "key", "value"), grads, (qt, kt, vt)):
        assert_close(ours, theirs.grad, rtol, atol, what=f"d_{name}")
    tparams = dict(ref.named_parameters())
    assert [n for n, _ in m.named_parameters()] == list(tparams)
    for name, p in m.named_parameters():
        assert_close(p.grad, tparams[name].grad, rtol, atol, what=f"{name} gradient")


@pytest.mark.parametrize("seed", range(60))
def test_random_configurations_match_torch(torch, seed):
    E, H, kw, (N, L, S, batched), call = random_config(seed)
    m, ref = torch_pair(torch, E, H, **kw)
    rng = np.random.default_rng(100 + seed)
    mode = "train" if seed % 2 else "eval"                     # dropout 0: both compute the same
    getattr(m, mode)(), getattr(ref, mode)()
    check_against_torch(torch, m, ref, *inputs(rng, m, N, L, S, batched), call, rng,
                        weights_grad=seed % 3 == 0)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("batched", [True, False])
def test_self_attention_one_array_three_times(torch, batch_first, batched):
    """``mha(x, x, x)``: backward returns the gradient of each argument position; torch's x.grad
    is their sum."""
    m, ref = torch_pair(torch, 6, 2, batch_first=batch_first)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 4, 6) if batched else (4, 6))
    xt = torch.tensor(x, requires_grad=True)
    yt, _ = ref(xt, xt, xt)
    y, _ = m(dev(x), dev(x), dev(x))
    dy = rng.normal(size=y.shape)
    yt.backward(torch.tensor(dy))
    dq, dk, dv = m.backward(dev(dy))
    assert_close(dq + dk + dv, xt.grad, what="self-attention input gradient")
    # each position alone: torch with three distinct leaves holding the same values
    check_against_torch(torch, m, ref, x, x.copy(), x.copy(), {}, rng)


@pytest.mark.parametrize("need_weights", [True, False])
def test_is_causal_hint_as_torch(torch, need_weights):
    """torch uses the causal mask instead of attn_mask when is_causal=True, need_weights=False and
    no key_padding_mask; otherwise attn_mask itself. A wrong hint shows which one was used."""
    m, ref = torch_pair(torch, 4, 2)
    rng = np.random.default_rng(6)
    wrong = np.zeros((3, 3), bool)
    wrong[2, 1] = True                                           # not causal at all
    check_against_torch(torch, m, ref, *inputs(rng, m, 2, 3, 3, True), dict(
        attn_mask=wrong, is_causal=True, need_weights=need_weights), rng)
    kpm = np.zeros((2, 3), bool)
    kpm[1, 2] = True
    check_against_torch(torch, m, ref, *inputs(rng, m, 2, 3, 3, True), dict(
        attn_mask=wrong, key_padding_mask=kpm, is_causal=True, need_weights=need_weights), rng)


def test_causal_hint_with_added_keys_as_torch(torch):
    m, ref = torch_pair(torch, 4, 2, add_bias_kv=True, add_zero_attn=True)
    rng = np.random.default_rng(7)
    check_against_torch(torch, m, ref, *inputs(rng, m, 2, 3, 3, True),
                        dict(attn_mask=causal_mask(3), is_causal=True, need_weights=False), rng)


def test_fully_masked_row_as_torch(torch):
    """torch: zeros for such a query with need_weights=False, NaN (output, weights and the
    gradients it reaches) with need_weights=True; nnref the same, boolean and float masks."""
    m, ref = torch_pair(torch, 4, 2)
    rng = np.random.default_rng(8)
    kpm = np.zeros((2, 3), bool)
    kpm[1] = True                                                # sequence 1 is all padding
    am = np.zeros((3, 3))
    am[0] = -np.inf                                              # float mask: query 0 sees nothing
    q, k, v = inputs(rng, m, 2, 3, 3, True)
    for call in (dict(key_padding_mask=kpm), dict(attn_mask=am), dict(attn_mask=am, average_attn_weights=False)):
        for need_weights in (False, True):
            check_against_torch(torch, m, ref, q, k, v, dict(call, need_weights=need_weights), rng)
    y, w = m(dev(q), dev(k), dev(v), key_padding_mask=dev(kpm))
    assert np.isnan(nnref.asnumpy(y)[:, 1]).all() and np.isfinite(nnref.asnumpy(y)[:, 0]).all()
    y, _ = m(dev(q), dev(k), dev(v), key_padding_mask=dev(kpm), need_weights=False)
    assert np.isfinite(nnref.asnumpy(y)).all()


@pytest.mark.parametrize("seed", range(8))
def test_float32_within_tolerance(torch, seed):
    E, H, kw, (N, L, S, batched), call = random_config(1000 + seed)
    m, ref = torch_pair(torch, E, H, dtype="float32", **kw)
    rng = np.random.default_rng(seed)
    q, k, v = (a.astype(np.float32) for a in inputs(rng, m, N, L, S, batched))
    call = {key: val.astype(np.float32) if isinstance(val, np.ndarray) and val.dtype.kind == "f" else val
            for key, val in call.items()}
    y, w = m(dev(q), dev(k), dev(v), **call)
    assert y.dtype == np.float32 and (w is None or w.dtype == np.float32)
    check_against_torch(torch, m, ref, q, k, v, call, rng, rtol=2e-4, atol=2e-5)


def test_dropout_uses_the_drawn_mask():
    """In training the weights are dropped with a keep-mask drawn from nnref's generator, and the
    returned weights are the dropped ones (as torch returns them)."""
    m = MultiheadAttention(4, 2, dropout=0.5, dtype=np.float64)
    rng = np.random.default_rng(9)
    q, k, v = inputs(rng, m, 2, 3, 5, True)
    nnref.manual_seed(11)
    y, w = m(dev(q), dev(k), dev(v), average_attn_weights=False)
    nnref.manual_seed(11)
    keep = dropout_mask((2, 2, 3, 5), 0.5)
    m.eval()
    y0, w0 = m(dev(q), dev(k), dev(v), average_attn_weights=False)
    assert_close(w, w0 * keep / 0.5, what="dropped weights")
    m.train()
    nnref.manual_seed(11)
    y1, _ = m(dev(q), dev(k), dev(v))
    assert_close(y1, y, what="same seed, same output")


def test_dropout_gradients_are_numerical():
    """Training with dropout: every gradient against central differences, the mask re-drawn from
    the same seed for each evaluation."""
    m = MultiheadAttention(4, 2, dropout=0.3, add_bias_kv=True, dtype=np.float64)
    rng = np.random.default_rng(10)
    q, k, v = (dev(a) for a in inputs(rng, m, 2, 3, 4, True))
    kpm = dev(np.array([[False, False, True, False], [False, True, False, False]]))
    dy, dw = dev(rng.normal(size=(3, 2, 4))), dev(rng.normal(size=(2, 3, 5)))

    def loss():
        nnref.manual_seed(3)
        y, w = m(q, k, v, key_padding_mask=kpm)
        return float((y * dy).sum() + (w * dw).sum())

    nnref.manual_seed(3)
    m(q, k, v, key_padding_mask=kpm)
    m.zero_grad()
    grads = m.backward(dy, dw)
    for name, g, x in zip(("query", "key", "value"), grads, (q, k, v)):
        assert_close(g, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8, what=f"d_{name}")
    for name, p in m.named_parameters():
        assert_close(p.grad, numerical_gradient(loss, p.data), rtol=1e-6, atol=1e-8, what=name)


def test_defaults_state_dict_and_init_as_torch(torch):
    for kw in ({}, dict(kdim=3, vdim=5), dict(add_bias_kv=True, bias=False)):
        m, ref = MultiheadAttention(8, 2, **kw), torch.nn.MultiheadAttention(8, 2, **kw)
        assert [(k, tuple(v.shape), v.dtype) for k, v in m.state_dict().items()] == \
               [(k, tuple(v.shape), np.float32) for k, v in ref.state_dict().items()]
        assert (m.embed_dim, m.num_heads, m.head_dim, m.kdim, m.vdim, m.dropout, m.batch_first,
                m._qkv_same_embed_dim) == (ref.embed_dim, ref.num_heads, ref.head_dim, ref.kdim, ref.vdim,
                                           ref.dropout, ref.batch_first, ref._qkv_same_embed_dim)
    nnref.manual_seed(0)
    m = MultiheadAttention(64, 4, add_bias_kv=True, kdim=32)
    for name, a in [("q_proj_weight", np.sqrt(6 / 128)), ("k_proj_weight", np.sqrt(6 / 96)),
                    ("out_proj.weight", 1 / 8)]:
        w = nnref.asnumpy(m.state_dict()[name])
        assert np.abs(w).max() <= a and np.abs(w).max() > 0.95 * a, name          # U(-a, a)
        assert abs(w.var() - a * a / 3) < 0.1 * a * a / 3, name
    assert not nnref.asnumpy(m.in_proj_bias.data).any() and not nnref.asnumpy(m.out_proj.bias.data).any()
    bk = nnref.asnumpy(m.bias_k.data)
    assert bk.shape == (1, 1, 64) and abs(bk.std() - np.sqrt(1 / 64)) < 0.04    # xavier normal


@pytest.mark.parametrize("L, S, N", [(0, 0, 2), (3, 0, 2), (0, 4, 2), (3, 4, 0)])
def test_empty_sequences_and_batches_as_torch(torch, L, S, N):
    """No queries, no keys or no sequences: torch returns (zeros for no keys); nnref the same."""
    m, ref = torch_pair(torch, 4, 2)
    rng = np.random.default_rng(14)
    for need_weights in (True, False):
        check_against_torch(torch, m, ref, *inputs(rng, m, N, L, S, True), dict(need_weights=need_weights), rng)


def test_unbatched_3d_mask_and_float16():
    m = MultiheadAttention(4, 2)
    x = dev(np.random.default_rng(12).normal(size=(3, 4)).astype(np.float16))
    am = dev(np.zeros((2, 3, 3), bool))
    y, w = m(x, x, x, attn_mask=am, average_attn_weights=False)
    assert y.dtype == w.dtype == np.float16 and y.shape == (3, 4) and w.shape == (2, 3, 3)
    assert all(g.dtype == np.float16 and g.shape == (3, 4) for g in m.backward(dev(np.ones((3, 4), np.float16))))


def test_bad_inputs(torch):
    with pytest.raises(ValueError, match=r"MultiheadAttention: embed_dim \(10\) must be divisible by num_heads \(3\)"):
        MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="MultiheadAttention: num_heads must be greater than zero"):
        MultiheadAttention(4, 0)
    with pytest.raises(ValueError, match="dropout must be a probability"):
        MultiheadAttention(4, 2, dropout=1.5)
    m = MultiheadAttention(4, 2, kdim=3, dtype=np.float64)
    rng = np.random.default_rng(13)
    q, k, v = (dev(rng.normal(size=s)) for s in [(2, 1, 4), (5, 1, 3), (5, 1, 4)])
    with pytest.raises(ValueError, match=r"expected key with 3 features \(kdim\)"):
        m(q, v, v)
    with pytest.raises(ValueError, match=r"expected value with 4 features \(vdim\)"):
        m(q, k, k)
    with pytest.raises(ValueError, match=r"expected query with 4 features \(embed_dim\)"):
        m(k, k, v)
    with pytest.raises(ValueError, match="same sequence length"):
        m(q, k, v[:4])
    with pytest.raises(ValueError, match="key and value must be 3-D too"):
        m(q, k[:, 0], v)
    with pytest.raises(ValueError, match=r"expected query of shape \(L, E\) unbatched or \(L, N, E\)"):
        m(q[0, 0], k, v)
    with pytest.raises(TypeError, match="share one dtype"):
        m(q.astype(np.float32), k, v)
    with pytest.raises(TypeError, match="MultiheadAttention .key.: expected a floating-point array"):
        m(q, k.astype(np.int64), v)
    with pytest.raises(TypeError, match="expected an array for key"):
        m(q, [[1.0]], v)
    with pytest.raises(ValueError, match=r"expected attn_mask of shape \(2, 5\) or \(2, 2, 5\)"):
        m(q, k, v, attn_mask=dev(np.zeros((5, 2), bool)))
    with pytest.raises(ValueError, match=r"expected key_padding_mask of shape \(1, 5\)"):
        m(q, k, v, key_padding_mask=dev(np.zeros((5,), bool)))
    with pytest.raises(TypeError, match="attn_mask must be a bool or floating-point array, got int64"):
        m(q, k, v, attn_mask=dev(np.zeros((2, 5), np.int64)))
    with pytest.raises(ValueError, match="is_causal=True is a hint that attn_mask is causal"):
        m(q, k, v, is_causal=True)
    with pytest.raises(ValueError, match="is_causal=True"):
        m(q, k, v, is_causal=True, need_weights=False)
    with pytest.raises(RuntimeError, match="MultiheadAttention.backward called before forward"):
        MultiheadAttention(4, 2).backward(dev(np.zeros((2, 1, 4))))
    m(q, k, v, need_weights=False)
    with pytest.raises(ValueError, match="expected a gradient of the output's shape"):
        m.backward(dev(np.zeros((2, 4))))
    with pytest.raises(ValueError, match="need_weights=False"):
        m.backward(dev(np.zeros((2, 1, 4))), dev(np.zeros((1, 2, 5))))
    m(q, k, v)
    with pytest.raises(ValueError, match=r"d_attn_output_weights of the weights' shape \(1, 2, 5\)"):
        m.backward(dev(np.zeros((2, 1, 4))), dev(np.zeros((1, 5, 2))))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m(q, k, v, key_padding_mask=dev(np.zeros((1, 5), bool)), attn_mask=dev(np.zeros((2, 5))))
    assert any("torch deprecates mixing" in str(c.message) for c in caught)


@pytest.mark.parametrize("batched", [True, False])
def test_editing_the_returned_weights_leaves_backward_alone(batched):
    """Per-head weights (``average_attn_weights=False``) are the user's to change, e.g. for a plot:
    backward must not read them (before: they were the cache's own array)."""
    m = MultiheadAttention(6, 2, dtype=np.float64)
    q = dev(np.random.default_rng(0).normal(size=(4, 2, 6) if batched else (4, 6)))
    y, w = m(q, q, q, average_attn_weights=False)
    dy = dev(np.ones(y.shape))
    clean = [nnref.asnumpy(g) for g in m.backward(dy)]
    m.zero_grad()
    y, w = m(q, q, q, average_attn_weights=False)
    w *= 0
    for before, after in zip(clean, m.backward(dy)):
        assert_close(after, before, rtol=0, atol=0, what="input gradient after editing the weights")
