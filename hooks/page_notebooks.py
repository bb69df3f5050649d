r"""MkDocs hook: every concept page also as a Jupyter notebook, built from the page itself.

For each page of a concept chapter (``CHAPTERS``: mkdocs.yml's nav read by ``hooks/site_nav.py``)
the hook writes ``<page>.ipynb`` next to it in the site and adds a link "下载本页为 Jupyter 笔记本"
under the page's title, with a link to the page that explains running it (``install.md``). The
notebook is the page with its snippet includes expanded exactly as the site expands them (so the
reference code and the exercises are in it, with no ``--8<--`` markers left): prose becomes
Markdown cells (formulas intact, admonitions turned into bold titles), every ```python block that
the tests run becomes a code cell in order, and the ```text title="输出" block after it becomes
that cell's saved output. Blocks marked ``<!-- skip: next -->`` or ``<!-- gpu: next -->`` stay as
Markdown code.

A downloaded notebook stands alone, away from the site:

- its figures are embedded: the site's own PNG files as cell attachments, its SVG files as
  ``data:`` URIs (JupyterLab shows only bitmap attachments); an interactive figure's placeholder
  becomes the figure's static first step (``hooks/interactive.py``'s SVG, with its alt text);
- its links to other pages point at the site's public address (``site_url``, set from the
  environment in mkdocs.yml), or become plain text where none is configured;
- its first code cell imports nnref and, where nnref is missing, prints how to install it (the
  wheel's file name from ``hooks/downloads.py`` and the install page) instead of a traceback; it
  seeds nnref as the page's tests do, so the outputs match, and turns on
  ``from __future__ import annotations`` (IPython keeps it for later cells), as in nnref's modules
  and the page tests, so an included section's annotations are not evaluated.

``tests/test_page_notebooks.py`` executes every notebook downloaded from the built site in an empty
folder where only the site's wheel is installed, and compares each cell's stdout with the page's
输出 block.
"""
from __future__ import annotations

import base64
import json
import mimetypes
import posixpath
import re
from pathlib import Path
from typing import Callable, NamedTuple

import nbformat

try:       # the tests and tools import the hooks as a package ...
    from hooks import interactive
    from hooks.site_nav import CHAPTERS, concept_chapters
    from hooks.snippets import FENCE, MARK, OUTPUT, PYTHON, dedent_block, expand_snippets, snippet_options
except ModuleNotFoundError:  # ... MkDocs loads each hook alone, with hooks/ on sys.path
    import interactive
    from site_nav import CHAPTERS, concept_chapters
    from snippets import FENCE, MARK, OUTPUT, PYTHON, dedent_block, expand_snippets, snippet_options

ROOT = Path(__file__).resolve().parent.parent
LINK_TEXT = "下载本页为 Jupyter 笔记本"

BLOCK_HEADER = re.compile(r"""^(?P<indent> *)(?:!!!|\?\?\?\+?|===)\s*(?P<kind>[\w-]*)\s*(?:"(?P<title>[^"]*)")?\s*$""")

INSTALL_PAGE = "install.md"
INSTALL_TITLE = "在自己的电脑上运行"

# the first code cell; {wheel}, {wheel_url} and {where} are filled in per build
SETUP = """\
from __future__ import annotations  # 同 nnref 的源文件（和页面的测试）：类型注解不在定义时求值
try:
    import nnref
except ModuleNotFoundError:  # 还没有安装 nnref：说明怎样安装，而不是报错
    print("本笔记本要用 nnref，这里还没有安装。下载安装包 {wheel}{wheel_url}，运行\\n"
          "    pip install {wheel}\\n"
          "（在笔记本的单元里是 %pip install {wheel}），再重启内核、从头运行。{where}")
else:
    nnref.manual_seed(0)  # 与网页上的输出一致"""

# a Markdown link or image: [text](target "title"){ attrs } (text may hold one level of brackets)
LINK = re.compile(r"""(?P<image>!?)\[(?P<text>(?:[^\[\]]|\[[^\[\]]*\])*)\]\((?P<target>[^)\s]+)(?:\s+"[^"]*")?\)(?:\{[^}\n]*\})?""")


