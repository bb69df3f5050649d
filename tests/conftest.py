"""Fixtures for the unit tests.

Data is drawn on the host with NumPy and moved to the default backend (``NNREF_BACKEND``),
so the same tests run on CPU and, with ``NNREF_BACKEND=cupy``, on the GPU.

BLAS computes on one thread in every test process, as the site's build computes the numbers
the tests check again (hooks/interactive.py, hooks/notebooks.py): OpenBLAS sums in another order
with another thread count, and 300 training steps of the tiny GPT carry that into the digits shown.

Speed (``make test`` runs ``pytest -n auto``): each pytest-xdist worker computes on one thread
(two workers on two cores with two BLAS or torch threads each wait on each other far more than
they compute), the site builds start in the background as soon as the tests are collected
(tests/site_build.py) and the tests that read them run last, the longest of those first (``LONG``)
and those that only read its files at the very end (``run_order``); tests that share a costly
computation run on one worker (``TOGETHER``).
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
# tests that share something costly that each worker would otherwise make for itself (a cached
# computation, a session fixture): under pytest-xdist each group runs whole on one worker (the root
# conftest.py's scheduler), at the place ``run_order`` gives it
TOGETHER = (
    ("tests/test_interactive.py",     # the traces; the attention one trains the tiny GPT (~5 s a process)
     "tests/test_interactive_browser.py::test_attention_every_head_and_query_by_keyboard",
     "tests/test_interactive_browser.py::test_attention_cells_by_touch_at_390px_and_by_pointer"),
    ("tests/test_quiet_build.py::test_no_cjk_environment_has_no_cjk_font",        # no_cjk
     "tests/test_quiet_build.py::test_every_figure_script_draws_quietly_without_cjk_fonts",   # figures_without_cjk
     "tests/test_quiet_build.py::test_notebook_plot_with_chinese_labels_is_quiet_without_cjk_fonts",
     "tests/test_figures.py::test_figure_script_writes_svg_with_its_labels"),
    ("tests/test_print.py::test_print_page_prints_math_chinese_figures_and_answers_offline",   # `edition`
     "tests/test_print.py::test_every_link_on_the_print_page_leads_somewhere",
     "tests/test_print.py::test_print_page_opens_without_typesetting_every_formula"),
)


def together(nodeid: str) -> str | None:
    """The first entry of the TOGETHER group ``nodeid`` belongs to (a file, or a test with all its
    parameters), or None."""
    return next((group[0] for group in TOGETHER if _names(nodeid, group)), None)


def _names(nodeid: str, entries) -> bool:
    return any(nodeid == e or nodeid.startswith((e + "::", e + "[")) for e in entries)


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


# fixtures of the tests that read a site build with a browser, a kernel or a wheel: the rest only
# read its files, briefly, and run last, so that the workers end together
SLOW_FIXTURES = {"server", "browser", "wheel_kernel", "site_wheel", "offline_site", "repository_copy"}


def run_order(tests):
    r"""The order to run ``tests``, (node id, fixture names) pairs in collection order: those that
    read no site build first (the builds run meanwhile), then the LONG ones, then those with a
    browser, a kernel or a wheel, then those that only read the built files. A TOGETHER group
    moves as one to the place of its earliest test that reads a site build (else of its earliest
    test): it may start no sooner than the build it needs. Stable within each rank."""
    def rank(nodeid, fixtures):
        if not SITE_FIXTURES.keys() & set(fixtures):
            return (0,)
        long = next((i for i, entry in enumerate(LONG) if _names(nodeid, [entry])), None)
        if long is not None:
            return (1, long)
        return (2,) if SLOW_FIXTURES & set(fixtures) else (3,)
    ranks = {nodeid: rank(nodeid, fixtures) for nodeid, fixtures in tests}
    for group in TOGETHER:
        members = [nodeid for nodeid, _ in tests if _names(nodeid, group)]
        if members:
            site = [ranks[m] for m in members if ranks[m] != (0,)]
            place = min(site or [ranks[m] for m in members])
            ranks.update(dict.fromkeys(members, place))
    return sorted(ranks, key=ranks.get)                     # dicts keep the collection order; sorted is stable


def pytest_collection_modifyitems(config, items):
    order = {nodeid: i for i, nodeid in enumerate(run_order([(item.nodeid, getattr(item, "fixturenames", ()))
                                                             for item in items]))}
    items.sort(key=lambda item: order[item.nodeid])


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


# --- a machine without CJK fonts (tests/no_cjk.py) ----------------------------------------------

@pytest.fixture(scope="session")
def no_cjk(tmp_path_factory):
    """The environment of a machine whose matplotlib finds no CJK font."""
    from tests import no_cjk
    return no_cjk.environment(tmp_path_factory.mktemp("mplconfig-no-cjk"))


@pytest.fixture(scope="session")
def figures_without_cjk(no_cjk, tmp_path_factory):
    """(folder, printed): every figure script and ``no_cjk.CHINESE_PLOT`` run on that machine as the
    build runs them, once for the tests that read their SVGs (``folder/out/<script>/``)."""
    from tests import no_cjk as machine
    folder = tmp_path_factory.mktemp("figures-without-cjk")
    return folder, machine.draw_every_figure(no_cjk, folder)


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
