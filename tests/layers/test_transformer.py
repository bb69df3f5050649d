"""TransformerEncoderLayer and TransformerEncoder against torch 2.13, numerical gradients, bad input.

Seeded random configurations of every option (norm_first, activation, bias, batch_first,
unbatched input, layer_norm_eps, dim_feedforward, masks of every kind, is_causal, a final norm,
the number of layers), forward, input gradient and every parameter gradient in float64;
float32 within its tolerance; dropout with nnref's generator checked by central differences.
"""
import copy
import warnings

import numpy as np
import pytest

import nnref
from nnref.gradcheck import numerical_gradient
from nnref.layers.attention import causal_mask
from nnref.nn.transformer import TransformerEncoder, TransformerEncoderLayer
from tests.parity import assert_close, dev


def fill(torch, ref, dtype):
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for t in ref.state_dict().values():
            t.copy_(torch.randn(t.shape, generator=g, dtype=dtype) * 0.5)


def torch_pair(torch, layer_args, layer_kw, num_layers=None, norm=False, dtype="float64"):
    """(nnref, torch) encoder layer, or encoder of ``num_layers`` of them, with the same random state."""
    tdtype = getattr(torch, dtype)
    t_kw = dict(layer_kw)
    act = t_kw.get("activation")
    if isinstance(act, nnref.Module):                # the torch namesake of an nnref activation Module
        t_kw["activation"] = (torch.nn.GELU(act.approximate) if isinstance(act, nnref.GELU)
                              else getattr(torch.nn, type(act).__name__)())
    ref = torch.nn.TransformerEncoderLayer(*layer_args, dtype=tdtype, **t_kw)
    m = TransformerEncoderLayer(*layer_args, dtype=np.dtype(dtype), **layer_kw)
    if num_layers is not None:
        d = layer_args[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")          # torch's nested-tensor notice
            ref = torch.nn.TransformerEncoder(ref, num_layers,
                                              norm=torch.nn.LayerNorm(d, dtype=tdtype) if norm else None)
        m = TransformerEncoder(m, num_layers, norm=nnref.LayerNorm(d, dtype=np.dtype(dtype)) if norm else None)
    fill(torch, ref, tdtype)
    assert list(m.state_dict()) == list(ref.state_dict())
    m.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    return m, ref


def random_config(seed):
    r = np.random.default_rng(seed)
    nhead = int(r.choice([1, 2, 4]))
    d = nhead * int(r.integers(1, 3))
    kw = dict(dim_feedforward=int(r.integers(1, 12)), dropout=0.0, norm_first=bool(r.random() < 0.5),
              bias=bool(r.random() < 0.7), batch_first=bool(r.random() < 0.5),
              layer_norm_eps=float(r.choice([1e-5, 1e-2])),
              activation=r.choice(["relu", "gelu", "gelu-module", "tanh-module"]))
    kw["activation"] = {"gelu-module": nnref.GELU("tanh"), "tanh-module": nnref.Tanh()}.get(kw["activation"],
                                                                                            str(kw["activation"]))
    N, S, batched = int(r.integers(1, 4)), int(r.integers(1, 6)), bool(r.random() < 0.8)
    call = {}
    kind = r.choice(["none", "bool", "float"])
    if kind != "none" and r.random() < 0.6:
        kpm = r.random((N, S)) < 0.4
        kpm[:, 0] = False                          # no query loses every key
        call["src_key_padding_mask"] = kpm if kind == "bool" else np.where(kpm, -np.inf, r.normal(size=(N, S)))
        if not batched:
            call["src_key_padding_mask"] = call["src_key_padding_mask"][0]
    if kind != "none" and r.random() < 0.6:
        shape = (S, S) if r.random() < 0.6 else ((N if batched else 1) * nhead, S, S)
        am = r.random(shape) < 0.4
        if r.random() < 0.4:
            am = np.broadcast_to(causal_mask(S), shape).copy()
            call["is_causal"] = True
        am[..., 0] = False
        call["src_mask"] = am if kind == "bool" else np.where(am, -np.inf, r.normal(size=shape))
    return (d, nhead), kw, (N, S, batched), call


def src_of(rng, m_layer, N, S, batched, d):
    if not batched:
        return rng.normal(size=(S, d))
    return rng.normal(size=(N, S, d) if m_layer.self_attn.batch_first else (S, N, d))


def check_against_torch(torch, m, ref, x, call, rng, rtol=1e-9, atol=1e-11):
    xt = torch.tensor(x, requires_grad=True)
    tcall = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in call.items()}
    ref.zero_grad()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yt = ref(xt, **tcall)
        y = m(dev(x), **{k: dev(v) if isinstance(v, np.ndarray) else v for k, v in call.items()})
    assert_close(y, yt, rtol, atol, what="output")
    dy = rng.normal(size=y.shape)
    yt.backward(torch.tensor(dy))
    m.zero_grad()
    assert_close(m.backward(dev(dy)), xt.grad, rtol, atol, what="d_src")
    tparams = dict(ref.named_parameters())
    assert [n for n, _ in m.named_parameters()] == list(tparams)
    for name, p in m.named_parameters():
        assert_close(p.grad, tparams[name].grad, rtol, atol, what=f"{name} gradient")


