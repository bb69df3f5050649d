r"""Example calls of every registered layer, in torch's own terms: how to build it, how to call it,
which outputs ``backward`` takes gradients of and which inputs it returns gradients for.

A ``Case`` is built the same way in nnref and in torch, ``nnref.<layer>(*args, **kwargs)`` and
``torch.nn.<layer>(*args, **kwargs)``, and called the same way, ``m(*inputs, **call)``, so the
generic tests (torch parity, gradcheck, CPU/GPU agreement, bad inputs, module behaviour) need
nothing per layer. Every entry of ``nnref.registry.LAYERS`` has at least one case here
(``tests/test_registry.py`` checks it). Add a layer's cases next to its neighbours.

The calling convention every case follows (``tests/generic.py`` implements it, once):

- ``inputs``: forward's positional arguments, each an :class:`Input`: ``F(4, 7)`` a float array
  of shape (4, 7) drawn from N(0, 1); ``Index(10, 3, 5)`` integers in [0, 10) of shape (3, 5);
  ``F(1, 3, 6, grad=False)`` a float input that ``backward`` does not differentiate (held fixed,
  e.g. a recurrent layer's ``hx``); ``Same(0)`` the very same array object as input 0 (nnref gets
  it twice, torch gets an equal copy, so each position's gradient is compared on its own);
  ``Const(array)`` an array used as given (a mask), never differentiated; a tuple of them is a
  tuple argument (an LSTM's ``(h0, c0)``), held fixed. One ``Input`` alone may stand for the
  1-tuple of inputs.
- ``call``: forward's keyword arguments: Python values (``need_weights=False``) or ``Input``\ s
  (``attn_mask=Const(mask)``, ``hx=F(1, 3, 6)``), drawn and moved like the inputs; keyword
  arguments are never differentiated.
- ``outputs``: which elements of a tuple output ``backward`` takes gradients of, in order
  (None: every element; a single array output: the array). The rest are compared with torch
  but not differentiated (``MaxPool2d(return_indices=True)``: ``outputs=(0,)``; attention's
  weights). A gradient has the structure of its output: a recurrent layer's
  ``backward(d_out, d_state)`` gets ``d_state`` as ``d_h_n`` or ``(d_h_n, d_c_n)``.
- ``backward`` returns the gradient of every differentiated input (float inputs, and ``Same``
  copies of them, unless ``grad=False``), in input order: one alone as the array itself, several
  as a tuple (``Bilinear``: ``(d_input1, d_input2)``), none as None (``Embedding``).
- ``random=True``: the output is drawn at random (dropout in training): no torch parity, no
  gradcheck. ``derivative=False``: ``backward`` is by design not the derivative of forward, as in
  torch (``Embedding(scale_grad_by_freq=True)``): no gradcheck.

A future multi-input layer registers like this (MultiheadAttention, self-attention on one array
and a causal mask; ``backward(dy) -> (dq, dk, dv)``, the weights not differentiated)::

    Case("MultiheadAttention", (8, 2), dict(batch_first=True),
         inputs=(F(2, 5, 8), Same(0), Same(0)),
         call=dict(attn_mask=Const(np.triu(np.ones((5, 5), dtype=bool), 1)), need_weights=True),
         outputs=(0,), id="self-causal")
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Input:
    """One argument of forward: how it is drawn and whether backward differentiates it."""
    shape: tuple = ()
    kind: str = "float"          # 'float' N(0, 1) | 'index' ints in [0, high) | 'same' | 'const'
    high: int = 0                # 'index': upper bound (exclusive)
    grad: bool = True            # 'float': backward returns this input's gradient
    same_as: int | None = None   # 'same': the position of the input it repeats
    value: object = None         # 'const': the array itself


def F(*shape, grad=True):
    """A float input of ``shape`` drawn from N(0, 1)."""
    return Input(tuple(shape), "float", grad=grad)


def Index(high, *shape):
    """Integer indices in [0, high) of ``shape``: no gradient."""
    return Input(tuple(shape), "index", high=high, grad=False)


def Same(position):
    """The same array object as input ``position`` (torch gets an equal, separate tensor)."""
    return Input(kind="same", same_as=position)


def Const(value):
    """An array passed as given (a mask); never differentiated."""
    return Input(np.shape(value), "const", grad=False, value=np.asarray(value))


@dataclass(frozen=True)
class Case:
    layer: str                       # class name in nnref.registry
    args: tuple = ()                 # constructor arguments, as torch takes them
    kwargs: dict = field(default_factory=dict)
    inputs: tuple = (F(4, 7),)       # forward's positional inputs (one Input alone: a 1-tuple)
    call: dict = field(default_factory=dict)   # forward's keyword arguments (values or Inputs)
    outputs: tuple | None = None     # tuple outputs that backward takes gradients of (None: all)
    train: bool = True               # module mode during the check
    id: str = ""                     # test id suffix; defaults to the layer name
    random: bool = False             # output drawn at random (dropout in training): no torch parity
    derivative: bool = True          # False: backward is by design not forward's derivative (as torch's)

    def __post_init__(self):
        if isinstance(self.inputs, Input):
            object.__setattr__(self, "inputs", (self.inputs,))

    @property
    def name(self):
        return f"{self.layer}-{self.id}" if self.id else self.layer


# masks for the attention cases (True = not allowed, as torch.nn.MultiheadAttention reads them)
CAUSAL_5 = np.triu(np.ones((5, 5), dtype=bool), 1)
PADDING_2x4 = np.array([[False, False, True, True], [False, False, False, False]])
PADDING_2x5 = np.array([[False, False, False, True, True], [False] * 5])
SCORE_BIAS_2x4x5 = np.where(np.arange(40).reshape(2, 4, 5) % 7 == 3, -np.inf,   # (heads, L, S), float
                            np.linspace(-1, 1, 40).reshape(2, 4, 5))

CASES = [
    Case("Linear", (7, 5)),
    Case("Linear", (7, 5, False), id="nobias"),
    Case("Linear", (7, 5), inputs=F(2, 3, 7), id="3d"),
    Case("Bilinear", (3, 4, 5), inputs=(F(6, 3), F(6, 4))),
    Case("Bilinear", (3, 3, 2, False), inputs=(F(2, 4, 3), Same(0)), id="same-input-nobias"),
    Case("Bilinear", (4, 2, 3), inputs=(F(4), F(2)), id="unbatched"),
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
    Case("BatchNorm2d", (3,), inputs=F(4, 3, 5, 6)),
    Case("BatchNorm2d", (3, 1e-3, None), inputs=F(4, 3, 5, 6), id="cumulative"),
    Case("BatchNorm2d", (3,), dict(affine=False, track_running_stats=False), inputs=F(4, 3, 5, 6), id="plain"),
    Case("LayerNorm", (7,)),
    Case("LayerNorm", ([3, 4],), inputs=F(2, 5, 3, 4), id="2d"),
    Case("LayerNorm", ((4,), 1e-3, False), inputs=F(3, 4), id="noaffine"),
    Case("LayerNorm", (4,), dict(bias=False), inputs=F(2, 3, 4), id="nobias"),
    Case("Conv2d", (3, 4, 3), dict(stride=2, padding=1), inputs=F(2, 3, 9, 8)),
    Case("Conv2d", (3, 4, 3), dict(stride=2, padding=1), inputs=F(6, 3, 8, 8), id="batch-last"),
    Case("Conv2d", (3, 4, 3), dict(padding=1), inputs=F(5, 3, 6, 7), id="same"),
    Case("Conv2d", (3, 4, (2, 4)), dict(padding="same"), inputs=F(2, 3, 6, 7), id="same-even"),
    Case("Conv2d", (3, 4, 3), inputs=F(3, 6, 7), id="unbatched"),
    Case("Conv2d", (4, 6, (3, 2), (2, 1), (1, 2), (2, 1), 2), inputs=F(2, 4, 9, 8), id="dilated-grouped"),
    Case("Conv2d", (4, 4, 3), dict(groups=4, padding=1, padding_mode="reflect"), inputs=F(2, 4, 6, 6),
         id="depthwise-reflect"),
    Case("Conv2d", (3, 2, 3), dict(padding=(1, 2), padding_mode="circular", bias=False), inputs=F(2, 3, 5, 6),
         id="circular"),
    Case("Conv2d", (3, 2, 3), dict(padding=2, padding_mode="replicate"), inputs=F(2, 3, 5, 5), id="replicate"),
    Case("MaxPool2d", (2,), inputs=F(2, 3, 8, 6)),
    Case("MaxPool2d", (3, 2, 1), inputs=F(2, 3, 7, 7), id="pad"),
    Case("MaxPool2d", (3, 2, 1, 2), dict(ceil_mode=True), inputs=F(2, 3, 9, 8), id="dilated-ceil"),
    Case("MaxPool2d", (2,), dict(return_indices=True), inputs=F(3, 7, 6), outputs=(0,), id="indices"),
    Case("AvgPool2d", (3, 2, 1), dict(count_include_pad=False), inputs=F(2, 3, 7, 7)),
    Case("AvgPool2d", (3, 2, 1, True), inputs=F(2, 3, 8, 7), id="ceil"),
    Case("AvgPool2d", (2,), dict(divisor_override=3), inputs=F(2, 3, 6, 6), id="divisor"),
    Case("AdaptiveAvgPool2d", ((3, 2),), inputs=F(2, 3, 7, 5)),
    Case("AdaptiveAvgPool2d", (1,), inputs=F(2, 3, 5, 6), id="global"),
    Case("AdaptiveAvgPool2d", ((None, 7),), inputs=F(3, 4, 5), id="larger-unbatched"),
    Case("AdaptiveMaxPool2d", ((3, 2),), inputs=F(2, 3, 7, 5)),
    Case("AdaptiveMaxPool2d", (5, True), inputs=F(2, 3, 4, 6), outputs=(0,), id="larger-indices"),
    Case("AdaptiveMaxPool2d", ((2, None),), inputs=F(3, 5, 4), id="none-unbatched"),
    Case("Flatten", inputs=F(2, 3, 4, 5)),
    Case("Flatten", (0, 2), inputs=F(2, 3, 4, 5), id="dims"),
    Case("Identity", inputs=F(2, 3, 4, 5)),
    Case("Identity", (54,), dict(unused_argument1=0.1, unused_argument2=False), inputs=F(7), id="args-1d"),
    Case("BasicBlock", (3, 6), dict(stride=2), inputs=F(2, 3, 8, 8)),
    Case("ResNet", (), dict(num_classes=5), inputs=F(2, 3, 8, 8), train=False),
    Case("Embedding", (10, 4), inputs=Index(10, 3, 5)),
    Case("Embedding", (10, 4, -3), dict(scale_grad_by_freq=True), inputs=Index(10, 4, 6), id="pad-freq",
         derivative=False),                            # the gradient is divided by each index's count
    Case("Embedding", (10, 4), dict(max_norm=0.5, norm_type=1.0), inputs=Index(10, 7), id="max-norm",
         derivative=False),                            # forward renormalises the weight rows in place
    Case("Embedding", (10, 4), inputs=Const([[1, 2, 1], [9, 0, 1]]), id="const-indices"),
    Case("RNN", (5, 6), dict(num_layers=2, bidirectional=True, batch_first=True), inputs=F(3, 4, 5)),
    Case("RNN", (5, 6, 1, "relu"), inputs=F(4, 3, 5), id="relu"),
    Case("RNN", (5, 6), inputs=(F(4, 3, 5), F(1, 3, 6, grad=False)), id="hx"),
    Case("RNN", (5, 6, 1, "relu"), inputs=F(4, 3, 5), call=dict(hx=F(1, 3, 6)), id="hx-keyword"),
    Case("LSTM", (5, 6), dict(num_layers=2, bidirectional=True, batch_first=True), inputs=F(3, 4, 5)),
    Case("LSTM", (5, 6, 2), dict(proj_size=3, bidirectional=True), inputs=F(4, 3, 5), id="proj"),
    Case("LSTM", (5, 6, 2, True, False, 0.5), inputs=F(4, 3, 5), train=False, id="dropout-eval"),
    Case("LSTM", (5, 6), inputs=(F(4, 3, 5), (F(1, 3, 6, grad=False), F(1, 3, 6, grad=False))), id="hx"),
    Case("GRU", (5, 6), dict(num_layers=2, bidirectional=True, batch_first=True), inputs=F(3, 4, 5)),
    Case("GRU", (5, 6), inputs=F(4, 5), id="unbatched"),
    Case("GRU", (5, 6, 2), inputs=(F(4, 5), F(2, 6, grad=False)), id="hx-unbatched"),
    # attention: backward differentiates the output, not the returned weights (compared with torch)
    Case("MultiheadAttention", (6, 2), inputs=(F(4, 2, 6), F(5, 2, 6), F(5, 2, 6)), outputs=(0,)),
    Case("MultiheadAttention", (6, 2), dict(batch_first=True), inputs=(F(2, 5, 6), Same(0), Same(0)),
         call=dict(attn_mask=Const(CAUSAL_5)), outputs=(0,), id="self-causal"),
    Case("MultiheadAttention", (6, 3), dict(kdim=4, vdim=5, add_bias_kv=True, add_zero_attn=True),
         inputs=(F(3, 2, 6), F(4, 2, 4), F(4, 2, 5)),
         call=dict(key_padding_mask=Const(PADDING_2x4), average_attn_weights=False), outputs=(0,),
         id="kdim-vdim-bias-kv-zero"),
    Case("MultiheadAttention", (6, 2, 0.0, False), inputs=(F(4, 6), F(5, 6), F(5, 6)),
         call=dict(attn_mask=Const(SCORE_BIAS_2x4x5), need_weights=False), outputs=(0,), id="unbatched-float-mask"),
    Case("MultiheadAttention", (6, 2, 0.5), inputs=(F(4, 2, 6), Same(0), Same(0)), outputs=(0,), train=False,
         id="dropout-eval"),
    Case("MultiheadAttention", (6, 2, 0.5), inputs=(F(4, 2, 6), Same(0), Same(0)), outputs=(0,), random=True,
         id="dropout-train"),
    Case("TransformerEncoderLayer", (6, 2, 12, 0.0), inputs=F(5, 2, 6)),
    Case("TransformerEncoderLayer", (6, 2, 12, 0.0, "gelu"), dict(batch_first=True, norm_first=True),
         inputs=F(2, 5, 6), call=dict(src_mask=Const(CAUSAL_5), src_key_padding_mask=Const(PADDING_2x5)),
         id="pre-norm-gelu-masks"),
    Case("TransformerEncoderLayer", (6, 3, 12, 0.0), dict(bias=False, layer_norm_eps=1e-3), inputs=F(5, 6),
         id="unbatched-nobias"),
    Case("TransformerEncoderLayer", (6, 2, 12), inputs=F(5, 2, 6), train=False, id="dropout-eval"),
    Case("TransformerEncoderLayer", (6, 2, 12), inputs=F(5, 2, 6), random=True, id="dropout-train"),
]


def cases_of(layer: str):
    return [c for c in CASES if c.layer == layer]
