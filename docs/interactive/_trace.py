r"""Shared helpers of the trace scripts in ``docs/interactive/`` (not a trace script itself).

``hooks/interactive.py`` runs every ``[!_]*.py`` here and hashes this file into each trace's
cache key. A trace is plain JSON: nested lists of Python numbers, never NaN or infinity.
"""
import json
import os
import sys
from pathlib import Path

import numpy as np

# the diagrams' helpers (boxes, grids, SVG with text kept as text) draw the static first steps
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "figures"))
import _diagram  # noqa: E402,F401


def plain(value):
    r"""``value`` with every array (NumPy or CuPy) and NumPy scalar turned into lists and Python numbers.

    Floats that hold whole numbers stay floats; ``-0.0`` becomes ``0.0`` (it would print as "-0").
    """
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "__array__") or isinstance(value, np.generic):
        a = np.asarray(value.get() if hasattr(value, "get") else value)
        if a.dtype.kind == "f":
            a = a + 0.0
        return a.tolist()
    if isinstance(value, float):
        return value + 0.0
    return value


def save(name: str, trace: dict):
    r"""Write ``<name>.json`` into ``$NNREF_FIGURE_DIR`` (where the hook collects it)."""
    path = Path(os.environ.get("NNREF_FIGURE_DIR", ".")) / f"{name}.json"
    path.write_text(json.dumps(plain(trace), ensure_ascii=False, allow_nan=False, separators=(",", ":")),
                    encoding="utf-8")
