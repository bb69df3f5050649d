"""nnref: neural-network layers with explicit forward and backward, on NumPy (CPU) or CuPy (GPU).

Names, arguments, defaults and ``state_dict`` keys follow ``torch.nn``.
"""
from . import backend, checkpoint, train
from .backend import asnumpy, get_array_module, get_backend, manual_seed, set_backend, use_backend
from .clip import clip_grad_norm, clip_grad_value
from .gradcheck import gradcheck
from .layers import *  # noqa: F401,F403  (the layer classes)
from .layers import __all__ as _layers
from .losses import CrossEntropyLoss, MSELoss
from .module import Module, Parameter, Sequential
from .optim import SGD, Adam, AdamW
from .regularization import L1Penalty, L2Penalty
from .train import EarlyStopping, TrainingDiverged, fit

__version__ = "0.1.0"

__all__ = [*_layers, "Module", "Parameter", "MSELoss", "CrossEntropyLoss", "SGD", "Adam", "AdamW",
           "backend", "asnumpy", "get_array_module", "get_backend", "set_backend", "use_backend",
           "manual_seed", "gradcheck", "clip_grad_norm", "clip_grad_value",
           "fit", "EarlyStopping", "TrainingDiverged", "L1Penalty", "L2Penalty", "checkpoint", "train"]
