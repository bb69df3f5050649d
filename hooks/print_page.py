r"""MkDocs hook: the printable edition (``/print_page/``): complete, every in-page link resolving,
quick to load; and the plugin's link rewriting in linear time.

After mkdocs-print-site-plugin has written the page (``on_post_build``, run after the plugin's),
:func:`finish` makes it a printable book:

- every collapsed block (``???``: the exercises' answers, the 实现细节) is open: a printout has no
  clicks;
- the API page's collapsed source listings are left out (each function's code is on its concept
  page; expanded, they were a third of the edition), and so are the code blocks' per-line
  anchors (4,000 empty links, each with a target that the plugin never renamed);
- the notebook pages' style sheets and scripts, identical on each of the four, appear once;
- a link to an anchor that is not on the page (an autorefs reference to a class outside the
  site, such as ``typing.NamedTuple``) stops being a link;
- it opens quickly: formulas are typeset page by page as the reader nears them and all of them
  before printing (``javascripts/print-math.js`` replaces ``katex-init.js`` here), the browser lays
  out only the pages near the screen (``stylesheets/reader.css``), and the theme's features that
  a printout does not use and that cost most on one very long page (tooltips, copy buttons,
  instant loading, the table of contents following the scroll) are off on this page.

mkdocs-glightbox returns a page's HTML as a whole document (``<html><head></head><body>...``),
which the plugin copies into the edition page by page: :func:`on_page_content` unwraps the copy
(nested ``<head>``s also received the plugin's script once per page).

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
import json
import os
import re
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
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


# --- the finished edition ----------------------------------------------------------------------

DOCUMENT = re.compile(r"^\s*<html><head>(.*?)</head><body>(.*)</body></html>\s*$", re.S)
DETAILS = re.compile(r"<details(?![^>]*\sopen)(?=[\s>])")
SOURCE = re.compile(r'<details class="mkdocstrings-source"(?:\s[^>]*)?>.*?</details>', re.S)
LINE_ANCHOR = re.compile(r'<a id="__codelineno-[^"]*" name="__codelineno-[^"]*" href="[^"]*"></a>')
BLOCK = re.compile(r"<(style|script)\b[^>]*>.*?</\1>", re.S)
TARGET = re.compile(r"""\s(?:id|name)=["']([^"']*)["']""")
IN_PAGE = re.compile(r'(<a\b[^>]*?)\s+href="#([^"]*)"')
MATH_INIT = re.compile(r'<script src="(?P<base>[./]*)javascripts/katex-init\.js"></script>')
CONFIG = re.compile(r'(<script id="__config" type="application/json">)(.*?)(</script>)', re.S)
SCREEN_ONLY = {"content.tooltips", "content.code.copy", "navigation.instant", "toc.follow"}


def print_config(m) -> str:
    """Material's page configuration without the features a printout does not use."""
    config = json.loads(m[2])
    config["features"] = [f for f in config.get("features", []) if f not in SCREEN_ONLY]
    return m[1] + json.dumps(config, ensure_ascii=False) + m[3]


def unwrap(page_html: str) -> str:
    """A page's HTML without the ``<html><head></head><body>`` that mkdocs-glightbox wraps it in."""
    m = DOCUMENT.match(page_html)
    return m.group(1) + m.group(2) if m else page_html   # a notebook's leading scripts and styles landed in <head>


def finish(page_html: str) -> str:
    """The printable edition: answers open, no source listings or line anchors, each style sheet
    and script once, and no link to an anchor that is not there."""
    head, sep, body = page_html.partition('<div id="print-site-page"')
    if not sep:
        raise PluginError("print_page hook: the print page has no print-site-page element")
    body = SOURCE.sub("", body)
    body = LINE_ANCHOR.sub("", body)
    body = DETAILS.sub("<details open", body)
    seen = set()

    def once(m):
        if m.group(0) in seen:
            return ""
        seen.add(m.group(0))
        return m.group(0)
    body = BLOCK.sub(once, body)
    page_html = head + sep + body
    page_html, n = MATH_INIT.subn(lambda m: f'<script src="{m["base"]}javascripts/print-math.js"></script>', page_html)
    page_html, k = CONFIG.subn(print_config, page_html, count=1)
    if n != 1 or k != 1:
        raise PluginError("print_page hook: the print page no longer loads javascripts/katex-init.js "
                          "or has no __config: check hooks/print_page.py")
    targets = set(TARGET.findall(page_html))
    return IN_PAGE.sub(lambda m: m.group(0) if m[2] in targets else m[1], page_html)


@event_priority(-100)    # after mkdocs-glightbox, which wrapped the page, and the plugin, which copied it
def on_page_content(page_html, page, config, files):
    if hasattr(page, "html"):
        page.html = unwrap(page.html)
    return unwrap(page_html)


@event_priority(-100)    # after the plugin has written the print page
def on_post_build(config):
    path = Path(config["site_dir"]) / "print_page" / "index.html"
    if path.is_file():
        path.write_text(finish(path.read_text(encoding="utf-8")), encoding="utf-8")
