"""Recurrent layers, forward + backward: nnref vs PyTorch.

    benchmarks/run.sh bench_rnn.py [--quick] [--device cpu|cuda] [--out FILE]

T=50 steps, batch 64, input 32, hidden 128, float32; the same weights and data for both
libraries (checked to agree before timing). One call = forward over the whole sequence, then
backward of ``sum(out * d_out)`` down to the input and every weight (torch: ``x.requires_grad``,
as nnref always returns ``dx``).
"""
import argparse
import datetime

import numpy as np
import torch

import nnref
from nnref import backend
from harness import compare, machine, table

T, B, I, H = 50, 64, 32, 128
SIZE = f"T{T} B{B} I{I} H{H}"
TARGETS = {"cpu": {f"LSTM {SIZE}": 1.6, f"GRU {SIZE}": 0.85}, "cuda": {}}


def _agree(ours, theirs, what):
    """Refuse to time two computations that do not compute the same thing."""
    a, b = backend.asnumpy(ours), theirs.detach().cpu().numpy()
    if not np.allclose(a, b, rtol=1e-3, atol=1e-4):
        raise AssertionError(f"{what}: nnref and torch disagree (max diff {np.abs(a - b).max():.3g})")


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
    _agree(ours(xd)[0], out_t, f"{kind} output")
    _agree(ours.backward(dd), torch.autograd.grad(out_t, xt, dt)[0], f"{kind} input gradient")

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one round: a smoke test, not a measurement")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--out", help="also write the Markdown result to this file")
    args = ap.parse_args()
    if args.device == "cuda":
        backend.set_backend("cupy")
        import cupy
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        sync = lambda: (cupy.cuda.get_current_stream().synchronize(), torch.cuda.synchronize())
    else:
        torch.set_num_threads(2)
        sync = None
    cases = [(f"{kind} {SIZE}", *rnn_case(kind, args.device)) for kind in ("LSTM", "GRU", "RNN")]
    rounds, repeats = (1, 3) if args.quick else (7, 5)
    rows = compare(cases, rounds=rounds, repeats=repeats, sync=sync)
    note = " (--quick: one round, a smoke test, not a measurement)" if args.quick else ""
    text = (f"{machine()}; {rounds} rounds × {repeats} calls, median; "
            f"{datetime.date.today().isoformat()}{note}\n\n{table(rows, TARGETS[args.device])}\n")
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
