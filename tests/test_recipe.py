r"""Every step of adding a layer fails loudly when it is skipped.

- ``nav``: every page under docs/ is in mkdocs.yml's nav and every nav entry is a file (MkDocs
  itself only logs an INFO line for a page missing from nav and still builds it).
- Tests: every module of ``nnref/layers/``, ``nnref/nn/`` and ``nnref/fast/`` has its test module:
  ``tests/layers/test_<concept>.py`` for ``layers/<concept>.py`` and ``nn/<concept>.py``,
  ``tests/fast/test_<concept>.py`` for ``fast/<concept>.py`` (CONTRIBUTING.md, "Tests").
- Snippets: every section marker (``# --8<-- [start:name]``) is closed and included by some page.
- Chapters: the concept chapters are read from nav in one place (``hooks/site_nav.py``); a
  hand-written list of chapter folders anywhere else fails.
- The recipe: CONTRIBUTING.md's table "Adding a layer: every file it touches" lists exactly the
  files of :data:`STEPS`, and every registered layer has done every step. Each step is a function of
  a view of the repository (:class:`Repo`); ``test_each_step_is_caught_when_skipped`` undoes one
  step at a time for a real layer in that view and watches its check fail.
"""
from __future__ import annotations

import ast
import dataclasses
import fnmatch
import re
from pathlib import Path
from typing import Callable

import pathspec
import pytest

import nnref
from hooks import site_nav
from nnref import nn, registry
from tests.cases import CASES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CONFIG = site_nav.read_config(ROOT)


# --- nav ------------------------------------------------------------------------------------

def site_pages(config=CONFIG) -> set[str]:
    """The files under docs/ that MkDocs builds as pages: Markdown not excluded by ``exclude_docs``,
    and what mkdocs-jupyter's ``include`` takes."""
    excluded = pathspec.GitIgnoreSpec.from_lines((config.get("exclude_docs") or "").splitlines())
    jupyter = next((p["mkdocs-jupyter"] for p in config["plugins"] if isinstance(p, dict) and "mkdocs-jupyter" in p), {})
    pages = set()
    for path in DOCS.rglob("*"):
        rel = path.relative_to(DOCS).as_posix()
        if not path.is_file() or excluded.match_file(rel):
            continue
        if rel.endswith(".md") or any(fnmatch.fnmatch(rel, g) for g in jupyter.get("include", [])):
            pages.add(rel)
    return pages


def nav_paths(config=CONFIG) -> list[str]:
    return [path for _, path in site_nav.nav_entries(config["nav"]) if not re.match(r"\w+://", path)]


def test_every_page_is_in_nav():
    missing = sorted(site_pages() - set(nav_paths()))
    assert not missing, f"pages under docs/ missing from mkdocs.yml's nav (MkDocs only logs INFO): {missing}"


def test_every_nav_entry_is_a_file():
    absent = [p for p in nav_paths() if not (DOCS / p).is_file()]
    assert not absent, f"mkdocs.yml's nav names files that do not exist under docs/: {absent}"


def test_nav_checks_fail_on_a_skipped_step():
    """A page left out of nav and a nav entry with no file are both caught."""
    config = dict(CONFIG, nav=[item for item in CONFIG["nav"] if item != {"性能": "performance.md"}])
    assert "performance.md" in site_pages(config) - set(nav_paths(config))
    config = dict(CONFIG, nav=CONFIG["nav"] + [{"新页": "cnn/no-such-page.md"}])
    assert "cnn/no-such-page.md" in [p for p in nav_paths(config) if not (DOCS / p).is_file()]


# --- a test module for every module ---------------------------------------------------------

PACKAGES = {"layers": "tests/layers", "nn": "tests/layers", "fast": "tests/fast"}


def module_test_path(module: str) -> str:
    """``nnref/nn/conv.py`` -> ``tests/layers/test_conv.py`` (CONTRIBUTING.md, "Tests")."""
    package, name = Path(module).parent.name, Path(module).stem
    return f"{PACKAGES[package]}/test_{name}.py"


