"""The site builds with --strict and contains what a reader needs, offline."""
import json
import re
from html import unescape

import pytest


def test_strict_build_has_no_warnings(built_site):
    _, log = built_site
    # mkdocs' own warnings ("WARNING -  ..."); --strict turns them into a failure already,
    # this names them (tests/test_quiet_build.py checks that nothing else is printed either)
    assert "WARNING -" not in log, log


def test_no_address_is_assumed(built_site):
    """Built without NNREF_SITE_URL: no canonical link, no sitemap entry, no link names an address
    (the site once said http://127.0.0.1:8000/ everywhere)."""
    site, _ = built_site
    assert "127.0.0.1" not in (site / "sitemap.xml").read_text(encoding="utf-8")
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert '<link rel="canonical"' not in html, f"{page}: a canonical link without a configured address"
        assert not re.search(r"""(?:href|src)=["']https?://(?:127\.0\.0\.1|localhost)""", html), f"{page} links to localhost"
    for notebook in site.rglob("*.ipynb"):
        assert "127.0.0.1" not in notebook.read_text(encoding="utf-8"), f"{notebook} names 127.0.0.1"


def test_katex_is_shipped_and_no_cdn_is_referenced(built_site):
    site, _ = built_site
    assert (site / "assets/katex/katex.min.js").is_file()
    assert any((site / "assets/katex/fonts").glob("*.woff2"))
    remote = re.compile(r"""(?:src|href)=["'](?:https?:)?//(?!127\.0\.0\.1)""")
    offenders = [p.relative_to(site).as_posix() for p in site.rglob("*.html")
                 if remote.search(re.sub(r'<a [^>]*>', "", p.read_text(encoding="utf-8")))]
    assert not offenders, f"pages that load something from another host: {offenders}"


def test_every_page_and_notebook_in_docs_is_built(built_site):
    from tests.site_build import ROOT
    site, _ = built_site
    docs = ROOT / "docs"
    sources = [p for p in docs.rglob("*.md") if p.relative_to(docs).parts[0] != "exercises"]  # included, not built
    sources += list((docs / "notebooks").glob("*.py"))
    missing = []
    for src in sources:
        rel = src.relative_to(docs).with_suffix("").as_posix()
        out = site / ("index.html" if rel == "index" else rel.removesuffix("/index") + "/index.html")
        if not out.is_file():
            missing.append(rel)
    assert not missing, f"pages not in the built site: {missing}"


NOTEBOOKS = ["mlp_digits", "overfitting", "cnn_digits", "sequences"]
FIGURE_MIME = ("image/png", "image/svg+xml")


def _cells(html: str) -> dict:
    """The notebook cells of a built page: cell id -> (text of its input, HTML of its outputs)."""
    parts = re.split(r'(?=<div class="jp-Cell jp-(?:Code|Markdown|Raw)Cell jp-Notebook-cell" id="cell-id=)', html)
    cells = {}
    for part in parts[1:]:
        cell_id = re.match(r'[^>]*id="cell-id=([^"]+)"', part).group(1)
        given, _, outputs = part.partition('class="jp-Cell-outputWrapper"')
        cells[cell_id] = (_text(given), outputs)
    return cells


def _text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html)).replace("\xa0", " ")


