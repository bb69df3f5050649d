"""A quiet first build, on a machine without CJK fonts too: the log holds only what a user should act
on, and a figure or notebook plot with Chinese labels is drawn without a warning, its text kept as
text for the reader's browser (``docs/figures/_fonts.py``).

"Without CJK fonts" is made here, whatever the machine has (tests/no_cjk.py): the fixtures ``no_cjk``
and ``figures_without_cjk`` (tests/conftest.py).
"""
import json
import re
import textwrap

from tests.no_cjk import CHINESE, NOISE
from tests.no_cjk import run as _run
from tests.site_build import ROOT


def test_no_cjk_environment_has_no_cjk_font(no_cjk, tmp_path):
    out = _run(f"""
        import sys
        sys.path.insert(0, {str(ROOT / "docs" / "figures")!r})
        import _fonts
        print(_fonts.cjk_families())
    """, no_cjk, tmp_path)
    assert out.strip() == "['nnref CJK placeholder']", out


def test_every_figure_script_draws_quietly_without_cjk_fonts(figures_without_cjk):
    """All of docs/figures/*.py, and a new plot with Chinese labels, run as the build runs them."""
    folder, out = figures_without_cjk
    assert not NOISE.search(out), f"the figure scripts printed:\n{out[:3000]}"
    assert out.strip().startswith("drew ")
    svg = (folder / "out" / "chinese_plot" / "chinese_plot.svg").read_text(encoding="utf-8")
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert all(any(word in t for t in texts) for word in CHINESE), f"Chinese labels not kept as text: {texts}"
    assert "font-family: 'DejaVu Sans', 'nnref CJK placeholder', sans-serif" in svg


def test_notebook_plot_with_chinese_labels_is_quiet_without_cjk_fonts(no_cjk, tmp_path):
    """A notebook run as the build runs it (hooks/notebooks.py, its kernel set up by _fonts): no
    warning in any cell, and the plot is an SVG whose Chinese text is text."""
    notebook = tmp_path / "chinese.py"
    notebook.write_text(textwrap.dedent(f"""\
        # %%
        import matplotlib.pyplot as plt
        plt.plot([1, 2, 3], [3, 1, 2], label="{CHINESE[0]}")
        plt.title("{CHINESE[1]}")
        plt.xlabel("epoch{CHINESE[2]}")
        plt.legend()
        plt.show()
    """), encoding="utf-8")
    out = _run(f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        from hooks import notebooks
        notebooks.CACHE = Path({str(tmp_path)!r}) / "cache"      # keep the durations file out of .cache/
        notebooks.execute(Path({str(notebook)!r}), Path({str(tmp_path / "chinese.ipynb")!r}))
    """, no_cjk, tmp_path)
    assert not NOISE.search(out), out[:3000]
    cell = json.loads((tmp_path / "chinese.ipynb").read_text(encoding="utf-8"))["cells"][0]
    assert cell["execution_count"] == 1, "the kernel set-up took a prompt number"
    assert not [o for o in cell["outputs"] if o.get("name") == "stderr" or o["output_type"] == "error"], cell["outputs"]
    svg = "".join(next(o["data"]["image/svg+xml"] for o in cell["outputs"] if "image/svg+xml" in o.get("data", {})))
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert all(any(word in t for t in texts) for word in CHINESE), f"Chinese labels not kept as text: {texts}"


def test_build_log_holds_no_warning(built_site):
    """The build's whole output, kernels, figure scripts and jieba included: mkdocs' INFO lines only."""
    _, log = built_site
    noise = [line for line in log.splitlines() if NOISE.search(line) or (line.strip() and not line.startswith("INFO"))]
    assert not noise, "\n".join(noise[:20])


def test_notebook_runs_printed_no_warning(built_site):
    """What a kernel writes to stderr lands on the page: the executed notebooks hold none."""
    site, _ = built_site
    for notebook in sorted((site / "notebooks").glob("*/*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        stderr = [o for c in cells for o in c.get("outputs", []) if o.get("name") == "stderr"]
        assert not stderr, f"{notebook.name}: {stderr[:3]}"
