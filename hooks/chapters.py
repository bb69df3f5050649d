r"""MkDocs hook: the home page's chapter list, generated from ``nav`` so that it cannot drift.

``docs/index.md`` holds the line ``<!-- chapters -->``; this hook replaces it with one card per
top-level entry of mkdocs.yml's ``nav`` (the home page itself left out): a chapter becomes a card
titled with the chapter's name and listing its pages in nav order, a page on its own becomes a
card holding a link to it. An entry without a title (``- api/index.md``) takes its chapter's name.
Material's ``grid cards`` lay the cards out in columns on a wide screen and one under another on
a phone. ``tests/test_reader.py`` reads the rendered list in Chromium and compares it with the nav.
"""
from __future__ import annotations

try:       # the tests import the hooks as a package ...
    from hooks.site_nav import nav_entries
except ModuleNotFoundError:  # ... MkDocs loads each hook alone, with hooks/ on sys.path
    from site_nav import nav_entries

MARKER = "<!-- chapters -->"
HOME = "index.md"


def entries(items, section_title=None):
    """``[(title, path)]`` of the pages under ``items`` (a nav list), in order, sections flattened;
    an untitled entry takes its section's title."""
    return [(title or section_title, path) for title, path in nav_entries(items, section_title)]


def chapters(nav) -> list[tuple[str, str | None, list[tuple[str, str]]]]:
    """``[(chapter title, chapter's own page or None, [(page title, path)])]`` from a nav list.

    A section is a chapter with its pages; a single page at the top is a chapter of its own
    (``pages`` empty, ``path`` set). The home page is left out."""
    out = []
    for item in nav:
        if isinstance(item, str):
            if item != HOME:
                out.append((item, item, []))
            continue
        (title, value), = item.items()
        if isinstance(value, list):
            pages = entries(value, title)
            if len(pages) == 1 and pages[0][0] == title:   # a chapter that is one page (API)
                out.append((title, pages[0][1], []))
            else:
                out.append((title, None, pages))
        elif value != HOME:
            out.append((title, value, []))
    return out


def chapter_list(nav) -> str:
    """The Markdown of the cards (Material's ``grid cards``) for the home page."""
    lines = ['<div class="grid cards nnref-chapters" markdown>', ""]
    for title, path, pages in chapters(nav):
        if path is not None:
            lines += [f"-   [**{title}**]({path})", ""]
            continue
        lines += [f"-   **{title}**", "", "    ---", ""]
        lines += [f"    - [{page}]({target})" for page, target in pages]
        lines.append("")
    lines.append("</div>")
    return "\n".join(lines)


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri != HOME:
        return markdown
    if MARKER not in markdown:
        from mkdocs.exceptions import PluginError
        raise PluginError(f"chapters hook: {HOME} has no {MARKER} line for the chapter list")
    return markdown.replace(MARKER, chapter_list(config["nav"]), 1)
