r"""MkDocs hook: every concept page also as a Jupyter notebook, built from the page itself.

For each page under the chapters in ``CHAPTERS`` the hook writes ``<page>.ipynb`` next to it in the
site and adds a link "下载本页为 Jupyter 笔记本" under the page's title. The notebook is the page with
its snippet includes expanded exactly as the site expands them (so the reference code and the
exercises are in it, with no ``--8<--`` markers left): prose becomes Markdown cells (formulas
intact, admonitions turned into bold titles), every ```python block that the tests run becomes a
code cell in order, and the ```text title="输出" block after it becomes that cell's saved output.
Blocks marked ``<!-- skip: next -->`` or ``<!-- gpu: next -->`` stay as Markdown code. A first code
cell says how to install nnref and seeds it as the page's tests do, so the outputs match; it
also turns on ``from __future__ import annotations`` (IPython keeps it for later cells), as in
nnref's modules and the page tests, so an included section's annotations are not evaluated.

``tests/test_page_notebooks.py`` executes every notebook and compares each cell's stdout with
the page's 输出 block.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

try:       # the tests and tools import the hooks as a package ...
    from hooks.snippets import FENCE, MARK, OUTPUT, PYTHON, dedent_block, expand_snippets, snippet_options
except ModuleNotFoundError:  # ... MkDocs loads each hook alone, with hooks/ on sys.path
    from snippets import FENCE, MARK, OUTPUT, PYTHON, dedent_block, expand_snippets, snippet_options

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ("prerequisites/", "neural-network/", "cnn/", "rnn/", "lstm/")
LINK_TEXT = "下载本页为 Jupyter 笔记本"

BLOCK_HEADER = re.compile(r"""^(?P<indent> *)(?:!!!|\?\?\?\+?|===)\s*(?P<kind>[\w-]*)\s*(?:"(?P<title>[^"]*)")?\s*$""")

SETUP = """\
from __future__ import annotations  # 同 nnref 的源文件（和页面的测试）：类型注解不在定义时求值
# 先安装 nnref：在 nnref 仓库的根目录运行一次（对照 PyTorch 的练习还需要 ".[parity]"）
# %pip install -e .
import nnref
nnref.manual_seed(0)  # 与网页上的输出一致"""


def flatten_blocks(text: str) -> str:
    r"""Turn admonitions and tabs (``!!! kind "title"``, ``??? kind "title"``, ``=== "title"``) into a
    bold title line and un-indent their bodies, which Jupyter would otherwise show as code."""
    out, stack = [], []  # stack: the indentation of each open block's body
    for line in text.split("\n"):
        if line.strip():
            indent = len(line) - len(line.lstrip(" "))
            while stack and indent < stack[-1]:
                stack.pop()
        shift = stack[-1] if stack else 0
        header = BLOCK_HEADER.match(line)
        if header:
            title = header["title"] if header["title"] is not None else header["kind"].capitalize()
            out += [f"{' ' * (len(header['indent']) - shift)}**{title}**" if title else "", ""]
            stack.append(len(header["indent"]) + 4)
            continue
        out.append(line[shift:] if line[:shift].strip() == "" else line.lstrip(" "))
    return "\n".join(out)


def page_cells(text: str) -> list:
    """Cells of one expanded page: Markdown prose, and a code cell (with its saved 输出) per python block."""
    cells, prose, pos = [], [], 0
    blocks = list(FENCE.finditer(text))
    for i, block in enumerate(blocks):
        if block.start() < pos:
            continue
        info = block["info"].strip()
        before = text[:block.start()].rstrip()
        mark = MARK.search(before)
        if not PYTHON.match(info) or mark:
            continue
        prose.append(text[pos:block.start()])
        cells.append(nbformat.v4.new_markdown_cell("".join(prose).strip("\n")))
        prose = []
        cell = nbformat.v4.new_code_cell(dedent_block(block["body"], block["indent"]).rstrip("\n"))
        pos = block.end()
        if i + 1 < len(blocks):
            nxt = blocks[i + 1]
            if OUTPUT.match(nxt["info"].strip()) and not text[block.end():nxt.start()].strip():
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                                       text=dedent_block(nxt["body"], nxt["indent"]))]
                pos = nxt.end()
        cells.append(cell)
    prose.append(text[pos:])
    cells.append(nbformat.v4.new_markdown_cell("".join(prose).strip("\n")))
    return [c for c in cells if c.cell_type == "code" or c.source.strip()]


def page_notebook(path: Path, options: dict | None = None) -> nbformat.NotebookNode:
    """The notebook of the page at ``path`` (a Markdown file under docs/)."""
    text = expand_snippets(Path(path).read_text(encoding="utf-8"), options or snippet_options())
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(
                    "本笔记本由 nnref 网站的同名页面生成：正文、参考实现和练习都在这里，代码单元按页面上的顺序运行，"
                    "保存的输出就是网页上的\u201c输出\u201d。运行前先安装 nnref（见下一个单元）。"),
                nbformat.v4.new_code_cell(SETUP)] + page_cells(flatten_blocks(text))
    return nb


def is_concept_page(src_uri: str) -> bool:
    return src_uri.endswith(".md") and src_uri.startswith(CHAPTERS)


# --- MkDocs events -------------------------------------------------------------------------


def on_files(files, config):
    from mkdocs.exceptions import PluginError
    from mkdocs.structure.files import File
    options = snippet_options(Path(config["config_file_path"]).resolve().parent)
    for f in list(files):
        if is_concept_page(f.src_uri):
            try:
                nb = page_notebook(Path(f.abs_src_path), options)
            except Exception as exc:  # e.g. a snippet section that no longer exists
                raise PluginError(f"page_notebooks: cannot build the notebook of {f.src_uri}: {exc}") from exc
            files.append(File.generated(config, f.src_uri[:-3] + ".ipynb", content=nbformat.writes(nb)))
    return files


def on_page_markdown(markdown_text, page, config, files):
    if not is_concept_page(page.file.src_uri):
        return markdown_text
    name = Path(page.file.src_uri).stem + ".ipynb"
    link = f'[{LINK_TEXT}]({name}){{ download="{name}" }}'
    lines = markdown_text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("# "):
            return "\n".join(lines[:i + 1] + ["", link] + lines[i + 1:])
    return link + "\n\n" + markdown_text
