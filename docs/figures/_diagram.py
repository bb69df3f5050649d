r"""Shared drawing helpers for the diagrams in ``docs/figures/`` (boxes, arrows, grids, SVG output).

Not a figure: ``hooks/figures.py`` skips ``_*.py`` (and hashes it into every figure's cache key).
A diagram script imports it with ``sys.path.insert(0, str(Path(__file__).resolve().parent))``.

Diagrams are SVG with their text kept as text (``svg.fonttype = "none"``): the reader's browser
draws the Chinese labels with its own fonts, so the build machine needs no CJK font and nothing
turns into tofu (``_fonts.py`` gives matplotlib the characters' widths, from an installed CJK
font or a placeholder, so it lays them out without warnings). A label is either plain text
(Chinese allowed) or pure mathtext (``$...$``, no Chinese inside: mathtext would draw a CJK
character as a placeholder glyph).
Coordinates are inches: ``canvas(w, h)`` is a ``w`` x ``h`` inch figure whose data units are
inches, so boxes, arrows and text sizes keep their proportions in every diagram.
"""
import os
import re
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle

from _fonts import rc

# what the reader's browser tries, in order (it falls back per character after these anyway)
FONT_STACK = ("'DejaVu Sans', 'Noto Sans CJK SC', 'Source Han Sans SC', 'WenQuanYi Micro Hei', "
              "'PingFang SC', 'Microsoft YaHei', sans-serif")

# the SVG's natural size, as a multiple of the drawing's size in inches (see save)
ZOOM = 1.5

# one palette for all diagrams
BLUE, ORANGE, GREEN, RED, PURPLE, GREY = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#7f7f7f"
LIGHT = {BLUE: "#dbe9f6", ORANGE: "#ffe8d1", GREEN: "#dcf0dc", RED: "#f9dcdc", PURPLE: "#ebe1f3",
         GREY: "#eeeeee"}


def canvas(width, height):
    """A ``width`` x ``height`` inch figure with one invisible axes whose data units are inches."""
    plt.rcParams.update({
        **rc(),                                 # text stays text; CJK widths from an installed font or a placeholder
        "svg.hashsalt": "nnref",                # reproducible ids: the file changes only when the drawing does
        "font.size": 11,
        "mathtext.fontset": "dejavusans",
    })
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set(xlim=(0, width), ylim=(0, height))
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def plot_style():
    """matplotlib settings for a plot (``plt.subplots``) whose text, Chinese included, the reader's
    browser draws: an SVG figure at most ``PLOT_WIDTH`` inches wide with no text under 9 pt, so that
    its labels are at least 9 px tall in a desktop's column (hooks/diagrams.py keeps them so on a phone).
    Save it with :func:`save`."""
    plt.rcParams.update({
        **rc(), "svg.hashsalt": "nnref", "mathtext.fontset": "dejavusans",
        "font.size": 10, "axes.titlesize": 10.5, "axes.labelsize": 10,
        "xtick.labelsize": 9, "ytick.labelsize": 9, "legend.fontsize": 9,
    })


PLOT_WIDTH = 7.2


def box(ax, x, y, w, h, text="", color=BLUE, fill=None, fontsize=11, rounded=True, lw=1.5, ls="-", zorder=2,
        **text_kw):
    """A box of size ``w`` x ``h`` centred at (x, y) with ``text`` in the middle."""
    style = "round,pad=0,rounding_size=0.08" if rounded else "square,pad=0"
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=style, lw=lw, ls=ls, ec=color,
                                fc=LIGHT.get(color, "white") if fill is None else fill, zorder=zorder))
    if text:
        label(ax, x, y, text, fontsize=fontsize, **text_kw)


def node(ax, x, y, text, color=GREY, r=0.17, fontsize=13):
    """A small circle for a pointwise operation (``+``, ``×``, ``⊙``, ``tanh``)."""
    ax.add_patch(Circle((x, y), r, lw=1.5, ec=color, fc=LIGHT.get(color, "white"), zorder=3))
    label(ax, x, y, text, fontsize=fontsize, zorder=4)


def label(ax, x, y, text, ha="center", va="center", **kw):
    """Text at (x, y), centred by default."""
    kw.setdefault("zorder", 5)
    return ax.text(x, y, text, ha=ha, va=va, **kw)


def arrow(ax, start, end, color="black", lw=1.5, ls="-", rad=0.0, head=12, shrink=0.0, **kw):
    """An arrow from ``start`` to ``end`` (bent by ``rad``; ``shrink`` in points at both ends)."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=head, color=color, lw=lw,
                                 ls=ls, connectionstyle=f"arc3,rad={rad}", shrinkA=shrink, shrinkB=shrink,
                                 zorder=kw.pop("zorder", 1), **kw))


def line(ax, points, color="black", lw=1.5, ls="-", head=True):
    """A polyline through ``points``, with an arrowhead on the last segment when ``head``."""
    xs, ys = zip(*points)
    if head and len(points) > 2:
        ax.plot(xs[:-1], ys[:-1], color=color, lw=lw, ls=ls, zorder=1, solid_capstyle="butt")
    if head:
        arrow(ax, points[-2], points[-1], color=color, lw=lw, ls=ls)
    else:
        ax.plot(xs, ys, color=color, lw=lw, ls=ls, zorder=1)


def grid(ax, x0, y0, values, cell=0.4, colors=None, fmt="{:g}", fontsize=10, lw=1.0, ec="#555555"):
    """A table of cells whose top-left corner is (x0, y0); ``values[i][j]`` is written in cell (i, j).

    ``colors[i][j]`` (optional) fills a cell; ``None`` or ``""`` values leave it blank. Returns
    ``center(i, j)``, the centre of cell (i, j), for arrows and highlights.
    """
    def center(i, j):
        return x0 + (j + 0.5) * cell, y0 - (i + 0.5) * cell

    for i, row in enumerate(values):
        for j, v in enumerate(row):
            cx, cy = center(i, j)
            fc = colors[i][j] if colors is not None else "white"
            ax.add_patch(Rectangle((cx - cell / 2, cy - cell / 2), cell, cell, fc=fc or "white", ec=ec,
                                   lw=lw, zorder=2))
            if v is not None and v != "":
                label(ax, cx, cy, v if isinstance(v, str) else fmt.format(v), fontsize=fontsize)
    return center


def outline(ax, x, y, w, h, color=RED, lw=2.5, ls="-"):
    """An unfilled rectangle with top-left corner (x, y), to mark a window over a grid."""
    ax.add_patch(Rectangle((x, y - h), w, h, fill=False, ec=color, lw=lw, ls=ls, zorder=6))


def save(fig, name):
    """Write ``<name>.svg`` into ``$NNREF_FIGURE_DIR`` (default: the current folder) and close ``fig``."""
    path = Path(os.environ.get("NNREF_FIGURE_DIR", ".")) / f"{name}.svg"
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)
    # the font list is for the reader's browser, not for the machine that drew the file
    text = re.sub(r"font-family: [^;\"]+", "font-family: " + FONT_STACK, path.read_text(encoding="utf-8"))
    # a larger natural size (the drawing is unchanged: the viewBox stays) so that enlarging the
    # figure (a click or tap opens it in a lightbox, which shows at most the natural size) helps
    text = re.sub(r'(<svg [^>]*?)width="([\d.]+)pt" height="([\d.]+)pt"',
                  lambda m: f'{m[1]}width="{float(m[2]) * ZOOM:g}pt" height="{float(m[3]) * ZOOM:g}pt"', text, count=1)
    path.write_text(text, encoding="utf-8")
    return path
