"""Every layer of nnref, one file per concept; the same objects are exported from ``nnref``."""
from .activation import GELU, LeakyReLU, ReLU, Sigmoid, Softplus, Tanh
from .batchnorm import BatchNorm1d, BatchNorm2d
from .conv import Conv2d
from .dropout import Dropout
from .embedding import Embedding
from .flatten import Flatten
from .gru import GRU
from .layernorm import LayerNorm
from .linear import Linear
from .lstm import LSTM
from .pool import AvgPool2d, MaxPool2d
from .resnet import BasicBlock, ResNet
from .rnn import RNN
from ..module import Sequential

__all__ = ["Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softplus", "GELU", "Sequential",
           "Dropout", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Embedding",
           "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "BasicBlock", "ResNet",
           "RNN", "LSTM", "GRU"]
