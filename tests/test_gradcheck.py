import numpy as np
import pytest

import nnref
from nnref.gradcheck import (GradcheckError, central_difference, forward_difference, gradcheck,
                             gradient_errors)
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