class Site(NamedTuple):
    """What a notebook needs to know of the site it comes from."""
    url: str | None                      # the public address, or None where none is configured
    wheel: str                           # nnref's wheel, as the site serves it
    urls: dict                           # src_uri of every file -> its URL relative to the site's root
    read: Callable[[str], bytes]         # src_uri of a file -> its content (the figures)
    interactive: dict = {}               # interactive figure -> (alt text, static first step as SVG)


def local_site(url: str | None = None, wheel: str = "nnref-<版本>-py3-none-any.whl") -> Site:
    """The site as seen from the sources, without a build: the pages, and the figures as
    ``hooks/figures.py`` draws them (from its cache)."""
    import importlib.util
    docs = ROOT / "docs"
    urls = {p.relative_to(docs).as_posix(): p.relative_to(docs).with_suffix("").as_posix() + "/"
            for p in docs.rglob("*.md")}
    spec = importlib.util.spec_from_file_location("nnref_figures_hook", ROOT / "hooks" / "figures.py")
    figures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(figures)

    def read(uri: str) -> bytes:
        if uri.startswith("figures/"):
            library = figures.library_digest()
            for script in sorted(figures.FIGURES.glob("[!_]*.py")):
                image = figures.drawn(script, library) / posixpath.basename(uri)
                if image.is_file():
                    return image.read_bytes()
        return (docs / uri).read_bytes()

    return Site(url, wheel, urls, read, interactive_figures())


def interactive_figures() -> dict:
    """Every interactive figure's alt text and static first step (SVG bytes), as the site shows them
    to readers without JavaScript (``hooks/interactive.py``; traced where not cached)."""
    figures = {}
    for name, (trace, svg) in interactive.written().items():
        figures[name] = (json.loads(trace.read_text(encoding="utf-8")).get("alt", name), svg.read_bytes())
    return figures


def static_figures(text: str, site: Site) -> str:
    """Each interactive figure's placeholder ``<div class="nnref-interactive" data-figure="…"></div>`` as
    its static first step, an SVG image (a notebook runs no JavaScript, and the div alone shows nothing)."""
    def image(m):
        if m["name"] not in site.interactive:
            raise ValueError(f"the interactive figure {m['name']!r} is written by no trace script")
        alt, svg = site.interactive[m["name"]]
        encoded = base64.b64encode(svg).decode("ascii")
        return f"![{alt}（静态图：网页上这里是可以操作的交互图，这是它的第一步）](data:image/svg+xml;base64,{encoded})"
    return interactive.PLACEHOLDER.sub(image, text)


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


def absolute(site: Site, uri: str, anchor: str = "") -> str | None:
    """The public address of the site's file ``uri`` (plus ``#anchor``), or None where there is none."""
    if site.url is None or uri not in site.urls:
        return None
    return site.url.rstrip("/") + "/" + site.urls[uri].removeprefix("./") + (f"#{anchor}" if anchor else "")


def standalone(cell, src_uri: str, site: Site) -> None:
    """Make a Markdown cell work away from the site: embed its images, make its links absolute
    (or plain text)."""
    attachments = {}

    def replace(m):
        target = m["target"]
        if re.match(r"[a-z][a-z0-9+.-]*:", target):              # http:, https:, mailto:, attachment:, data:
            return m.group(0)
        path, _, anchor = target.partition("#")
        uri = posixpath.normpath(posixpath.join(posixpath.dirname(src_uri), path)) if path else src_uri
        if m["image"]:
            name = posixpath.basename(uri)
            mime = mimetypes.guess_type(name)[0]
            if mime is None or not mime.startswith("image/"):
                raise ValueError(f"an image of unknown type: {target}")
            try:
                data = site.read(uri)
            except (OSError, KeyError, AttributeError) as exc:
                raise ValueError(f"the image {target} is not in the site") from exc
            encoded = base64.b64encode(data).decode("ascii")
            if mime == "image/svg+xml":   # JupyterLab renders only bitmap attachments: SVG goes inline
                return f"![{m['text']}](data:{mime};base64,{encoded})"
            attachments[name] = {mime: encoded}
            return f"![{m['text']}](attachment:{name})"
        address = absolute(site, uri, anchor)
        return f"[{m['text']}]({address})" if address else m["text"]

    cell.source = LINK.sub(replace, cell.source)
    if attachments:
        cell.attachments = attachments


