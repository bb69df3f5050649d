r"""MkDocs hook: interactive figures whose every number nnref computed when the site was built.

Each ``docs/interactive/<script>.py`` (a *trace script*) runs nnref's reference functions and
Modules on a small input for every setting a reader can select, and saves one
``<figure>.json`` (the trace) and one ``<figure>.svg`` (its first step, for readers without
JavaScript) per figure into ``$NNREF_FIGURE_DIR``; ``docs/interactive/_*.py`` are their shared
helpers. A page places a figure with one line of HTML, where its text first needs it::

    <div class="nnref-interactive" data-figure="conv"></div>

and this hook fills that line, in the written page, with the static SVG and the trace inlined
as the attribute ``data-trace``: no request, so the site also works from disk (and not a
``<script type="application/json">``, which Material's instant navigation would re-create and
run as JavaScript). The browser (``docs/javascripts/interactive*.js``) only draws and steps
through the trace; it computes no number. A figure name that no script wrote fails the build.

Traces are cached like the figures (``hooks/figures.py``, whose key and runner are reused):
``.cache/interactive/<script>-<key>/``, ``key`` hashing the script, every file under
``nnref/``, the figures' helpers and the helpers here, so a change in the library re-traces; a
script that runs a notebook (``NOTEBOOKS``: the attention figure runs the tiny GPT notebook) also
keys on that notebook's own cache key (``hooks/notebooks.py``: its code, and the notes quoted in
the pages that it trains on), so the trace and the notebook's run are redone together.
The traces are put into the pages in ``on_post_page``, after the search plugin has read the
pages' content: no trace lands in the search index.
"""
import hashlib
import html
import json
import re
import shutil
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File
from mkdocs.utils import get_relative_url
from threadpoolctl import threadpool_limits

try:       # the tests import the hooks as a package ...
    from hooks.figures import cache_dir, library_digest, render
    from hooks.notebooks import cache_key
except ModuleNotFoundError:  # ... MkDocs loads each hook alone, with hooks/ on sys.path
    from figures import cache_dir, library_digest, render
    from notebooks import cache_key

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "docs" / "interactive"
CACHE = ROOT / ".cache" / "interactive"
PLACEHOLDER = re.compile(r'<div class="nnref-interactive" data-figure="(?P<name>[\w-]+)">\s*</div>')

_traced = {}    # figure name -> (its trace as JSON text, its alt text)

# the notebook a trace script runs, whose inputs are then the trace's inputs too
NOTEBOOKS = {"attention": ROOT / "docs" / "notebooks" / "tiny_gpt.py"}


def key_digest() -> bytes:
    """``figures.library_digest()`` (nnref/ and the figures' helpers) plus the trace scripts' helpers."""
    h = hashlib.sha256(library_digest())
    for path in sorted(SCRIPTS.glob("_*.py")):
        h.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.digest()


def data_digest(script: Path, digest: bytes) -> bytes:
    """``digest`` plus the cache key of the notebook the script runs (``NOTEBOOKS``); ``digest``
    itself for the others."""
    if script.stem not in NOTEBOOKS:
        return digest
    return hashlib.sha256(digest + cache_key(NOTEBOOKS[script.stem]).encode()).digest()


def traced(script: Path, digest: bytes) -> Path:
    """The folder holding the script's traces for this code (and data); traced only when not cached."""
    out = CACHE / cache_dir(script, data_digest(script, digest)).name            # <stem>-<key>
    if not out.is_dir():
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        # one BLAS thread: OpenBLAS sums in another order with another thread count, and a trace's
        # numbers (the tiny GPT's 300 training steps) must not depend on the build machine's cores
        with threadpool_limits(limits=1, user_api="blas"):
            render(script, tmp)
        if not any(tmp.glob("*.json")):
            raise PluginError(f"trace script {script.name} wrote no trace into $NNREF_FIGURE_DIR")
        tmp.rename(out)  # complete or absent, never half written
    for old in CACHE.glob(f"{script.stem}-*"):               # one version per script
        if old != out and old.name.rsplit("-", 1)[0] == script.stem:
            shutil.rmtree(old, ignore_errors=True)
    return out


def written() -> dict:
    """Every interactive figure: name -> (its trace, its static first step), files in the cache;
    a script runs only where its traces are not cached. The page notebooks embed the SVGs too."""
    digest = key_digest()
    figures = {}
    for script in sorted(SCRIPTS.glob("[!_]*.py")):
        out = traced(script, digest)
        for trace in sorted(out.glob("*.json")):
            if trace.stem in figures:
                raise PluginError(f"interactive figure {trace.stem!r} is written by two trace scripts")
            svg = out / f"{trace.stem}.svg"
            if not svg.is_file():
                raise PluginError(f"trace script {script.name} wrote {trace.name} but no {svg.name}")
            figures[trace.stem] = (trace, svg)
    return figures


def on_files(files, config):
    for f in list(files):       # the scripts and their helpers are code, not pages or assets
        if f.src_uri.startswith("interactive/"):
            files.remove(f)
    _traced.clear()
    for name, (trace, svg) in written().items():
        text = trace.read_text(encoding="utf-8")
        _traced[name] = (text, json.loads(text).get("alt", name))
        files.append(File.generated(config, f"interactive/{svg.name}", abs_src_path=str(svg)))
    return files


def figure_html(name: str, page_url: str) -> str:
    """The filled placeholder: the static first step, and the trace the script wrote."""
    if name not in _traced:
        raise PluginError(f"page {page_url!r} asks for interactive figure {name!r}, which no script in "
                          f"docs/interactive/ writes (known: {sorted(_traced)})")
    text, alt = _traced[name]
    alt = html.escape(alt, quote=True)
    src = get_relative_url(f"interactive/{name}.svg", page_url)
    return (f'<div class="nnref-interactive" data-figure="{name}" data-trace="{html.escape(text, quote=True)}">'
            f'<figure class="nnref-static"><img src="{src}" alt="{alt}" loading="lazy">'
            f'<figcaption>{alt}（静态图：第一步。启用 JavaScript 后可以逐步操作。）</figcaption></figure></div>')


def on_post_page(output, page, config):
    return PLACEHOLDER.sub(lambda m: figure_html(m["name"], page.url), output)


@event_priority(-100)   # last: the printable edition (print-site) is written in its on_post_build
def on_post_build(config):
    """Fill the placeholders in pages that no ``on_post_page`` saw (the printable edition)."""
    site = Path(config["site_dir"])
    for path in site.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        if PLACEHOLDER.search(text):
            url = path.relative_to(site).as_posix()       # the file: right with and without directory URLs
            path.write_text(PLACEHOLDER.sub(lambda m: figure_html(m["name"], url), text), encoding="utf-8")
