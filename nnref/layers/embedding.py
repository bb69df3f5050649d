r"""Embedding: a lookup table of learnable vectors, one row per token id.

``y = W[indices]`` is the same as multiplying one-hot vectors by ``W`` (a Linear layer without
bias on one-hot input), without building the one-hot vectors. The gradient of the table is a
scatter-add: row i receives the sum of the output gradients of every position that looked up i.
Indices are integers, so no gradient flows to the input: ``backward`` returns None.
"""
from __future__ import annotations

from typing import Any, NamedTuple


from ..backend import get_array_module


# --8<-- [start:embedding_renorm]
def embedding_renorm_(weight, indices, max_norm, norm_type=2.0):
    r"""In place, as torch's ``max_norm``: every row of ``weight`` that ``indices`` looks up and
    whose ``norm_type``-norm exceeds ``max_norm`` is scaled to norm ``max_norm``:

    $$
    W_i \leftarrow W_i\cdot\frac{\text{max\_norm}}{\lVert W_i\rVert_p + 10^{-7}}
    \quad\text{if } \lVert W_i\rVert_p > \text{max\_norm}
    $$
    """
    xp = get_array_module(weight)
    rows = xp.unique(indices)                                       # each looked-up row once
    norms = xp.linalg.norm(weight[rows], ord=norm_type, axis=1)     # (R,)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    weight[rows] *= scale[:, None].astype(weight.dtype)
# --8<-- [end:embedding_renorm]


# --8<-- [start:embedding_forward]
def embedding_forward(indices, weight, padding_idx=None, scale_grad_by_freq=False):
    r"""Look up rows of ``weight`` (V, D) at integer ``indices`` of any shape (...) -> (..., D).

    $$
    y_{\dots} = W_{\,\text{indices}_{\dots}} \;=\; \text{onehot}(\text{indices}_{\dots})\,W
    $$

    ``padding_idx`` (non-negative) and ``scale_grad_by_freq`` only change the backward pass; they
    ride along in the cache. (torch's ``max_norm`` renormalises the table first:
    :func:`embedding_renorm_`.) Returns ``(y, EmbeddingCache)``.
    """
    # indices: integers, any shape (...); weight: W, (V, D)
    y = weight[indices]                      # y_k = W[indices_k], (..., D)
    return y, EmbeddingCache(indices, weight.shape[0], padding_idx, scale_grad_by_freq)


class EmbeddingCache(NamedTuple):
    indices: Any                  # (...) the integer indices looked up
    num_embeddings: int           # rows of W
    padding_idx: int | None       # this row gets no gradient (non-negative here)
    scale_grad_by_freq: bool      # divide each row's gradient by its count in the batch
# --8<-- [end:embedding_forward]


# --8<-- [start:embedding_backward]
def embedding_backward(dy, cache):
    r"""Gradient of the table, ``dW`` (V, D): a scatter-add of ``dy`` (..., D) into the rows.

    $$
    \frac{\partial L}{\partial W_i} = \sum_{k:\ \text{indices}_k = i} dy_k
    $$

    With ``scale_grad_by_freq`` each term is divided by the count of i in ``indices``; the row
    ``padding_idx`` gets zero. (The indices themselves get no gradient: they are integers.)
    """
    indices, V, padding_idx, scale_grad_by_freq = cache
    xp = get_array_module(dy)
    idx = indices.reshape(-1)                                       # (K,) positions, flattened
    g = dy.reshape(idx.size, dy.shape[-1])                          # (K, D) their gradients
    if scale_grad_by_freq:
        counts = xp.bincount(idx, minlength=V)                      # (V,) occurrences of each row
        g = g / counts[idx][:, None]
    dW = xp.zeros((V, dy.shape[-1]), dtype=dy.dtype)
    xp.add.at(dW, idx, g)                                           # dW[idx[k]] += g[k], repeats add up
    if padding_idx is not None:
        dW[padding_idx] = 0
    return dW
# --8<-- [end:embedding_backward]
