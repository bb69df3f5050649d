"""Fixtures for the unit tests.

Data is drawn on the host with NumPy and moved to the default backend (``NNREF_BACKEND``),
so the same tests run on CPU and, with ``NNREF_BACKEND=cupy``, on the GPU.

BLAS computes on one thread in every test process, as the site's build computes the numbers
the tests check again (hooks/interactive.py, hooks/notebooks.py): OpenBLAS sums in another order
with another thread count, and 300 training steps of the tiny GPT carry that into the digits shown.

Speed (``make test`` runs ``pytest -n auto``): each pytest-xdist worker computes on one thread
(two workers on two cores with two BLAS or torch threads each wait on each other far more than
they compute), the site builds start in the background as soon as the tests are collected
(tests/site_build.py) and the tests that read them run last, the longest of those first (``LONG``).
"""
import os

for _threads in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")              # this process (before NumPy) and its children

import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(limits=1, user_api="blas")       # in case NumPy was imported before this file

import nnref  # noqa: E402
from tests import site_build  # noqa: E402

SITE_FIXTURES = {"built_site": "site", "offline_site": "offline"}
# the longest of the tests that read a site build (10 to 35 s each here), started first among
# them, so that the session does not end with one worker on a long test while the other waits
LONG = ("tests/test_serve.py",        # mostly a subprocess of its own (two builds by mkdocs serve)
        "tests/test_print.py::test_print_page_prints_math_chinese_figures_and_answers_offline",
        "tests/test_interactive_browser.py::test_attention_every_head_and_query_by_keyboard",
        "tests/test_interactive_browser.py::test_optimizers_every_learning_rate_by_touch_at_390px",
        "tests/test_interactive_browser.py::test_conv_every_setting_and_window_by_keyboard",
        "tests/test_reader.py::test_figures_and_plots_are_legible_in_the_dark_theme",
        "tests/test_reader.py::test_figures_enlarge_on_click_or_tap",
        "tests/test_reader.py::test_theme_follows_the_system_and_the_toggle")


@pytest.fixture
def torch():
    """PyTorch in float64, or a skip that says how to install it."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: pip install -e '.[parity]'")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        torch.set_num_threads(1)
    torch.manual_seed(0)
    return torch


@pytest.fixture(autouse=True)
def _seed():
    nnref.manual_seed(0)
    yield


def _site_builds(item) -> list[str]:
    return [name for fixture, name in SITE_FIXTURES.items() if fixture in getattr(item, "fixturenames", ())]


def pytest_collection_modifyitems(config, items):
    """Tests that read a site build last (the builds run meanwhile), the LONG ones first of them."""
    def rank(item):
        if not _site_builds(item):
            return (0,)
        return next(((1, i) for i, long in enumerate(LONG) if item.nodeid.startswith(long)), (2,))
    items.sort(key=rank)                                 # stable: the order within each group stays


def pytest_collection_finish(session):
    needed = {name for item in session.items for name in _site_builds(item)}
    if needed and not session.config.option.collectonly:
        folder = site_build.shared_folder(session.config._tmp_path_factory.getbasetemp())
        site_build.start_builds(folder, [name for name in site_build.BUILDS if name in needed])


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """The site built with ``mkdocs build --strict`` (notebooks executed); fails loudly on any warning."""
    return site_build.session_build(tmp_path_factory, "site")


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


# --- the built site in Chromium (tests/chromium.py) ----------------------------------------

@pytest.fixture(scope="session")
def server(built_site):
    """The built site on 127.0.0.1; its URL (one address for the session: the tabs stay on one site)."""
    from tests.chromium import serve
    with serve(built_site[0]) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    from tests.chromium import launch, sync_playwright
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture(scope="session")
def _tabs(browser):
    from tests.chromium import Tabs
    tabs = Tabs(browser)
    yield tabs
    tabs.close()


@pytest.fixture
def tab(_tabs):
    """``tab(width=1280, scheme="light", javascript=True)``: this worker's tab for that kind of reader
    (under 600 px a phone, with touch); it records requests leaving localhost in ``page.outside`` and
    is reset after the test (tests/chromium.py, ``Tabs``)."""
    yield _tabs.get
    _tabs.reset()


@pytest.fixture
def page(tab):
    """The desktop tab (1280 px, light)."""
    return tab()
