r"""Every public class of nnref, listed once.

The cross-cutting tests (torch signatures, torch parity, CPU/GPU agreement, bad inputs,
module behaviour, the API page) are driven by this table, and a test fails when a public
class of ``nnref`` is missing from it. Adding a layer: write ``nnref/layers/<concept>.py``,
export it, add one ``Entry`` here and its cases to ``tests/cases.py``.
"""
from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    name: str            # the class, as exported by nnref (and by nnref.layers for layers)
    torch: str | None    # its namesake: 'nn.Conv2d', 'optim.SGD'; None if torch has none
    page: str            # the page that teaches it, under docs/


LAYERS = [
    Entry("Linear", "nn.Linear", "neural-network/linear.md"),
    Entry("Bilinear", "nn.Bilinear", "neural-network/linear.md"),
    Entry("ReLU", "nn.ReLU", "neural-network/activation.md"),
    Entry("LeakyReLU", "nn.LeakyReLU", "neural-network/activation.md"),
    Entry("Sigmoid", "nn.Sigmoid", "neural-network/activation.md"),
    Entry("Tanh", "nn.Tanh", "neural-network/activation.md"),
    Entry("Softplus", "nn.Softplus", "neural-network/nondifferentiable.md"),
    Entry("GELU", "nn.GELU", "neural-network/nondifferentiable.md"),
    Entry("Dropout", "nn.Dropout", "neural-network/dropout.md"),
    Entry("BatchNorm1d", "nn.BatchNorm1d", "neural-network/batchnorm.md"),
    Entry("BatchNorm2d", "nn.BatchNorm2d", "neural-network/batchnorm.md"),
    Entry("LayerNorm", "nn.LayerNorm", "neural-network/layernorm.md"),
    Entry("Conv2d", "nn.Conv2d", "cnn/conv.md"),
    Entry("MaxPool2d", "nn.MaxPool2d", "cnn/pool.md"),
    Entry("AvgPool2d", "nn.AvgPool2d", "cnn/pool.md"),
    Entry("AdaptiveAvgPool2d", "nn.AdaptiveAvgPool2d", "cnn/pool.md"),
    Entry("AdaptiveMaxPool2d", "nn.AdaptiveMaxPool2d", "cnn/pool.md"),
    Entry("Flatten", "nn.Flatten", "cnn/fully-connected.md"),
    Entry("Identity", "nn.Identity", "cnn/resnet.md"),
    Entry("BasicBlock", None, "cnn/resnet.md"),           # torchvision's, not torch.nn's
    Entry("ResNet", None, "cnn/resnet.md"),
    Entry("Embedding", "nn.Embedding", "rnn/embedding.md"),
    Entry("RNN", "nn.RNN", "rnn/rnn.md"),
    Entry("LSTM", "nn.LSTM", "lstm/lstm.md"),
    Entry("GRU", "nn.GRU", "lstm/gru.md"),
    Entry("MultiheadAttention", "nn.MultiheadAttention", "attention/multihead.md"),
    Entry("TransformerEncoderLayer", "nn.TransformerEncoderLayer", "attention/transformer.md"),
    Entry("TransformerEncoder", "nn.TransformerEncoder", "attention/transformer.md"),
    Entry("Sequential", "nn.Sequential", "neural-network/backprop.md"),
    Entry("ModuleList", "nn.ModuleList", "neural-network/backprop.md"),
    Entry("ModuleDict", "nn.ModuleDict", "neural-network/backprop.md"),
]

# containers hold other layers: they have no example cases of their own (TransformerEncoder is
# built from a layer object; tests/layers/test_transformer.py checks it against torch)
CONTAINERS = ["Sequential", "ModuleList", "ModuleDict", "TransformerEncoder"]

LOSSES = [
    Entry("MSELoss", "nn.MSELoss", "neural-network/losses.md"),
    Entry("CrossEntropyLoss", "nn.CrossEntropyLoss", "neural-network/losses.md"),
]

OPTIMIZERS = [
    Entry("SGD", "optim.SGD", "neural-network/optimizers.md"),
    Entry("Adam", "optim.Adam", "neural-network/optimizers.md"),
    Entry("AdamW", "optim.AdamW", "neural-network/optimizers.md"),
]

# what every layer is built from
BASES = [
    Entry("Module", "nn.Module", "neural-network/linear.md"),
    Entry("Parameter", "nn.Parameter", "neural-network/linear.md"),
]

ALL = LAYERS + LOSSES + OPTIMIZERS + BASES


def by_name(name: str) -> Entry:
    """The entry of class ``name``; ``KeyError`` if it is not registered."""
    for e in ALL:
        if e.name == name:
            return e
    raise KeyError(f"{name} is not in nnref.registry")
