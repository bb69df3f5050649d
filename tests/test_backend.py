import numpy as np
import pytest

from nnref import backend


def test_bad_environment_backend_is_refused_at_import():
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-c", "import nnref"], env={"NNREF_BACKEND": "bogus"},
                       capture_output=True, text=True)
    assert r.returncode != 0 and "NNREF_BACKEND must be one of" in r.stderr


def test_use_backend_restores_previous():
    before = backend.get_backend()
    with backend.use_backend("numpy"):
        assert backend.get_backend() == "numpy"
    assert backend.get_backend() == before


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match=r"backend must be one of \('numpy', 'cupy'\)"):
        backend.set_backend("jax")


@pytest.mark.skipif(backend.cupy_available(), reason="checks the error raised when no GPU is present")
def test_cupy_without_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="CuPy is not installed or sees no GPU"):
        backend.set_backend("cupy")


def test_rng_is_reproducible_and_float32_by_default():
    a, b = backend.RNG(7).normal((3, 4)), backend.RNG(7).normal((3, 4))
    assert a.dtype == np.float32
    np.testing.assert_array_equal(backend.asnumpy(a), backend.asnumpy(b))
    # the numbers are NumPy's own: the same on every backend, since they are drawn on the host
    np.testing.assert_array_equal(backend.asnumpy(a), np.random.default_rng(7).normal(size=(3, 4)).astype(np.float32))


def test_get_array_module_for_numpy_and_scalars():
    assert backend.get_array_module(np.ones(2), 3.0, None) is np


@pytest.mark.skipif(not backend.cupy_available(), reason="needs CuPy and a GPU")
def test_mixing_numpy_and_cupy_is_a_type_error():
    import cupy
    with pytest.raises(TypeError, match="NumPy and CuPy arrays mixed"):
        backend.get_array_module(np.ones(2), cupy.ones(2))


@pytest.mark.skipif(not backend.cupy_available(), reason="needs CuPy and a GPU")
def test_rng_gives_identical_numbers_on_both_backends():
    host = backend.RNG(3, backend="numpy").normal((5,))
    gpu = backend.RNG(3, backend="cupy").normal((5,))
    np.testing.assert_array_equal(host, backend.asnumpy(gpu))


def test_manual_seed_takes_negative_seeds_like_torch(torch):
    """torch maps seed s to s mod 2**64; so does nnref, deterministically and distinct from 0."""
    torch.manual_seed(-1)
    assert torch.initial_seed() == 2**64 - 1
    a = backend.manual_seed(-1).normal((3,))
    b = backend.manual_seed(2**64 - 1).normal((3,))
    c = backend.manual_seed(0).normal((3,))
    assert (backend.asnumpy(a) == backend.asnumpy(b)).all() and not (backend.asnumpy(a) == backend.asnumpy(c)).all()
    with pytest.raises(TypeError, match="manual_seed: expected an integer seed, got float"):
        backend.manual_seed(1.5)
    backend.manual_seed(0)
