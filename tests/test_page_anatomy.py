"""Every concept page has one anatomy (issue #21): a title that names its concept, the notes' text,
the formulas, then FIRST the reference code that transcribes them, a check, the notes' errata, the
exercises, and one collapsed "实现细节" block LAST that holds the workshop (speed paths, GPU kernels,
test files, build notes, performance remarks).

The rules read the page as a reader gets it: snippet includes expanded by ``hooks.snippets`` (the
same step as the site's). Each rule is a function of the page text that returns its complaints;
``test_each_rule_catches_a_broken_page`` shows every rule failing on a page broken on purpose.
Every concept chapter of mkdocs.yml's nav is checked (``hooks.site_nav.CHAPTERS``: a new chapter
joins by its section in nav).
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import nnref
from hooks.site_nav import CHAPTERS, nav_entries, read_config
from hooks.snippets import FENCE, PYTHON, expand_snippets, snippet_options
from nnref.module import Module
from nnref.optim import Optimizer

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(p.relative_to(DOCS).as_posix() for c in CHAPTERS for p in (DOCS / c).glob("*.md"))

# Headings of the notes that do not name a concept a learner would search for: a chapter, a
# comparison, a catch-all, a part of a section, or a misnomer the page corrects. A page's title
# (its H1 and its nav entry) may keep a notes heading that is a concept's name ("激活函数").
BARE_HEADINGS = {
    "前置知识", "导数 VS 微分", "梯度 VS 微分", "不完全可微函数的处理", "批次训练与梯度累计",
    "过拟合与缓解方式", "其它训练技巧", "L1/L2 Standardization", "Early Stop", "改进", "优势",
    "缺点", "优缺点", "一般使用方式", "结构", "输入", "输出", "状态公式", "训练过程", "参数",
    "作用", "用途", "卷积核", "实现方式", "生效原理", "GRM",
}

# Where the reference code lives: the maths, never a speed path or a Module.
REFERENCE_SOURCES = ("nnref/layers/", "nnref/optim.py", "nnref/regularization.py", "nnref/clip.py",
                     "nnref/gradcheck.py", "nnref/train/")
# Helpers that must not come before the formula's own code (they answer "how", not "what").
HELPER = re.compile(r"^(_|check_)|^(output_size|pool_views|stacked_forward|stacked_backward|channel_axes|"
                    r"make_window|edge_pads|padded|scatter|pairs|im2col|col2im|dilate)$")
INCLUDE = re.compile(r"""^\s*--8<--\s*["']([^"':]+)""", re.MULTILINE)
DETAILS = '??? info "实现细节"'
DETAILS_BLOCK = re.compile(r'^\?\?\?\+? info "实现细节"\n(?:[ \t]*\n|    .*\n?)*', re.MULTILINE)
QUOTE_BLOCK = re.compile(r'^!!! quote .*\n(?:[ \t]*\n|    .*\n?)*', re.MULTILINE)
# The workshop: what belongs behind the door of 实现细节 (or on the 性能 and API pages).
WORKSHOP = {
    "a speed path from nnref/fast/": re.compile(r"nnref/fast/"),
    "a test file": re.compile(r"(?<![\w/])tests/"),
    "a figure's build script": re.compile(r"docs/figures/"),
    "a build note": re.compile(r"构建时"),
    "a 更快的写法 box": re.compile(r"更快的写法"),
    "CUDA": re.compile(r"\bCUDA\b"),
    "a GPU kernel": re.compile(r"ElementwiseKernel|RawKernel|融合内核"),
    "benchmark talk": re.compile(r"benchmark|基准测试|测速"),
    "a link to the 性能 page": re.compile(r"performance\.md"),
}
OPTIONS = snippet_options(ROOT)


def expanded(page: str) -> str:
    return expand_snippets((DOCS / page).read_text(encoding="utf-8"), OPTIONS)


def nav_titles() -> dict:
    """page path -> its title in mkdocs.yml's nav."""
    return {path: title for title, path in nav_entries(read_config(ROOT)["nav"]) if title is not None}


# --- the rules: each takes the page's text and returns a list of complaints -----------------

def title_problems(source: str, nav_title: str | None) -> list[str]:
    """The H1 names the concept: not a bare heading of the notes, and the same in the nav."""
    first = source.split("\n", 1)[0]
    if not first.startswith("# "):
        return ["the page does not open with its H1"]
    h1 = first[2:].strip()
    problems = []
    if h1 in BARE_HEADINGS:
        problems.append(f"the H1 {h1!r} is a bare heading of the notes, not the concept's name")
    if nav_title != h1:
        problems.append(f"the nav title {nav_title!r} differs from the H1 {h1!r}")
    return problems


def first_python_block(text: str):
    return next((m for m in FENCE.finditer(text) if PYTHON.match(m["info"].strip())), None)


def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def _is_module_or_optimiser(obj) -> bool:
    return isinstance(obj, type) and issubclass(obj, (Module, Optimizer))


def module_usage(code: str) -> list[str]:
    """Calls in ``code`` that build an nnref Module or optimiser (``nnref.Linear(...)``, ``SGD(...)``
    imported from nnref)."""
    tree = ast.parse(code)
    imported = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "nnref":
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if not name:
            continue
        head, _, rest = name.partition(".")
        path = name if head == "nnref" else (f"{imported[head]}.{rest}".rstrip(".") if head in imported else None)
        if not path:
            continue
        obj = nnref
        for part in path.split(".")[1:]:
            obj = getattr(obj, part, None)
        if _is_module_or_optimiser(obj):
            found.append(name)
    return found


def is_record(node: ast.ClassDef) -> bool:
    """A class that only carries values between functions: a NamedTuple, a dataclass, a ``...Cache``."""
    bases = {_dotted(b) for b in node.bases}
    decorators = {_dotted(d.func if isinstance(d, ast.Call) else d) for d in node.decorator_list}
    return (bool(bases & {"NamedTuple", "typing.NamedTuple", "tuple"}) or node.name.endswith("Cache")
            or bool(decorators & {"dataclass", "dataclasses.dataclass"}))


def first_code_problems(source: str, text: str) -> list[str]:
    """The first python block is reference code: an include from the maths modules, or a plain
    block; never Module usage, never a cache class or a helper before the formula's own code."""
    raw, shown = first_python_block(source), first_python_block(text)
    if raw is None or shown is None:
        return ["the page has no python block"]
    problems = [f"the first block includes {path}, which is not reference code"
                for path in INCLUDE.findall(raw["body"]) if not path.startswith(REFERENCE_SOURCES)]
    code = "\n".join(line[len(shown["indent"]):] for line in shown["body"].split("\n"))
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        return problems + [f"the first block does not parse: {err}"]
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            problems += [f"the first block imports {n}" for n in names if n.startswith(("nnref.fast", "nnref.nn"))]
    if all(isinstance(node, (ast.Import, ast.ImportFrom)) for node in tree.body):
        problems.append("the first block only imports: it is not the formula's code")
    defs = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    if defs and isinstance(defs[0], ast.ClassDef) and is_record(defs[0]):
        problems.append(f"the first block starts with the record class {defs[0].name} before any function "
                        "(a cache comes after the function that fills it)")
    if defs and isinstance(defs[0], ast.FunctionDef) and HELPER.search(defs[0].name):
        problems.append(f"the first block starts with the helper {defs[0].name}, not the formula's code")
    problems += [f"the first block uses the Module or optimiser {name}" for name in module_usage(code)]
    return problems


def formula_problems(text: str) -> list[str]:
    """A display formula of the page's own (not only the notes' quote) comes before the first code."""
    block = first_python_block(text)
    before = QUOTE_BLOCK.sub("", text[:block.start()] if block else text)
    return [] if "$$" in before else ["no display formula ($$ … $$) before the first python block"]


def without_details(text: str) -> str:
    return DETAILS_BLOCK.sub("", text)


def workshop_problems(text: str) -> list[str]:
    """No engineering content outside the 实现细节 block."""
    rest = without_details(text)
    problems = []
    for what, pattern in WORKSHOP.items():
        for m in pattern.finditer(rest):
            line = rest[:m.start()].count("\n") + 1
            problems.append(f"{what} outside 实现细节 (line {line} of the page as shown: "
                            f"{rest.splitlines()[line - 1].strip()[:80]!r})")
    return problems


def details_problems(source: str, exercises_include: str) -> list[str]:
    """At most one 实现细节 block, collapsed, after the exercises, and nothing after it."""
    starts = [m for m in re.finditer(r'^(\?\?\?\+?|!!!) info "实现细节"', source, re.MULTILINE)]
    if not starts:
        return []
    problems = []
    if len(starts) > 1:
        problems.append(f"{len(starts)} 实现细节 blocks; there must be one")
    if starts[-1].group(1) != "???":
        problems.append("the 实现细节 block is not collapsed (use ??? info)")
    last = list(DETAILS_BLOCK.finditer(source))
    block = last[-1] if last else None
    if block is None or source[block.end():].strip():
        problems.append("something follows the 实现细节 block: it must be the last thing on the page")
    include = source.find(exercises_include)
    if include < 0 or include > starts[0].start():
        problems.append("the 实现细节 block comes before the exercises")
    return problems


# --- the tests ---------------------------------------------------------------------------

TITLES = nav_titles()


@pytest.mark.parametrize("page", PAGES)
def test_title_names_the_concept(page):
    source = (DOCS / page).read_text(encoding="utf-8")
    assert not title_problems(source, TITLES.get(page)), title_problems(source, TITLES.get(page))


@pytest.mark.parametrize("page", PAGES)
def test_first_code_is_the_reference_code_after_a_formula(page):
    source, text = (DOCS / page).read_text(encoding="utf-8"), expanded(page)
    problems = first_code_problems(source, text) + formula_problems(text)
    assert not problems, f"{page}: " + "; ".join(problems)


@pytest.mark.parametrize("page", PAGES)
def test_no_workshop_outside_the_implementation_details(page):
    problems = workshop_problems(expanded(page))
    assert not problems, f"{page}:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", PAGES)
