r"""``torch.nn.TransformerEncoderLayer`` and ``torch.nn.TransformerEncoder``, built from nnref's
MultiheadAttention, Linear, LayerNorm, Dropout and ReLU/GELU, each with its own backward."""
from __future__ import annotations

import copy

from ..checks import backward_cache, check_array, check_float, check_int, check_probability, check_same_backend
from ..module import Module, Sequential
from .activation import GELU, ReLU, _Activation
from .attention import MultiheadAttention
from .dropout import Dropout
from .layernorm import LayerNorm
from .linear import Linear


def _activation(activation, who):
    r"""'relu', 'gelu', torch's ``F.relu``/``F.gelu`` (by name, so code written for torch runs), or
    an nnref activation Module; anything else has no backward here."""
    if isinstance(activation, str):
        if activation not in ("relu", "gelu"):
            raise ValueError(f"{who}: activation should be 'relu' or 'gelu', not {activation!r}")
        return ReLU() if activation == "relu" else GELU()
    if isinstance(activation, _Activation):
        return activation
    if callable(activation) and str(getattr(activation, "__module__", "")).startswith("torch") and \
            getattr(activation, "__name__", "") in ("relu", "gelu"):     # F.relu, F.gelu (torch._C._nn)
        return ReLU() if activation.__name__ == "relu" else GELU()
    raise NotImplementedError(f"{who}: activation {activation!r} has no backward in nnref; pass 'relu', "
                              "'gelu' or an nnref activation Module (nnref.ReLU(), nnref.GELU(), nnref.Tanh(), ...)")


def check_src(who, layer, src, mask, mask_name, key_padding_mask):
    r"""``src`` and the masks against ``layer`` (a TransformerEncoderLayer), in the caller's words
    and shapes: errors name ``who`` and what the user passed, not the inner MultiheadAttention's
    re-laid-out arrays. Shapes as torch: ``src`` (S, E), (S, N, E) or, with ``batch_first``,
    (N, S, E); the mask (S, S) or (N·nhead, S, S); ``src_key_padding_mask`` (N, S) or (S,)."""
    check_array(src, who, "src")
    check_float(src, who)
    attn = layer.self_attn
    E, H, first = attn.embed_dim, attn.num_heads, attn.batch_first
    layout = "(N, S, E)" if first else "(S, N, E)"
    if src.ndim not in (2, 3) or src.shape[-1] != E:
        raise ValueError(f"{who}: expected src of shape (S, {E}) unbatched or {layout} batched with "
                         f"E = d_model = {E}, got shape {tuple(src.shape)}")
    batched = src.ndim == 3
    S = src.shape[1 if batched and first else 0]
    N = src.shape[0 if first else 1] if batched else 1
    wants = {mask_name: [(S, S), (N * H if batched else H, S, S)],
             "src_key_padding_mask": [(N, S) if batched else (S,)]}
    for name, m in ((mask_name, mask), ("src_key_padding_mask", key_padding_mask)):
        if m is None:
            continue
        check_array(m, who, name)
        check_same_backend(m, src, who, name, "src")
        if m.dtype != bool and m.dtype.kind != "f":
            raise TypeError(f"{who}: {name} must be a bool or floating-point array, got {m.dtype}")
        if tuple(m.shape) not in wants[name]:
            raise ValueError(f"{who}: expected {name} of shape {' or '.join(map(str, wants[name]))} for "
                             f"src of shape {tuple(src.shape)}, got {tuple(m.shape)}")


