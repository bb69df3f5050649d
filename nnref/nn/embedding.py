r"""``torch.nn.Embedding`` around the reference pair of :mod:`nnref.layers.embedding`."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..checks import backward_cache, check_int, check_same_backend, param_dtype
from ..layers.embedding import embedding_backward, embedding_forward, embedding_renorm_
from ..module import Module, Parameter


class Embedding(Module):
    r"""``torch.nn.Embedding(num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
    norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False,
    device=None, dtype=None)``: integer indices (...) -> vectors (..., embedding_dim).

    ``weight`` (V, D) is drawn from N(0, 1) with the ``padding_idx`` row zero (a given ``_weight``
    is copied as it is). ``padding_idx`` may be negative (counted from the end, as torch);
    that row gets no gradient. ``max_norm`` rescales looked-up rows in place during ``forward``.
    ``sparse=True`` raises ``NotImplementedError``: nnref's gradients are dense arrays.

    ``_freeze=True`` (and ``from_pretrained(freeze=True)``) is torch's ``requires_grad=False``.
    nnref's ``Parameter`` has no such flag, so a frozen table is registered as a *buffer* named
    ``weight``: the ``state_dict`` key is the same, ``parameters()`` omits it, and no optimiser
    can change it. ``backward`` returns None (indices have no gradient).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight=None, _freeze: bool = False, device=None, dtype=None):
        super().__init__()
        V = check_int(num_embeddings, "num_embeddings", "Embedding", 1)
        D = check_int(embedding_dim, "embedding_dim", "Embedding", 1)
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
                raise TypeError(f"Embedding: padding_idx must be an int or None, got {padding_idx!r}")
            if not -V <= padding_idx < V:
                raise ValueError(f"Embedding: padding_idx must lie in [-{V}, {V}), got {padding_idx}")
            padding_idx = int(padding_idx) % V            # negative: counted from the end, as torch
        if sparse:
            raise NotImplementedError("Embedding: sparse=True (sparse gradients) is not supported; "
                                      "nnref computes dense gradients only")
        if max_norm is not None and not max_norm > 0:
            raise ValueError(f"Embedding: max_norm must be > 0, got {max_norm}")
        if _weight is not None and dtype is None:        # a given table keeps its dtype, as torch
            _weight = _host(_weight)
            dtype = _weight.dtype
        dtype = param_dtype(dtype, "Embedding")
        name = backend.device_backend(device, "Embedding")
        self.num_embeddings, self.embedding_dim, self.padding_idx = V, D, padding_idx
        self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse = \
            max_norm, norm_type, bool(scale_grad_by_freq), False
        if _weight is None:
            W = backend.default_rng().normal((V, D), dtype=dtype)   # N(0, 1), as torch
            W = backend.to_backend(W, name)
            if padding_idx is not None:
                W[padding_idx] = 0
        else:
            W = backend.to_backend(_host(_weight), name, dtype=dtype).copy()
            if tuple(W.shape) != (V, D):
                raise ValueError(f"Embedding: _weight must have shape ({V}, {D}), got {tuple(W.shape)}")
        self.weight = Parameter(W, requires_grad=not _freeze)    # frozen: torch's requires_grad=False
        self._cache = None

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        r"""An Embedding whose table is a copy of ``embeddings`` (V, D), frozen unless ``freeze=False``;
        its dtype and device are those of ``embeddings`` (NumPy or CuPy; a torch tensor goes to the
        default backend)."""
        W = _host(embeddings) if not backend.is_cupy_array(embeddings) else embeddings
        if getattr(W, "ndim", None) != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-dimensional (V, D), "
                             f"got shape {tuple(getattr(W, 'shape', ()))}")
        device = "cuda" if backend.is_cupy_array(W) else None
        return cls(W.shape[0], W.shape[1], padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=W, _freeze=freeze, device=device)

    def _table(self):
        return self.weight.data

    def forward(self, input):
        idx, W = input, self._table()
        kind = getattr(getattr(idx, "dtype", None), "kind", None)
        if kind not in ("i", "u"):
            got = getattr(idx, "dtype", type(idx).__name__)
            raise TypeError(f"Embedding: expected an array of integer indices, got {got}")
        check_same_backend(idx, W, "Embedding", "the indices", "the table")
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= self.num_embeddings):
            raise IndexError(f"Embedding: index out of range: expected indices in [0, "
                             f"{self.num_embeddings}), got values in [{int(idx.min())}, {int(idx.max())}]")
        if self.max_norm is not None:
            embedding_renorm_(W, idx, self.max_norm, self.norm_type)
        y, cache = embedding_forward(idx, W, self.padding_idx, self.scale_grad_by_freq)
        self._cache = (cache, y.shape, y.dtype)
        return y

    def backward(self, dy):
        r"""Accumulates the table's gradient (unless frozen) and returns None: integer indices
        have no gradient."""
        cache, dy = backward_cache(self._cache, dy, "Embedding")
        if self.weight.requires_grad:
            self.weight.accumulate(embedding_backward(dy, cache))
        return None

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s


def _host(a):
    """A torch tensor, list or array as a NumPy array (CuPy arrays are left to ``to_backend``)."""
    if hasattr(a, "detach"):
        return a.detach().cpu().numpy()
    return a if backend.is_cupy_array(a) else np.asarray(a)