@pytest.mark.parametrize("seed", range(40))
def test_encoder_layer_random_configurations_match_torch(torch, seed):
    args, kw, (N, S, batched), call = random_config(seed)
    m, ref = torch_pair(torch, args, kw)
    getattr(m, "train" if seed % 2 else "eval")(), getattr(ref, "train" if seed % 2 else "eval")()
    rng = np.random.default_rng(seed)
    check_against_torch(torch, m, ref, src_of(rng, m, N, S, batched, args[0]), call, rng)


@pytest.mark.parametrize("seed", range(16))
def test_encoder_random_configurations_match_torch(torch, seed):
    args, kw, (N, S, batched), call = random_config(500 + seed)
    num_layers = int(np.random.default_rng(seed).integers(1, 4))
    m, ref = torch_pair(torch, args, kw, num_layers=num_layers, norm=seed % 2 == 0)
    if "src_mask" in call:
        call["mask"] = call.pop("src_mask")
    if seed % 3 == 0 and "is_causal" in call:
        del call["is_causal"]                     # is_causal=None: detected from the mask, as torch
    rng = np.random.default_rng(seed)
    check_against_torch(torch, m, ref, src_of(rng, m.layers[0], N, S, batched, args[0]), call, rng)


@pytest.mark.parametrize("causal", [True, False])
def test_encoder_mask_with_is_causal_none_as_torch(torch, causal):
    """is_causal=None: torch compares the mask with the causal one (to pick a kernel); nnref uses
    the mask as given: the same numbers for a causal and for a non-causal mask."""
    m, ref = torch_pair(torch, (4, 2), dict(dim_feedforward=6, dropout=0.0), num_layers=2)
    mask = causal_mask(5) if causal else np.random.default_rng(3).random((5, 5)) < 0.3
    mask[:, 0] = False
    for kind in (mask, np.where(mask, -np.inf, 0.0)):
        check_against_torch(torch, m, ref, np.random.default_rng(4).normal(size=(5, 2, 4)), dict(mask=kind),
                            np.random.default_rng(5))


@pytest.mark.parametrize("seed", range(6))
def test_float32_within_tolerance(torch, seed):
    args, kw, (N, S, batched), call = random_config(900 + seed)
    m, ref = torch_pair(torch, args, kw, dtype="float32")
    rng = np.random.default_rng(seed)
    x = src_of(rng, m, N, S, batched, args[0]).astype(np.float32)
    call = {k: v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
            for k, v in call.items()}
    assert m(dev(x), **call).dtype == np.float32
    check_against_torch(torch, m, ref, x, call, rng, rtol=2e-4, atol=5e-5)


def test_torch_functional_activations_are_taken(torch):
    """Code written for torch passes F.relu / F.gelu: nnref runs it with its ReLU / GELU."""
    for fn in (torch.nn.functional.relu, torch.nn.functional.gelu):
        m, ref = torch_pair(torch, (4, 2, 6), dict(dropout=0.0, activation=fn))
        check_against_torch(torch, m, ref, np.random.default_rng(1).normal(size=(3, 2, 4)), {},
                            np.random.default_rng(2))


