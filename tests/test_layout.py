"""One way down: imports inside nnref run in one direction, with no cycle and no late import.

    backend, checks, registry  <-  layers (the maths)  <-  fast (speed paths)  <-  module, nn (Modules)
                               <-  optim, train and the tools (gradcheck, checkpoint, clip, ...)

Read from the source (``ast``), so a function-level import counts as much as a top-level one.
The only late imports allowed are of optional third-party packages (SciPy, CuPy, tqdm): they are
imported where they are used, so ``import nnref`` needs NumPy alone (tested below).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "nnref"

# the level of each part of the package: a module may import only from its own level or below
LEVELS = {"backend": 0, "checks": 0, "registry": 0, "layers": 1, "fast": 2, "module": 3, "containers": 3, "nn": 3}
TOP = 4  # everything else: optim, train, gradcheck, checkpoint, clip, regularization, the package itself
OPTIONAL = {"scipy", "cupy", "cupyx", "tqdm"}


def part(module: str) -> str:
    """'nnref.layers.conv' -> 'layers'; 'nnref' -> ''."""
    return module.split(".")[1] if "." in module else ""


def level(module: str) -> int:
    return LEVELS.get(part(module), TOP)


def module_name(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports(path: Path, root: Path = ROOT):
    """``(imported module, line, at top level?)`` for every import in ``path``, relative imports
    resolved to absolute names."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            # 'from ..fast import conv' names the module nnref.fast.conv; resolve() trims names
            # that are not modules ('from ..layers.linear import linear_forward')
            targets = [f"{target}.{a.name}" for a in node.names]
            for t in targets:
                yield t, node.lineno, id(node) in top
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno, id(node) in top


def resolve(target: str, root: Path = ROOT) -> str:
    """An imported name as the module that holds it: 'nnref.layers.conv.Conv2d' -> 'nnref.layers.conv'."""
    parts = target.split(".")
    while len(parts) > 1:
        candidate = root.joinpath(*parts)
        if candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file():
            return ".".join(parts)
        parts.pop()
    return ".".join(parts)


def edges(root: Path = ROOT):
    """``(importing module, imported module, line, path)`` for every import of nnref by nnref."""
    for path in sorted((root / "nnref").rglob("*.py")):
        src = module_name(path, root)
        for target, line, _ in imports(path, root):
            if target.split(".")[0] == "nnref":
                yield src, resolve(target, root), line, path


def wrong_way(root: Path = ROOT) -> list[str]:
    return [f"{path.relative_to(root)}:{line}: {src} (level {level(src)}) imports {dst} (level {level(dst)})"
            for src, dst, line, path in edges(root) if src != "nnref" and level(dst) > level(src)]


def late(root: Path = ROOT) -> list[str]:
    return [f"{path.relative_to(root)}:{line}: {target}"
            for path in sorted((root / "nnref").rglob("*.py"))
            for target, line, at_top in imports(path, root)
            if not at_top and target.split(".")[0] not in OPTIONAL]


def test_imports_run_one_way_down():
    wrong = wrong_way()
    assert not wrong, "imports against backend/checks <- layers <- fast <- nn <- optim/train:\n" + "\n".join(wrong)


def test_no_late_imports():
    found = late()
    assert not found, "imports inside functions (only optional packages may be imported where used):\n" + "\n".join(found)


def test_no_import_cycle():
    graph: dict[str, set[str]] = {}
    for src, dst, _, _ in edges():
        if dst != src and not src.startswith(dst + "."):   # a module's own package __init__ is no cycle
            graph.setdefault(src, set()).add(dst)
    seen, stack, cycles = set(), [], []

    def visit(node):
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt)
        stack.pop()

    for node in sorted(graph):
        visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_checks_see_a_wrong_import(tmp_path):
    """The checks can fail: in a copy of the layout, a maths module that imports a Module at the
    top and a speed path inside a function is reported twice."""
    for name in ("nnref/__init__.py", "nnref/layers/__init__.py", "nnref/nn/__init__.py",
                 "nnref/nn/linear.py", "nnref/fast/__init__.py", "nnref/fast/conv.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "nnref/layers/probe.py").write_text(
        "import numpy\nfrom ..nn.linear import Linear\n\n\ndef f():\n    from ..fast import conv\n    import scipy\n")
    assert wrong_way(tmp_path) == ["nnref/layers/probe.py:2: nnref.layers.probe (level 1) imports nnref.nn.linear (level 3)",
                                   "nnref/layers/probe.py:6: nnref.layers.probe (level 1) imports nnref.fast.conv (level 2)"]
    assert late(tmp_path) == ["nnref/layers/probe.py:6: nnref.fast.conv"]


def test_layers_hold_no_modules():
    """nnref/layers is the maths: no Module subclass is defined there."""
    offenders = []
    for path in sorted((PACKAGE / "layers").glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and any(getattr(b, "id", getattr(b, "attr", "")) in
                                                      ("Module", "RecurrentBase") for b in node.bases):
                offenders.append(f"{path.relative_to(ROOT)}: class {node.name}")
    assert not offenders, offenders


def test_import_nnref_needs_numpy_alone():
    """With SciPy, tqdm and CuPy unimportable, ``import nnref`` and a small training step work."""
    code = """
import sys
for name in ("scipy", "tqdm", "cupy", "torch"):
    sys.modules[name] = None          # any import of them now fails
import numpy as np
import nnref
m = nnref.Sequential(nnref.Linear(3, 4), nnref.ReLU(), nnref.Linear(4, 2))
x = np.ones((5, 3), np.float32)
loss = nnref.MSELoss()
print(round(loss(m(x), np.zeros((5, 2), np.float32)), 6) >= 0)
m.backward(loss.backward())
h = nnref.fit(m, loss, nnref.SGD(m.parameters(), lr=0.1), (x, np.zeros((5, 2), np.float32)), epochs=1, progress=None)
print(len(h["train_loss"]))
try:
    nnref.GELU()(x)
except ImportError as exc:
    print("GELU needs SciPy:", "scipy" in str(exc).lower())
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:3] == ["True", "1", "GELU needs SciPy: True"], out.stdout
