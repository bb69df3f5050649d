r"""The Modules: ``torch.nn``'s namesakes, each owning its parameters and options and calling the
reference maths of :mod:`nnref.layers` (or its proven-equal speed path in :mod:`nnref.fast`).

``import nnref.nn as nn`` reads like torch: ``nn.Linear``, ``nn.Sequential``, ``nn.Module``.
The same classes are exported from ``nnref`` and, for layers, from ``nnref.layers``.
"""
from ..containers import ModuleDict, ModuleList
from ..module import Module, Parameter, Sequential
from .adaptive_pool import AdaptiveAvgPool2d, AdaptiveMaxPool2d
from .activation import GELU, LeakyReLU, ReLU, Sigmoid, Softplus, Tanh
from .attention import MultiheadAttention
from .batchnorm import BatchNorm1d, BatchNorm2d
from .bilinear import Bilinear
from .conv import Conv2d
from .dropout import Dropout
from .embedding import Embedding
from .flatten import Flatten
from .gru import GRU
from .identity import Identity
from .layernorm import LayerNorm
from .linear import Linear
from .losses import CrossEntropyLoss, MSELoss
from .lstm import LSTM
from .pool import AvgPool2d, MaxPool2d
from .resnet import BasicBlock, ResNet
from .rnn import RNN
from .transformer import TransformerEncoder, TransformerEncoderLayer

# the layers (exported from nnref.layers too); Sequential, ModuleList and ModuleDict are layer containers
LAYERS = ["Linear", "Bilinear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softplus", "GELU", "Sequential",
          "ModuleList", "ModuleDict",
          "Dropout", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Embedding",
          "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "Flatten",
          "Identity", "BasicBlock", "ResNet",
          "RNN", "LSTM", "GRU", "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder"]

__all__ = [*LAYERS, "MSELoss", "CrossEntropyLoss", "Module", "Parameter"]
