"""Every layer of nnref, one file per concept; the same objects are exported from ``nnref``."""
from .activation import GELU, LeakyReLU, ReLU, Sigmoid, Softplus, Tanh
from .batchnorm import BatchNorm1d, BatchNorm2d
from .dropout import Dropout
from .gru import GRU
from .linear import Linear
from .lstm import LSTM
from .rnn import RNN
from ..module import Sequential

__all__ = ["Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softplus", "GELU", "Sequential",
           "Dropout", "BatchNorm1d", "BatchNorm2d",
           "RNN", "LSTM", "GRU"]
