r"""The sinusoidal positional encoding, as a heatmap and as a few of its columns.

Saves attention_positional.svg into $NNREF_FIGURE_DIR (see hooks/figures.py);
docs/attention/positional.md shows it. The table is nnref's ``sinusoidal_encoding(64, 64)``:
PE[pos, 2i] = sin(pos·ω_i), PE[pos, 2i+1] = cos(pos·ω_i), ω_i = 10000^(−2i/d): the first
columns oscillate fast, the last ones hardly change over 64 positions.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _diagram import BLUE, GREEN, ORANGE, canvas, label, save  # noqa: E402

import nnref  # noqa: E402
from nnref.layers.positional import sinusoidal_encoding  # noqa: E402

MAX_LEN, D = 64, 64


def main():
    PE = nnref.asnumpy(sinusoidal_encoding(MAX_LEN, D, dtype=np.float64))
    fig, ax = canvas(9.0, 4.2)                                     # fonts and SVG settings
    heat = fig.add_axes((0.07, 0.22, 0.36, 0.68))
    im = heat.imshow(PE, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    heat.set_xlabel("维度 j")
    heat.set_ylabel("位置 pos")
    heat.set_title("正弦位置编码 PE（64 个位置 × 64 维）", fontsize=11)
    fig.colorbar(im, ax=heat, fraction=0.05, pad=0.02, ticks=[-1, 0, 1])
    curves = fig.add_axes((0.6, 0.22, 0.37, 0.68))
    for j, color in [(0, BLUE), (10, ORANGE), (40, GREEN)]:
        wavelength = 2 * np.pi * 10000 ** ((j - j % 2) / D)
        curves.plot(PE[:, j], color=color, lw=1.8, label=f"维度 {j}（波长 {wavelength:.0f}）")
    curves.set_xlabel("位置 pos")
    curves.set_title("几列的取值：维度越高，频率越低", fontsize=11)
    curves.set_ylim(-1.15, 1.6)
    curves.legend(loc="upper right", fontsize=9, frameon=False)
    curves.grid(alpha=0.3)
    label(ax, 4.5, 0.12, "每个位置是一行：低维变化快，分辨相邻位置；高维变化慢，分辨远近", fontsize=9, color="0.3")
    save(fig, "attention_positional")


# run by hooks/figures.py (run_name "__main__"); importing the file draws nothing
if __name__ == "__main__":
    main()
