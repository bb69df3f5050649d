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


@pytest.fixture(scope="session")
def site_wheel(built_site):
    """nnref's wheel as the built site serves it (``downloads/``)."""
    site, _ = built_site
    wheels = sorted((site / "downloads").glob("nnref-*.whl"))
    assert len(wheels) == 1, f"the site should serve one wheel of nnref, not {wheels}"
    return wheels[0]


@pytest.fixture(scope="session")
def wheel_kernel(site_wheel, tmp_path_factory):
    """A Jupyter kernel spec folder: Python in a fresh venv holding the site's wheel with its
    ``parity`` extra (torch, for the comparison exercises) and ipykernel, nothing else."""
    from tests import wheel_env
    root = tmp_path_factory.mktemp("wheel-kernel")
    requirements = wheel_env.wheel_requirements(site_wheel) + ["ipykernel"]
    python = wheel_env.make_venv(root / "venv", requirements, ("parity",))
    proc = wheel_env.pip_install(python, f"{site_wheel.name}[parity]", site_wheel.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return wheel_env.kernel_dir(python, root / "kernels")
