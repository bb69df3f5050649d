import numpy as np
import pytest

import nnref
from nnref.gradcheck import (GradcheckError, central_difference, forward_difference, gradcheck,
                             gradient_errors)
from tests.cases import CASES
from tests.generic import (differentiated, draw, grad_outputs, input_grads, leaves, like, make_nnref,
                           moved)
from tests.parity import dev


def test_difference_orders():
    f, x, exact = np.sin, 1.0, np.cos(1.0)
    e_fwd = [abs(forward_difference(f, x, h) - exact) for h in (1e-2, 1e-3)]
    e_cen = [abs(central_difference(f, x, h) - exact) for h in (1e-2, 1e-3)]
    assert 8 < e_fwd[0] / e_fwd[1] < 12      # O(h): ten times smaller h, ten times smaller error
    assert 80 < e_cen[0] / e_cen[1] < 120    # O(h^2): a hundred times smaller


class WrongBackward(nnref.Linear):
    """A layer whose backward forgets a factor: gradcheck must catch it."""

    def backward(self, dy):
        return 0.5 * super().backward(dy)


def test_gradcheck_catches_a_wrong_input_gradient():
    m = WrongBackward(3, 2, dtype=np.float64)
    x = dev(np.random.default_rng(0).normal(size=(2, 3)))
    errors = gradient_errors(m, x)
    assert errors["input"] > 0.1 and errors["weight"] < 1e-8
    with pytest.raises(GradcheckError, match="gradient of 'input' is off"):
        gradcheck(m, x)


def test_gradcheck_needs_float64():
    with pytest.raises(TypeError, match="gradcheck needs float64"):
        gradcheck(nnref.Linear(2, 2), dev(np.ones((1, 2), np.float32)))


def test_python_lists_are_refused():
    import nnref
    with pytest.raises(TypeError, match="gradcheck: expected an array for input, got list"):
        nnref.gradcheck(nnref.Linear(2, 1, dtype=np.float64), [[1.0, 2.0]])


# -- several inputs, several outputs -----------------------------------------------------------

class WrongSecondInput(nnref.Bilinear):
    """A two-input layer whose backward gets the second input's gradient wrong."""

    def backward(self, dy):
        d1, d2 = super().backward(dy)
        return d1, 0.5 * d2


def _bilinear_inputs(seed=0):
    rng = np.random.default_rng(seed)
    return dev(rng.normal(size=(4, 3))), dev(rng.normal(size=(4, 2)))


def test_gradcheck_differentiates_every_input_by_its_forward_name():
    m = nnref.Bilinear(3, 2, 4, dtype=np.float64)
    errors = gradient_errors(m, *_bilinear_inputs())
    assert set(errors) == {"input1", "input2", "weight", "bias"}
    assert max(errors.values()) < 1e-8


def test_gradcheck_catches_a_wrong_second_input_gradient():
    m = WrongSecondInput(3, 2, 4, dtype=np.float64)
    errors = gradient_errors(m, *_bilinear_inputs())
    assert errors["input2"] > 0.1 and errors["input1"] < 1e-8
    with pytest.raises(GradcheckError, match="gradient of 'input2' is off"):
        gradcheck(m, *_bilinear_inputs())


def test_the_same_array_twice_gets_both_gradients_checked():
    """``m(x, x)``: each position's gradient is checked on its own (the numeric side perturbs one
    position at a time), and a backward that returned their sum at either place would fail."""
    x = dev(np.random.default_rng(1).normal(size=(5, 3)))
    m = nnref.Bilinear(3, 3, 2, dtype=np.float64)
    assert gradcheck(m, x, x)
    m(x, x)
    d1, d2 = m.backward(dev(np.ones((5, 2))))

    class Summed(nnref.Bilinear):
        def backward(self, dy):
            a, b = super().backward(dy)
            return a + b, a + b
    bad = Summed(3, 3, 2, dtype=np.float64)
    bad.load_state_dict(m.state_dict())
    with pytest.raises(GradcheckError, match="input1"):
        gradcheck(bad, x, x)
    assert not np.allclose(nnref.asnumpy(d1), nnref.asnumpy(d2))    # so the sum is wrong at both


