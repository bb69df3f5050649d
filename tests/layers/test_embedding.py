import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import nnref
from nnref.gradcheck import numerical_gradient
from nnref.layers.embedding import embedding_backward, embedding_forward
from tests.parity import assert_close, dev, load_from_torch

V, D = 10, 4


def _pair(torch, *args, **kwargs):
    ref = torch.nn.Embedding(V, D, *args, dtype=torch.float64, **kwargs)
    m = load_from_torch(nnref.Embedding(V, D, *args, dtype=np.float64, **kwargs), ref)
    return m, ref


def _step(torch, m, ref, idx, dy):
    yt = ref(torch.tensor(idx))
    yt.backward(torch.tensor(dy))
    y = m(dev(idx))
    assert m.backward(dev(dy)) is None          # integer indices have no gradient
    return y, yt


OPTIONS = [dict(), dict(padding_idx=2), dict(padding_idx=-1), dict(scale_grad_by_freq=True),
           dict(padding_idx=0, scale_grad_by_freq=True), dict(max_norm=1.5), dict(max_norm=0.8, norm_type=1.0),
           dict(max_norm=1.0, norm_type=float("inf"), padding_idx=3)]


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4), ()])
@pytest.mark.parametrize("kwargs", OPTIONS, ids=[str(k) for k in OPTIONS])
def test_matches_torch(torch, shape, kwargs):
    """Output, weight gradient and the weight itself (max_norm changes it in place), over two
    steps so that repeated indices, padding and renormalised rows all occur."""
    m, ref = _pair(torch, **kwargs)
    assert repr(m) == repr(ref) and list(m.state_dict()) == list(ref.state_dict())
    assert m.padding_idx == ref.padding_idx
    rng = np.random.default_rng(0)
    for step in range(2):
        idx = rng.integers(0, V, size=shape)
        if idx.size > 2:
            idx.reshape(-1)[:3] = 2                  # a repeated index, and padding row 2 if chosen
        dy = rng.normal(size=(*shape, D))
        y, yt = _step(torch, m, ref, idx, dy)
        assert_close(y, yt, what=f"output, step {step}")
        assert_close(m.weight.grad, ref.weight.grad, what=f"weight gradient, step {step}")
        assert_close(m.weight.data, ref.weight, what=f"weight, step {step}")


def test_init_is_standard_normal_with_a_zero_padding_row(torch):
    nnref.manual_seed(0)
    W = nnref.asnumpy(nnref.Embedding(2000, 8, padding_idx=-5).weight.data)
    assert W.dtype == np.float32 and (W[1995] == 0).all()
    rest = np.delete(W, 1995, axis=0)
    assert abs(rest.mean()) < 0.02 and abs(rest.std() - 1) < 0.02
    # a given table is taken as it is, padding row included (as torch)
    t = torch.nn.Embedding(3, 2, padding_idx=1, _weight=torch.ones(3, 2, dtype=torch.float64))
    m = nnref.Embedding(3, 2, padding_idx=1, _weight=np.ones((3, 2)))
    assert_close(m.weight.data, t.weight, what="_weight")
    assert m.weight.dtype == np.float64


def test_equals_linear_on_one_hot():
    """W[indices] is one-hot(indices) @ W, and the gradients agree: scatter-add is Wᵀ-free matmul."""
    rng = np.random.default_rng(1)
    W, idx = rng.normal(size=(V, D)), rng.integers(0, V, size=(6,))
    dy = rng.normal(size=(6, D))
    onehot = np.eye(V)[idx]
    y, cache = embedding_forward(idx, W)
    assert_close(y, onehot @ W, what="lookup == one-hot matmul")
    assert_close(embedding_backward(dy, cache), onehot.T @ dy, what="scatter-add == onehotᵀ dy")


def test_weight_gradient_is_the_numerical_gradient():
    rng = np.random.default_rng(2)
    W, idx, dy = rng.normal(size=(V, D)), np.array([[1, 3, 1], [9, 1, 0]]), rng.normal(size=(2, 3, D))
    _, cache = embedding_forward(idx, W)
    loss = lambda: (embedding_forward(idx, W)[0] * dy).sum()
    assert_close(embedding_backward(dy, cache), numerical_gradient(loss, W), rtol=1e-6, atol=1e-8,
                 what="dW against the numerical gradient")


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(0, 4), max_size=3), seed=st.integers(0, 2**16), freq=st.booleans(),
       pad=st.one_of(st.none(), st.integers(-V, V - 1)))
