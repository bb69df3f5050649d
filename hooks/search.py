r"""MkDocs hook: a search index of readable text, and queries cut into the same words.

Material's search plugin (``lang: zh``) cuts the pages' Chinese text into words with jieba
(``search_words.txt`` beside this file adds the site's terms to jieba's dictionary, so that
过拟合 or 遗忘门 stay one word). Two things are fixed here:

- **Formulas as readable text.** The index gets every formula (arithmatex's ``<span>``/``<div>``,
  and the ``$...$`` left as text where arithmatex does not look: notebooks' Markdown cells, a
  formula inside a list item) as plain text (``hooks/tex_text.py``: ``\frac{\partial L}{\partial W}``
  becomes ``∂L/∂W``), so a preview reads "前向算出损失 L，反向算出 L 对每个参数的梯度" instead of
  showing TeX or a hole where the formula was. Only the index sees that text: just before the
  search plugin reads a page (``on_page_context``, priority 100) the page's HTML is swapped for the
  searchable version, and right after (priority -100) it is swapped back, so the page keeps its
  formulas. Code blocks (whose docstrings hold TeX) stay out of the index, and so does the hidden
  copy of a notebook cell's code (``data-search-exclude``); inline ``code`` stays searchable. Line
  breaks of the Markdown source between two Chinese characters are joined.
- **Queries cut like the pages.** The search worker cuts a Chinese query greedily into the
  longest words found in the index, but its loop stops one character short
  (``j < query.length``): the whole of 过拟合 is never tried, and the query becomes
  过* 拟* (any word starting with 过). The worker shipped with the site gets the bound
  ``j <= query.length``; if Material's worker no longer has that loop the build fails, so a
  changed theme cannot silently bring the bug back.
"""
import html
import logging
import re

from mkdocs.exceptions import PluginError
from mkdocs.plugins import CombinedEvent, event_priority
from mkdocs.structure.files import File

try:       # the tests import the hooks as a package; MkDocs loads each hook alone, with hooks/ on sys.path
    from hooks.tex_text import tex_to_text
except ModuleNotFoundError:
    from tex_text import tex_to_text

WORKER = re.compile(r"assets/javascripts/workers/search\.[0-9a-f]+\.min\.js")
# the query segmenter's inner loop in Material 9.x's minified worker
SHORT = re.compile(r"for\(let (\w)=(\w)\+1;\1<(\w)\.length;\1\+\+\)\3\.slice\(\2,\1\)in ")
# formulas arithmatex wrapped (inline and display), and code blocks
ARITHMATEX = re.compile(r'<(span|div) class="arithmatex">(.*?)</\1>', re.S)
PRE = re.compile(r"<pre(?=[ >])")
COPY_TEXT = re.compile(r'<div class="clipboard-copy-txt"')      # a notebook cell's code again, hidden
# a line break of the Markdown source, with the next line's indent: between two Chinese characters
# it is no space at all (the search plugin would index it as one, a hole in the preview)
CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
CJK_BREAK = re.compile(f"(?<=[{CJK}])\n[ \t]*(?=[{CJK}])")
BREAK = re.compile(r"\n[ \t]+|[ \t]{2,}")     # as the browser shows text outside <pre>: one space
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


def searchable(page_html: str) -> str:
    """The page's HTML as the search index should read it: formulas as text, code blocks excluded,
    the source's line breaks inside Chinese text joined."""
    def formula(m):
        return f"<{m[1]}>{html.escape(tex_to_text(html.unescape(m[2])), quote=False)}</{m[1]}>"
    page_html = ARITHMATEX.sub(formula, page_html)
    page_html = PRE.sub('<pre data-search-exclude="code"', page_html)
    page_html = COPY_TEXT.sub(r'\g<0> data-search-exclude="code"', page_html)
    page_html = TEXT_MATH.sub(lambda m: html.escape(tex_to_text(html.unescape(m[1])), quote=False), page_html)
    return BREAK.sub(lambda m: "\n" if m[0].startswith("\n") else " ", CJK_BREAK.sub("", page_html))


@event_priority(100)       # before the search plugin indexes the page ...
def _index_searchable(context, page, config, nav):
    page.nnref_html = page.content
    page.content = searchable(page.content)


@event_priority(-100)      # ... and after it: the reader gets the page with its formulas
def _restore(context, page, config, nav):
    page.content = page.nnref_html


on_page_context = CombinedEvent(_index_searchable, _restore)
