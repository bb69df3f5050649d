"""MkDocs hook: draw the pages' figures from code at build time.

Each ``docs/figures/<name>.py`` is run with matplotlib's Agg backend and must save
``<name>.png`` (or several PNGs) into the folder given by the environment variable
``NNREF_FIGURE_DIR``; the PNGs are added to the site as ``figures/<file>.png``. A page
shows one with ``![说明](../figures/<name>.png)``. Plots therefore always come from the
current code; nothing drawn by hand is committed.
"""
import os
import runpy
import tempfile
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

FIGURES = Path(__file__).resolve().parent.parent / "docs" / "figures"
_OUT = Path(tempfile.mkdtemp(prefix="nnref-figures-"))


def render(script: Path, out_dir: Path):
    """Run one figure script; it writes its PNGs into ``out_dir``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.environ["NNREF_FIGURE_DIR"] = str(out_dir)
    try:
        runpy.run_path(str(script), run_name="__main__")
    except Exception as exc:
        raise PluginError(f"figure script {script.name} failed: {exc!r}") from exc
    finally:
        plt.close("all")


def on_files(files, config):
    for script in sorted(FIGURES.glob("*.py")):
        render(script, _OUT)
    for png in sorted(_OUT.glob("*.png")):
        files.append(File.generated(config, f"figures/{png.name}", abs_src_path=str(png)))
    # the scripts themselves are code, not pages
    for f in list(files):
        if f.src_uri.startswith("figures/") and f.src_uri.endswith(".py"):
            files.remove(f)
    return files
