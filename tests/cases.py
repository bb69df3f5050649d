"""Example constructions of every registered layer, in torch's own terms.

A ``Case`` is built the same way in nnref and in torch: ``nnref.<layer>(*args, **kwargs)`` and
``torch.nn.<layer>(*args, **kwargs)``, so the generic tests (torch parity, CPU/GPU agreement,
bad inputs) need nothing per layer. Every entry of ``nnref.registry.LAYERS`` has at least one
case here (``tests/test_registry.py`` checks it). Add a layer's cases next to its neighbours.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    layer: str                       # class name in nnref.registry
    args: tuple = ()                 # constructor arguments, as torch takes them
    kwargs: dict = field(default_factory=dict)
    shape: tuple = (4, 7)            # input shape
    train: bool = True               # module mode during the check
    inputs: str = "float"            # 'float' (normal draws) or 'index' (ints in [0, args[0]))
    id: str = ""                     # test id suffix; defaults to the layer name
    random: bool = False             # output drawn at random (dropout in training): no torch parity

    @property
    def name(self):
        return f"{self.layer}-{self.id}" if self.id else self.layer


CASES = [
    Case("Linear", (7, 5)),
    Case("Linear", (7, 5, False), id="nobias"),
    Case("Linear", (7, 5), shape=(2, 3, 7), id="3d"),
    Case("ReLU"),
    Case("LeakyReLU", (0.1,)),
    Case("Sigmoid"),
    Case("Tanh"),
    Case("Softplus", (2.0, 1.0)),
    Case("GELU"),
    Case("GELU", ("tanh",), id="tanh"),
    Case("Dropout", (0.3,), train=False),
    Case("Dropout", (0.3,), id="train", random=True),
    Case("BatchNorm1d", (7,)),
    Case("BatchNorm1d", (7,), train=False, id="eval"),
    Case("BatchNorm2d", (3,), shape=(4, 3, 5, 6)),
    Case("BatchNorm2d", (3, 1e-3, None), shape=(4, 3, 5, 6), id="cumulative"),
    Case("BatchNorm2d", (3,), dict(affine=False, track_running_stats=False), shape=(4, 3, 5, 6), id="plain"),
    Case("LayerNorm", (7,)),
    Case("LayerNorm", ([3, 4],), shape=(2, 5, 3, 4), id="2d"),
    Case("LayerNorm", ((4,), 1e-3, False), shape=(3, 4), id="noaffine"),
    Case("LayerNorm", (4,), dict(bias=False), shape=(2, 3, 4), id="nobias"),
    Case("Conv2d", (3, 4, 3), dict(stride=2, padding=1), shape=(2, 3, 9, 8)),
    Case("Conv2d", (3, 4, 3), dict(stride=2, padding=1), shape=(6, 3, 8, 8), id="batch-last"),
    Case("Conv2d", (3, 4, 3), dict(padding=1), shape=(5, 3, 6, 7), id="same"),
    Case("Conv2d", (3, 4, (2, 4)), dict(padding="same"), shape=(2, 3, 6, 7), id="same-even"),
    Case("Conv2d", (3, 4, 3), shape=(3, 6, 7), id="unbatched"),
    Case("Conv2d", (4, 6, (3, 2), (2, 1), (1, 2), (2, 1), 2), shape=(2, 4, 9, 8), id="dilated-grouped"),
    Case("Conv2d", (4, 4, 3), dict(groups=4, padding=1, padding_mode="reflect"), shape=(2, 4, 6, 6),
         id="depthwise-reflect"),
    Case("Conv2d", (3, 2, 3), dict(padding=(1, 2), padding_mode="circular", bias=False), shape=(2, 3, 5, 6),
         id="circular"),
    Case("Conv2d", (3, 2, 3), dict(padding=2, padding_mode="replicate"), shape=(2, 3, 5, 5), id="replicate"),
    Case("MaxPool2d", (2,), shape=(2, 3, 8, 6)),
    Case("MaxPool2d", (3, 2, 1), shape=(2, 3, 7, 7), id="pad"),
    Case("MaxPool2d", (3, 2, 1, 2), dict(ceil_mode=True), shape=(2, 3, 9, 8), id="dilated-ceil"),
    Case("AvgPool2d", (3, 2, 1), dict(count_include_pad=False), shape=(2, 3, 7, 7)),
    Case("AvgPool2d", (3, 2, 1, True), shape=(2, 3, 8, 7), id="ceil"),
    Case("AvgPool2d", (2,), dict(divisor_override=3), shape=(2, 3, 6, 6), id="divisor"),
    Case("Flatten", shape=(2, 3, 4, 5)),
    Case("Flatten", (0, 2), shape=(2, 3, 4, 5), id="dims"),
    Case("BasicBlock", (3, 6), dict(stride=2), shape=(2, 3, 8, 8)),
    Case("ResNet", (), dict(num_classes=5), shape=(2, 3, 16, 16), train=False),
    Case("Embedding", (10, 4), shape=(3, 5), inputs="index"),
    Case("Embedding", (10, 4, -3), dict(scale_grad_by_freq=True), shape=(4, 6), inputs="index", id="pad-freq"),
    Case("Embedding", (10, 4), dict(max_norm=0.5, norm_type=1.0), shape=(7,), inputs="index", id="max-norm"),
    Case("RNN", (5, 6), dict(num_layers=2, bidirectional=True, batch_first=True), shape=(3, 4, 5)),
    Case("RNN", (5, 6, 1, "relu"), shape=(4, 3, 5), id="relu"),
    Case("LSTM", (5, 6), dict(num_layers=2, bidirectional=True, batch_first=True), shape=(3, 4, 5)),
    Case("LSTM", (5, 6, 2), dict(proj_size=3, bidirectional=True), shape=(4, 3, 5), id="proj"),
    Case("LSTM", (5, 6, 2, True, False, 0.5), shape=(4, 3, 5), train=False, id="dropout-eval"),
    Case("GRU", (5, 6), dict(num_layers=2, bidirectional=True, batch_first=True), shape=(3, 4, 5)),
    Case("GRU", (5, 6), shape=(4, 5), id="unbatched"),
]


def cases_of(layer: str):
    return [c for c in CASES if c.layer == layer]
