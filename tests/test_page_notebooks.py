"""Every concept page as a notebook (``hooks/page_notebooks.py``): built from the page, it runs, and
each code cell prints exactly the page's 输出 block.

The notebooks are executed with nbclient in a fresh kernel each (one page per test, so ``pytest -n``
or ``-k`` can split them); a page that cannot run here fails here as it fails in its Sybil test.
"""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("page_notebooks", ROOT / "hooks" / "page_notebooks.py")
page_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(page_notebooks)

PAGES = sorted(p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")
               if page_notebooks.is_concept_page(p.relative_to(ROOT / "docs").as_posix()))


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").split("\n"))


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


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


@pytest.mark.parametrize("page", PAGES)
def test_page_notebook_runs_and_prints_the_page_outputs(page, tmp_path):
    nbclient = pytest.importorskip("nbclient")
    nb = page_notebooks.page_notebook(ROOT / "docs" / page)
    expected = [(i, _stdout(c)) for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.outputs]
    assert expected, f"{page}: no code cell with a saved output"
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    for i, want in expected:
        got = _stdout(nb.cells[i])
        assert _normalise(got) == _normalise(want), (
            f"{page}, cell {i}:\n{nb.cells[i].source[:300]}\n--- page\n{want}\n--- notebook\n{got}")