def test_encoder_deep_copies_the_layer(torch):
    layer = TransformerEncoderLayer(4, 2, 8, dtype=np.float64)
    enc = TransformerEncoder(layer, 3)
    states = [layer.state_dict()] + [lay.state_dict() for lay in enc.layers]
    for s in states[1:]:
        assert all(np.array_equal(s[k], states[0][k]) for k in s)           # all start equal, as torch
        assert all(s[k] is not states[0][k] for k in s)                     # but own their arrays
    assert list(enc.state_dict())[:2] == ["layers.0.self_attn.in_proj_weight", "layers.0.self_attn.in_proj_bias"]
    ref = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(4, 2, 8), 3, enable_nested_tensor=False)
    assert list(enc.state_dict()) == list(ref.state_dict())
    assert TransformerEncoder(layer, 0)(dev(np.ones((2, 1, 4)))).shape == (2, 1, 4)


def test_post_and_pre_norm_are_the_formulas():
    """The two orders written out with the layer's own submodules."""
    rng = np.random.default_rng(4)
    x = dev(rng.normal(size=(5, 2, 4)))
    for norm_first in (False, True):
        m = TransformerEncoderLayer(4, 2, 6, dropout=0.0, norm_first=norm_first, dtype=np.float64)

        def sa(z):
            return m.self_attn(z, z, z, need_weights=False)[0]

        def ff(z):
            return m.linear2(m.activation(m.linear1(z)))
        if norm_first:
            h = x + sa(m.norm1(x))
            expected = h + ff(m.norm2(h))
        else:
            h = m.norm1(x + sa(x))
            expected = m.norm2(h + ff(h))
        assert_close(m(x), expected, what=f"norm_first={norm_first}")


def test_dropout_training_gradients_are_numerical():
    layer = TransformerEncoderLayer(4, 2, 6, dropout=0.2, activation="gelu", dtype=np.float64)
    for m in (layer, TransformerEncoder(layer, 2, norm=nnref.LayerNorm(4, dtype=np.float64))):
        for p in m.parameters():                    # non-trivial LayerNorm and bias values
            p.data[...] += dev(np.random.default_rng(5).normal(size=p.shape) * 0.1)
        rng = np.random.default_rng(6)
        x, dy = dev(rng.normal(size=(3, 2, 4))), dev(rng.normal(size=(3, 2, 4)))
        kpm = dev(np.array([[False, False, True], [False, False, False]]))

        def loss():
            nnref.manual_seed(8)
            return float((m(x, src_key_padding_mask=kpm) * dy).sum())

        nnref.manual_seed(8)
        m(x, src_key_padding_mask=kpm)
        m.zero_grad()
        dx = m.backward(dy)
        assert_close(dx, numerical_gradient(loss, x), rtol=1e-6, atol=1e-8, what="d_src")
        for name, p in m.named_parameters():
            assert_close(p.grad, numerical_gradient(loss, p.data), rtol=1e-6, atol=1e-8, what=name)


def test_dropout_draws_from_nnref_generator():
    m = TransformerEncoderLayer(4, 2, 6, dropout=0.5)
    x = dev(np.random.default_rng(7).normal(size=(3, 2, 4)).astype(np.float32))
    nnref.manual_seed(1)
    a = nnref.asnumpy(m(x))
    nnref.manual_seed(1)
    assert np.array_equal(a, nnref.asnumpy(m(x)))
    assert not np.array_equal(a, nnref.asnumpy(m(x)))
    m.eval()
    assert np.array_equal(nnref.asnumpy(m(x)), nnref.asnumpy(m(x)))


