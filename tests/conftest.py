"""Fixtures for the unit tests.

Data is drawn on the host with NumPy and moved to the default backend (``NNREF_BACKEND``),
so the same tests run on CPU and, with ``NNREF_BACKEND=cupy``, on the GPU.
"""
import pytest

import nnref


@pytest.fixture
def torch():
    """PyTorch in float64, or a skip that says how to install it."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: pip install -e '.[parity]'")
    torch.manual_seed(0)
    return torch


@pytest.fixture(autouse=True)
def _seed():
    nnref.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """The site built with ``mkdocs build --strict`` (notebooks executed); fails loudly on any warning."""
    from tests.site_build import build_site
    dest = tmp_path_factory.mktemp("site")
    code, log = build_site(dest)
    if code != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{log[-6000:]}")
    return dest, log