def _prints_or_plots(source: str) -> bool:
    return bool(re.search(r"^\s*print\(|\bplt\.show\(\)|\.imshow\(", source, re.MULTILINE))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_page_shows_the_run_that_built_it(built_site, name):
    """The page a reader gets holds every output of the executed notebook: printed lines, figures,
    numbered prompts. (The former check, "data:image/png" somewhere in the page, passed on pages
    with no output at all: the notebook theme's CSS inlines small PNG icons.)"""
    import jupytext
    from hooks import notebooks
    site, _ = built_site
    source = notebooks.NOTEBOOKS / f"{name}.py"
    executed = notebooks.executed_path(source)            # what this build ran (cached by content)
    assert executed.is_file(), f"{name}: the build did not execute the notebook"
    nb = json.loads(executed.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert ["".join(c["source"]) for c in code] == [c.source for c in jupytext.read(source).cells
                                                     if c.cell_type == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1)), f"{name}: not executed in order"
    for c in code:
        if _prints_or_plots("".join(c["source"])):
            assert c["outputs"], f"{name}: a cell that prints or plots has no output:\n{''.join(c['source'])[:300]}"
        assert not [o for o in c["outputs"] if o["output_type"] == "error" or o.get("name") == "stderr"], (
            f"{name}: an error or a warning in the run:\n{c['outputs']}")

    html = (site / "notebooks" / name / "index.html").read_text(encoding="utf-8")
    cells = _cells(html)
    assert "In [ ]:" not in _text(html), f"{name}: unnumbered prompts: the page shows the unexecuted source"
    figures = 0
    for c in code:
        given, outputs = cells[c["id"]]
        text = _text(outputs)
        assert f"In [{c['execution_count']}]:" in given, f"{name}: cell {c['id']} lacks its prompt In [{c['execution_count']}]"
        for out in c["outputs"]:
            lines = "".join(out.get("text", "")).splitlines()
            missing = [line for line in lines if line.strip() and line.strip() not in text]
            assert not missing, f"{name}: printed lines missing from the page: {missing[:3]}"
            for mime in FIGURE_MIME:
                if mime in out.get("data", {}):
                    assert f'src="data:{mime};base64,' in outputs or (mime == "image/svg+xml" and "<svg" in outputs), (
                        f"{name}: a {mime} figure is not on the page")
                    figures += 1
    assert figures >= 1, f"{name}: no figure on the page"
    served = site / "notebooks" / name / f"{name}.ipynb"    # the page's download link
    assert served.is_file() and json.loads(served.read_text(encoding="utf-8")) == nb, (
        f"{name}: the site does not offer the executed notebook for download")


def test_figures_are_drawn_from_code(built_site):
    from tests.site_build import ROOT
    site, _ = built_site
    scripts = sorted(p.stem for p in (ROOT / "docs/figures").glob("*.py"))
    drawn = sorted(p.name for p in (site / "figures").glob("*.*"))
    assert scripts and drawn, "no figures"
    for page in site.rglob("*.html"):
        for ref in re.findall(r'src="(?:\.\./)*figures/([^"]+\.(?:png|svg))"', page.read_text(encoding="utf-8")):
            assert ref in drawn, f"{page}: figure {ref} was not drawn"


# --- the caches behind the build: outputs always come from the current code ---------------

def _fake_repository(root):
    (root / "nnref").mkdir(parents=True)
    (root / "nnref" / "__init__.py").write_text("VALUE = 1\n")
    (root / "docs" / "notebooks").mkdir(parents=True)
    (root / "docs" / "page.md").write_text("# page\n")
    return root


def test_notebook_cache_key_covers_the_notebook_the_library_and_its_data(tmp_path, monkeypatch):
    from hooks import notebooks
    root = _fake_repository(tmp_path)
    monkeypatch.setattr(notebooks, "ROOT", root)
    plain, seq = root / "docs/notebooks/plain.py", root / "docs/notebooks/sequences.py"
    plain.write_text("# %%\nprint(1)\n")
    seq.write_text("# %%\nprint(2)\n")
    before = notebooks.cache_key(plain), notebooks.cache_key(seq)
    (root / "nnref" / "__init__.py").write_text("VALUE = 2\n")
    after_library = notebooks.cache_key(plain), notebooks.cache_key(seq)
    assert after_library[0] != before[0] and after_library[1] != before[1]
    (root / "nnref" / "new.py").write_text("")
    assert notebooks.cache_key(plain) != after_library[0], "a new file in nnref/ must count"
    after_new = notebooks.cache_key(plain), notebooks.cache_key(seq)
    page = root / "docs" / "page.md"
    page.write_text('# page\n\n!!! quote "笔记原文"\n    a quoted line\n\nprose\n')
    assert notebooks.cache_key(seq) != after_new[1], "sequences reads the pages' quotes: they must count"
    assert notebooks.cache_key(plain) == after_new[0], "the pages are not the plain notebook's data"
    with_quote = notebooks.cache_key(seq)
    page.write_text('# page, edited\n\n!!! quote "笔记原文"\n    a quoted line\n\nother prose\n')
    assert notebooks.cache_key(seq) == with_quote, "prose outside the quotes is not the notebook's data"
    page.write_text('# page, edited\n\n!!! quote "笔记原文"\n    an edited quote\n\nother prose\n')
    assert notebooks.cache_key(seq) != with_quote
    plain.write_text("# %%\nprint(3)\n")
    assert notebooks.cache_key(plain) != after_new[0]


