r"""MkDocs hook: an SVG figure is never shown with its labels smaller than ``MIN_LABEL_PX``.

A figure drawn by ``docs/figures/*.py`` is 6–8 inches wide with labels of 9–13 pt; shrunk to a
phone's column (about 360 px) its labels would be 5–7 px tall. This hook reads each SVG figure a
page shows, finds its smallest label (the base size of a text: a sub- or superscript inside it
follows its label), and gives the image the width at which that label is ``MIN_LABEL_PX`` tall as
its ``min-width``; its ``max-width`` is the size it was drawn at (the file's natural size is
larger, for the lightbox). Where the column is narrower, the figure scrolls sideways inside a frame
(``span.nnref-diagram``, styled in ``stylesheets/reader.css``) with a visible scroll bar, and a tap
enlarges it (mkdocs-glightbox). On a wide screen nothing changes: the figure fits its column.
``tests/test_reader.py`` measures the labels' rendered size in Chromium at 1280 and 390 px.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as etree
from functools import lru_cache
from pathlib import Path

MIN_LABEL_PX = 9.0
SVG = "{http://www.w3.org/2000/svg}"
FONT_SIZE = re.compile(r"font-size:\s*([\d.]+)px")
# an <img> of a figure, wrapped by mkdocs-glightbox in <a class="glightbox"> (or not, without it)
FIGURE = re.compile(r'(?P<a><a class="glightbox"[^>]*>)?(?P<img><img [^>]*src="(?:\.\./)*figures/(?P<name>[\w.-]+\.svg)"[^>]*>)'
                    r'(?(a)</a>)')


def smallest_label(svg_text: str) -> tuple[float, float]:
    """``(viewBox width, smallest label's font size)`` of a matplotlib SVG, both in its user units."""
    root = etree.fromstring(svg_text.encode("utf-8"))
    width = float(root.get("viewBox").split()[2])
    sizes = []
    for text in root.iter(f"{SVG}text"):
        found = [float(s) for el in (text, *text.iter(f"{SVG}tspan")) for s in FONT_SIZE.findall(el.get("style", ""))]
        if found:
            sizes.append(max(found))          # the label's base size; its scripts are smaller by design
    return width, min(sizes) if sizes else float("inf")


@lru_cache(maxsize=None)
def widths(path: str, mtime: float) -> tuple[int, int]:
    """``(min, drawn)``: the width in CSS px at which the figure's smallest label is ``MIN_LABEL_PX``
    tall, and its width as drawn (the viewBox is in points; the file's natural size is larger, for
    the lightbox: ``_diagram.ZOOM``)."""
    width, smallest = smallest_label(Path(path).read_text(encoding="utf-8"))
    least = 0 if smallest == float("inf") else int(width * MIN_LABEL_PX / smallest + 0.999)
    return least, round(width * 4 / 3)


def on_page_content(html, page, config, files):
    def frame(m):
        f = files.get_file_from_path(f"figures/{m['name']}")
        if f is None or f.abs_src_path is None:
            return m.group(0)
        least, drawn = widths(f.abs_src_path, Path(f.abs_src_path).stat().st_mtime)
        style = f"--nnref-min-width: {least}px; --nnref-width: {drawn}px"
        return f'<span class="nnref-diagram" style="{style}">{m.group(0)}</span>'
    return FIGURE.sub(frame, html)
