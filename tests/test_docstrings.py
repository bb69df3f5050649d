"""Docstring maths renders on the API page only as blocks: ``$$`` alone on its line.

mkdocstrings passes docstrings through Markdown, where ``$$a$$ text`` or two formulas on
adjacent lines come out as raw TeX; the browser test catches that on the built page, this
test names the line.
"""
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_display_math_sits_on_its_own_lines():
    bad = [f"{p.relative_to(ROOT)}:{i}" for p in sorted((ROOT / "nnref").rglob("*.py"))
           for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
           if "$$" in line and line.strip() != "$$"]
    assert not bad, f"put $$ on a line of its own: {bad}"
