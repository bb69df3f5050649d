r"""Write a page's 输出 blocks by running its code, the way the page tests run it.

    .venv/bin/python -m tests.page_outputs docs/rnn/vanishing-gradients.md [more pages ...]

Every ```python block of the page (snippet includes expanded as the site expands them, blocks
marked ``<!-- skip: next -->`` left out) runs in order in one namespace, seeded as the tests seed
it; the ```text title="输出" block that directly follows a block is replaced by what that block
printed. Output blocks inside an included exercise file (``--8<-- "docs/exercises/..."``) are
written back into that file. Nothing is typed by hand: the page tests then compare these blocks
with a fresh run.
"""
from __future__ import annotations

import contextlib
import io
import re
import sys
from pathlib import Path

from hooks.snippets import FENCE, MARK, OUTPUT, PYTHON, dedent_block, expand_snippets, snippet_options

ROOT = Path(__file__).resolve().parent.parent
INCLUDE = re.compile(r'^(?P<indent>[ \t]*)--8<--\s+"(?P<path>[^":]+\.md)"\s*$', re.MULTILINE)


def run_page(text: str, name: str) -> list:
    """What each python block that has a 输出 block after it printed, in page order (expanded
    text); None for a block that is not run (skip, or gpu without a GPU)."""
    from nnref import backend
    from nnref.backend import cupy_available
    import matplotlib
    matplotlib.use("Agg")
    backend.manual_seed(0)
    namespace = {"__name__": "__page__"}
    printed = []
    blocks = list(FENCE.finditer(text))
    for i, block in enumerate(blocks):
        if not PYTHON.match(block["info"].strip()):
            continue
        mark = MARK.search(text[:block.start()].rstrip())
        has_output = (i + 1 < len(blocks) and OUTPUT.match(blocks[i + 1]["info"].strip())
                      and not text[block.end():blocks[i + 1].start()].strip())
        runs = not mark or (mark.group(1) == "gpu" and cupy_available())
        out = io.StringIO()
        if runs:
            code = compile(dedent_block(block["body"], block["indent"]), f"{name}:{block.start()}", "exec")
            with contextlib.redirect_stdout(out):
                exec(code, namespace)
        if has_output:
            printed.append(out.getvalue() if runs else None)
    return printed


def rewrite(path: Path, printed: list) -> str:
    """``path``'s text with its output blocks (and those of the .md files it includes) replaced,
    consuming ``printed`` in order; included files are rewritten in place."""
    text = path.read_text(encoding="utf-8")
    pieces, pos = [], 0
    fences = list(FENCE.finditer(text))
    checked = {id(b) for a, b in zip(fences, fences[1:])       # a 输出 block right after a python block
               if PYTHON.match(a["info"].strip()) and OUTPUT.match(b["info"].strip())
               and not text[a.end():b.start()].strip()}
    events = sorted([(m.start(), "include", m) for m in INCLUDE.finditer(text)] +
                    [(m.start(), "fence", m) for m in fences], key=lambda e: e[0])
    for start, kind, m in events:
        if start < pos:
            continue
        if kind == "include":
            included = ROOT / m["path"]
            included.write_text(rewrite(included, printed), encoding="utf-8")
            continue
        if id(m) in checked:
            value = printed.pop(0)
            if value is not None:
                indent = m["indent"]
                body = "".join(f"{indent}{line}\n" if line else "\n" for line in value.rstrip("\n").split("\n"))
                pieces.append(text[pos:m.start()])
                pieces.append(f"{indent}{m['fence']}{m['info']}\n{body}{indent}{m['fence']}\n")
                pos = m.end()
    pieces.append(text[pos:])
    return "".join(pieces)


def update(page: Path) -> None:
    expanded = expand_snippets(page.read_text(encoding="utf-8"), snippet_options(ROOT))
    printed = run_page(expanded, str(page))
    page.write_text(rewrite(page, printed), encoding="utf-8")
    if printed:
        raise RuntimeError(f"{page}: {len(printed)} outputs left over: the page and its includes disagree")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        update(Path(arg).resolve())
        print(f"updated {arg}")
