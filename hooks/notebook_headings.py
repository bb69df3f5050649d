r"""MkDocs hook: the notebook pages' headings get the ids their table of contents links to.

mkdocs-jupyter builds a notebook page's table of contents with Python-Markdown's ``toc`` (a
Chinese heading becomes ``_1``, ``_2``, ...), but the HTML comes from nbconvert, whose ids for the
same headings are empty (``<h2 id="">数据``): every entry of the table of contents, and of the
printable edition's, led nowhere. This hook gives each heading of a notebook page the id of the
table-of-contents entry with the same title, in order, and points its ``¶`` link there.
"""
from __future__ import annotations

import html as html_lib
import re

from mkdocs.plugins import event_priority

HEADING = re.compile(r'<h(?P<level>[1-6])(?P<before>[^>]*?) id="(?P<id>[^"]*)"(?P<after>[^>]*)>(?P<body>.*?)</h(?P=level)>',
                     re.S)
ANCHOR_LINK = re.compile(r'(<a class="anchor-link" href=")#[^"]*(")')
TAG = re.compile(r"<[^>]+>")


def is_notebook(page) -> bool:
    return page.file.src_uri.startswith("notebooks/") and not page.file.src_uri.endswith(".md")


def flatten(toc):
    for item in toc:
        yield item
        yield from flatten(item.children)


def title_of(body: str) -> str:
    return html_lib.unescape(TAG.sub("", ANCHOR_LINK.sub(r"\1\2", body))).replace("¶", "").strip()


def fix_ids(page_html: str, entries: list[tuple[str, str]]) -> str:
    """``page_html`` whose headings carry the ids of ``entries`` ``[(title, id)]``, matched in order by title."""
    pending = list(entries)

    def fix(m):
        title = title_of(m["body"])
        for i, (entry_title, entry_id) in enumerate(pending):
            if entry_title == title:
                del pending[:i + 1]
                body = ANCHOR_LINK.sub(lambda a: f"{a[1]}#{entry_id}{a[2]}", m["body"])
                return f'<h{m["level"]}{m["before"]} id="{entry_id}"{m["after"]}>{body}</h{m["level"]}>'
        return m.group(0)
    return HEADING.sub(fix, page_html)


@event_priority(50)   # before the plugins: the printable edition copies the page's HTML in its on_page_content
def on_page_content(html, page, config, files):
    if not is_notebook(page) or page.toc is None:
        return html
    entries = [(html_lib.unescape(TAG.sub("", item.title)).strip(), item.id) for item in flatten(page.toc)]
    return fix_ids(html, entries)
