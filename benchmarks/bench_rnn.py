"""Recurrent layers, forward + backward: nnref vs PyTorch.

    benchmarks/run.sh bench_rnn.py [--quick] [--device cpu|cuda] [--out FILE]

T=50 steps, batch 64, input 32, hidden 128, float32; the same weights and data for both
libraries (checked to agree before timing). One call = forward over the whole sequence, then
backward of ``sum(out * d_out)`` down to the input and every weight (torch: ``x.requires_grad``,
as nnref always returns ``dx``).
"""
import numpy as np
import torch

import nnref
from nnref import backend
import harness
from harness import agree

T, B, I, H = 50, 64, 32, 128
SIZE = f"T{T} B{B} I{I} H{H}"
TARGETS = {"cpu": {f"LSTM {SIZE}": 1.6, f"GRU {SIZE}": 0.85}, "cuda": {}}


def rnn_case(kind, device, seed=0):
    """(nnref step, torch step) for ``torch.nn.<kind>`` and ``nnref.<kind>`` on the same weights."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, B, I)).astype(np.float32)
    d_out = rng.normal(size=(T, B, H)).astype(np.float32)
    ref = getattr(torch.nn, kind)(I, H).to(device)
    ours = getattr(nnref, kind)(I, H)
    ours.load_state_dict({k: v.detach().cpu().numpy() for k, v in ref.state_dict().items()})
    xd, dd = backend.asarray(x), backend.asarray(d_out)
    xt = torch.tensor(x, device=device, requires_grad=True)
    dt = torch.tensor(d_out, device=device)
    out_t, _ = ref(xt)
    agree(ours(xd)[0], out_t, f"{kind} output")
    agree(ours.backward(dd), torch.autograd.grad(out_t, xt, dt)[0], f"{kind} input gradient")

    def step_nnref():
        ours.zero_grad()
        ours(xd)
        ours.backward(dd)

    def step_torch():
        ref.zero_grad()
        xt.grad = None
        out, _ = ref(xt)
        out.backward(dt)

    return step_nnref, step_torch


def cases(device):
    return [(f"{kind} {SIZE}", *rnn_case(kind, device)) for kind in ("LSTM", "GRU", "RNN")]


if __name__ == "__main__":
    harness.main(cases, TARGETS, __doc__)
