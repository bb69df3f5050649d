r"""MkDocs hook: include code into pages, once, the same way for the site, the page tests and the
page notebooks.

``expand_snippets`` replaces every ``--8<--`` include with the included text, using pymdownx's own
snippet preprocessor with the site's settings (``mkdocs.yml``), then takes out of every ```python
block the docstrings that hold TeX: the page renders that formula right above the code, and raw
``$$\begin{aligned}`` in a code block reads as noise (the API page still shows the docstrings).
Plain docstrings (shapes, prose) stay. The site runs this in ``on_page_markdown``; ``conftest.py``
and ``hooks/page_notebooks.py`` call the same function, so the code a reader sees is the code
that runs.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import markdown
import yaml

ROOT = Path(__file__).resolve().parent.parent
# the page grammar, shared by the site, the page tests (conftest.py) and the page notebooks: fenced blocks, which are Python,
# which hold a page's printed output, and the marks that skip a block or need a GPU
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n]*)\n(?P<body>.*?)"
    r"^(?P=indent)(?P=fence)[ \t]*$\n?",
    re.MULTILINE | re.DOTALL,
)
PYTHON = re.compile(r"^(python3?|py)(\s|$)")
OUTPUT = re.compile(r"""^text\b.*title=["']输出["']""")
MARK = re.compile(r"<!--\s*(skip|gpu):\s*next\s*-->\s*\Z")
TEX = re.compile(r"\$|\\[A-Za-z]+")


class _IgnoreTags(yaml.SafeLoader):
    """mkdocs.yml uses tags like !ENV; their values do not matter here."""


_IgnoreTags.add_multi_constructor("!", lambda loader, suffix, node: None)


def snippet_options(root: Path = ROOT) -> dict:
    """The ``pymdownx.snippets`` options of mkdocs.yml, with ``base_path`` made absolute."""
    config = yaml.load((root / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_IgnoreTags)
    for ext in config["markdown_extensions"]:
        if isinstance(ext, dict) and "pymdownx.snippets" in ext:
            options = dict(ext["pymdownx.snippets"] or {})
            options["base_path"] = [str(root / p) for p in options.get("base_path", ["."])]
            return options
    raise ValueError("mkdocs.yml has no pymdownx.snippets settings")


def dedent_block(body: str, indent: str) -> str:
    """A fenced block's body without the fence's indent (one grammar for this hook and the page tests)."""
    return "\n".join(line[len(indent):] if line.startswith(indent) else line.lstrip()
                     for line in body.split("\n"))


def tex_docstring_lines(code: str) -> list[tuple[int, int]]:
    """(first, last) line numbers (1-based) of each docstring in ``code`` that holds TeX, of the
    module, a class or a function; none where the code does not parse or the docstring is all the
    body holds."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    spans = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = node.body
        if (len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str) and TEX.search(body[0].value.value)):
            spans.append((body[0].lineno, body[0].end_lineno))
    return spans


def strip_tex_docstrings(code: str) -> str:
    """``code`` without its TeX docstrings (see :func:`tex_docstring_lines`)."""
    drop = {n for first, last in tex_docstring_lines(code) for n in range(first, last + 1)}
    return "".join(line for n, line in enumerate(code.splitlines(keepends=True), start=1) if n not in drop)


def _strip_in_fences(text: str) -> str:
    def fix(m):
        if not PYTHON.match(m["info"].strip()):
            return m.group(0)
        indent = m["indent"]
        lines = m["body"].split("\n")
        code = "\n".join(line[len(indent):] if line.startswith(indent) else line.lstrip() for line in lines)
        stripped = strip_tex_docstrings(code)
        if stripped == code:
            return m.group(0)
        body = "".join(f"{indent}{line}\n" if line.strip() else "\n" for line in stripped.rstrip("\n").split("\n"))
        return f"{indent}{m['fence']}{m['info']}\n{body}{indent}{m['fence']}\n"
    return FENCE.sub(fix, text)


def expand_snippets(text: str, options: dict) -> str:
    """The page with every ``--8<--`` include replaced by the included text, as the site does it,
    and the TeX docstrings taken out of its Python blocks."""
    md = markdown.Markdown(extensions=["pymdownx.snippets"], extension_configs={"pymdownx.snippets": options})
    return _strip_in_fences("\n".join(md.preprocessors["snippet"].run(text.split("\n"))))


# --- MkDocs event ---------------------------------------------------------------------------

_options = None


def on_config(config):
    global _options
    _options = snippet_options(Path(config["config_file_path"]).resolve().parent)
    return config


def on_page_markdown(markdown_text, page, config, files):
    if page.file.src_uri.endswith(".md"):
        return expand_snippets(markdown_text, _options or snippet_options())
    return markdown_text
