"""Run every page under docs/ as a test (Sybil).

A page's ```python blocks run in order in one namespace per page, after snippet
includes (``--8<-- "nnref/...:section"``) are expanded by pymdownx's own preprocessor
with the site's settings, so the code that runs is the code the reader sees. When a
```text title="输出" block follows a python block, the block's stdout must equal it.

``<!-- skip: next -->`` before a block leaves it unrun (for code that cannot run in a
test, such as starting a server); ``<!-- gpu: next -->`` runs it only where CuPy sees a GPU.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import textwrap
from pathlib import Path

import pytest
from sybil import Document, Region, Sybil

# one page grammar and one snippet expansion, shared with the per-page notebooks
from hooks.snippets import FENCE, MARK, OUTPUT, PYTHON, dedent_block, expand_snippets, snippet_options

ROOT = Path(__file__).resolve().parent
collect_ignore_glob = ["docs/notebooks/*", "docs/figures/*", "docs/exercises/*", "site/*", "benchmarks/*", "node_modules/*"]


class SnippetDocument(Document):
    """A page with its snippet includes expanded exactly as pymdownx does for the site."""

    @classmethod
    def parse(cls, path, *parsers, encoding="utf-8"):
        text = expand_snippets(Path(path).read_text(encoding=encoding), snippet_options(ROOT))
        document = cls(text, path)
        for parser in parsers:
            for region in parser(document):
                document.add(region)
        return document


def parse_page(document: Document):
    blocks = list(FENCE.finditer(document.text))
    for i, block in enumerate(blocks):
        if not PYTHON.match(block["info"].strip()):
            continue
        before = document.text[:block.start()].rstrip()
        mark = MARK.search(before)
        if mark and mark.group(1) == "skip":
            continue
        source = dedent_block(block["body"], block["indent"])
        expected, end = None, block.end()
        if i + 1 < len(blocks):
            nxt = blocks[i + 1]
            between = document.text[block.end():nxt.start()]
            if OUTPUT.match(nxt["info"].strip()) and not between.strip():
                expected, end = dedent_block(nxt["body"], nxt["indent"]), nxt.end()
        needs_gpu = bool(mark and mark.group(1) == "gpu")
        yield Region(block.start(), end, (source, expected, needs_gpu), evaluate_block)


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").split("\n"))


def evaluate_block(example):
    source, expected, needs_gpu = example.parsed
    if needs_gpu:
        from nnref.backend import cupy_available
        if not cupy_available():
            pytest.skip("this block needs a GPU with CuPy")
    out = io.StringIO()
    code = compile(source, f"{example.path}:{example.line}", "exec")
    with contextlib.redirect_stdout(out):
        exec(code, example.namespace)
    if expected is not None and _normalise(out.getvalue()) != _normalise(expected):
        return (f"printed output differs from the page's 输出 block\n--- page\n"
                f"{textwrap.indent(_normalise(expected), '  ')}\n--- got\n"
                f"{textwrap.indent(_normalise(out.getvalue()), '  ')}")
    return None


def _setup(namespace):
    import matplotlib
    matplotlib.use("Agg")  # pages may draw; tests never open a window
    from nnref import backend
    namespace["__name__"] = "__page__"
    backend.manual_seed(0)


pytest_collect_file = Sybil(
    parsers=[parse_page],
    path="docs",
    patterns=["*.md"],
    document_types={".md": SnippetDocument},
    setup=_setup,
).pytest()


if importlib.util.find_spec("xdist"):
    def pytest_xdist_make_scheduler(config, log):
        """Under pytest-xdist (``make test`` runs ``pytest -n auto``) each page is one unit that a
        single worker runs whole and in order, since its blocks share one namespace; so is each group
        of tests in ``tests/conftest.py``'s ``TOGETHER``; every other test is a unit of its own.
        Units go out in the order of the collection (``tests/conftest.py`` sorts it), not largest
        first. (xdist's own ``--dist loadgroup`` does not group with pytest 9.2: it renames
        ``item._nodeid``, which pytest no longer reads.)"""
        from xdist.scheduler import LoadScopeScheduling

        from tests.conftest import together

        class PageScheduling(LoadScopeScheduling):
            def _split_scope(self, nodeid: str) -> str:
                path = nodeid.split("::", 1)[0]
                return path if path.endswith(".md") else together(nodeid) or nodeid

        config.option.loadscopereorder = False   # xdist's default puts the units with most tests first
        return PageScheduling(config, log)
