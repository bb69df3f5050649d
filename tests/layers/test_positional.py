"""The sinusoidal positional encoding against its definition, written as loops."""
import math

import numpy as np
import pytest

import nnref
from nnref.layers.positional import sinusoidal_encoding


@pytest.mark.parametrize("max_len, d_model", [(7, 6), (5, 5), (1, 1), (50, 16)])
def test_table_is_the_definition(max_len, d_model):
    pe = nnref.asnumpy(sinusoidal_encoding(max_len, d_model, dtype=np.float64))
    assert pe.shape == (max_len, d_model) and pe.dtype == np.float64
    for pos in range(max_len):
        for j in range(d_model):
            i = j // 2                                         # the pair (2i, 2i+1)
            angle = pos / 10000 ** (2 * i / d_model)
            assert math.isclose(pe[pos, j], math.sin(angle) if j % 2 == 0 else math.cos(angle),
                                rel_tol=1e-12, abs_tol=1e-12), (pos, j)


def test_properties():
    pe = nnref.asnumpy(sinusoidal_encoding(64, 32, dtype=np.float64))
    assert np.allclose(pe[0, 0::2], 0) and np.allclose(pe[0, 1::2], 1)        # position 0
    np.testing.assert_allclose((pe[:, 0::2] ** 2 + pe[:, 1::2] ** 2), 1)      # each pair on the unit circle
    # a fixed offset k is a rotation of every pair, whatever the position: PE[p+k] = R_k PE[p]
    k, w = 5, 10000 ** (-np.arange(0, 32, 2) / 32)
    s, c = pe[:-k, 0::2], pe[:-k, 1::2]
    np.testing.assert_allclose(pe[k:, 0::2], s * np.cos(k * w) + c * np.sin(k * w), atol=1e-12)
    np.testing.assert_allclose(pe[k:, 1::2], c * np.cos(k * w) - s * np.sin(k * w), atol=1e-12)
    assert sinusoidal_encoding(3, 4).dtype == np.float32
    assert nnref.asnumpy(sinusoidal_encoding(3, 4, base=2.0, dtype=np.float64))[1, 2] == pytest.approx(math.sin(2 ** -0.5))