def test_backward_matches_naive_loop(shape, seed, freq, pad):
    rng = np.random.default_rng(seed)
    idx, dy = rng.integers(0, V, size=shape), rng.normal(size=(*shape, D))
    _, cache = embedding_forward(idx, rng.normal(size=(V, D)), None if pad is None else pad % V,
                                 scale_grad_by_freq=freq)
    dW = embedding_backward(dy, cache)
    naive = np.zeros((V, D))
    flat, g = idx.reshape(-1), dy.reshape(-1, D)
    for k in range(flat.size):
        naive[flat[k]] += g[k] / ((flat == flat[k]).sum() if freq else 1)
    if pad is not None:
        naive[pad] = 0
    np.testing.assert_allclose(dW, naive, rtol=1e-12, atol=1e-14)


def test_from_pretrained_and_freeze(torch):
    table = np.random.default_rng(3).normal(size=(5, 3))
    ref = torch.nn.Embedding.from_pretrained(torch.tensor(table), padding_idx=1)
    m = nnref.Embedding.from_pretrained(table, padding_idx=1)
    assert repr(m) == repr(ref) and list(m.state_dict()) == list(ref.state_dict())
    # frozen as torch: a Parameter with requires_grad False and no gradient
    assert [p.requires_grad for p in m.parameters()] == [p.requires_grad for p in ref.parameters()] == [False]
    idx = np.array([[0, 1, 4], [4, 4, 2]])
    assert_close(m(dev(idx)), ref(torch.tensor(idx)), what="frozen lookup")
    assert m.backward(dev(np.ones((2, 3, 3)))) is None
    assert m.weight.grad is None
    assert_close(m.weight.data, table, what="frozen weight unchanged")
    table[0, 0] = 100.0                                   # from_pretrained copies the table
    assert float(m.weight.data[0, 0]) != 100.0
    m.load_state_dict({"weight": np.zeros((5, 3))})       # loading still works
    assert float(abs(m.weight.data).sum()) == 0
    trainable = nnref.Embedding.from_pretrained(table, freeze=False)
    assert len(trainable.parameters()) == 1 and trainable.weight.dtype == np.float64
    trainable(dev(idx))
    trainable.backward(dev(np.ones((2, 3, 3))))
    assert float(trainable.weight.grad[4, 0]) == 3.0
    assert not nnref.Embedding(5, 3, _freeze=True).weight.requires_grad


def test_bad_inputs(torch):
    m = nnref.Embedding(V, D)
    with pytest.raises(TypeError, match="Embedding: expected an array of integer indices, got float64"):
        m(dev(np.ones(3)))
    with pytest.raises(TypeError, match="Embedding: expected an array of integer indices, got list"):
        m([1, 2])
    with pytest.raises(IndexError):
        torch.nn.Embedding(V, D)(torch.tensor([V]))
    with pytest.raises(IndexError, match=r"Embedding: index out of range: expected indices in \[0, 10\), "
                                         r"got values in \[0, 10\]"):
        m(dev(np.array([0, V])))
    with pytest.raises(IndexError, match=r"expected indices in \[0, 10\), got values in \[-1, 3\]"):
        m(dev(np.array([-1, 3])))
    with pytest.raises(NotImplementedError, match="Embedding: sparse=True"):
        nnref.Embedding(V, D, sparse=True)
    with pytest.raises(ValueError, match=r"Embedding: padding_idx must lie in \[-10, 10\), got 10"):
        nnref.Embedding(V, D, padding_idx=V)
    with pytest.raises(ValueError, match=r"Embedding: _weight must have shape \(10, 4\), got \(3, 4\)"):
        nnref.Embedding(V, D, _weight=np.ones((3, 4)))
    with pytest.raises(ValueError, match="Embedding: num_embeddings must be greater than zero"):
        nnref.Embedding(0, D)
    with pytest.raises(TypeError, match="Embedding: dtype must be a floating-point dtype"):
        nnref.Embedding(V, D, dtype=np.int64)
    with pytest.raises(RuntimeError, match="Embedding.backward called before forward"):
        m.backward(dev(np.ones((2, D))))
    m(dev(np.array([1, 2])))
    with pytest.raises(ValueError, match="Embedding.backward: expected a gradient of the output's shape"):
        m.backward(dev(np.ones((3, D))))


def test_int32_and_empty_indices_like_torch(torch):
    m, ref = _pair(torch)
    idx = np.array([[1, 2], [3, 1]], dtype=np.int32)
    assert_close(m(dev(idx)), ref(torch.tensor(idx)), what="int32 indices")
    empty = np.zeros((0, 3), dtype=np.int64)
    assert m(dev(empty)).shape == tuple(ref(torch.tensor(empty)).shape) == (0, 3, D)
    m.backward(dev(np.zeros((0, 3, D))))
    assert float(abs(m.weight.grad).sum()) == 0


def test_exported_from_both_places():
    assert nnref.layers.Embedding is nnref.Embedding
