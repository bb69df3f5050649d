r"""MkDocs hook: the printable edition's link rewriting in linear time.

mkdocs-print-site-plugin 2.9 makes every page's anchors and links unique on ``/print_page/``
by looping over the matches of a regular expression and calling ``page_html.replace(match,
new)`` on the whole page for each one: time grows with (links × page size). On the API page
(2.5 MB, thousands of ids and links) that took ~18 s of a ~45 s build. The two functions below
compute the same replacement for each match and substitute in one pass (``re.sub`` with a
function). ``tests/test_print.py`` checks that they give the plugin's own output on every built
page, so a changed plugin cannot drift apart unnoticed; the hook fails the build if the plugin no
longer has the functions it replaces.
"""
import bisect
import html
import os
import re

from mkdocs.exceptions import PluginError
from mkdocs_print_site_plugin import urls

HREF = re.compile(r"<a\s+([^>]*?\s+)?href=\"(.*?)\"", flags=re.IGNORECASE)  # the plugin's own
ANCHOR = re.compile(r"<([^\s]+).*?id=\"([^\"]*?)\".*?>", flags=re.IGNORECASE)  # the plugin's own
ANCHOR_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "sup", "li"}
ORIGINAL = {"fix_href_links": urls.fix_href_links, "update_anchor_ids": urls.update_anchor_ids}


def _target(url, page_key, page_url, directory_urls):
    """Where a link on the print page points: the plugin's rules, one link at a time."""
    url = html.unescape(url)
    if urls.is_external(url):
        return None
    if urls.is_attachment(url):
        url = urls.get_url_from_root(url, page_url)
        if directory_urls:
            url = os.path.join("..", url)
        return url.replace(os.sep, "/") if os.sep != "/" else url
    if url.startswith("#"):
        return "#" + page_key + "-" + url[1:]
    page, _, anchor = urls.get_url_from_root(url, page_url).partition("#")
    return "#" + urls.get_page_key(page) + ("-" + anchor if anchor else "")


def fix_href_links(page_html, page_key, page_url, directory_urls=False):
    """Internal ``href``s become anchors within the print page (as the plugin's function)."""
    def rewrite(m):
        url = _target(m.group(2), page_key, page_url, directory_urls)
        if url is None:
            return m.group()
        other = m.group(1)
        return f'<a href="{url}"' if other is None else f'<a {other.rstrip()} href="{url}"'
    return HREF.sub(rewrite, page_html)


ID = re.compile(r'id="', flags=re.IGNORECASE)
NEWLINE = re.compile("\n")


def anchor_matches(page_html):
    r"""``ANCHOR.finditer(page_html)``, without its quadratic cost.

    ``ANCHOR`` tries every ``<`` and, where no ``id="`` follows on the same line, scans to the
    line's end once per backtracking step (a highlighted code line: ~100 tags, 1.5 kB). Neither
    ``[^\s]+`` nor ``.*?`` crosses a newline, so a match that starts at ``<`` at ``p`` needs an
    ``id="`` starting at ``p + 2`` or later on the same line: only such ``<`` are tried.
    """
    ids = [m.start() for m in ID.finditer(page_html)]
    newlines = [m.start() for m in NEWLINE.finditer(page_html)]
    pos, n = 0, len(page_html)
    while (p := page_html.find("<", pos)) >= 0:
        i = bisect.bisect_left(ids, p + 2)
        line_end = newlines[j] if (j := bisect.bisect_left(newlines, p)) < len(newlines) else n
        if i == len(ids):
            return                      # no id=" after p at all
        if ids[i] >= line_end:          # none on this line: skip to the next line
            pos = line_end + 1
            continue
        m = ANCHOR.match(page_html, p)
        if m:
            yield m
            pos = m.end()
        else:
            pos = p + 1


def update_anchor_ids(page_html, page_key):
    """Heading, footnote and list ``id``s get the page's key in front (as the plugin's function)."""
    pieces, last = [], 0
    for m in anchor_matches(page_html):
        if m.group(1) in ANCHOR_TAGS:
            pieces += [page_html[last:m.start()], m.group().replace(m.group(2), page_key + "-" + m.group(2))]
            last = m.end()
    return "".join(pieces) + page_html[last:]


def on_startup(command, dirty):
    missing = [name for name in ORIGINAL if not callable(getattr(urls, name, None))]
    if missing:
        raise PluginError(f"print_page hook: mkdocs_print_site_plugin.urls has no {missing}; "
                          "check hooks/print_page.py against the plugin's new version")
    urls.fix_href_links = fix_href_links
    urls.update_anchor_ids = update_anchor_ids