def modules_without_tests(exists: Callable[[str], bool], read: Callable[[str], str]) -> list[str]:
    problems = []
    for package in PACKAGES:
        for path in sorted((ROOT / "nnref" / package).glob("*.py")):
            if path.name == "__init__.py":
                continue
            module = path.relative_to(ROOT).as_posix()
            test = module_test_path(module)
            if not exists(test):
                problems.append(f"{module} has no test module {test}")
            elif not re.search(r"^def test_", read(test), re.MULTILINE):
                problems.append(f"{test} holds no test function")
    return problems


def test_every_layer_nn_and_fast_module_has_its_test_module():
    problems = modules_without_tests(lambda p: (ROOT / p).is_file(), lambda p: (ROOT / p).read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_a_missing_test_module_is_caught():
    assert modules_without_tests(lambda p: p != "tests/fast/test_gru.py", lambda p: "def test_x(): ...\n") == [
        "nnref/fast/gru.py has no test module tests/fast/test_gru.py"]
    assert "tests/layers/test_conv.py holds no test function" in modules_without_tests(
        lambda p: True, lambda p: "" if p.endswith("test_conv.py") else "def test_x(): ...\n")


# --- snippet markers ------------------------------------------------------------------------

MARKER = re.compile(r"^[ \t]*#[ \t]*--8<--[ \t]*\[(start|end):([\w.-]+)\]", re.MULTILINE)
INCLUDE = re.compile(r"""--8<--[ \t]*["']([^"'\n]+)["']""")


def sections(sources: dict[str, str]) -> tuple[list[str], list[str]]:
    """``(["path:name" of every section], [unbalanced markers])`` of the given source files."""
    found, unbalanced = [], []
    for path, text in sources.items():
        opened = []
        for kind, name in MARKER.findall(text):
            if kind == "start":
                found.append(f"{path}:{name}")
                opened.append(name)
            elif name in opened:
                opened.remove(name)
            else:
                unbalanced.append(f"{path}: [end:{name}] without its start")
        unbalanced += [f"{path}: [start:{name}] never ends" for name in opened]
    return found, unbalanced


def included(pages: dict[str, str]) -> set[str]:
    return {m for text in pages.values() for m in INCLUDE.findall(text)}


def snippet_sources() -> dict[str, str]:
    """Every Python file a page could include a section of."""
    files = [p for d in ("nnref", "docs", "benchmarks", "hooks") for p in (ROOT / d).rglob("*.py")]
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in files}


def page_sources() -> dict[str, str]:
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md")}


def orphans(sources, pages) -> list[str]:
    found, _ = sections(sources)
    return sorted(set(found) - included(pages))


def test_every_snippet_section_is_closed():
    _, unbalanced = sections(snippet_sources())
    assert not unbalanced, unbalanced


def test_every_snippet_section_is_included_by_a_page():
    left = orphans(snippet_sources(), page_sources())
    assert not left, ("snippet sections no page includes: include each from its page, or remove the marker "
                      f"if it marks nothing a reader needs: {left}")


def test_an_orphan_section_is_caught():
    sources = {"nnref/layers/x.py": "# --8<-- [start:a]\nx = 1\n# --8<-- [end:a]\n"
                                    "# --8<-- [start:b]\ny = 2\n# --8<-- [end:b]\n    # --8<-- [start:c]\n"}
    pages = {"docs/x.md": '```python\n--8<-- "nnref/layers/x.py:a"\n```\n'}
    assert orphans(sources, pages) == ["nnref/layers/x.py:b", "nnref/layers/x.py:c"]
    assert sections(sources)[1] == ["nnref/layers/x.py: [start:c] never ends"]


# --- one list of chapters -------------------------------------------------------------------

