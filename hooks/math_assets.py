"""MkDocs hook: copy KaTeX from node_modules (installed by `npm ci`) into the site.

KaTeX is never committed and never fetched from a CDN: the reader's browser loads it
from the site itself, so pages render math offline.
"""
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

KATEX = Path(__file__).resolve().parent.parent / "node_modules" / "katex" / "dist"
KEEP = {"katex.min.js", "katex.min.css", "contrib/auto-render.min.js"}


def on_files(files, config):
    if not (KATEX / "katex.min.js").is_file():
        raise PluginError(f"KaTeX not found in {KATEX}: run `npm ci` first")
    for path in sorted(KATEX.rglob("*")):
        rel = path.relative_to(KATEX).as_posix()
        if path.is_file() and (rel in KEEP or (rel.startswith("fonts/") and rel.endswith(".woff2"))):
            files.append(File.generated(config, f"assets/katex/{rel}", abs_src_path=str(path)))
    return files