def test_the_quote_boxes_hold_all_the_sequences_notebook_reads():
    # the cache key hashes only the pages' quote boxes: every line the notebook trains on must be there
    from hooks import notebooks
    source = (notebooks.NOTEBOOKS / "sequences.py").read_text(encoding="utf-8")
    cell = next(c for c in source.split("# %%") if "def quoted_notes" in c)
    namespace = {}
    exec(cell[cell.index("def quoted_notes"):cell.index("\n\n\n")], namespace)
    pages = sorted((notebooks.ROOT / "docs").rglob("*.md"))
    read = [line for p in pages for line in namespace["quoted_notes"](p.read_text(encoding="utf-8")).splitlines()]
    assert len(read) > 100
    hashed = {line[4:] for p in pages for line in notebooks.quote_boxes(p.read_bytes()).decode().splitlines()}
    missing = [line for line in read if line.strip() and line not in hashed]
    assert not missing, f"lines the notebook reads that the cache key does not see: {missing[:5]}"


def test_notebook_output_follows_the_library(tmp_path, monkeypatch):
    """Executed twice around a change in nnref/: the second run shows the new value."""
    import json
    from hooks import notebooks
    root = _fake_repository(tmp_path)
    monkeypatch.setattr(notebooks, "ROOT", root)
    monkeypatch.setattr(notebooks, "CACHE", root / ".cache" / "notebooks")
    nb = root / "docs/notebooks/show.py"
    nb.write_text("# %%\nimport nnref\nprint('VALUE', nnref.VALUE, nnref.__file__)\n")

    def output():
        executed = notebooks.execute_all([nb], jobs=1)[nb]
        cell = json.loads(executed.read_text())["cells"][0]
        return "".join(cell["outputs"][0]["text"])

    first = output()
    assert first.startswith("VALUE 1 ") and str(root) in first, first
    assert output() == first  # unchanged code: served from the cache
    # another size too: where Python writes bytecode caches it takes a .pyc as current when the
    # source's mtime (in whole seconds) and size match, and this edit comes within the second
    (root / "nnref" / "__init__.py").write_text("VALUE = 20\n")
    assert output().startswith("VALUE 20 ")
    assert len(list(notebooks.CACHE.glob("*/show.ipynb"))) == 1, "stale executions are evicted"


def test_a_failing_notebook_fails_the_build(tmp_path, monkeypatch):
    from mkdocs.exceptions import PluginError
    from hooks import notebooks
    root = _fake_repository(tmp_path)
    monkeypatch.setattr(notebooks, "ROOT", root)
    monkeypatch.setattr(notebooks, "CACHE", root / ".cache" / "notebooks")
    broken = root / "docs/notebooks/broken.py"
    broken.write_text("# %%\nraise ValueError('the notebook broke')\n")
    with pytest.raises(PluginError, match="broken.py"):
        notebooks.execute_all([broken], jobs=1)
    assert not list(notebooks.CACHE.glob("*/broken.ipynb")), "a failed run was cached"


def test_notebooks_run_slowest_first_with_blas_limited(tmp_path, monkeypatch):
    """Two CPUs, two notebooks: one BLAS thread each (whatever the caller set), and the next
    build starts the one that took longer."""
    import json
    from hooks import notebooks
    root = _fake_repository(tmp_path)
    monkeypatch.setattr(notebooks, "ROOT", root)
    monkeypatch.setattr(notebooks, "CACHE", root / ".cache" / "notebooks")
    monkeypatch.setattr(notebooks.os, "cpu_count", lambda: 2)
    for name in notebooks.BLAS_THREADS:
        monkeypatch.delenv(name, raising=False)
    quick, slow = root / "docs/notebooks/quick.py", root / "docs/notebooks/slow.py"
    show = "import os\nprint(os.environ.get('OPENBLAS_NUM_THREADS'), os.environ.get('OMP_NUM_THREADS'))\n"
    quick.write_text("# %%\n# " + "x" * 200 + "\n" + show)       # the larger file, but quick
    slow.write_text("# %%\nimport time\ntime.sleep(1)\n" + show)
    assert notebooks.longest_first([slow, quick]) == [quick, slow]   # never run: the larger first
    done = notebooks.execute_all([quick, slow], jobs=2)
    for nb in (quick, slow):
        cells = json.loads(done[nb].read_text())["cells"]
        assert "".join(cells[-1]["outputs"][0]["text"]).split() == ["1", "1"]
    seconds = notebooks.durations()
    assert set(seconds) == {"quick.py", "slow.py"} and seconds["slow.py"] >= 1, seconds   # it sleeps 1 s
    # the next build starts the one that took longer (their times set here: on a loaded machine a
    # trivial cell was seen to take 3.2 s, as its kernel got little CPU)
    notebooks.record_duration(quick, 0.1)
    assert notebooks.longest_first([quick, slow]) == [slow, quick]
    notebooks.record_duration(quick, 9.0)
    assert notebooks.longest_first([slow, quick]) == [quick, slow]
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    assert notebooks.kernel_env()["OPENBLAS_NUM_THREADS"] == "1", "the notebooks' numbers depend on BLAS threads"