def chapter_lists(source: str, chapters=site_nav.CHAPTERS) -> list[int]:
    """Lines of ``source`` holding a literal tuple, list or set of two or more chapter folders."""
    names = {c.rstrip("/") for c in chapters} | set(chapters)
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            hits = [e for e in node.elts if isinstance(e, ast.Constant) and e.value in names]
            if len(hits) >= 2:
                lines.append(node.lineno)
    return lines


def test_chapters_are_read_from_nav():
    assert site_nav.CHAPTERS, "no concept chapter found in mkdocs.yml's nav"
    for chapter in site_nav.CHAPTERS:
        assert any((DOCS / chapter).glob("*.md")), f"no page under docs/{chapter}"


def test_no_other_list_of_chapters():
    files = [ROOT / "conftest.py", *(p for d in ("hooks", "tests", "nnref", "docs", "benchmarks")
                                     for p in (ROOT / d).rglob("*.py"))]
    found = [f"{p.relative_to(ROOT)}:{line}" for p in files if p.name != "site_nav.py"
             for line in chapter_lists(p.read_text(encoding="utf-8"))]
    assert not found, f"hand-written lists of chapters (take hooks.site_nav.CHAPTERS): {found}"


def test_a_second_list_of_chapters_is_caught():
    assert chapter_lists('CHAPTERS = ("prerequisites", "neural-network", "cnn")\nPAGE = "cnn/conv.md"\n') == [1]
    assert chapter_lists('PAGES = ["cnn/conv.md", "rnn/rnn.md"]\n') == []


# --- the recipe: every file a new layer touches ----------------------------------------------

@dataclasses.dataclass
class Repo:
    """What the steps read: files by path, and the Python-level lists. Tests replace a field to
    undo one step."""
    registry: list = dataclasses.field(default_factory=lambda: list(registry.LAYERS))
    nn_layers: list = dataclasses.field(default_factory=lambda: list(nn.LAYERS))
    cases: list = dataclasses.field(default_factory=lambda: list(CASES))
    missing: set = dataclasses.field(default_factory=set)        # paths treated as absent
    edits: dict = dataclasses.field(default_factory=dict)        # path -> text replacing the file's

    def exists(self, path: str) -> bool:
        return path not in self.missing and (path in self.edits or (ROOT / path).is_file())

    def read(self, path: str) -> str:
        if not self.exists(path):
            return ""
        return self.edits[path] if path in self.edits else (ROOT / path).read_text(encoding="utf-8")

    def entry(self, name: str):
        return next((e for e in self.registry if e.name == name), None)


def concept(name: str) -> str:
    """The concept a layer belongs to: the module its class is defined in (``nnref.nn.<concept>``)."""
    return getattr(nnref, name).__module__.rsplit(".", 1)[-1]


def built_from_layers(repo: Repo, name: str) -> bool:
    """A model built from other registered layers (ResNet's blocks of Conv2d, BatchNorm2d): its
    Module imports them from sibling ``nnref/nn`` modules; it has no maths of its own."""
    tree = ast.parse(repo.read(f"nnref/nn/{concept(name)}.py") or "\n")
    layer_names = {e.name for e in registry.LAYERS}
    return any(isinstance(n, ast.ImportFrom) and n.level == 1 and {a.name for a in n.names} & layer_names
               for n in ast.walk(tree))


def step_maths(repo, name):
    path = f"nnref/layers/{concept(name)}.py"
    if not repo.exists(path) and not built_from_layers(repo, name):
        return [f"{name}: its maths (the reference pair) belongs in {path}"]
    return []


def step_module(repo, name):
    module = getattr(nnref, name).__module__
    path = f"nnref/nn/{concept(name)}.py"
    if not module.startswith("nnref.nn.") or not repo.exists(path):
        return [f"{name}: the Module class belongs in nnref/nn/<concept>.py, not {module}"]
    return []


def step_nn_init(repo, name):
    if name not in repo.nn_layers:
        return [f"{name}: not in nnref/nn/__init__.py's LAYERS"]
    return []


