r"""MkDocs hook: execute the notebooks before the pages are built, in parallel, cached on
everything they depend on.

mkdocs-jupyter's own cache is keyed on the notebook file alone: after a change in ``nnref/``
it would show old outputs. Here each ``docs/notebooks/<name>.py`` is executed (from the
repository root, with jupytext and nbclient) into ``.cache/notebooks/<key>/<name>.ipynb``,
where ``key`` hashes

- the notebook itself,
- every file under ``nnref/``,
- the data it reads (``DATA``: the sequences notebook trains on the quoted notes in
  ``docs/**/*.md``, so only the pages' quote boxes count),
- ``docs/figures/_fonts.py``, which each kernel runs before the first cell: figures are inline SVG
  whose text the reader's browser draws (Chinese labels included, laid out without warnings on a
  machine with no CJK font),
- the Python, NumPy and scikit-learn versions.

Notebooks whose key is not cached run concurrently (``NB_JOBS`` at a time, default: the number
of CPUs), the slowest first, each kernel's BLAS limited to its share of the CPUs; mkdocs-jupyter
then only renders the executed ``.ipynb`` (its ``execute`` is off and its cache disabled in
``mkdocs.yml``). ``NB_EXECUTE=false`` skips execution for a quick local
build: the notebooks are then shown without outputs.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
import time
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "docs" / "notebooks"
FONTS = Path("docs", "figures", "_fonts.py")   # under ROOT
CACHE = ROOT / ".cache" / "notebooks"
log = logging.getLogger("mkdocs.hooks.notebooks")
_durations_lock = threading.Lock()


def enabled() -> bool:
    return os.environ.get("NB_EXECUTE", "true").lower() not in ("0", "false", "no")


def _versions() -> str:
    import numpy
    import sklearn
    return f"{sys.version}|numpy {numpy.__version__}|sklearn {sklearn.__version__}"


def quote_boxes(page: bytes) -> bytes:
    """The lines of every ``!!! quote`` box of a Markdown page: what the sequences notebook
    trains on (it reads the boxes titled 笔记原文; any quote box counts here, a superset), so
    that editing a page's prose does not re-run its 30-second training."""
    lines, inside = [], False
    for line in page.decode("utf-8").splitlines():
        if line.startswith("!!! quote"):
            inside = True
        elif not (inside and (line.startswith("    ") or not line.strip())):
            inside = False
            continue
        lines.append(line)
    return "\n".join(lines).encode("utf-8")


# data a notebook reads besides nnref/: (glob under the repository root, the part of each file
# that counts)
DATA = {"sequences": [("docs/**/*.md", quote_boxes)], "tiny_gpt": [("docs/**/*.md", quote_boxes)]}


def dependencies(notebook: Path) -> list[tuple[Path, object]]:
    """The files whose content decides the notebook's outputs, in a fixed order, each with the
    function that takes the part of it that counts (None: all of it)."""
    files = {notebook: None, **{p: None for p in (ROOT / "nnref").rglob("*") if p.is_file()
                                and "__pycache__" not in p.parts}}
    if (ROOT / FONTS).is_file():                  # the kernel runs it first (kernel_setup_line)
        files[ROOT / FONTS] = None
    for pattern, part in DATA.get(notebook.stem, []):
        files.update({p: part for p in ROOT.glob(pattern) if p.is_file()})
    return sorted(files.items())


def cache_key(notebook: Path) -> str:
    h = hashlib.sha256(_versions().encode())
    for path, part in dependencies(notebook):
        content = path.read_bytes()
        h.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(part(content) if part else content).digest())
    return h.hexdigest()[:20]


def executed_path(notebook: Path) -> Path:
    return CACHE / cache_key(notebook) / f"{notebook.stem}.ipynb"


BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def kernel_env() -> dict:
    """The kernel's environment: BLAS on one thread, whatever the caller's environment says.

    OpenBLAS sums in another order with another thread count, and the tiny GPT's 300 training steps
    carry that difference into its weights: the attention figure (hooks/interactive.py, also on
    one thread) shows the very weights of the notebook's heatmaps only if both ran alike. A second
    thread gains a notebook's small matrices nothing anyway (measured: 31 s either way)."""
    env = dict(os.environ)
    for name in BLAS_THREADS:
        env[name] = "1"
    return env


def durations() -> dict:
    """Seconds each notebook's cells took when it last ran here (``.cache/notebooks/durations.json``);
    its kernel's start is not counted: about the same for every notebook, it varies by seconds
    on a loaded machine and would blur which one is slow."""
    try:
        return json.loads((CACHE / "durations.json").read_text())
    except (OSError, ValueError):
        return {}


def record_duration(notebook: Path, seconds: float) -> None:
    with _durations_lock:
        known = durations()
        known[notebook.name] = round(seconds, 1)
        CACHE.mkdir(parents=True, exist_ok=True)
        (CACHE / "durations.json").write_text(json.dumps(known, indent=1, sort_keys=True))


def longest_first(notebooks: list[Path]) -> list[Path]:
    """The slowest notebook starts first, so that it does not run alone at the end while the
    other CPUs idle: by its last time here; a notebook never run here first of all, the larger
    file first (a guess)."""
    seconds = durations()
    return sorted(notebooks, key=lambda nb: (nb.name not in seconds, seconds.get(nb.name, nb.stat().st_size)),
                  reverse=True)


def kernel_setup_line() -> str:
    """One statement the kernel runs at start (``exec_lines``): ``_fonts.kernel_setup()``, in a
    namespace of its own, so the notebook's namespace and its prompt numbers stay untouched."""
    path = str(ROOT / FONTS)
    return (f"(lambda ns: exec(compile(open({path!r}, encoding='utf-8').read(), {path!r}, 'exec'), ns)"
            f" or ns['kernel_setup']())({{'__name__': 'nnref_fonts', '__file__': {path!r}}})")


