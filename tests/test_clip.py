"""clip_grad_norm / clip_grad_value against torch.nn.utils.clip_grad_norm_ / clip_grad_value_."""
import numpy as np
import pytest

import nnref
from nnref import Parameter, clip_grad_norm, clip_grad_value
from nnref.backend import asnumpy
from tests.parity import assert_close, dev


def _pair(torch, scale, seed=0):
    rng = np.random.default_rng(seed)
    grads = [rng.normal(size=s) * scale for s in [(3, 4), (4,), (2, 2, 2)]]
    ours = []
    for g in grads:
        p = Parameter(dev(np.zeros_like(g)))
        p.grad[...] = dev(g)
        ours.append(p)
    theirs = []
    for g in grads:
        t = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
        t.grad = torch.tensor(g)
        theirs.append(t)
    return ours, theirs


@pytest.mark.parametrize("scale", [0.01, 1.0, 100.0])
@pytest.mark.parametrize("max_norm", [0.5, 5.0])
def test_clip_grad_norm_matches_torch(torch, scale, max_norm):
    ours, theirs = _pair(torch, scale)
    total = clip_grad_norm(ours, max_norm)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    assert isinstance(total, float)
    assert total == pytest.approx(float(total_t), rel=1e-12)
    for p, t in zip(ours, theirs):
        assert_close(p.grad, t.grad, what="clipped gradient")
    after = np.sqrt(sum(float((asnumpy(p.grad) ** 2).sum()) for p in ours))
    assert after <= max_norm * (1 + 1e-9)
    if total <= max_norm:  # below the limit nothing changes
        assert after == pytest.approx(total)


@pytest.mark.parametrize("clip_value", [0.1, 1.0])
def test_clip_grad_value_matches_torch(torch, clip_value):
    ours, theirs = _pair(torch, 1.0, seed=1)
    assert clip_grad_value(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, t in zip(ours, theirs):
        assert_close(p.grad, t.grad, what="clamped gradient")


def test_module_parameters_and_float32():
    m = nnref.LSTM(3, 4)
    out, _ = m(dev(np.ones((5, 2, 3), dtype=np.float32)))
    m.backward(out * 1000)
    total = clip_grad_norm(m.parameters(), 1.0)
    assert total > 1.0
    norm = np.sqrt(sum(float((asnumpy(p.grad).astype(np.float64) ** 2).sum()) for p in m.parameters()))
    assert norm == pytest.approx(1.0, rel=1e-5)
    assert all(p.grad.dtype == np.float32 for p in m.parameters())


def test_bad_arguments():
    p = Parameter(dev(np.zeros(2)))
    with pytest.raises(ValueError, match="clip_grad_norm: max_norm must be > 0"):
        clip_grad_norm([p], 0.0)
    with pytest.raises(ValueError, match="clip_grad_value: clip_value must be > 0"):
        clip_grad_value([p], -1.0)
