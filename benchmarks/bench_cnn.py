"""Convolutional layers, forward + backward: nnref vs PyTorch.

    benchmarks/run.sh bench_cnn.py [--quick] [--device cpu|cuda] [--out FILE]

float32, the same weights and data for both libraries (checked to agree before timing). One
call = forward, then backward of ``sum(y * dy)`` down to the input and every weight (torch:
``x.requires_grad``, as nnref always returns ``dx``). The last case is one training step of the
notebook's CNN (docs/notebooks/cnn_digits.py): forward, cross-entropy, backward, Adam.
"""
import argparse
import datetime

import numpy as np
import torch

import nnref
from nnref import backend
from harness import compare, machine, table

TARGETS = {"cpu": {"conv C3→32 32×32": 1.6, "conv C32→64 16×16": 2.0, "conv C64→128 8×8 s2": 2.0,
                   "maxpool 2×2 (64,32,32,32)": 1.2, "batchnorm2d (64,64,16,16)": 1.5,
                   "CNN step (notebook, N=64)": 2.0},
           "cuda": {}}


def _agree(ours, theirs, what):
    """Refuse to time two computations that do not compute the same thing."""
    a, b = backend.asnumpy(ours), theirs.detach().cpu().numpy()
    if not np.allclose(a, b, rtol=1e-3, atol=1e-4):
        raise AssertionError(f"{what}: nnref and torch disagree (max diff {np.abs(a - b).max():.3g})")


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
    _agree(ours(xd), yt, f"{type(ours).__name__} output")
    _agree(ours.backward(dyd), torch.autograd.grad(yt, xt, dyt)[0], f"{type(ours).__name__} input gradient")

    def step_nnref():
        ours.zero_grad()
        ours(xd)
        ours.backward(dyd)

    def step_torch():
        ref.zero_grad()
        xt.grad = None
        ref(xt).backward(dyt)

    return step_nnref, step_torch


def notebook_cnn(lib):
    """The CNN of docs/notebooks/cnn_digits.py, built from ``lib`` (nnref or torch.nn)."""
    return lib.Sequential(lib.Conv2d(1, 16, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Conv2d(16, 32, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Flatten(), lib.Linear(32 * 2 * 2, 10))


def cnn_step_case(device, n=64):
    ref = notebook_cnn(torch.nn).to(device)
    ours = notebook_cnn(nnref)
    ours.load_state_dict({k: v.detach().cpu().numpy() for k, v in ref.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.random((n, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 10, n)
    xd, yd = backend.asarray(x), backend.asarray(y)
    xt, yt = torch.tensor(x, device=device), torch.tensor(y, device=device)
    _agree(ours(xd), ref(xt), "CNN logits")
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
    rounds, repeats = (1, 3) if args.quick else (7, 5)
    rows = compare(cases(args.device), rounds=rounds, repeats=repeats, sync=sync)
    note = " (--quick: one round, a smoke test, not a measurement)" if args.quick else ""
    text = (f"{machine()}; {rounds} rounds × {repeats} calls, median; "
            f"{datetime.date.today().isoformat()}{note}\n\n{table(rows, TARGETS[args.device])}\n")
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