def intro(src_uri: str, site: Site) -> str:
    page = absolute(site, src_uri)
    install = absolute(site, INSTALL_PAGE)
    return ("本笔记本由 nnref 网站的同名页面" + (f"（[网页版]({page})）" if page else "") +
            "生成：正文、参考实现和练习都在这里，代码单元按页面上的顺序运行，"
            "保存的输出就是网页上的\u201c输出\u201d。运行前先装上 nnref：" +
            (f"见[{INSTALL_TITLE}]({install})" if install else f"见网站上的\u201c{INSTALL_TITLE}\u201d一页") +
            f"，一条 `pip install {site.wheel}` 即可；下一个单元检查它是否已经装好。")


def page_notebook(path: Path, options: dict | None = None, site: Site | None = None,
                  src_uri: str | None = None) -> nbformat.NotebookNode:
    """The notebook of the page at ``path`` (a Markdown file under docs/; ``src_uri`` its path there)."""
    path = Path(path)
    site = site or local_site()
    src_uri = src_uri or path.resolve().relative_to(ROOT / "docs").as_posix()
    text = expand_snippets(path.read_text(encoding="utf-8"), options or snippet_options())
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    install = absolute(site, INSTALL_PAGE)
    where = f"详见 {install}" if install else f"详见网站上的\u201c{INSTALL_TITLE}\u201d一页。"
    wheel_url = absolute(site, f"downloads/{site.wheel}")
    setup = SETUP.format(wheel=site.wheel, wheel_url=f"（{wheel_url}）" if wheel_url else "", where=where)
    nb.cells = [nbformat.v4.new_markdown_cell(intro(src_uri, site)), nbformat.v4.new_code_cell(setup)]
    nb.cells += page_cells(flatten_blocks(static_figures(text, site)))
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            standalone(cell, src_uri, site)
    return nb


def is_concept_page(src_uri: str) -> bool:
    return src_uri.endswith(".md") and src_uri.startswith(CHAPTERS)


# --- MkDocs events -------------------------------------------------------------------------


def on_config(config):
    global CHAPTERS
    CHAPTERS = concept_chapters(config["nav"])   # the nav of the configuration being built
    return config


def on_files(files, config):
    from mkdocs.exceptions import PluginError
    from mkdocs.structure.files import File
    options = snippet_options(Path(config["config_file_path"]).resolve().parent)
    site = Site(config["site_url"] or None, config.extra["nnref"]["wheel"],   # hooks/downloads.py named it
                {f.src_uri: f.url for f in files}, lambda uri: files.get_file_from_path(uri).content_bytes,
                interactive_figures())
    for f in list(files):
        if is_concept_page(f.src_uri):
            try:
                nb = page_notebook(Path(f.abs_src_path), options, site, f.src_uri)
            except Exception as exc:  # e.g. a snippet section that no longer exists
                raise PluginError(f"page_notebooks: cannot build the notebook of {f.src_uri}: {exc}") from exc
            files.append(File.generated(config, f.src_uri[:-3] + ".ipynb", content=nbformat.writes(nb)))
    return files


def on_page_markdown(markdown_text, page, config, files):
    if not is_concept_page(page.file.src_uri):
        return markdown_text
    name = Path(page.file.src_uri).stem + ".ipynb"
    install = posixpath.relpath(INSTALL_PAGE, posixpath.dirname(page.file.src_uri))
    link = f'[{LINK_TEXT}]({name}){{ download="{name}" }}（怎样运行：[{INSTALL_TITLE}]({install})）'
    lines = markdown_text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("# "):
            return "\n".join(lines[:i + 1] + ["", link] + lines[i + 1:])
    return link + "\n\n" + markdown_text