def test_figures_are_redrawn_only_when_their_code_changes(tmp_path, monkeypatch):
    from hooks import figures
    root = _fake_repository(tmp_path)
    scripts = root / "docs" / "figures"
    scripts.mkdir()
    runs = root / "runs.txt"
    for name in ("one", "two"):
        (scripts / f"{name}.py").write_text(
            "import os, pathlib\n"
            f"pathlib.Path(os.environ['NNREF_FIGURE_DIR'], '{name}.png').write_bytes(b'png')\n"
            f"open({str(runs)!r}, 'a').write('{name}\\n')\n")
    monkeypatch.setattr(figures, "ROOT", root)
    monkeypatch.setattr(figures, "FIGURES", scripts)
    monkeypatch.setattr(figures, "CACHE", root / ".cache" / "figures")

    def draw_all():
        runs.write_text("")
        library = figures.library_digest()
        folders = [figures.drawn(s, library) for s in sorted(scripts.glob("*.py"))]
        assert all((f / f"{f.name.rsplit('-', 1)[0]}.png").is_file() for f in folders)
        return runs.read_text().split()

    assert draw_all() == ["one", "two"]
    assert draw_all() == [], "nothing changed: nothing is redrawn"
    (scripts / "two.py").write_text((scripts / "two.py").read_text() + "# edited\n")
    assert draw_all() == ["two"]
    (root / "nnref" / "__init__.py").write_text("VALUE = 3\n")
    assert draw_all() == ["one", "two"], "a change in nnref/ redraws every figure"
    assert len(list(figures.CACHE.iterdir())) == 2, "one cached version per script"


# --- the search index -----------------------------------------------------------------------

def test_search_index_holds_no_tex(built_site):
    import json
    site, _ = built_site
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    tex = re.compile(r"\$|\\\(|\\\[|\\[a-zA-Z]+\{")
    offenders = [(d["location"], tex.search(d["text"]).group(0)) for d in index["docs"]
                 if tex.search(d["text"]) or tex.search(d["title"])]
    assert not offenders, f"TeX in the search index: {offenders[:10]}"


def test_search_worker_segmenter_is_fixed_in_materials_worker():
    """The hook's pattern finds the one loop in the installed Material worker."""
    from pathlib import Path

    import material
    from hooks import search
    workers = list((Path(material.__file__).parent / "templates/assets/javascripts/workers")
                   .glob("search.*.min.js"))
    assert len(workers) == 1
    assert len(search.SHORT.findall(workers[0].read_text(encoding="utf-8"))) == 1


