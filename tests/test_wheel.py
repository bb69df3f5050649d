"""nnref from the site: the built site serves the wheel and sdist of the current code, and the wheel,
installed into a fresh virtual environment with one ``pip install`` (as the page 在自己的电脑上运行
says), runs a page's examples from an empty folder with no checkout on the path."""
import json
import re
import tarfile
import zipfile
from html import unescape

from tests import wheel_env
from tests.site_build import ROOT

MARK = "\x1enext cell\x1e"


def _package_files():
    return {p.relative_to(ROOT).as_posix(): p.read_bytes() for p in (ROOT / "nnref").rglob("*.py")
            if "__pycache__" not in p.parts}


def test_site_serves_the_wheel_and_sdist_of_the_current_code(built_site, site_wheel):
    import tomllib
    site, _ = built_site
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert site_wheel.name == f"nnref-{version}-py3-none-any.whl"
    sdist = site / "downloads" / f"nnref-{version}.tar.gz"
    assert sdist.is_file(), "the site serves no source archive"
    source = _package_files()
    with zipfile.ZipFile(site_wheel) as z:
        wheel = {n: z.read(n) for n in z.namelist() if n.startswith("nnref/")}
    assert wheel == source, f"the wheel differs from nnref/: {sorted(set(wheel) ^ set(source))[:5]}"
    with tarfile.open(sdist) as t:
        packed = {m.name.split("/", 1)[1]: t.extractfile(m).read() for m in t.getmembers()
                  if m.isfile() and m.name.split("/", 1)[1].startswith("nnref/") and m.name.endswith(".py")}
    assert packed == source, "the sdist differs from nnref/"


def test_install_page_names_the_files_the_site_serves(built_site, site_wheel):
    site, _ = built_site
    html = (site / "install" / "index.html").read_text(encoding="utf-8")
    text = unescape(re.sub(r"<[^>]+>", "", html))
    assert "{{" not in text, "a placeholder was left on the page"
    wheel = site_wheel.name
    assert f"pip install {wheel}" in text and f'pip install "{wheel}[parity]"' in text
    assert 'pip install -e ".[test,parity]"' in text and "make offline" in text
    for link in re.findall(r'href="\.\./(downloads/[^"]+)"', html):
        assert (site / link).is_file(), f"the install page links to a missing file {link}"
    assert f'href="../downloads/{wheel}"' in html
    # linked from the home page and from every page-notebook link
    assert 'href="install/"' in (site / "index.html").read_text(encoding="utf-8")
    pages = [p for p in site.glob("*/*/index.html") if (p.parent.parent / f"{p.parent.name}.ipynb").is_file()]
    assert len(pages) > 20
    for page in pages:
        assert re.search(r'下载本页为 Jupyter 笔记本</a>（怎样运行：<a href="\.\./\.\./install/">',
                         page.read_text(encoding="utf-8")), f"{page}: no link to the install page"


def _run_cells(python, notebook, folder):
    """Run a page notebook's code cells with ``python`` in ``folder``; each cell's stdout."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    # a script that runs the cells in one namespace, as a kernel does (compile() inherits the
    # script's __future__ import, as IPython keeps it for the later cells)
    script = folder / "run_cells.py"
    script.write_text("from __future__ import annotations\nimport json, sys\n"
                      f"cells = json.loads({json.dumps(json.dumps(['' .join(c['source']) for c in cells]))})\n"
                      "for i, source in enumerate(cells):\n"
                      f"    print({MARK!r}, flush=True)\n"
                      "    exec(compile(source, f'<cell {i}>', 'exec'), globals())\n", encoding="utf-8")
    proc = wheel_env.run(python, f"exec(open({str(script)!r}, encoding='utf-8').read())", folder)
    assert proc.returncode == 0, f"{notebook.name} failed:\n{proc.stderr[-3000:]}"
    got = proc.stdout.split(MARK + "\n")[1:]
    assert len(got) == len(cells)
    # each cell that has a saved output (the page's 输出 block) prints exactly that
    return [(i, _normalise(got[i]), _normalise("".join("".join(o.get("text", "")) for o in c["outputs"])))
            for i, c in enumerate(cells) if c["outputs"]]


def _normalise(text):
    return "\n".join(line.rstrip() for line in text.strip("\n").split("\n"))


def test_wheel_alone_installs_and_runs_a_page(built_site, site_wheel, tmp_path):
    """NumPy, SciPy, tqdm: what the wheel declares is all it needs; its extras work with a file path."""
    site, _ = built_site
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / site_wheel.name).write_bytes(site_wheel.read_bytes())
    python = wheel_env.make_venv(tmp_path / "venv", wheel_env.wheel_requirements(site_wheel))
    # the [parity] extra is read from the file name's suffix: torch is required, and missing here
    proc = wheel_env.pip_install(python, f"{site_wheel.name}[parity]", folder)
    assert proc.returncode != 0 and "torch" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    proc = wheel_env.pip_install(python, site_wheel.name, folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (folder / site_wheel.name).unlink()                       # only the installed package is left
    proc = wheel_env.run(python, "import nnref, sys; print(nnref.__file__); print(sys.path)", folder)
    assert proc.returncode == 0, proc.stderr
    assert str(tmp_path / "venv") in proc.stdout.splitlines()[0], proc.stdout
    assert str(ROOT) not in proc.stdout, "the checkout is on the fresh environment's path"
    page = site / "prerequisites" / "derivative.ipynb"
    compared = _run_cells(python, page, folder)
    assert compared and all(got == want for _, got, want in compared), compared
    assert sorted(p.name for p in folder.iterdir()) == ["run_cells.py"], "the page wrote files"


def test_wheel_with_parity_extra_runs_the_torch_comparisons(built_site, site_wheel, tmp_path):
    site, _ = built_site
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / site_wheel.name).write_bytes(site_wheel.read_bytes())
    python = wheel_env.make_venv(tmp_path / "venv", wheel_env.wheel_requirements(site_wheel), ("parity",))
    proc = wheel_env.pip_install(python, f"{site_wheel.name}[parity]", folder)   # as the install page says
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check = wheel_env.pip(python, "check", cwd=folder)
    assert check.returncode == 0, check.stdout + check.stderr
    (folder / site_wheel.name).unlink()
    page = site / "neural-network" / "linear.ipynb"
    assert "import torch" in page.read_text(encoding="utf-8")
    compared = _run_cells(python, page, folder)
    assert compared and all(got == want for _, got, want in compared), compared