def test_implementation_details_come_last(page):
    source = (DOCS / page).read_text(encoding="utf-8")
    problems = details_problems(source, f'--8<-- "docs/exercises/{page}"')
    assert not problems, f"{page}: " + "; ".join(problems)


def test_the_chapters_have_pages():
    for chapter in CHAPTERS:
        assert any(p.startswith(chapter) for p in PAGES), f"no page under docs/{chapter}"


GOOD = '''# 线性层（Linear）

!!! quote "笔记原文"
    $$
    y = Wx
    $$

公式：

$$
Y = X W^\\top + b
$$

```python
import numpy as np

def linear_forward(x, W, b):
    return x @ W.T + b, (x, W)
```

--8<-- "docs/exercises/x.md"

??? info "实现细节"
    `tests/layers/test_linear.py` 与 torch 对照；上图由 `docs/figures/x.py` 在构建时画出。
'''


def test_each_rule_catches_a_broken_page():
    include = '--8<-- "docs/exercises/x.md"'
    assert not title_problems(GOOD, "线性层（Linear）")
    assert not first_code_problems(GOOD, GOOD)
    assert not formula_problems(GOOD)
    assert not workshop_problems(GOOD)
    assert not details_problems(GOOD, include)
    # titles: a bare heading of the notes; a nav entry that differs
    assert title_problems(GOOD.replace("线性层（Linear）", "其它训练技巧", 1), "其它训练技巧")
    assert title_problems(GOOD, "权重矩阵")
    # first code: Module usage, a cache class first, a helper first, a speed path, an nnref.nn import
    module = GOOD.replace("import numpy as np", "import nnref\nlayer = nnref.Linear(3, 2)")
    assert any("nnref.Linear" in p for p in first_code_problems(module, module))
    imported = GOOD.replace("import numpy as np", "from nnref import SGD\nopt = SGD([], lr=0.1)")
    assert any("SGD" in p for p in first_code_problems(imported, imported))
    cache = GOOD.replace("def linear_forward", "class Cache(tuple):\n    pass\n\ndef linear_forward")
    assert any("class Cache" in p for p in first_code_problems(cache, cache))
    stepper = GOOD.replace("def linear_forward", "class Stepper:\n    pass\n\ndef linear_forward")
    assert not first_code_problems(stepper, stepper)      # a class that is the concept may come first
    helper = GOOD.replace("def linear_forward", "def output_size(n):\n    return n\n\ndef linear_forward")
    assert any("helper output_size" in p for p in first_code_problems(helper, helper))
    im2col = GOOD.replace("def linear_forward", "def im2col(x):\n    return x\n\ndef linear_forward")
    assert any("helper im2col" in p for p in first_code_problems(im2col, im2col))
    fast = GOOD.replace("import numpy as np", '--8<-- "nnref/fast/conv.py:conv_forward"')
    assert any("nnref/fast/conv.py" in p for p in first_code_problems(fast, GOOD))
    nn_import = GOOD.replace("import numpy as np", "from nnref.nn.linear import Linear")
    assert any("nnref.nn.linear" in p for p in first_code_problems(nn_import, nn_import))
    imports = GOOD.replace("\ndef linear_forward(x, W, b):\n    return x @ W.T + b, (x, W)\n", "")
    assert any("only imports" in p for p in first_code_problems(imports, imports))
    # the formula: none of the page's own before the code (the quote's does not count)
    no_formula = GOOD.replace("$$\nY = X W^\\top + b\n$$", "Y = XW")
    assert formula_problems(no_formula)
    # the workshop outside the door, and a door that is not last or not closed
    outside = GOOD.replace("公式：", "公式（测试见 `tests/layers/test_linear.py`，更快的写法见 nnref/fast/）：")
    assert len(workshop_problems(outside)) == 3
    assert details_problems(GOOD + "\n更多文字\n", include)
    assert details_problems(GOOD.replace("??? info", "???+ info"), include)
    assert details_problems(GOOD.replace(include, "") + "\n" + include + "\n", include)
    twice = GOOD + '\n??? info "实现细节"\n    again\n'
    assert any("2 实现细节 blocks" in p for p in details_problems(twice, include))
