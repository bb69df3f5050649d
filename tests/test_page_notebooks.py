"""Every concept page as a notebook (``hooks/page_notebooks.py``), as a reader gets it: downloaded from
the built site, run in an empty folder by a kernel whose Python has only the site's wheel (and its
``parity`` extra, torch, for the comparison exercises), each code cell prints exactly the page's 输出
block. The notebook stands alone: its figures are embedded, its links leave no relative path behind,
and where nnref is missing its first cell says how to install it instead of failing.

The notebooks run with nbclient in a fresh kernel each (one page per test, so ``-k`` can pick one).
"""
import base64
import json
import re
from pathlib import Path

import pytest

from hooks import interactive, page_notebooks
from tests.site_build import ROOT

PAGES = sorted(p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")
               if page_notebooks.is_concept_page(p.relative_to(ROOT / "docs").as_posix()))


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").split("\n"))


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


def _downloaded(built_site, page: str, folder: Path) -> Path:
    """The page's notebook as the site serves it, copied alone into ``folder``."""
    site, _ = built_site
    served = site / (page[:-3] + ".ipynb")
    assert served.is_file(), f"the site serves no notebook for {page}"
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / served.name
    copy.write_bytes(served.read_bytes())
    return copy


def _execute(nb, kernel_dir: Path, folder: Path, cells=None):
    import nbclient
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    km = KernelManager(kernel_name="nnref-wheel", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]))
    client = nbclient.NotebookClient(nb, km=km, timeout=600, resources={"metadata": {"path": str(folder)}})
    if cells is None:
        client.execute()
        return
    with client.setup_kernel():
        for i in cells:
            client.execute_cell(nb.cells[i], i)


def test_every_chapter_has_pages():
    for chapter in page_notebooks.CHAPTERS:
        assert any(p.startswith(chapter) for p in PAGES), f"no concept page under docs/{chapter}"


def test_notebook_is_the_page():
    """Prose, formulas, the included reference code and the exercises are all there, markers gone."""
    raw = (ROOT / "docs" / "neural-network" / "linear.md").read_text(encoding="utf-8")
    nb = page_notebooks.page_notebook(ROOT / "docs" / "neural-network" / "linear.md")
    text = "\n".join(c.source for c in nb.cells)
    assert "--8<--" in raw and "--8<--" not in text, "a snippet include or section marker was left in"
    assert "pip install" in nb.cells[1].source and nb.cells[1].cell_type == "code"
    assert "$$" in text and "\\partial L" in text                # prose and formulas, backslashes intact
    assert "def " in text and "def " not in raw                 # the included reference code
    assert "## 练习" in text and "**参考答案**" in text          # the exercises, admonitions flattened
    assert not any(line.startswith("??? ") or line.startswith("!!! ") for line in text.split("\n"))
    sources = [c.source for c in nb.cells if c.cell_type == "code"]
    assert all(not s.startswith("    ") for s in sources), "a code cell kept its admonition indentation"
    assert any(c.outputs for c in nb.cells if c.cell_type == "code"), "the 输出 blocks were not saved"


def test_links_become_absolute_where_the_site_has_an_address():
    site = page_notebooks.local_site(url="https://nnref.example.org/docs/", wheel="nnref-9.9-py3-none-any.whl")
    nb = page_notebooks.page_notebook(ROOT / "docs" / "lstm" / "lstm.md", site=site)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "[梯度消失](https://nnref.example.org/docs/rnn/vanishing-gradients/)" in prose
    assert "(https://nnref.example.org/docs/install/)" in nb.cells[0].source
    assert "pip install nnref-9.9-py3-none-any.whl" in nb.cells[1].source
    assert "https://nnref.example.org/docs/install/" in nb.cells[1].source


