"""Every registered case against torch, in float64, on the same weights: the output(s), the
input gradient, every parameter gradient and every buffer. The cases (tests/cases.py) are built
with the same arguments in both libraries, so this also proves the arguments mean the same."""
import numpy as np
import pytest

from nnref import registry
from tests.cases import CASES
from tests.generic import draw_input, leaves, nnref_backward, pair
from tests.parity import assert_close, dev

PARITY = [c for c in CASES if registry.by_name(c.layer).torch and not c.random]
TOL = dict(rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("case", PARITY, ids=[c.name for c in PARITY])
def test_forward_and_backward_match_torch(case, torch):
    rng = np.random.default_rng(0)
    m, ref = pair(torch, case)
    x = draw_input(case, rng)
    xt = torch.tensor(x, requires_grad=case.inputs == "float")
    yt = ref(xt)
    y = m(dev(x))
    ours, theirs = leaves(y), leaves(yt)
    assert len(ours) == len(theirs)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert_close(a, b, **TOL, what=f"output {k}")
    grads = [rng.normal(size=tuple(t.shape)) for t in theirs]
    sum((t * torch.tensor(g)).sum() for t, g in zip(theirs, grads)).backward()
    dx = nnref_backward(m, y, grads)
    if case.inputs == "float":
        assert_close(dx, xt.grad, **TOL, what="input gradient")
    theirs_p = dict(ref.named_parameters())
    for name, p in m.named_parameters():
        expected = theirs_p[name].grad
        expected = np.zeros(p.shape) if expected is None else expected
        assert_close(p.grad, expected, **TOL, what=f"{name} gradient")
    theirs_b = dict(ref.named_buffers())
    for name, b in m.named_buffers():
        assert_close(np.asarray(b, dtype=np.float64) if np.isscalar(b) else b,
                     theirs_b[name].double(), **TOL, what=f"buffer {name}")