def execute(notebook: Path, out: Path) -> None:
    """Run ``notebook`` (jupytext percent format) from the repository root; write ``out``."""
    import jupytext
    import nbformat
    from nbclient import NotebookClient
    from traitlets.config import Config
    start = time.perf_counter()
    nb = jupytext.read(notebook)
    cells = {}          # when the kernel was ready and when the last cell ended
    with tempfile.TemporaryDirectory(prefix="nnref-kernel-") as sockets:
        # the kernel talks over Unix sockets in a private folder, not TCP ports on the machine
        # (a TCP kernel also logs a warning about it into the build's output)
        ipc = Config({"KernelManager": {"transport": "ipc", "ip": f"{sockets}/kernel"}})
        NotebookClient(nb, timeout=1800, kernel_name="python3",  # per cell; a loaded machine is slow
                       resources={"metadata": {"path": str(ROOT)}}, config=ipc,
                       extra_arguments=[f"--IPKernelApp.exec_lines={kernel_setup_line()}"],
                       on_notebook_start=lambda **_: cells.setdefault("start", time.perf_counter()),
                       on_notebook_complete=lambda **_: cells.setdefault("end", time.perf_counter()),
                       ).execute(env=kernel_env())
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    nbformat.write(nb, tmp)
    tmp.replace(out)  # never leave a half-written notebook under its final name
    record_duration(notebook, cells["end"] - cells["start"])
    log.info("executed %s in %.0f s", notebook.name, time.perf_counter() - start)


def execute_all(notebooks: list[Path], jobs: int | None = None) -> dict[Path, Path]:
    """Executed ``.ipynb`` for each notebook, running the uncached ones concurrently."""
    done = {nb: executed_path(nb) for nb in notebooks}
    todo = longest_first([nb for nb, out in done.items() if not out.is_file()])
    cpus = os.cpu_count() or 1
    jobs = jobs or int(os.environ.get("NB_JOBS", 0)) or cpus
    if todo:
        log.info("executing %d notebook(s), %d at a time: %s", len(todo), jobs,
                 ", ".join(nb.name for nb in todo))
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {nb: pool.submit(execute, nb, done[nb]) for nb in todo}
        for nb, future in futures.items():
            if future.exception() is not None:
                raise PluginError(f"notebook {nb.name} failed: {future.exception()!r}")
    evict_stale(done.values())
    return done


def evict_stale(current) -> None:
    """Remove older executions of the same notebooks (the cache keeps one per notebook)."""
    keep = {p.parent for p in current}
    names = {p.name for p in current}
    for old in CACHE.glob("*/*.ipynb"):
        if old.name in names and old.parent not in keep:
            old.unlink()
            if not any(old.parent.iterdir()):
                old.parent.rmdir()


_running = None  # (executor, future of execute_all) started by on_config


def preload() -> None:
    """Import the executing modules here, in the main thread, before the background starts.

    Imported first inside the background thread, IPython is half initialised for a moment while
    the figure scripts run in the main thread, and matplotlib.pyplot reads
    ``sys.modules["IPython"].version_info`` without the import lock: a figure script then fails
    with "partially initialized module 'IPython'" (seen in CI, a race that depends on timing).
    """
    import jupytext  # noqa: F401
    import nbclient  # noqa: F401
    import nbformat  # noqa: F401
    try:
        import IPython  # noqa: F401
    except ImportError:  # nbclient runs without it
        pass


def on_config(config):
    """Start the notebooks at once, in the background: the kernels are separate processes, so
    they run while the figures are drawn and the other pages are rendered."""
    global _running
    if enabled():
        preload()
        executor = ThreadPoolExecutor(max_workers=1)
        _running = (executor, executor.submit(execute_all, sorted(NOTEBOOKS.glob("*.py"))))
    return config


def wait():
    """Block until the notebooks have run; re-raise a notebook's failure."""
    global _running
    if _running is not None:
        executor, future = _running
        _running = None
        try:
            future.result()
        finally:
            executor.shutdown()


@event_priority(-100)  # after mkdocs-jupyter has wrapped the notebook files in its NotebookFile
def on_files(files, config):
    """Point each notebook page at its executed copy, on the file object mkdocs-jupyter reads.

    mkdocs-jupyter replaces each notebook's ``File`` by a ``NotebookFile`` wrapper that forwards
    unknown attributes to the file it wraps, but ``abs_src_path`` is a (cached) property that the
    wrapper computes afresh from ``src_dir`` and ``src_uri``: a path set on the wrapped file is never
    read, and the page would render the source ``.py`` without outputs. So the path is set here,
    after the wrapping, on the wrapper itself (and on the wrapped file, for anything that reads it).
    The executed copy is named by its cache key before it is written; ``on_pre_page`` waits for it.
    """
    if not enabled():
        return files
    if _running is None:                      # not started by on_config (e.g. a direct call)
        on_config(config)
    for notebook in NOTEBOOKS.glob("*.py"):
        f = files.get_file_from_path(f"notebooks/{notebook.name}")
        if f is None:
            continue
        executed = str(executed_path(notebook))
        for target in (f, vars(f).get("file")):   # the wrapper, and the File inside it if any
            if target is not None:
                target.abs_src_path = executed
        if f.abs_src_path != executed:
            raise PluginError(f"notebooks: the page {f.src_uri} would not render its executed copy "
                              f"({f.abs_src_path} instead of {executed})")
    return files


@event_priority(100)  # before mkdocs-jupyter reads a notebook page
def on_pre_page(page, config, files):
    if page.file.src_uri.startswith("notebooks/"):
        wait()
    return page


def on_post_build(config):
    wait()                                    # a build without notebook pages still reports failures
