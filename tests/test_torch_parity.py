"""Every registered case against torch, in float64, on the same weights: every output, the
gradient of every differentiated input, every parameter gradient and every buffer. The cases
(tests/cases.py) are built and called with the same arguments in both libraries, so this also
proves the arguments mean the same. An input passed twice (``Same``) is one array in nnref and
two equal tensors in torch: each position's gradient is compared on its own."""
import numpy as np
import pytest

from nnref import registry
from tests.cases import CASES
from tests.generic import (backward, call, draw, input_grads, leaves, output_grads, pair, torch_backward,
                           torch_call, torch_input_grads)
from tests.parity import assert_close

PARITY = [c for c in CASES if registry.by_name(c.layer).torch and not c.random]
TOL = dict(rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("case", PARITY, ids=[c.name for c in PARITY])
def test_forward_and_backward_match_torch(case, torch):
    rng = np.random.default_rng(0)
    m, ref = pair(torch, case)
    drawn = draw(case, rng)
    yt, tensors = torch_call(torch, ref, case, drawn)
    y = call(m, drawn)
    ours, theirs = leaves(y), leaves(yt)
    assert len(ours) == len(theirs), f"{len(ours)} outputs, torch has {len(theirs)}"
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert (a is None) == (b is None), f"output {k}: {a!r} against torch's {b!r}"
        if a is not None:
            assert_close(a, b, **TOL, what=f"output {k}")
    grads = output_grads(case, y, lambda a: rng.normal(size=a.shape))
    torch_backward(torch, case, yt, grads)
    for k, (d, dt) in enumerate(zip(backward(m, case, grads), torch_input_grads(case, tensors))):
        assert_close(d, dt, **TOL, what=f"gradient of differentiated input {k}")
    theirs_p = dict(ref.named_parameters())
    for name, p in m.named_parameters():
        expected = theirs_p[name].grad
        expected = np.zeros(p.shape) if expected is None else expected
        assert_close(p.grad, expected, **TOL, what=f"{name} gradient")
    theirs_b = dict(ref.named_buffers())
    for name, b in m.named_buffers():
        assert_close(np.asarray(b, dtype=np.float64) if np.isscalar(b) else b,
                     theirs_b[name].double(), **TOL, what=f"buffer {name}")


def test_input_grads_holds_backward_to_the_convention():
    """The harness refuses a backward that returns too few gradients or a bare array for several."""
    two = next(c for c in CASES if c.layer == "Bilinear")
    with pytest.raises(AssertionError, match="tuple of 2"):
        input_grads(two, np.zeros(3))
    with pytest.raises(AssertionError, match="tuple of 2"):
        input_grads(two, (np.zeros(3),))
    index = next(c for c in CASES if c.layer == "Embedding")
    with pytest.raises(AssertionError, match="no input has a gradient"):
        input_grads(index, np.zeros(3))
