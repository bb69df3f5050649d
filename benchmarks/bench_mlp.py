"""One MLP training step (784-512-256-10, batch 256, cross-entropy, SGD): nnref vs PyTorch.

    benchmarks/run.sh bench_mlp.py [--quick] [--device cpu|cuda] [--out FILE]

forward + backward + update, float32, the same weights and data for both libraries.
"""
import numpy as np
import torch

import nnref
from nnref import backend
import harness
from models import mlp

NAME = "MLP step 256×784-512-256-10"
TARGETS = {"cpu": {NAME: 1.0}, "cuda": {NAME: 1.2}}


def build(device):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=256)
    ref, ours = mlp(torch.nn).to(device), mlp(nnref)
    ours.load_state_dict({k: v.detach().cpu().numpy() for k, v in ref.state_dict().items()})
    loss_fn, opt = nnref.CrossEntropyLoss(), nnref.SGD(ours.parameters(), lr=0.01)
    t_loss, t_opt = torch.nn.CrossEntropyLoss(), torch.optim.SGD(ref.parameters(), lr=0.01)
    xd, yd = backend.asarray(x), backend.asarray(y)
    xt, yt = torch.tensor(x, device=device), torch.tensor(y, device=device)

    def step_nnref():
        opt.zero_grad()
        loss_fn(ours(xd), yd)
        ours.backward(loss_fn.backward())
        opt.step()

    def step_torch():
        t_opt.zero_grad()
        t_loss(ref(xt), yt).backward()
        t_opt.step()

    return step_nnref, step_torch



def cases(device):
    return [(NAME, *build(device))]

if __name__ == "__main__":
    harness.main(cases, TARGETS, __doc__)
