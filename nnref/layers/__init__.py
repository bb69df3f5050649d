"""Every layer of nnref, one file per concept; the same objects are exported from ``nnref``."""
from .activation import GELU, LeakyReLU, ReLU, Sigmoid, Softplus, Tanh
from .batchnorm import BatchNorm1d, BatchNorm2d
from .dropout import Dropout
from .linear import Linear
from ..module import Sequential

__all__ = ["Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softplus", "GELU", "Sequential",
           "Dropout", "BatchNorm1d", "BatchNorm2d"]
