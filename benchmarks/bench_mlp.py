"""One MLP training step (784-512-256-10, batch 256, cross-entropy, SGD): nnref vs PyTorch.

    benchmarks/run.sh bench_mlp.py [--quick] [--device cpu|cuda] [--out FILE]

forward + backward + update, float32, the same weights and data for both libraries.
"""
import argparse

import numpy as np
import torch

import nnref
from nnref import backend
from harness import compare, machine, table

TARGETS = {"cpu": 1.0, "cuda": 1.2}


def build(device):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=256)
    ref = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 256),
                              torch.nn.ReLU(), torch.nn.Linear(256, 10)).to(device)
    ours = nnref.Sequential(nnref.Linear(784, 512), nnref.ReLU(), nnref.Linear(512, 256), nnref.ReLU(),
                            nnref.Linear(256, 10))
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one round: a smoke test, not a measurement")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--out")
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
    ours, theirs = build(args.device)
    rows = compare([("MLP step 256×784-512-256-10", ours, theirs)],
                   rounds=1 if args.quick else 7, repeats=3 if args.quick else 10, sync=sync)
    text = f"{machine()}\n\n{table(rows, {rows[0][0]: TARGETS[args.device]})}\n"
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
