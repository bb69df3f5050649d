"""Every 输出 block on the site is checked: it directly follows a ```python block that the page
tests run (an output block anywhere else would be shown to readers and compared with nothing)."""
from pathlib import Path

import pytest

from hooks.snippets import FENCE, MARK, OUTPUT, PYTHON, expand_snippets, snippet_options

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(p for p in (ROOT / "docs").rglob("*.md") if "exercises" not in p.parts)


def orphan_outputs(text: str) -> list[int]:
    """Line numbers of the 输出 blocks of ``text`` that no run python block directly precedes."""
    fences = list(FENCE.finditer(text))
    orphans = []
    for i, block in enumerate(fences):
        if not OUTPUT.match(block["info"].strip()):
            continue
        before = fences[i - 1] if i else None
        ok = (before is not None and PYTHON.match(before["info"].strip())
              and not text[before.end():block.start()].strip()
              and not (MARK.search(text[:before.start()].rstrip()) or [None, None])[1] == "skip")
        if not ok:
            orphans.append(text[:block.start()].count("\n") + 1)
    return orphans


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT / "docs").as_posix() for p in PAGES])
def test_every_output_block_is_checked(page):
    text = expand_snippets(page.read_text(encoding="utf-8"), snippet_options(ROOT))
    assert not orphan_outputs(text), f"输出 blocks that follow no run python block, at expanded lines {orphan_outputs(text)}"


def test_an_orphan_output_is_found():
    page = '```python\nprint(1)\n```\n\ntext between\n\n```text title="输出"\n1\n```\n'
    assert orphan_outputs(page) == [7]
    assert orphan_outputs(page.replace("\ntext between\n", "")) == []
    assert orphan_outputs("<!-- skip: next -->\n" + page.replace("\ntext between\n", "")) == [6]


def test_code_on_pages_carries_no_tex_docstring():
    """The included reference code shows no raw-TeX docstring (the formula is rendered above it);
    plain docstrings stay, and code that does not parse is left alone."""
    from hooks.snippets import strip_tex_docstrings, tex_docstring_lines
    code = ('def f(x):\n    r"""Affine map:\n\n    $$\n    y = x W^\\top\n    $$\n    """\n    return x\n\n\n'
            'def g(x):\n    """Shapes: x (N, D)."""\n    return x\n\n\nclass C:\n    r"""Only a docstring: \\alpha"""\n')
    assert tex_docstring_lines(code) == [(2, 7)]
    assert strip_tex_docstrings(code).startswith('def f(x):\n    return x\n')
    assert '"""Shapes: x (N, D)."""' in strip_tex_docstrings(code)
    assert strip_tex_docstrings("def broken(:\n    '''$x$'''\n") == "def broken(:\n    '''$x$'''\n"
    for page in PAGES:
        text = expand_snippets(page.read_text(encoding="utf-8"), snippet_options(ROOT))
        for block in FENCE.finditer(text):
            if PYTHON.match(block["info"].strip()):
                assert not tex_docstring_lines(block["body"]), f"{page.name}: a TeX docstring in\n{block['body'][:300]}"
