r"""mkdocs.yml's ``nav``, read in one place: the pages it lists and the concept chapters.

A *concept chapter* is a top-level section of ``nav`` whose entries are all Markdown pages in one
folder under ``docs/`` (``- 卷积神经网络: [cnn/conv.md, cnn/pool.md, ...]``), except the API
reference (``api/``). Its pages follow the page anatomy, end with exercises and are offered as
notebooks (``hooks/page_notebooks.py``, ``tests/test_page_anatomy.py``, ``tests/test_exercises.py``
and ``tests/test_page_notebooks.py`` all take :data:`CHAPTERS` from here). So a new chapter is one
edit: its section in ``nav``. ``tests/test_recipe.py`` fails on any other hand-written list of
chapters, on a page missing from ``nav`` and on a ``nav`` entry that is no file.

Not a hook itself (mkdocs.yml does not list it); the hooks import it.
"""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
NOT_CHAPTERS = ("api/",)   # sections of Markdown pages in one folder that are reference, not concepts


class _IgnoreTags(yaml.SafeLoader):
    """mkdocs.yml uses tags like !ENV; their values do not matter here."""


_IgnoreTags.add_multi_constructor("!", lambda loader, suffix, node: None)


def read_config(root: Path = ROOT) -> dict:
    """mkdocs.yml as a dict (``!ENV`` values read as None)."""
    return parse_config((root / "mkdocs.yml").read_text(encoding="utf-8"))


def parse_config(text: str) -> dict:
    return yaml.load(text, Loader=_IgnoreTags)


def nav_entries(nav, section: str | None = None) -> list[tuple[str | None, str]]:
    """``[(title, path)]`` of every file ``nav`` lists, in order, sections flattened (an untitled
    entry takes None)."""
    out = []
    for item in nav:
        if isinstance(item, str):
            out.append((None, item))
            continue
        (title, value), = item.items()
        out += nav_entries(value, title) if isinstance(value, list) else [(title, value)]
    return out


def concept_chapters(nav) -> tuple[str, ...]:
    """The folders (``"cnn/"``) of the concept chapters, in ``nav`` order."""
    chapters = []
    for item in nav:
        if not isinstance(item, dict):
            continue
        (_, value), = item.items()
        if not isinstance(value, list):
            continue
        paths = [path for _, path in nav_entries(value)]
        folders = {path.split("/", 1)[0] + "/" for path in paths if "/" in path}
        if (paths and all(path.endswith(".md") and "/" in path for path in paths) and len(folders) == 1
                and not folders <= set(NOT_CHAPTERS)):
            chapters += folders
    return tuple(chapters)


CHAPTERS = concept_chapters(read_config()["nav"])
