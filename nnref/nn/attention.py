r"""``torch.nn.MultiheadAttention`` around the reference pair of :mod:`nnref.layers.attention`."""
from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np

from ..backend import default_rng, device_backend, get_array_module, to_backend
from ..checks import (backward_cache, check_array, check_float, check_gradient, check_int, check_probability,
                      check_same_backend, compute_dtype, param_dtype)
from ..layers.attention import (additive_mask, attention_backward, attention_forward, causal_mask, merge_heads,
                                split_heads)
from ..layers.linear import linear_backward, linear_forward
from ..module import Module, Parameter
from .linear import Linear

WHO = "MultiheadAttention"


class _Cache(NamedTuple):
    projections: tuple      # the LinearCaches of q, k, v
    attention: Any          # the AttentionCache of the heads
    N: int                  # batch
    L: int                  # queries
    batched: bool
    need_weights: bool
    average: bool
    weights_shape: tuple | None


class MultiheadAttention(Module):
    r"""``torch.nn.MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True,
    add_bias_kv=False, add_zero_attn=False, kdim=None, vdim=None, batch_first=False,
    device=None, dtype=None)``.

    With $h$ heads of size $d = E/h$, query, key and value are projected, split into heads,
    attended per head and concatenated:

    $$
    \mathrm{head}_i = \mathrm{Attention}(Q W_i^Q, K W_i^K, V W_i^V),\qquad
    \mathrm{MultiHead}(Q, K, V) = \mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_h)\,W^O
    $$

    Parameters with torch's names and shapes: ``in_proj_weight`` (3E, E) = $[W^Q; W^K; W^V]$
    (or ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim) when
    ``kdim``/``vdim`` differ from E), ``in_proj_bias`` (3E), ``bias_k``/``bias_v`` (1, 1, E)
    with ``add_bias_kv``, and ``out_proj`` (a ``Linear(E, E)``). Init as torch: Xavier-uniform
    projections, zero biases, Xavier-normal ``bias_k``/``bias_v``.

    ``forward(query, key, value, ...)`` -> ``(attn_output, attn_output_weights or None)`` with
    query (L, N, E), key (S, N, kdim), value (S, N, vdim) ((N, L, E) ... with ``batch_first``;
    (L, E) ... unbatched). Masks as torch: ``key_padding_mask`` (N, S), ``attn_mask`` (L, S) or
    (N·h, L, S); boolean (True = not allowed) or float (added to the scores). The weights are
    those that multiplied the values (after dropout, in training), averaged over the heads
    unless ``average_attn_weights=False``.

    ``backward(d_attn_output, d_attn_output_weights=None)`` -> ``(d_query, d_key, d_value)``:
    one gradient per argument position. For self-attention, ``mha(x, x, x)``, the gradient of
    ``x`` is their sum ``d_query + d_key + d_value``.

    A query whose keys are all masked gets what torch gives it: a zero attention output (and zero
    gradients) with ``need_weights=False``, NaN with ``need_weights=True`` (no device sync is
    needed to tell the cases apart). ``is_causal=True`` is torch's hint: it needs ``attn_mask``, and
    where torch then uses the causal mask instead of ``attn_mask`` (no key padding mask,
    ``need_weights=False``) nnref does the same.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        E = check_int(embed_dim, "embed_dim", WHO, minimum=1)
        H = check_int(num_heads, "num_heads", WHO, minimum=1)
        if E % H:
            raise ValueError(f"{WHO}: embed_dim ({E}) must be divisible by num_heads ({H})")
        self.embed_dim, self.num_heads, self.head_dim = E, H, E // H
        self.kdim = E if kdim is None else check_int(kdim, "kdim", WHO, minimum=1)
        self.vdim = E if vdim is None else check_int(vdim, "vdim", WHO, minimum=1)
        self._qkv_same_embed_dim = self.kdim == E and self.vdim == E
        self.dropout = check_probability(dropout, "dropout", WHO)
        self.batch_first, self.add_zero_attn = bool(batch_first), bool(add_zero_attn)
        where, dt = device_backend(device, WHO), param_dtype(dtype, WHO)
        host = default_rng().host

        def xavier_uniform(shape):       # U(-a, a), a = sqrt(6 / (fan_in + fan_out))
            a = math.sqrt(6.0 / (shape[0] + shape[1]))
            return Parameter(to_backend(host.uniform(-a, a, shape).astype(dt), where))

        def zeros(shape):
            return Parameter(to_backend(np.zeros(shape, dtype=dt), where))

        if self._qkv_same_embed_dim:
            self.in_proj_weight = xavier_uniform((3 * E, E))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = xavier_uniform((E, E))
            self.k_proj_weight = xavier_uniform((E, self.kdim))
            self.v_proj_weight = xavier_uniform((E, self.vdim))
            self.register_parameter("in_proj_weight", None)
        self.register_parameter("in_proj_bias", zeros((3 * E,)) if bias else None)
        self.out_proj = Linear(E, E, bias=bias, device=device, dtype=dt)
        if bias:
            self.out_proj.bias.data[...] = 0
        if add_bias_kv:                  # xavier_normal on (1, 1, E): fan_in = fan_out = E
            std = math.sqrt(2.0 / (E + E))
            self.bias_k = Parameter(to_backend(host.normal(0, std, (1, 1, E)).astype(dt), where))
            self.bias_v = Parameter(to_backend(host.normal(0, std, (1, 1, E)).astype(dt), where))
        else:
            self.bias_k = self.bias_v = None
        self._cache = None

    # -- the projections' weights, as slices of in_proj_* or the separate matrices ----------
    def _weights(self):
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            W = self.in_proj_weight
            Ws = [(W, slice(0, E)), (W, slice(E, 2 * E)), (W, slice(2 * E, 3 * E))]
        else:
            Ws = [(p, slice(None)) for p in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)]
        bs = [None] * 3 if self.in_proj_bias is None else \
            [(self.in_proj_bias, slice(i * E, (i + 1) * E)) for i in range(3)]
        return Ws, bs

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        q_in, k_in, v_in, batched = self._inputs(query, key, value)
        xp = get_array_module(q_in)
        N, L, _ = q_in.shape
        S = k_in.shape[1]
        dt = compute_dtype(query.dtype)             # float16 is computed in float32
        M = self._mask(key_padding_mask, attn_mask, need_weights, is_causal, batched, N, L, S, dt, query)

        Ws, bs = self._weights()
        projections, heads = [], []
        for x_in, (W, rows), b in zip((q_in, k_in, v_in), Ws, bs):
            # (N·L, E) rows: one 2-D product (NumPy's stacked 3-D @ 2-D matmul does not use BLAS)
            y, c = linear_forward(x_in.reshape(-1, x_in.shape[-1]).astype(dt, copy=False),
                                  W.data[rows].astype(dt, copy=False),
                                  None if b is None else b[0].data[b[1]].astype(dt, copy=False))
            projections.append(c)
            heads.append(y.reshape(N, x_in.shape[1], self.embed_dim))
        q, k, v = heads                                              # (N, L, E), (N, S, E), (N, S, E)
        if self.bias_k is not None:                                  # one more key and value: the biases
            k = xp.concatenate([k, xp.broadcast_to(self.bias_k.data.astype(dt), (N, 1, self.embed_dim))], 1)
            v = xp.concatenate([v, xp.broadcast_to(self.bias_v.data.astype(dt), (N, 1, self.embed_dim))], 1)
        q, k, v = (split_heads(t, self.num_heads) for t in (q, k, v))               # (N, h, L or S', d)
        if self.add_zero_attn:                                       # and one all-zero key and value
            zero = xp.zeros((N, self.num_heads, 1, self.head_dim), dtype=dt)
            k, v = xp.concatenate([k, zero], 2), xp.concatenate([v, zero], 2)
        p = self.dropout if self.training else 0.0
        O, A, attention = attention_forward(q, k, v, M, p)           # (N, h, L, d), (N, h, L, S')
        o = merge_heads(O)                                           # concatenate the heads
        y = self.out_proj(o.reshape(N * L, self.embed_dim)).reshape(N, L, self.embed_dim)

        weights = None
        if need_weights:
            # per-head weights are a copy: the cache's A must stay as it is for backward
            weights = A.mean(axis=1) if average_attn_weights else A.copy()  # (N, L, S') or (N, h, L, S')
            weights = (weights if batched else weights[0]).astype(query.dtype, copy=False)
        y = self._output_layout(y, batched).astype(query.dtype, copy=False)
        self._cache = (_Cache(tuple(projections), attention, N, L, batched, bool(need_weights),
                              bool(average_attn_weights), None if weights is None else weights.shape),
                       y.shape, y.dtype)
        return y, weights

    def backward(self, d_attn_output, d_attn_output_weights=None):
        c, d_attn_output = backward_cache(self._cache, d_attn_output, WHO)
        xp = get_array_module(d_attn_output)
        dA = self._weights_gradient(d_attn_output_weights, c, xp)   # checked before any gradient is added
        dt = c.attention.q.dtype
        d = self._to_internal(d_attn_output, c.batched).astype(dt, copy=False)
        do = self.out_proj.backward(d.reshape(c.N * c.L, d.shape[-1])).reshape(d.shape)   # (N, L, E)
        dO = split_heads(do, self.num_heads)
        dq, dk, dv = attention_backward(dO, c.attention, dA)
        if self.add_zero_attn:
            dk, dv = dk[:, :, :-1], dv[:, :, :-1]
        dq, dk, dv = (merge_heads(t) for t in (dq, dk, dv))
        if self.bias_k is not None:
            self.bias_k.accumulate(dk[:, -1:].sum(axis=0, keepdims=True))
            self.bias_v.accumulate(dv[:, -1:].sum(axis=0, keepdims=True))
            dk, dv = dk[:, :-1], dv[:, :-1]
        Ws, bs = self._weights()
        grads = []
        for g, cache, (W, rows), b in zip((dq, dk, dv), c.projections, Ws, bs):
            dx, dW, db = linear_backward(g.reshape(-1, g.shape[-1]), cache)
            dx = dx.reshape(g.shape[0], g.shape[1], dx.shape[-1])
            W.accumulate(dW, rows)
            if b is not None:
                b[0].accumulate(db, b[1])
            grads.append(self._output_layout(dx, c.batched).astype(d_attn_output.dtype, copy=False))
        return tuple(grads)

    # -- layout -----------------------------------------------------------------------------
    def _to_internal(self, x, batched):
        """(L, N, E) or (N, L, E) or unbatched (L, E) -> (N, L, E)."""
        if not batched:
            return x[None]
        return x if self.batch_first else x.swapaxes(0, 1)

    def _output_layout(self, y, batched):
        if not batched:
            return y[0]
        return y if self.batch_first else y.swapaxes(0, 1)

    # -- checks -----------------------------------------------------------------------------
    def _inputs(self, query, key, value):
        for name, a in (("query", query), ("key", key), ("value", value)):
            check_array(a, WHO, name)
            check_float(a, f"{WHO} ({name})")
        if not query.dtype == key.dtype == value.dtype:
            raise TypeError(f"{WHO}: query, key and value must share one dtype, got "
                            f"{query.dtype}, {key.dtype} and {value.dtype}")
        for name, a in (("key", key), ("value", value)):
            check_same_backend(a, query, WHO, name, "query")
        check_same_backend(query, self.out_proj.weight.data, WHO, "query", "the weights")
        if query.ndim not in (2, 3):
            raise ValueError(f"{WHO}: expected query of shape (L, E) unbatched or "
                             f"{'(N, L, E)' if self.batch_first else '(L, N, E)'} batched, "
                             f"got shape {tuple(query.shape)}")
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"{WHO}: for a {query.ndim}-D query, key and value must be {query.ndim}-D too, "
                             f"got shapes {tuple(key.shape)} and {tuple(value.shape)}")
        batched = query.ndim == 3
        q, k, v = (self._to_internal(a, batched) for a in (query, key, value))
        for name, a, size, arg in (("query", query, self.embed_dim, "embed_dim"), ("key", key, self.kdim, "kdim"),
                                   ("value", value, self.vdim, "vdim")):
            if a.shape[-1] != size:                  # the shape as passed, not as re-laid-out
                raise ValueError(f"{WHO}: expected {name} with {size} features ({arg}) on its last axis, "
                                 f"got shape {tuple(a.shape)}")
        if k.shape[:2] != v.shape[:2]:
            raise ValueError(f"{WHO}: key and value must have the same sequence length and batch, got "
                             f"shapes {tuple(key.shape)} and {tuple(value.shape)}")
        if k.shape[0] != q.shape[0]:
            raise ValueError(f"{WHO}: query and key must have the same batch size, got shapes "
                             f"{tuple(query.shape)} and {tuple(key.shape)}")
        return q, k, v, batched

    def _mask(self, key_padding_mask, attn_mask, need_weights, is_causal, batched, N, L, S, dt, query):
        r"""The additive mask (broadcasting to (N, h, L, S')) that torch's forward builds, or None."""
        H = self.num_heads
        for name, m in (("key_padding_mask", key_padding_mask), ("attn_mask", attn_mask)):
            if m is not None:
                check_array(m, WHO, name)
                check_same_backend(m, query, WHO, name, "query")
                if m.dtype != bool and m.dtype.kind != "f":
                    raise TypeError(f"{WHO}: {name} must be a bool or floating-point array, got {m.dtype}")
        if key_padding_mask is not None and attn_mask is not None and \
                (key_padding_mask.dtype == bool) != (attn_mask.dtype == bool):
            warnings.warn(f"{WHO}: a {key_padding_mask.dtype} key_padding_mask with a {attn_mask.dtype} "
                          "attn_mask; torch deprecates mixing them (both become additive float masks)",
                          stacklevel=3)
        if is_causal and attn_mask is None:
            raise ValueError(f"{WHO}: is_causal=True is a hint that attn_mask is causal; pass the causal "
                             "attn_mask too (as torch requires), e.g. nnref.layers.attention.causal_mask(L)")
        kpm = None
        if key_padding_mask is not None:
            want = (N, S) if batched else (S,)
            if tuple(key_padding_mask.shape) != want:
                raise ValueError(f"{WHO}: expected key_padding_mask of shape {want} (batch, keys), "
                                 f"got {tuple(key_padding_mask.shape)}")
            kpm = additive_mask(key_padding_mask.reshape(N, S), dt)
        extra = (self.bias_k is not None) + self.add_zero_attn      # keys added after the given S
        xp = get_array_module(query)
        if is_causal and kpm is None and not need_weights:
            return causal_mask(L, S + extra, xp)                     # torch: the hint replaces attn_mask
        am = None
        if attn_mask is not None:
            shapes = [(L, S), (N * H if batched else H, L, S)]
            if tuple(attn_mask.shape) not in shapes:
                raise ValueError(f"{WHO}: expected attn_mask of shape {shapes[0]} or {shapes[1]} "
                                 f"((batch·heads, queries, keys)), got {tuple(attn_mask.shape)}")
            am = additive_mask(attn_mask, dt)
            am = am[None, None] if am.ndim == 2 else am.reshape(N, H, L, S)
        if am is None and kpm is None:
            return None
        if extra:                                                    # the added keys are never masked
            pad = [(0, 0)] * 3 + [(0, extra)]
            am = None if am is None else xp.pad(am, pad)
            kpm = None if kpm is None else xp.pad(kpm, [(0, 0), (0, extra)])
        kpm = None if kpm is None else kpm[:, None, None, :]         # (N, 1, 1, S')
        M = kpm if am is None else am if kpm is None else am + kpm
        if need_weights:            # torch's explicit softmax gives NaN for a query whose keys are all masked
            M = xp.where((M == -xp.inf).all(axis=-1, keepdims=True), xp.nan, M)
        return M

    def _weights_gradient(self, d_weights, c, xp):
        r"""The gradient reaching the per-head weights A (N, h, L, S') from ``d_attn_output_weights``."""
        if d_weights is None:
            return None
        if not c.need_weights:
            raise ValueError(f"{WHO}.backward: the forward pass returned no weights (need_weights=False), "
                             "so d_attn_output_weights must be None")
        check_gradient(d_weights, WHO, "d_attn_output_weights")
        if tuple(d_weights.shape) != tuple(c.weights_shape):
            raise ValueError(f"{WHO}.backward: expected d_attn_output_weights of the weights' shape "
                             f"{tuple(c.weights_shape)}, got {tuple(d_weights.shape)}")
        dt = c.attention.q.dtype
        d = d_weights.astype(dt, copy=False) if c.batched else d_weights[None].astype(dt, copy=False)
        if c.average:                                                # mean over h: each head gets d / h
            d = xp.broadcast_to(d[:, None] / self.num_heads, c.attention.A.shape)
        return d
