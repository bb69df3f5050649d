r"""MkDocs hook: a search index of readable words, and queries cut into the same words.

Material's search plugin (``lang: zh``) cuts the pages' Chinese text into words with jieba
(``search_words.txt`` beside this file adds the site's terms to jieba's dictionary, so that
过拟合 or 遗忘门 stay one word). Two things are fixed here:

- **No TeX in the index.** Every formula (arithmatex's ``<span>``/``<div>``, and the
  ``$...$`` left as text where arithmatex does not look: notebooks' Markdown cells, a
  formula inside a list item) and every code block (whose docstrings hold TeX) is marked
  ``data-search-exclude``, so previews show prose instead of ``\(\frac{...}\)``; the search
  plugin removes the mark from the page it writes. Inline ``code`` stays searchable.
- **Queries cut like the pages.** The search worker cuts a Chinese query greedily into the
  longest words found in the index, but its loop stops one character short
  (``j < query.length``): the whole of 过拟合 is never tried, and the query becomes
  过* 拟* (any word starting with 过). The worker shipped with the site gets the bound
  ``j <= query.length``; if Material's worker no longer has that loop the build fails, so a
  changed theme cannot silently bring the bug back.
"""
import logging
import re

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

WORKER = re.compile(r"assets/javascripts/workers/search\.[0-9a-f]+\.min\.js")
# the query segmenter's inner loop in Material 9.x's minified worker
SHORT = re.compile(r"for\(let (\w)=(\w)\+1;\1<(\w)\.length;\1\+\+\)\3\.slice\(\2,\1\)in ")
# formulas arithmatex wrapped, and code blocks
EXCLUDE = re.compile(r'<(?:span|div) class="arithmatex"|<pre(?=[ >])')
# $$...$$ or $...$ within one run of text (never across a tag)
TEXT_MATH = re.compile(r"(?<![\\$])(\$\$[^$<]+?\$\$|\$[^$\n<>]+\$)")


# jieba announces loading its dictionary on every build (four lines on stderr): nothing a user acts on
logging.getLogger("jieba").setLevel(logging.WARNING)


def on_files(files, config):
    worker = next((f for f in files if WORKER.fullmatch(f.src_uri)), None)
    if worker is None:
        raise PluginError("search hook: Material's search worker not found")
    source = worker.content_string
    fixed, n = SHORT.subn(lambda m: m.group(0).replace("<", "<=", 1), source)
    if n != 1:
        raise PluginError(f"search hook: the query segmenter's loop in {worker.src_uri} "
                          "changed; check the Chinese search fix")
    files.remove(worker)
    files.append(File.generated(config, worker.src_uri, content=fixed))
    return files


def exclude_math(html: str) -> str:
    """Mark every formula and code block of a page's HTML ``data-search-exclude``."""
    html = EXCLUDE.sub(r'\g<0> data-search-exclude="tex"', html)
    return TEXT_MATH.sub(r'<span data-search-exclude="tex">\1</span>', html)


def on_page_content(html, page, config, files):
    return exclude_math(html)