class TransformerEncoderLayer(Module):
    r"""``torch.nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=2048, dropout=0.1,
    activation='relu', layer_norm_eps=1e-05, batch_first=False, norm_first=False, bias=True,
    device=None, dtype=None)``: self-attention, then a position-wise feed-forward network, each in
    a residual connection with a LayerNorm.

    Post-norm (the original Transformer, ``norm_first=False``) and pre-norm (``norm_first=True``):

    $$
    \text{post: } x \leftarrow \mathrm{LN}_1(x + \mathrm{SA}(x)),\ x \leftarrow \mathrm{LN}_2(x + \mathrm{FF}(x))
    \qquad
    \text{pre: } x \leftarrow x + \mathrm{SA}(\mathrm{LN}_1(x)),\ x \leftarrow x + \mathrm{FF}(\mathrm{LN}_2(x))
    $$

    with $\mathrm{FF}(x) = W_2\,\mathrm{dropout}(\mathrm{act}(W_1 x + b_1)) + b_2$, and dropout after
    SA and FF. Submodules and ``state_dict`` keys as torch: ``self_attn``, ``linear1``,
    ``dropout``, ``linear2``, ``norm1``, ``norm2``, ``dropout1``, ``dropout2``. torch's default
    activation is the function ``F.relu``; nnref's is the string ``'relu'``, which torch
    takes too and which means the same. ``activation``: 'relu', 'gelu', torch's ``F.relu`` or
    ``F.gelu``, or an nnref activation Module; another callable has no backward here
    (``NotImplementedError``).

    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``; ``backward(d_out)``
    returns d_src (the three gradients of the self-attention's query, key and value summed).
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-05, batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        who = "TransformerEncoderLayer"
        d_model = check_int(d_model, "d_model", who, minimum=1)
        nhead = check_int(nhead, "nhead", who, minimum=1)
        if d_model % nhead:
            raise ValueError(f"{who}: d_model ({d_model}) must be divisible by nhead ({nhead})")
        dim_feedforward = check_int(dim_feedforward, "dim_feedforward", who, minimum=1)
        dropout = check_probability(dropout, "dropout", who)
        act = _activation(activation, who)          # before any weight is drawn: a bad call draws none
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            device=device, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, device=device, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, device=device, dtype=dtype)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, Module):
            self.activation = act                    # torch registers a Module activation as a submodule
        else:
            object.__setattr__(self, "activation", act)   # a function in torch: no submodule, no state
        self._cache = None

    # --8<-- [start:encoder_layer]
    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        check_src("TransformerEncoderLayer", self, src, src_mask, "src_mask", src_key_padding_mask)
        x = src
        masks = (src_mask, src_key_padding_mask, is_causal)
        if self.norm_first:       # pre-norm: x + SA(LN1(x)), then x + FF(LN2(x))
            x = x + self._sa_block(self.norm1(x), *masks)
            x = x + self._ff_block(self.norm2(x))
        else:                     # post-norm: LN1(x + SA(x)), then LN2(x + FF(x))
            x = self.norm1(x + self._sa_block(x, *masks))
            x = self.norm2(x + self._ff_block(x))
        self._cache = (True, x.shape, x.dtype)   # backward checks d_out against the output
        return x

    def backward(self, d_out):
        _, d_out = backward_cache(self._cache, d_out, "TransformerEncoderLayer")
        d = d_out
        if self.norm_first:       # a residual passes d on and adds the block's gradient
            d = d + self.norm2.backward(self._ff_block_backward(d))
            d = d + self.norm1.backward(self._sa_block_backward(d))
        else:
            d = self.norm2.backward(d)
            d = d + self._ff_block_backward(d)
            d = self.norm1.backward(d)
            d = d + self._sa_block_backward(d)
        return d

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        y, _ = self.self_attn(x, x, x, attn_mask=attn_mask, need_weights=False,
                              key_padding_mask=key_padding_mask, is_causal=is_causal)
        return self.dropout1(y)

    def _sa_block_backward(self, d):
        dq, dk, dv = self.self_attn.backward(self.dropout1.backward(d))
        return dq + dk + dv       # x was the query, the key and the value

    def _ff_block(self, x):
        rows = x.reshape(-1, x.shape[-1])     # each position a row: one 2-D product
        y = self.linear2(self.dropout(self.activation(self.linear1(rows))))
        return self.dropout2(y.reshape(x.shape))

    def _ff_block_backward(self, d):
        g = self.linear2.backward(self.dropout2.backward(d).reshape(-1, d.shape[-1]))
        g = self.linear1.backward(self.activation.backward(self.dropout.backward(g)))
        return g.reshape(d.shape)
    # --8<-- [end:encoder_layer]


class TransformerEncoder(Module):
    r"""``torch.nn.TransformerEncoder(encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
    mask_check=True)``: ``num_layers`` deep copies of ``encoder_layer`` (so all start equal, as in
    torch), then ``norm`` if given. ``state_dict`` keys ``layers.0.self_attn.in_proj_weight``, ...,
    ``norm.weight``.

    ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)``: with ``is_causal=None``
    torch checks whether ``mask`` is causal to choose a faster kernel; the numbers are those of
    ``mask`` either way, which nnref uses as given. ``enable_nested_tensor`` and ``mask_check`` steer
    torch's inference fast path (nested tensors), which nnref does not have: they are accepted
    and kept. Outputs at padded positions are computed as torch's training path computes them
    (torch's no-grad inference fast path returns zeros there); neither value means anything.
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        who = "TransformerEncoder"
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"{who}: encoder_layer must be an nnref Module (a TransformerEncoderLayer), "
                            f"got {type(encoder_layer).__name__}")
        if norm is not None and not isinstance(norm, Module):
            raise TypeError(f"{who}: norm must be None or an nnref Module, got {type(norm).__name__}")
        self.num_layers = check_int(num_layers, "num_layers", who)
        self.layers = Sequential(*(copy.deepcopy(encoder_layer) for _ in range(self.num_layers)))
        self.norm = norm
        self.enable_nested_tensor, self.mask_check = bool(enable_nested_tensor), bool(mask_check)
        self._cache = None

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        if self.layers:
            check_src("TransformerEncoder", self.layers[0], src, mask, "mask", src_key_padding_mask)
        else:
            check_float(check_array(src, "TransformerEncoder", "src"), "TransformerEncoder")
        # torch's is_causal=None compares mask with the causal mask, only to pick a faster kernel for
        # it: a causal mask and the causal hint give the same numbers, so the mask is used as given
        is_causal = bool(is_causal)
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)
        if self.norm is not None:
            x = self.norm(x)
        self._cache = (True, x.shape, x.dtype)
        return x

    def backward(self, d_out):
        _, d_out = backward_cache(self._cache, d_out, "TransformerEncoder")
        d = d_out if self.norm is None else self.norm.backward(d_out)
        for layer in reversed(list(self.layers)):
            d = layer.backward(d)
        return d