def step_registry(repo, name):
    if repo.entry(name) is None:
        return [f"{name}: no Entry in nnref/registry.py's LAYERS"]
    return []


def step_cases(repo, name):
    if name not in registry.CONTAINERS and not any(c.layer == name for c in repo.cases):
        return [f"{name}: no Case in tests/cases.py"]
    return []


def step_test_module(repo, name):
    path = f"tests/layers/test_{concept(name)}.py"
    return [] if repo.exists(path) else [f"{name}: no test module {path}"]


def _page(repo, name):
    entry = repo.entry(name) or registry.by_name(name)
    return entry.page


def step_page(repo, name):
    path = f"docs/{_page(repo, name)}"
    if not repo.exists(path):
        return [f"{name}: its page {path} does not exist"]
    if not re.search(rf"\b{name}\b", repo.read(path)):
        return [f"{name}: {path} never names the class"]
    return []


def step_exercises(repo, name):
    path = f"docs/exercises/{_page(repo, name)}"
    return [] if repo.exists(path) else [f"{name}: its page has no exercises file {path}"]


def step_api(repo, name):
    api = repo.read("docs/api/index.md")
    blocks = [f"nnref.nn.{concept(name)}"]
    if repo.exists(f"nnref/layers/{concept(name)}.py"):
        blocks.insert(0, f"nnref.layers.{concept(name)}")
    return [f"{name}: docs/api/index.md has no '::: {b}' block" for b in blocks
            if not re.search(rf"^::: {re.escape(b)}\s*$", api, re.MULTILINE)]


def step_nav(repo, name):
    config = site_nav.parse_config(repo.read("mkdocs.yml"))
    page = _page(repo, name)
    if page not in [p for _, p in site_nav.nav_entries(config["nav"])]:
        return [f"{name}: its page {page} is not in mkdocs.yml's nav"]
    if not page.startswith(site_nav.concept_chapters(config["nav"])):
        return [f"{name}: its page {page} is not under a concept chapter of the nav"]
    return []


def step_fast(repo, name):
    fast = f"nnref/fast/{concept(name)}.py"
    test = f"tests/fast/test_{concept(name)}.py"
    if repo.exists(fast) and not repo.exists(test):
        return [f"{name}: its speed path {fast} has no proof {test}"]
    return []


# the recipe: CONTRIBUTING.md's table lists exactly these files
STEPS = {
    "nnref/layers/<concept>.py": step_maths,
    "nnref/nn/<concept>.py": step_module,
    "nnref/nn/__init__.py": step_nn_init,
    "nnref/registry.py": step_registry,
    "tests/cases.py": step_cases,
    "tests/layers/test_<concept>.py": step_test_module,
    "docs/<chapter>/<page>.md": step_page,
    "docs/exercises/<chapter>/<page>.md": step_exercises,
    "docs/api/index.md": step_api,
    "mkdocs.yml": step_nav,
    "nnref/fast/<concept>.py": step_fast,
    "tests/fast/test_<concept>.py": step_fast,
}


def layer_names(repo: Repo) -> list[str]:
    """Every layer some step knows of: registered, or listed in nnref.nn.LAYERS; not the container
    that come with ``Module`` itself (``Sequential`` in nnref/module.py, ``ModuleList`` and
    ``ModuleDict`` in nnref/containers.py)."""
    names = dict.fromkeys([e.name for e in repo.registry] + repo.nn_layers)
    return [n for n in names if not (n in registry.CONTAINERS and getattr(nnref, n).__module__ in ("nnref.module", "nnref.containers"))]


def recipe_table(text: str) -> list[str]:
    """The file patterns of the table under CONTRIBUTING.md's "Adding a layer" heading."""
    section = text.split("### Adding a layer: every file it touches", 1)[1].split("\n#", 1)[0]
    files = []
    for row in re.findall(r"^\|([^|\n]*)\|", section, re.MULTILINE):
        files += [f for f in re.findall(r"`([^`]+)`", row)]
    return files


