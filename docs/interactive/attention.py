r"""Trace of the attention figure (docs/attention/multihead.md): the weights of every head in every
layer of the site's tiny character-level GPT, for one sentence of the notes.

The model is the notebook's: this script runs docs/notebooks/tiny_gpt.py itself (its code, its
seed, its 300 Adam steps on the notes quoted in the pages' 笔记原文 boxes; about 5 s on one core),
so the figure shows the very weights of the notebook's heatmaps: for the notebook's sentence, what
each layer's ``MultiheadAttention`` returns with ``need_weights=True, average_attn_weights=False``,

$$
A = \mathrm{softmax}\Big(\frac{Q K^\top}{\sqrt{d}} + M\Big), \qquad M_{ij} = -\infty \text{ for } j > i,
$$

one (L, L) matrix per layer and head (float32, the notebook's dtype). Saves attention.json and
attention.svg via hooks/interactive.py, which keys its cache on the notebook and the pages' quote
boxes too, so the training runs only when one of them or nnref changes.
"""
import contextlib
import functools
import io
import runpy
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _trace import _diagram, save  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "tiny_gpt.py"


@functools.lru_cache(maxsize=None)
def train():
    r"""The notebook's namespace after running it whole (``model``, ``chars``, ``text``, ``losses``,
    ``sentence``, ``weights``: N_LAYERS arrays (HEADS, L, L), ``mask``, ``D``, ``HEADS`` ...);
    once per process. Its prints are swallowed and its plots closed unshown, drawn with the site's
    font settings (as its kernel draws them: no warnings about missing CJK glyphs)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    show = plt.show
    plt.show = lambda *args, **kwargs: plt.close("all")   # Agg would warn that it cannot show them
    try:
        with contextlib.redirect_stdout(io.StringIO()), matplotlib.rc_context(_diagram.rc()):
            return runpy.run_path(str(NOTEBOOK), run_name="tiny_gpt")
    finally:
        plt.show = show
        plt.close("all")


def shortest(a):
    r"""A float32 array as float64 numbers printed with the fewest digits that give back the same
    float32 (``np.float32(x) == a`` exactly): half the JSON of the full float64 expansion."""
    a = np.asarray(a, dtype=np.float32)
    return np.array([float(np.format_float_positional(x, unique=True)) for x in a.flat]).reshape(a.shape)


def trace():
    nb = train()
    from nnref.backend import asnumpy
    weights = np.stack([asnumpy(w) for w in nb["weights"]])   # (layers, heads, L, L)
    sentence, losses = nb["sentence"], [float(v) for v in nb["losses"]]
    layers, heads, d = nb["N_LAYERS"], nb["HEADS"], nb["D"]
    return {"attention": {
        "alt": f"注意力权重：本站训练的字符级小 GPT（{layers} 层，每层 {heads} 个头）读「{sentence}」时，"
               "每层每个头的每个字（查询）分给它自己和前面各字（键）的权重；因果掩码挡住了后面的字",
        "sentence": list(sentence), "layers": layers, "heads": heads, "d_model": d, "head_dim": d // heads,
        "steps": len(losses), "loss_first": float(np.mean(losses[:10])), "loss_last": float(np.mean(losses[-10:])),
        "mask": asnumpy(nb["mask"]).astype(bool), "weights": shortest(weights),
        "strongest": weights.argmax(axis=-1),                  # each query's heaviest key: (layers, heads, L)
    }}


def draw_first_step(t):
    r"""Layer 1, head 1: the heatmap with the characters, masked cells grey, the last query's row outlined."""
    A, mask, s = np.asarray(t["weights"][0][0]), np.asarray(t["mask"]), t["sentence"]
    L, cell = len(s), 0.3
    fig, ax = _diagram.canvas(0.7 + L * cell + 0.3, 1.15 + L * cell + 0.95)
    x0, y0 = 0.7, 0.95 + L * cell
    colors = [["#e0e0e0" if mask[i, j] else shade(A[i, j]) for j in range(L)] for i in range(L)]
    _diagram.grid(ax, x0, y0, [[""] * L for _ in range(L)], cell, colors, lw=0.5, ec="#bbbbbb")
    for k, c in enumerate(s):
        _diagram.label(ax, x0 + (k + 0.5) * cell, y0 + 0.17, c, fontsize=9)           # keys along the top
        _diagram.label(ax, x0 - 0.17, y0 - (k + 0.5) * cell, c, fontsize=9)           # queries down the side
    _diagram.outline(ax, x0, y0 - (L - 1) * cell, L * cell, cell)
    _diagram.label(ax, x0 + L * cell / 2, y0 + 0.5, "第 1 层 头 1 的注意力权重（行：查询；列：键）", fontsize=10)
    best = int(np.argmax(A[L - 1]))
    _diagram.label(ax, x0 - 0.5, 0.55, f"颜色越深权重越大；灰格是因果掩码挡住的键（权重 0）。最后一个字「{s[-1]}」"
                   f"最看重「{s[best]}」（{A[L - 1, best]:.2f}）", fontsize=8.5, ha="left")
    _diagram.save(fig, "attention")


def shade(w):
    r"""White for weight 0 to the diagrams' blue for weight 1."""
    r, g, b = (round(255 + (c - 255) * w) for c in (31, 119, 180))
    return f"#{r:02x}{g:02x}{b:02x}"


def main():
    t = trace()["attention"]
    save("attention", t)
    draw_first_step(t)


# run by hooks/interactive.py (run_name "__main__"); importing the file computes nothing
if __name__ == "__main__":
    main()