@pytest.mark.parametrize("page", PAGES)
def test_downloaded_notebook_stands_alone(built_site, page, tmp_path):
    """No path into the site is left: figures are embedded (PNG as attachments, SVG as data URIs)
    holding the site's own files, links to pages are absolute (to the configured address) or plain
    text (none is configured for this build)."""
    site, _ = built_site
    nb = json.loads(_downloaded(built_site, page, tmp_path).read_text(encoding="utf-8"))
    raw = (ROOT / "docs" / page).read_text(encoding="utf-8")
    embedded = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        targets = re.findall(r"\]\(([^)\s]+)", source)
        relative = [t[:60] for t in targets if not re.match(r"(attachment|data|https?):", t)]
        assert not relative, f"{page}: links that only work on the site: {relative}"
        for target in targets:
            if target.startswith("attachment:"):
                bundle = cell.get("attachments", {}).get(target.removeprefix("attachment:"))
                assert bundle, f"{page}: {target} is not attached"
                (mime, data), = bundle.items()
                assert mime == "image/png"
                embedded.append(base64.b64decode(data))
            elif target.startswith("data:"):
                assert target.startswith("data:image/svg+xml;base64,"), target[:40]
                embedded.append(base64.b64decode(target.split(",", 1)[1]))
    figures = ["figures/" + name for name in re.findall(r"!\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\.\./figures/([^)\s]+)", raw)]
    figures += [f"interactive/{name}.svg" for name in INTERACTIVE.findall(raw)]   # each as its static first step
    assert sorted(embedded) == sorted((site / name).read_bytes() for name in figures), (
        f"{page}: the embedded images are not the page's figures {figures}")


INTERACTIVE = interactive.PLACEHOLDER          # the page's place for an interactive figure


@pytest.mark.parametrize("page", [p for p in PAGES if INTERACTIVE.search((ROOT / "docs" / p).read_text(encoding="utf-8"))])
def test_interactive_figure_becomes_its_static_first_step(page):
    """A notebook runs no JavaScript: where the page places an interactive figure, the notebook shows
    the SVG the site shows readers without JavaScript, with the figure's alt text, instead of an empty div."""
    nb = page_notebooks.page_notebook(ROOT / "docs" / page)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "nnref-interactive" not in prose
    images = re.findall(r"!\[([^\]]*)\]\(data:image/svg\+xml;base64,([^)]+)\)", prose)
    for name in INTERACTIVE.findall((ROOT / "docs" / page).read_text(encoding="utf-8")):
        trace, svg = interactive.written()[name]
        alt = json.loads(trace.read_text(encoding="utf-8"))["alt"]
        assert any(text.startswith(alt) and base64.b64decode(data) == svg.read_bytes() for text, data in images), (
            f"{page}: no static first step of the figure {name!r}")


def test_first_cell_says_how_to_install_nnref_where_it_is_missing(built_site, tmp_path, tmp_path_factory, site_wheel):
    import nbformat

    from tests import wheel_env
    folder = tmp_path / "empty"
    path = _downloaded(built_site, "neural-network/linear.md", folder)
    nb = nbformat.read(path, as_version=4)
    python = wheel_env.make_venv(tmp_path / "venv", ["ipykernel"])   # a Python without nnref
    _execute(nb, wheel_env.kernel_dir(python, tmp_path / "kernels"), folder, cells=[1])
    outputs = nb.cells[1].outputs
    assert [o.output_type for o in outputs] == ["stream"] and outputs[0].name == "stdout", outputs
    assert f"pip install {site_wheel.name}" in outputs[0].text and "在自己的电脑上运行" in outputs[0].text


@pytest.mark.parametrize("page", PAGES)
def test_downloaded_notebook_runs_from_the_wheel_and_prints_the_page_outputs(built_site, wheel_kernel, page, tmp_path):
    import nbformat
    folder = tmp_path / "empty"
    path = _downloaded(built_site, page, folder)
    nb = nbformat.read(path, as_version=4)
    expected = [(i, _stdout(c)) for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.outputs]
    assert expected, f"{page}: no code cell with a saved output"
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    nb.cells.insert(2, nbformat.v4.new_code_cell("import nnref, sys; print(nnref.__file__); print(sys.path)"))
    _execute(nb, wheel_kernel, folder)
    where = _stdout(nb.cells[2])
    assert "/venv/" in where.splitlines()[0] and str(ROOT) not in where, f"not the wheel's nnref: {where}"
    for i, want in expected:
        got = _stdout(nb.cells[i + 1])
        assert _normalise(got) == _normalise(want), (
            f"{page}, cell {i}:\n{nb.cells[i + 1].source[:300]}\n--- page\n{want}\n--- notebook\n{got}")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    assert sorted(p.name for p in folder.iterdir()) == [path.name], "the notebook wrote files next to itself"