def test_contributing_lists_every_file_a_layer_touches():
    table = recipe_table((ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8"))
    assert sorted(table) == sorted(STEPS), (f"CONTRIBUTING.md's recipe and the checks differ: missing from the "
                                            f"table {sorted(set(STEPS) - set(table))}, not checked "
                                            f"{sorted(set(table) - set(STEPS))}")


@pytest.mark.parametrize("name", layer_names(Repo()))
def test_every_layer_did_every_step(name):
    repo = Repo()
    problems = [p for step in dict.fromkeys(STEPS.values()) for p in step(repo, name)]
    assert not problems, "\n".join(problems)


def _without(text: str, pattern: str) -> str:
    out = re.sub(pattern, "", text, flags=re.MULTILINE)
    assert out != text, f"nothing matched {pattern!r}: the skip simulates nothing"
    return out


def _skips(name: str, page: str):
    """(step, the repository with that step undone for layer ``name``)."""
    c = concept(name)
    read = Repo().read
    yield "nnref/layers/<concept>.py", Repo(missing={f"nnref/layers/{c}.py"})
    yield "nnref/nn/<concept>.py", Repo(missing={f"nnref/nn/{c}.py"})
    yield "nnref/nn/__init__.py", Repo(nn_layers=[n for n in nn.LAYERS if n != name])
    yield "nnref/registry.py", Repo(registry=[e for e in registry.LAYERS if e.name != name])
    yield "tests/cases.py", Repo(cases=[k for k in CASES if k.layer != name])
    yield "tests/layers/test_<concept>.py", Repo(missing={f"tests/layers/test_{c}.py"})
    yield "docs/<chapter>/<page>.md", Repo(edits={f"docs/{page}": _without(read(f"docs/{page}"), rf"\b{name}\b")})
    yield "docs/exercises/<chapter>/<page>.md", Repo(missing={f"docs/exercises/{page}"})
    yield "docs/api/index.md", Repo(edits={"docs/api/index.md": _without(read("docs/api/index.md"), rf"^::: nnref\.layers\.{c}\n")})
    yield "docs/api/index.md", Repo(edits={"docs/api/index.md": _without(read("docs/api/index.md"), rf"^::: nnref\.nn\.{c}\n")})
    yield "mkdocs.yml", Repo(edits={"mkdocs.yml": _without(read("mkdocs.yml"), rf"^ *- [^\n]*: {re.escape(page)}\n")})
    yield "tests/fast/test_<concept>.py", Repo(missing={f"tests/fast/test_{c}.py"})


@pytest.mark.parametrize("name", ["LSTM"])
def test_each_step_is_caught_when_skipped(name):
    """Undo each step for a layer that has them all (LSTM has a speed path too): its check fails."""
    page = registry.by_name(name).page
    skipped = set()
    for step, repo in _skips(name, page):
        assert STEPS[step](repo, name), f"skipping {step} for {name} goes unnoticed"
        assert not STEPS[step](Repo(), name)
        skipped.add(step)
    assert skipped | {"nnref/fast/<concept>.py"} == set(STEPS), "a step of the recipe has no skip simulated"


def test_a_model_built_from_layers_needs_no_maths_of_its_own():
    assert built_from_layers(Repo(), "ResNet") and not step_maths(Repo(), "ResNet")
    assert not built_from_layers(Repo(), "LSTM")


# --- hooks ------------------------------------------------------------------------------------

def test_contributing_describes_every_hook():
    """A hook added to mkdocs.yml gets its row in CONTRIBUTING.md's table of hooks."""
    contributing = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    table = contributing[contributing.index("## Hooks"):].split("\n## ", 1)[0]
    hooks = [Path(h).name for h in site_nav.read_config()["hooks"]]
    missing = [h for h in hooks if f"`{h}`" not in table]
    assert hooks and not missing, f"hooks of mkdocs.yml with no row in CONTRIBUTING.md's table: {missing}"
