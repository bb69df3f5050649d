"""nnref.fast.gru equals the reference nnref.layers.gru (float64)."""
import pytest
from hypothesis import given, settings, strategies as st

from nnref.fast.gru import gru_backward_fast, gru_forward_fast
from nnref.layers.gru import gru_backward, gru_forward
from tests.fast.recurrent_equal import assert_fast_equals_reference


def check(T, B, I, H, **kw):
    assert_fast_equals_reference(gru_forward, gru_backward, gru_forward_fast, gru_backward_fast,
                                 T, B, I, H, 3, **kw)


@pytest.mark.parametrize("T,B,I,H", [(1, 1, 1, 1), (1, 3, 2, 4), (5, 1, 3, 2), (6, 4, 5, 3), (3, 0, 2, 3)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("d_state", [True, False])
def test_fast_equals_reference(T, B, I, H, bias, d_state):
    check(T, B, I, H, bias=bias, d_state=d_state)


@settings(max_examples=25, deadline=None)
@given(T=st.integers(1, 7), B=st.integers(1, 5), I=st.integers(1, 6), H=st.integers(1, 6),
       bias=st.booleans(), seed=st.integers(0, 1000))
def test_fast_equals_reference_property(T, B, I, H, bias, seed):
    check(T, B, I, H, bias=bias, seed=seed)