def test_a_backward_with_too_few_gradients_is_refused():
    class OneGradient(nnref.Bilinear):
        def backward(self, dy):
            return super().backward(dy)[:1]
    with pytest.raises(GradcheckError, match="returned 1 gradients for 2 inputs"):
        gradcheck(OneGradient(3, 2, 4, dtype=np.float64), *_bilinear_inputs())


def test_outputs_picks_what_backward_differentiates():
    """``y, indices = pool(x)``: only ``y`` is differentiated (``outputs=(0,)``)."""
    x = dev(np.random.default_rng(2).normal(size=(2, 3, 6, 4)))
    assert gradcheck(nnref.MaxPool2d(2, return_indices=True), x, outputs=(0,))
    with pytest.raises(TypeError):          # backward(dy, d_indices): it takes the output's gradient only
        gradcheck(nnref.MaxPool2d(2, return_indices=True), x)


def test_the_old_call_forms_still_work():
    """``gradcheck(m, x)`` and ``gradcheck(recurrent, x, state)`` (the state held fixed)."""
    rng = np.random.default_rng(3)
    lstm = nnref.LSTM(3, 4, dtype=np.float64)
    x = dev(rng.normal(size=(5, 2, 3)))
    state = (dev(rng.normal(size=(1, 2, 4))), dev(rng.normal(size=(1, 2, 4))))
    errors = gradient_errors(lstm, x, state)
    assert "input" in errors and "hx" not in errors and max(errors.values()) < 1e-7
    assert gradcheck(nnref.Embedding(6, 3, dtype=np.float64), dev(rng.integers(0, 6, size=(4,))))


# -- every registered case ----------------------------------------------------------------------

FULL = 1000            # elements (float inputs + parameters) up to which every element is differenced
CHECKED = [c for c in CASES if not c.random and c.derivative]


def _directional_errors(m, case, drawn, h=1e-6):
    """For a large case: each array (differentiated input or parameter) moved along one random
    direction v; ``(L(θ + h v) - L(θ - h v)) / 2h`` against ``<analytic gradient, v>``."""
    rng = np.random.default_rng(7)
    args = [a.copy() if hasattr(a, "copy") else a for a in drawn.args]
    y = m(*args, **drawn.kwargs)
    outs = grad_outputs(case, y)
    rs = [like(o, lambda a: dev(rng.normal(size=a.shape))) for o in outs]

    def loss():
        return float(sum((o * r).sum() for o, r in zip(leaves(grad_outputs(case, m(*args, **drawn.kwargs))),
                                                      leaves(rs)) if o is not None))
    m.zero_grad()
    m(*args, **drawn.kwargs)
    grads = input_grads(case, m.backward(*rs))
    arrays = {f"input {k}": (args[k], g) for k, g in zip(differentiated(case), grads)}
    arrays.update({n: (p.data, p.grad.copy()) for n, p in m.named_parameters()})
    errors = {}
    for name, (a, g) in arrays.items():
        v = dev(rng.normal(size=a.shape))
        a += h * v
        up = loss()
        a -= 2 * h * v
        down = loss()
        a += h * v
        numeric, analytic = (up - down) / (2 * h), float((g * v).sum())
        errors[name] = abs(analytic - numeric) / max(1.0, abs(numeric))
    return errors


@pytest.mark.parametrize("case", CHECKED, ids=[c.name for c in CHECKED])
def test_every_case_passes_gradcheck(case):
    """Every registered case, called as registered (several inputs, keyword arguments, the
    outputs it differentiates): each differentiated input and parameter against central
    differences, element by element (one random direction per array for the few large ones)."""
    m = make_nnref(case)
    m.train(case.train)
    drawn = moved(draw(case, np.random.default_rng(0)))
    size = sum(drawn.args[k].size for k in differentiated(case)) + sum(p.data.size for p in m.parameters())
    if size <= FULL:
        errors = gradient_errors(m, *drawn.args, kwargs=drawn.kwargs, outputs=case.outputs)
        assert len(errors) == len(differentiated(case)) + len(m.parameters()), sorted(errors)
        tol = 1e-6
    else:
        errors = _directional_errors(m, case, drawn)
        tol = 1e-6
    worst = max(errors, key=errors.get)
    assert errors[worst] < tol, f"{case.name}: the gradient of {worst} is off by {errors[worst]:.3g}: {errors}"
