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


def _docstring_tokens(path):
    """(line, token text) of every docstring in ``path``: module, class and function docstrings."""
    import ast
    import io
    import tokenize
    source = path.read_text(encoding="utf-8")
    starts = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                starts.add(first.lineno)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.STRING and tok.start[0] in starts:
            yield tok.start[0], tok.string


def test_docstrings_with_backslashes_are_raw():
    """TeX in a docstring reads as written (``\\frac``, not ``\\\\frac``) only in a raw string."""
    bad = []
    for p in sorted((ROOT / "nnref").rglob("*.py")):
        for line, text in _docstring_tokens(p):
            prefix = text[:text.index(text.lstrip("rRbBuUfF")[0])]
            body = text[len(prefix):]
            if "\\" in body and "r" not in prefix.lower():
                bad.append(f"{p.relative_to(ROOT)}:{line} (not raw)")
            if body.rstrip('"\'').endswith(("r", "\\\\")) and body.endswith('r"""'):
                bad.append(f"{p.relative_to(ROOT)}:{line} (ends in r: a mangled closing quote?)")
    assert not bad, f"docstrings with backslashes must be raw strings r'''...''' with single backslashes: {bad}"
