"""Convolutional layers, forward + backward: nnref vs PyTorch.

    benchmarks/run.sh bench_cnn.py [--quick] [--device cpu|cuda] [--out FILE]

float32, the same weights and data for both libraries (checked to agree before timing). One
call = forward, then backward of ``sum(y * dy)`` down to the input and every weight (torch:
``x.requires_grad``, as nnref always returns ``dx``). The last case is one training step of the
notebook's CNN (docs/notebooks/cnn_digits.py): forward, cross-entropy, backward, Adam.
"""
import numpy as np
import torch

import nnref
from nnref import backend
import harness
from harness import agree
from models import notebook_cnn

TARGETS = {"cpu": {"conv C3→32 32×32": 1.6, "conv C32→64 16×16": 2.0, "conv C64→128 8×8 s2": 2.0,
                   "maxpool 2×2 (64,32,32,32)": 1.2, "batchnorm2d (64,64,16,16)": 1.5,
                   "CNN step (notebook, N=64)": 2.0},
           "cuda": {}}


def layer_case(ours, ref, shape, device, seed=0):
    """(nnref step, torch step) for one layer on an input of ``shape``; weights copied from torch."""
    if ref.state_dict():
        ours.load_state_dict({k: v.detach().cpu().numpy() for k, v in ref.state_dict().items()})
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype(np.float32)
    xt = torch.tensor(x, device=device, requires_grad=True)
    yt = ref(xt)
    dy = rng.normal(size=tuple(yt.shape)).astype(np.float32)
    xd, dyd, dyt = backend.asarray(x), backend.asarray(dy), torch.tensor(dy, device=device)
    agree(ours(xd), yt, f"{type(ours).__name__} output")
    agree(ours.backward(dyd), torch.autograd.grad(yt, xt, dyt)[0], f"{type(ours).__name__} input gradient")

    def step_nnref():
        ours.zero_grad()
        ours(xd)
        ours.backward(dyd)

    def step_torch():
        ref.zero_grad()
        xt.grad = None
        ref(xt).backward(dyt)

    return step_nnref, step_torch


def cnn_step_case(device, n=64):
    ref = notebook_cnn(torch.nn).to(device)
    ours = notebook_cnn(nnref)
    ours.load_state_dict({k: v.detach().cpu().numpy() for k, v in ref.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.random((n, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, n)
    xd, yd = backend.asarray(x), backend.asarray(y)
    xt, yt = torch.tensor(x, device=device), torch.tensor(y, device=device)
    agree(ours(xd), ref(xt), "CNN logits")
    loss, loss_t = nnref.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    opt, opt_t = nnref.Adam(ours.parameters(), lr=1e-3), torch.optim.Adam(ref.parameters(), lr=1e-3)

    def step_nnref():
        opt.zero_grad()
        loss(ours(xd), yd)
        ours.backward(loss.backward())
        opt.step()

    def step_torch():
        opt_t.zero_grad()
        loss_t(ref(xt), yt).backward()
        opt_t.step()

    return step_nnref, step_torch


def cases(device):
    nn = torch.nn
    to = lambda m: m.to(device)
    return [
        ("conv C3→32 32×32", *layer_case(nnref.Conv2d(3, 32, 3, padding=1), to(nn.Conv2d(3, 32, 3, padding=1)),
                                         (64, 3, 32, 32), device)),
        ("conv C32→64 16×16", *layer_case(nnref.Conv2d(32, 64, 3, padding=1), to(nn.Conv2d(32, 64, 3, padding=1)),
                                          (64, 32, 16, 16), device)),
        ("conv C64→128 8×8 s2", *layer_case(nnref.Conv2d(64, 128, 3, 2, 1), to(nn.Conv2d(64, 128, 3, 2, 1)),
                                            (64, 64, 8, 8), device)),
        ("maxpool 2×2 (64,32,32,32)", *layer_case(nnref.MaxPool2d(2), to(nn.MaxPool2d(2)), (64, 32, 32, 32), device)),
        ("batchnorm2d (64,64,16,16)", *layer_case(nnref.BatchNorm2d(64), to(nn.BatchNorm2d(64)),
                                                  (64, 64, 16, 16), device)),
        ("CNN step (notebook, N=64)", *cnn_step_case(device)),
    ]


if __name__ == "__main__":
    harness.main(cases, TARGETS, __doc__)