def test_notebook_thread_starts_after_ipython_is_imported():
    """The background thread that runs the notebooks must find IPython fully imported:
    jupyter_client imports it in that thread otherwise, and matplotlib.pyplot, drawing the figures
    in the main thread meanwhile, can read the half-initialised module (a CI failure, by timing).
    Run in a fresh interpreter, where nothing has imported IPython yet."""
    import os
    import subprocess
    import sys
    code = """
import sys
sys.path.insert(0, "hooks")
import notebooks
assert "IPython" not in sys.modules
seen = []
class Recorder:
    def __init__(self, max_workers):
        pass
    def submit(self, fn, *args):
        seen.append("IPython" in sys.modules)
notebooks.ThreadPoolExecutor = Recorder
notebooks.on_config({})
print(seen)
"""
    from tests.site_build import ROOT
    env = {k: v for k, v in os.environ.items() if k != "NB_EXECUTE"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[True]", proc.stdout


def test_the_long_tests_started_first_exist():
    # tests/conftest.py starts these first, and runs each TOGETHER group on one worker; a renamed
    # one would silently lose its place
    from tests.conftest import LONG, TOGETHER
    from tests.site_build import ROOT
    for entry in LONG + sum(TOGETHER, ()):
        path, _, name = entry.partition("::")
        source = (ROOT / path).read_text(encoding="utf-8")
        assert not name or f"def {name}(" in source, f"tests/conftest.py names {entry}, which does not exist"


def test_pages_and_groups_run_whole_on_one_worker_in_collection_order(pytestconfig, monkeypatch):
    # the root conftest.py's pytest-xdist scheduler: a unit of work per page, per TOGETHER group,
    # and per other test; units in the order tests/conftest.py sorted the collection
    pytest.importorskip("xdist")
    import sys
    from tests.conftest import TOGETHER
    from tests.site_build import ROOT
    root_conftest = sys.modules["conftest"]
    assert root_conftest.__file__ == str(ROOT / "conftest.py")
    monkeypatch.setattr(pytestconfig.option, "loadscopereorder", True)
    monkeypatch.setattr(pytestconfig.option, "tx", ["2*popen"])    # what -n 2 sets on the controller
    scheduler = root_conftest.pytest_xdist_make_scheduler(pytestconfig, log=None)
    assert pytestconfig.option.loadscopereorder is False
    scope = scheduler._split_scope
    assert scope("docs/cnn/conv.md::line:12,column:1") == scope("docs/cnn/conv.md::line:90,column:1")
    assert scope("docs/cnn/conv.md::line:12,column:1") != scope("docs/cnn/pool.md::line:12,column:1")
    for group in TOGETHER:
        members = [f"{entry}::test_x[1]" if "::" not in entry else f"{entry}[a]" for entry in group]
        assert len({scope(m) for m in members}) == 1, group
    assert scope("tests/test_site.py::test_a") != scope("tests/test_site.py::test_b")


def test_run_order_puts_the_builds_readers_last_and_groups_where_their_site_test_is(monkeypatch):
    from tests import conftest
    monkeypatch.setattr(conftest, "LONG", ("t/long.py::test_l",))
    monkeypatch.setattr(conftest, "TOGETHER", (("t/g.py", "t/b.py::test_g"),    # mixed: goes where test_g is
                                               ("t/u.py::test_a", "t/u.py::test_c")))
    site, browser = ("built_site",), ("built_site", "page", "server", "browser")
    tests = [("t/a.py::test_files", site), ("t/b.py::test_g", browser), ("t/b.py::test_page", browser),
             ("t/g.py::test_1", ()), ("t/g.py::test_2[x]", ()), ("t/long.py::test_l[1]", browser),
             ("t/u.py::test_a", ()), ("t/u.py::test_b", ()), ("t/u.py::test_c", ())]
    assert conftest.run_order(tests) == [
        "t/u.py::test_a", "t/u.py::test_b", "t/u.py::test_c",             # no site build (test_c with test_a)
        "t/long.py::test_l[1]",                                           # LONG
        "t/b.py::test_g", "t/b.py::test_page", "t/g.py::test_1", "t/g.py::test_2[x]",   # browser; the group with test_g
        "t/a.py::test_files"]                                             # the built files only


def test_python_caches_stay_out_of_the_site(built_site):
    # Python writes __pycache__/ beside the figure helpers when a build draws the figures (unless
    # PYTHONDONTWRITEBYTECODE is set; the test builds let it write), and the next build copied
    # docs/figures/__pycache__/*.pyc into the site. mkdocs.yml's exclude_docs keeps out any
    # __pycache__/ (checked as mkdocs reads it), whether or not this machine has written one yet
    import pathspec

    from hooks.site_nav import read_config
    site, _ = built_site
    cached = [p.relative_to(site).as_posix() for p in site.rglob("*") if p.suffix == ".pyc" or p.name == "__pycache__"]
    assert not cached, cached[:5]
    excluded = pathspec.gitignore.GitIgnoreSpec.from_lines(read_config()["exclude_docs"].splitlines())
    assert excluded.match_file("figures/__pycache__/_fonts.cpython-311.pyc")
    assert excluded.match_file("any/folder/__pycache__/x.pyc")
