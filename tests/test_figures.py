r"""The diagrams drawn from code (``docs/figures/<name>.py`` -> ``<name>.svg``) and the pages that show them.

Each script runs into a temporary folder (as ``hooks/figures.py`` runs it at build time, on a
machine without CJK fonts: the fixture ``figures_without_cjk``) and must write its SVG:
well-formed XML whose text elements carry the expected Chinese labels as text (the reader's
browser draws them, so the build machine needs no CJK font), with no
mathtext placeholder glyph standing for a character matplotlib could not draw. Every page
that should show a diagram references it with non-empty alt text. No site build here.
"""
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "docs" / "figures"
SVG = "{http://www.w3.org/2000/svg}"

# name -> (page that shows it, labels its text must contain)
DIAGRAMS = {
    "conv_window": ("cnn/conv.md", ["补零后的输入", "卷积核", "输出 y", "stride=2", "同色的窗口算出同色的输出格"]),
    "dilation": ("cnn/conv.md", ["dilation=2", "感受野 5×5", "感受野 7×7", "两层：dilation 1，再 2"]),
    "im2col": ("cnn/conv.md", ["cols（9×4）", "每个窗口按行展平", "每个卷积核展平成一行", "Y = W · cols（2×4）",
                               "im2col"]),
    "maxpool_gradient": ("cnn/pool.md", ["输入 x", "输出 y", "上游梯度 dy", "输入的梯度 dx", "并列",
                                         "MaxPool2d(2)"]),
    "residual_block": ("cnn/resnet.md", ["残差分支 F(x)", "捷径 s(x)", "downsample", "conv1", "bn2",
                                         "反向：g 经捷径"]),
    "rnn_unrolled": ("rnn/rnn.md", ["前向", "参数共享", "反向（BPTT）"]),
    "lstm_cell": ("lstm/lstm.md", ["遗忘门", "输入门", "输出门", "反向：只乘 f", "tanh"]),
    "gru_cell": ("lstm/gru.md", ["更新门", "重置门", "候选状态", "连偏置一起", "1−"]),
    "bilstm": ("lstm/bilstm.md", ["正向", "反向", "h_n[0]", "h_n[1]", "拼接", "layer × 2 + direction"]),
    "attention_mask": ("attention/attention.md", ["分数 Z", "权重 A", "按行 softmax", "<pad>", "−∞", "查询 i", "键 j",
                                                  "因果掩码"]),
    "attention_heads": ("attention/multihead.md", ["头 1", "头 2", "拼接", "输出", "按列切成 2 块", "参数量与单头相同"]),
    "attention_encoder_block": ("attention/transformer.md", ["Post-norm", "Pre-norm", "多头自注意力", "前馈网络",
                                                             "LayerNorm", "残差连接", "norm_first=True"]),
    "attention_positional": ("attention/positional.md", ["正弦位置编码", "位置 pos", "维度 j", "维度 40"]),
    # plots (plt.subplots with _diagram.plot_style): titles, legends and axes in Chinese
    "activation": ("neural-network/activation.md", ["函数 f(x)", "导数 f′(x)", "LeakyReLU", "GELU"]),
    "bias": ("neural-network/bias.md", ["类别 0", "有偏置", "无偏置（过原点）", "目标 y = x²", "分类：", "回归："]),
    "nondifferentiable": ("neural-network/nondifferentiable.md", ["函数", "导数", "ReLU′（0 处取 [0, 1] 中任一值）",
                                                                  "Softplus，β = 4", "GELU′"]),
    "optimizers": ("neural-network/optimizers.md", ["60 步", "Rosenbrock 函数", "Adam"]),
    "resnet_gradient": ("cnn/resnet.md", ["无批归一化", "有批归一化（BasicBlock）", "普通网络", "残差网络 + BN",
                                          "残差块里的卷积层数", "第一层的 ‖∂L/∂W‖"]),
    "rnn_gradients": ("rnn/vanishing-gradients.md", ["时间步 t", "LSTM，默认初始化", "遗忘门偏置 +3", "梯度传回第 t 步"]),
}
CJK = re.compile(r"[\u4e00-\u9fff]")


def texts(name, folder):
    """The text elements of ``<name>.svg`` as ``docs/figures/<name>.py`` wrote it into ``folder``."""
    svg = folder / f"{name}.svg"
    assert svg.is_file(), f"{name}.py wrote no {name}.svg"
    root = ET.parse(svg).getroot()                       # raises on malformed XML
    assert root.tag == f"{SVG}svg"
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


@pytest.mark.parametrize("name", sorted(DIAGRAMS))
def test_figure_script_writes_svg_with_its_labels(name, figures_without_cjk):
    # drawn as the build draws them, on a machine without CJK fonts (the tests in test_quiet_build.py
    # check that this printed nothing)
    folder, _ = figures_without_cjk
    texts_ = texts(name, folder / "out" / name)
    missing = [want for want in DIAGRAMS[name][1] if not any(want in t for t in texts_)]
    assert not missing, f"{name}.svg lacks the labels {missing}; its texts: {texts_}"
    assert any(CJK.search(t) for t in texts_), f"{name}.svg has no Chinese text"
    # mathtext draws a character it has no glyph for as '¤': Chinese inside $...$ would show that
    assert not [t for t in texts_ if "¤" in t], f"{name}.svg has placeholder glyphs"


@pytest.mark.parametrize("name", sorted(DIAGRAMS))
def test_page_shows_figure_with_alt_text(name):
    page = DIAGRAMS[name][0]
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    # alt text may hold balanced brackets, as in h_n[0]
    refs = re.findall(r"!\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\.\./figures/" + re.escape(name) + r"\.svg\)", text)
    assert refs, f"docs/{page} does not show ../figures/{name}.svg"
    assert all(alt.strip() for alt in refs), f"docs/{page} shows {name}.svg without alt text"


def test_every_diagram_script_is_listed():
    """A new ``docs/figures/*.py`` drawn with ``_diagram`` needs an entry above (its page and labels)."""
    scripts = {p.stem for p in FIGURES.glob("[!_]*.py") if "from _diagram import" in p.read_text(encoding="utf-8")}
    assert scripts == set(DIAGRAMS), f"listed {sorted(DIAGRAMS)}, found {sorted(scripts)}"
