"""A machine without CJK fonts, made here whatever the machine has: a matplotlib config folder whose
font cache lists every installed font except those that draw 中 (``MPLCONFIGDIR``), used by the
process that draws the figures and by the notebook kernels it starts. The fixtures ``no_cjk`` (its
environment) and ``figures_without_cjk`` (every figure script run there) are in tests/conftest.py.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.site_build import ROOT

# what a quiet run prints none of
NOISE = re.compile(r"Glyph \d+|missing from font|findfont|Traceback|Warning|WARNING|Error|ERROR")
CHINESE = ["训练损失", "学习曲线：准确率", "（平均）"]
# a new plot with Chinese labels, as a figure script would draw it
CHINESE_PLOT = textwrap.dedent(f"""
    import os
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([1, 2, 3], [3, 1, 2], label="{CHINESE[0]}")
    ax.set(title="{CHINESE[1]}", xlabel="epoch{CHINESE[2]}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(os.environ["NNREF_FIGURE_DIR"], "chinese_plot.svg"))
""")


def environment(folder: Path) -> dict:
    """``os.environ`` with ``MPLCONFIGDIR`` set to ``folder``, holding a font cache without CJK fonts."""
    code = textwrap.dedent("""
        import sys
        import matplotlib.font_manager as fm
        from matplotlib.ft2font import FT2Font

        def draws_chinese(entry):
            try:
                return 0x4E2D in FT2Font(entry.fname).get_charmap()
            except Exception:
                return False

        fm.fontManager.ttflist = [f for f in fm.fontManager.ttflist if not draws_chinese(f)]
        fm.json_dump(fm.fontManager, f"{sys.argv[1]}/fontlist-v{fm.FontManager.__version__}.json")
    """)
    env = dict(os.environ, MPLCONFIGDIR=str(folder))
    subprocess.run([sys.executable, "-c", code, str(folder)], env=env, check=True)
    return env


def run(code: str, env: dict, cwd) -> str:
    """Run ``code`` in a fresh Python with every warning shown; what it printed (it must succeed)."""
    proc = subprocess.run([sys.executable, "-W", "always", "-c", textwrap.dedent(code)], cwd=cwd, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def draw_every_figure(env: dict, folder: Path) -> str:
    """Every ``docs/figures/*.py`` and :data:`CHINESE_PLOT` (as ``chinese_plot``), each run as the build
    runs it (``hooks/figures.render``) into ``folder/<script>/``; what they printed."""
    demo = folder / "scripts" / "chinese_plot.py"
    demo.parent.mkdir(parents=True)
    demo.write_text(CHINESE_PLOT, encoding="utf-8")
    return run(f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        from hooks import figures
        scripts = sorted(figures.FIGURES.glob("[!_]*.py")) + [Path({str(demo)!r})]
        for script in scripts:
            out = Path({str(folder)!r}) / "out" / script.stem
            out.mkdir(parents=True)
            figures.render(script, out)
        print("drew", len(scripts))
    """, env, folder)
