"""nnref: neural-network layers with explicit forward and backward, on NumPy (CPU) or CuPy (GPU).

Names, arguments, defaults and ``state_dict`` keys follow ``torch.nn``. The package is laid out
in one direction: ``backend``/``checks`` <- ``layers`` (the maths) <- ``fast`` (speed paths) <-
``nn`` (the Modules) <- ``optim``/``train`` and the tools; nothing imports upwards.
"""
from . import backend, checkpoint, layers, nn, train
from .backend import (asnumpy, get_array_module, get_backend, get_default_dtype, manual_seed, set_backend,
                      set_default_dtype, use_backend)
from .clip import clip_grad_norm, clip_grad_value
from .gradcheck import gradcheck
from .nn import *  # noqa: F401,F403  (the Modules)
from .optim import SGD, Adam, AdamW
from .regularization import L1Penalty, L2Penalty
from .train import EarlyStopping, TrainingDiverged, fit

__version__ = "0.1.0"

# nnref.layers.Conv2d is nnref.Conv2d, as the contract promises; attached here, at the top of the
# import order, because nnref.layers (the maths) never imports the Modules
for _name in nn.LAYERS:
    setattr(layers, _name, getattr(nn, _name))
del _name

__all__ = [*nn.__all__, "SGD", "Adam", "AdamW",
           "backend", "asnumpy", "get_array_module", "get_backend", "set_backend", "use_backend",
           "manual_seed", "set_default_dtype", "get_default_dtype", "gradcheck", "clip_grad_norm",
           "clip_grad_value", "fit", "EarlyStopping", "TrainingDiverged", "L1Penalty", "L2Penalty",
           "checkpoint", "train", "layers", "nn"]
