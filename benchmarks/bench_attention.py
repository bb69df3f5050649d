"""Attention layers, forward + backward: nnref vs PyTorch.

    benchmarks/run.sh bench_attention.py [--quick] [--device cpu|cuda] [--out FILE]

Batch 32, sequence length 64, embedding 128, 4 heads, float32, torch's default layout (L, N, E);
the same weights and data for both libraries (checked to agree before timing). One call =
forward, then backward of ``sum(out * d_out)`` down to the input and every weight (torch:
``x.requires_grad``, as nnref always returns the input gradient).

- ``MultiheadAttention``: self-attention ``mha(x, x, x)`` with the default ``need_weights=True``
  (the attention weights are returned, as a plain call returns them in both libraries).
- ``TransformerEncoderLayer``: ``dim_feedforward=512`` (4E), ``dropout=0.0`` (dropout masks are
  random in both libraries, so a 0.1 would make the agreement check meaningless), post-norm, ReLU.
"""
import numpy as np
import torch

import nnref
from nnref import backend
import harness
from harness import agree

B, L, E, H, FF = 32, 64, 128, 4, 512
SIZE = f"B{B} L{L} E{E} h{H}"
TARGETS = {"cpu": {f"MultiheadAttention {SIZE}": 1.5, f"TransformerEncoderLayer {SIZE} ff{FF}": 1.5}, "cuda": {}}


def pair(kind, device):
    """(nnref module, torch module) with the same weights."""
    if kind == "MultiheadAttention":
        ref, ours = torch.nn.MultiheadAttention(E, H), nnref.MultiheadAttention(E, H)
    else:
        ref = torch.nn.TransformerEncoderLayer(E, H, FF, dropout=0.0)
        ours = nnref.TransformerEncoderLayer(E, H, FF, dropout=0.0)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():          # non-zero biases, so that nothing is timed at a trivial value
        for t in ref.state_dict().values():
            t.copy_(torch.randn(t.shape, generator=g) * 0.1)
    ours.load_state_dict({k: v.detach().cpu().numpy() for k, v in ref.state_dict().items()})
    return ours, ref.to(device)


def attention_case(kind, device, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(L, B, E)).astype(np.float32)
    d_out = rng.normal(size=(L, B, E)).astype(np.float32)
    ours, ref = pair(kind, device)
    xd, dd = backend.asarray(x), backend.asarray(d_out)
    xt = torch.tensor(x, device=device, requires_grad=True)
    dt = torch.tensor(d_out, device=device)

    if kind == "MultiheadAttention":
        def fwd_nnref():
            return ours(xd, xd, xd)[0]

        def fwd_torch():
            return ref(xt, xt, xt)[0]

        def back_nnref():
            return sum(ours.backward(dd))          # self-attention: dx = d_query + d_key + d_value
    else:
        def fwd_nnref():
            return ours(xd)

        def fwd_torch():
            return ref(xt)

        def back_nnref():
            return ours.backward(dd)

    out_t = fwd_torch()
    agree(fwd_nnref(), out_t, f"{kind} output")
    agree(back_nnref(), torch.autograd.grad(out_t, xt, dt)[0], f"{kind} input gradient")

    def step_nnref():
        ours.zero_grad()
        fwd_nnref()
        back_nnref()

    def step_torch():
        ref.zero_grad()
        xt.grad = None
        fwd_torch().backward(dt)

    return step_nnref, step_torch


def cases(device):
    return [(f"MultiheadAttention {SIZE}", *attention_case("MultiheadAttention", device)),
            (f"TransformerEncoderLayer {SIZE} ff{FF}", *attention_case("TransformerEncoderLayer", device))]


if __name__ == "__main__":
    harness.main(cases, TARGETS, __doc__)
