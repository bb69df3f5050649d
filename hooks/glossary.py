r"""MkDocs hook: tooltips for the site's terms (中英术语), from one glossary, the 术语表 page.

``docs/glossary.md`` is both the page a reader sees and the only source of the tooltips: each
table row ``| [批归一化](neural-network/batchnorm.md) | Batch Normalization |`` names a Chinese
term (several forms separated by 、), the page that teaches it, and its English name. On every
other Markdown page the first occurrence of a term in each section (the page's opening and each
``##`` section, so a reader who lands on a section from search or the table of contents sees it
too) becomes ``<abbr title="Batch Normalization">批归一化</abbr>``; Material's ``content.tooltips``
shows the title as a tooltip when the pointer rests on the term, or a finger taps it.

Why not Python-Markdown's ``abbr`` with ``pymdownx.snippets``' ``auto_append``: ``abbr`` matches a
term only between word boundaries (``\b``), and between two Chinese characters there is none, so
反向传播 inside a Chinese sentence would never match; and an appended glossary would also reach
the page tests and the page notebooks (``hooks/snippets.py`` expands snippets for all three).
This hook adds a tree processor to the site's Markdown only, so neither sees the glossary.
Terms are never marked inside code, formulas, links, headings or admonition titles; a longer
term wins over a shorter one inside it (数值梯度 over 梯度).
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as etree
from pathlib import Path

from markdown import Extension
from markdown.treeprocessors import Treeprocessor
from markdown.util import AtomicString

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = "glossary.md"                       # under docs/
ROW = re.compile(r"^\|\s*(?:\[(?P<linked>[^\]]+)\]\((?P<page>[^)\s]+)\)|(?P<plain>[^|\[]+?))\s*\|\s*(?P<en>[^|]+?)\s*\|\s*$")
SKIP_TAGS = {"code", "pre", "a", "abbr", "script", "style", "kbd", "summary", "h1", "h2", "h3", "h4", "h5", "h6"}
SKIP_CLASSES = {"arithmatex", "admonition-title", "headerlink", "nnref-chapters"}
SECTION = {"h1", "h2"}                          # each of these starts a new section


def read_glossary(path: Path) -> list[tuple[list[str], str, str | None]]:
    """``[(Chinese forms, English, page or None)]`` from the glossary page's tables (header rows skipped)."""
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = ROW.match(line.strip())
        if not m or m["en"] in ("English",) or set(m["en"]) <= set("-: "):
            continue
        terms = m["linked"] or m["plain"]
        entries.append(([t.strip() for t in terms.split("、") if t.strip()], m["en"], m["page"]))
    return entries


def titles(entries) -> dict[str, str]:
    """Each Chinese form with its tooltip (the English name)."""
    out = {}
    for forms, english, _ in entries:
        for form in forms:
            if form in out and out[form] != english:
                raise ValueError(f"glossary: {form!r} is both {out[form]!r} and {english!r}")
            out[form] = english
    return out


class GlossaryTreeprocessor(Treeprocessor):
    def __init__(self, md, terms: dict[str, str]):
        super().__init__(md)
        self.terms = terms
        # longest first: the regex alternation then prefers 数值梯度 to 梯度
        self.pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)))

    def run(self, root):
        self.seen = set()
        self.walk(root, top=True)

    def skipped(self, el) -> bool:
        classes = set((el.get("class") or "").split())
        return el.tag in SKIP_TAGS or bool(classes & SKIP_CLASSES)

    def mark(self, text: str):
        """``text`` cut into (before, [(abbr element)...]) at the first unseen occurrence of each term."""
        pieces, pos = [], 0
        for m in self.pattern.finditer(text):
            term = m.group(0)
            if term in self.seen:
                continue
            self.seen.add(term)
            abbr = etree.Element("abbr", {"title": self.terms[term]})
            abbr.text = AtomicString(term)
            pieces.append((text[pos:m.start()], abbr))
            pos = m.end()
        return pieces, text[pos:]

    def walk(self, el, top=False):
        if el.text and not isinstance(el.text, AtomicString):
            pieces, rest = self.mark(el.text)
            if pieces:
                el.text = pieces[0][0]
                for i, (_, abbr) in enumerate(pieces):
                    abbr.tail = pieces[i + 1][0] if i + 1 < len(pieces) else rest
                    el.insert(i, abbr)
        for child in list(el):
            if top and child.tag in SECTION:
                self.seen = set()
            if not self.skipped(child):
                self.walk(child)
            if child.tail and not isinstance(child.tail, AtomicString):
                pieces, rest = self.mark(child.tail)
                if pieces:
                    child.tail = pieces[0][0]
                    index = list(el).index(child) + 1
                    for i, (_, abbr) in enumerate(pieces):
                        abbr.tail = pieces[i + 1][0] if i + 1 < len(pieces) else rest
                        el.insert(index + i, abbr)


class GlossaryExtension(Extension):
    def __init__(self, terms: dict[str, str]):
        super().__init__()
        self.terms = terms

    def extendMarkdown(self, md):
        # after the inline patterns (20): the text is final, formulas and code are elements or stashed
        md.treeprocessors.register(GlossaryTreeprocessor(md, self.terms), "nnref_glossary", 7)


_extension: GlossaryExtension | None = None


def on_config(config):
    global _extension
    path = Path(config["docs_dir"]) / GLOSSARY
    _extension = GlossaryExtension(titles(read_glossary(path)))
    return config


def on_page_markdown(markdown, page, config, files):
    # the extension is added per page: the glossary page itself gets no tooltips (it is the table)
    extensions = config["markdown_extensions"]
    if _extension in extensions:
        extensions.remove(_extension)
    if page.file.src_uri != GLOSSARY and page.file.src_uri.endswith(".md"):
        extensions.append(_extension)
    return markdown
