r"""MkDocs hook: draw the pages' figures from code at build time.

Each ``docs/figures/<name>.py`` is run with matplotlib's Agg backend and must save
``<name>.png`` or ``<name>.svg`` (or several) into the folder given by the environment
variable ``NNREF_FIGURE_DIR``; they are added to the site as ``figures/<file>``. A page shows
one with ``![说明](../figures/<name>.svg)``. Every script runs with ``docs/figures/_fonts.py``'s
settings: an SVG keeps its text as text, so the reader's browser draws Chinese labels, and
matplotlib measures them with an installed CJK font or a placeholder (no glyph warnings on a
machine without CJK fonts). Diagrams use ``docs/figures/_diagram.py``, the scripts' shared
helpers (like ``_fonts.py`` not run itself). Plots therefore always come from the current code; nothing
drawn by hand is committed.

A script's PNGs are kept in ``.cache/figures/<key>/``, where ``key`` hashes the script and
every file under ``nnref/``: during ``mkdocs serve`` a save re-draws only the figures whose
code changed, and a change in the library re-draws them all.
"""
import hashlib
import importlib.util
import os
import runpy
import shutil
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "docs" / "figures"
FONTS = FIGURES / "_fonts.py"
CACHE = ROOT / ".cache" / "figures"


def library_digest() -> bytes:
    """One hash of every file under ``nnref/`` and of the scripts' shared helpers ``docs/figures/_*.py``."""
    h = hashlib.sha256()
    for path in sorted([p for p in (ROOT / "nnref").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
                       + list(FIGURES.glob("_*.py"))):
        h.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.digest()


def cache_dir(script: Path, library: bytes) -> Path:
    key = hashlib.sha256(library + script.name.encode() + b"\0" + script.read_bytes())
    return CACHE / f"{script.stem}-{key.hexdigest()[:16]}"


def fonts():
    """``docs/figures/_fonts.py``, the font settings every figure is drawn with."""
    spec = importlib.util.spec_from_file_location("_fonts", FONTS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def render(script: Path, out_dir: Path):
    """Run one figure script; it writes its images into ``out_dir``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.environ["NNREF_FIGURE_DIR"] = str(out_dir)
    try:
        with matplotlib.rc_context(fonts().rc()):  # a script's style settings end with it
            runpy.run_path(str(script), run_name="__main__")
    except Exception as exc:
        raise PluginError(f"figure script {script.name} failed: {exc!r}") from exc
    finally:
        plt.close("all")
        # the scripts import their helpers (_diagram, _fonts) by name: forget them, so that an
        # edited helper is read afresh by the next script (``mkdocs serve`` keeps this process)
        for name, module in list(sys.modules.items()):
            if Path(getattr(module, "__file__", None) or "/").parent == FIGURES:
                del sys.modules[name]


def drawn(script: Path, library: bytes) -> Path:
    """The folder holding the script's PNGs for this code; drawn only when not cached."""
    out = cache_dir(script, library)
    if not out.is_dir():
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        render(script, tmp)
        tmp.rename(out)  # complete or absent, never half drawn
    for old in CACHE.glob(f"{script.stem}-*"):  # one version per script
        if old != out and old.name.rsplit("-", 1)[0] == script.stem:
            shutil.rmtree(old, ignore_errors=True)
    return out


@event_priority(200)  # first: the notebooks (hooks/notebooks.py) execute meanwhile, in their kernels
def on_files(files, config):
    library = library_digest()
    for script in sorted(FIGURES.glob("[!_]*.py")):     # _*.py: shared helpers
        for image in sorted(p for p in drawn(script, library).iterdir() if p.suffix in (".png", ".svg")):
            files.append(File.generated(config, f"figures/{image.name}", abs_src_path=str(image)))
    # the scripts themselves are code, not pages
    for f in list(files):
        if f.src_uri.startswith("figures/") and f.src_uri.endswith(".py"):
            files.remove(f)
    return files
