r"""Chinese text in matplotlib figures, on any machine: the reader's browser draws it.

Not a figure (``hooks/figures.py`` skips ``_*.py``). A figure with Chinese labels is an SVG whose
text stays text (``svg.fonttype: none``): the reader's browser draws the characters with its own
fonts. Matplotlib still lays the text out (centring, legends, tight bounding boxes), so it needs each
character's width. It takes them from an installed CJK font where there is one; on a machine
without (a fresh build machine), from a placeholder font made here with fontTools (a matplotlib
dependency): every CJK character is one em wide, as in every CJK font, and drawn as an empty box.
So the labels are laid out right and no "Glyph ... missing from font(s) DejaVu Sans" warning is
printed. The placeholder never reaches the reader: an SVG names fonts, and a browser skips a name
it lacks. A PNG would show its boxes, which is why Chinese labels belong in SVG figures.

Used by ``hooks/figures.py`` (around every figure script), ``_diagram.py`` and, through
``hooks/notebooks.py``, each notebook's kernel (``kernel_setup``: also SVG inline figures).
"""
from __future__ import annotations

import os
from pathlib import Path

# installed CJK fonts matplotlib may measure with, in order of preference
CJK_FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei"]
PLACEHOLDER = "nnref CJK placeholder"
PLACEHOLDER_VERSION = 1
# full-width blocks: CJK radicals and punctuation, kana, ideographs, compatibility forms, full-width forms
RANGES = [(0x2E80, 0x2FDF), (0x3000, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),
          (0xFE30, 0xFE4F), (0xFF01, 0xFF60), (0xFFE0, 0xFFE6)]
CACHE = Path(__file__).resolve().parent.parent.parent / ".cache" / "fonts"


def placeholder_font(cache: Path = CACHE) -> Path:
    """The placeholder font's file, made once (about 0.2 MB)."""
    path = cache / f"cjk-placeholder-{PLACEHOLDER_VERSION}.ttf"
    if path.is_file():
        return path
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    def glyph(box: bool):
        pen = TTGlyphPen(None)
        if box:  # an outlined square, like the "tofu" a browser shows for a missing character
            for x0, y0, x1, y1, clockwise in ((100, -80, 900, 720, True), (160, -20, 840, 660, False)):
                points = [(x0, y0), (x0, y1), (x1, y1), (x1, y0)]
                pen.moveTo(points[0])
                for p in (points[1:] if clockwise else points[:0:-1]):
                    pen.lineTo(p)
                pen.closePath()
        return pen.glyph()

    fb = FontBuilder(1000, isTTF=True)
    fb.setupGlyphOrder([".notdef", "cjk"])
    fb.setupCharacterMap({c: "cjk" for lo, hi in RANGES for c in range(lo, hi + 1)})
    fb.setupGlyf({".notdef": glyph(False), "cjk": glyph(True)})
    fb.setupHorizontalMetrics({".notdef": (500, 0), "cjk": (1000, 100)})
    fb.setupHorizontalHeader(ascent=880, descent=-120)
    fb.setupNameTable({"familyName": PLACEHOLDER, "styleName": "Regular"})
    fb.setupOS2(sTypoAscender=880, sTypoDescender=-120, usWinAscent=880, usWinDescent=120)
    fb.setupPost()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fb.save(str(tmp))
    tmp.replace(path)
    return path


def cjk_families() -> list[str]:
    """The CJK fonts matplotlib measures with: the installed ones, else the placeholder (registered)."""
    from matplotlib import font_manager
    installed = {f.name for f in font_manager.fontManager.ttflist}
    found = [name for name in CJK_FONTS if name in installed]
    if found:
        return found
    if PLACEHOLDER not in installed:
        font_manager.fontManager.addfont(str(placeholder_font()))
    return [PLACEHOLDER]


def rc() -> dict:
    """matplotlib settings for figures whose text the browser draws."""
    return {
        "svg.fonttype": "none",                         # text stays text in the SVG
        # Latin from DejaVu Sans, CJK from the fonts above; the browser falls back to any sans-serif
        "font.family": ["DejaVu Sans", *cjk_families(), "sans-serif"],
        "font.sans-serif": ["DejaVu Sans"],
    }


def kernel_setup() -> None:
    """In a notebook's kernel, before the first cell: figures inline as SVG with these settings."""
    import matplotlib.pyplot as plt
    from matplotlib_inline.backend_inline import set_matplotlib_formats
    plt.rcParams.update(rc())
    set_matplotlib_formats("svg")