def test_defaults_as_torch(torch):
    m, ref = TransformerEncoderLayer(8, 2), torch.nn.TransformerEncoderLayer(8, 2)
    assert [(k, tuple(v.shape)) for k, v in m.state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
    assert (m.linear1.out_features, m.dropout.p, m.norm1.eps, m.norm_first, m.self_attn.batch_first) == \
           (ref.linear1.out_features, ref.dropout.p, ref.norm1.eps, ref.norm_first, ref.self_attn.batch_first)
    assert isinstance(m.activation, nnref.ReLU) and "activation" not in dict(m.named_modules())
    g = TransformerEncoderLayer(8, 2, activation=nnref.GELU())
    assert "activation" in dict(g.named_modules())            # a Module activation is a submodule, as torch
    enc = TransformerEncoder(m, 2)
    assert (enc.num_layers, enc.norm, enc.enable_nested_tensor, enc.mask_check) == (2, None, True, True)


def test_bad_inputs():
    with pytest.raises(NotImplementedError, match="TransformerEncoderLayer: activation .* has no backward"):
        TransformerEncoderLayer(4, 2, activation=np.tanh)
    with pytest.raises(ValueError, match="activation should be 'relu' or 'gelu', not 'swish'"):
        TransformerEncoderLayer(4, 2, activation="swish")
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer: d_model \(4\) must be divisible by nhead \(3\)"):
        TransformerEncoderLayer(4, 3)
    with pytest.raises(ValueError, match="TransformerEncoderLayer: nhead must be greater than zero"):
        TransformerEncoderLayer(4, 0)
    with pytest.raises(ValueError, match="TransformerEncoderLayer: dropout must be a probability"):
        TransformerEncoderLayer(4, 2, dropout=2.0)
    with pytest.raises(TypeError, match="TransformerEncoder: encoder_layer must be an nnref Module"):
        TransformerEncoder("layer", 2)
    with pytest.raises(TypeError, match="num_layers must be an int"):
        TransformerEncoder(TransformerEncoderLayer(4, 2), 2.0)
    m = TransformerEncoderLayer(4, 2, 8)
    x = dev(np.zeros((3, 2, 4), np.float32))
    with pytest.raises(ValueError, match="is_causal=True is a hint"):
        m(x, is_causal=True)
    # errors name the layer the user called and the arrays as passed (not the inner attention's)
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer: expected src_mask of shape \(3, 3\) or "
                                         r"\(4, 3, 3\) for src of shape \(3, 2, 4\), got \(2, 3\)"):
        m(x, src_mask=dev(np.zeros((2, 3), bool)))
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer: expected src_key_padding_mask of shape "
                                         r"\(2, 3\) for src of shape \(3, 2, 4\), got \(3, 2\)"):
        m(x, src_key_padding_mask=dev(np.zeros((3, 2), bool)))
    with pytest.raises(TypeError, match="TransformerEncoderLayer: src_key_padding_mask must be a bool or "
                                        "floating-point array"):
        m(x, src_key_padding_mask=dev(np.zeros((2, 3), np.int32)))
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer: expected src of shape \(S, 4\) unbatched "
                                         r"or \(S, N, E\) batched .* got shape \(3, 2, 5\)"):
        m(dev(np.zeros((3, 2, 5), np.float32)))
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer: expected src .* got shape \(1, 3, 2, 4\)"):
        m(dev(np.zeros((1, 3, 2, 4), np.float32)))
    with pytest.raises(ValueError, match=r"TransformerEncoder: expected mask of shape \(3, 3\) or \(4, 3, 3\)"):
        TransformerEncoder(copy.deepcopy(m), 2)(x, mask=dev(np.zeros((2, 2), np.float32)))
    with pytest.raises(ValueError, match=r"MultiheadAttention: expected query with 4 features \(embed_dim\) "
                                         r"on its last axis, got shape \(3, 2, 5\)"):
        m.self_attn(*[dev(np.zeros((3, 2, 5), np.float32))] * 3)       # the shape passed, not (2, 3, 5)
    with pytest.raises(TypeError, match="TransformerEncoderLayer: expected a floating-point array"):
        m(dev(np.zeros((3, 2, 4), np.int64)))
    with pytest.raises(RuntimeError, match="TransformerEncoderLayer.backward called before forward"):
        m.backward(x)
    enc = TransformerEncoder(copy.deepcopy(m), 2)
    with pytest.raises(RuntimeError, match="TransformerEncoder.backward called before forward"):
        enc.backward(x)
