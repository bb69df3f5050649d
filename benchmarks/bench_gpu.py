"""nnref on CuPy vs PyTorch on CUDA: forward + backward, fp32, TF32 off.

    python benchmarks/bench_gpu.py --device cuda [--quick] [--out FILE]

Targets (issue 6): Conv2d ≤ 2.0 for C ≥ 64 and ≤ 4 for the first layer; LSTM/GRU ≤ 2.0 at
T=100, B=256, I=256, H=512 and ≤ 8 at T=50, B=64, I=32, H=128; MLP step ≤ 1.2.
"""
import numpy as np
import torch

import nnref
from nnref import backend
import harness

CONV = [  # (N, C, H, W, F, stride, target)
    (256, 3, 32, 32, 64, 1, 4.0),
    (256, 64, 32, 32, 64, 1, 2.0),
    (256, 128, 16, 16, 128, 1, 2.0),
]
RECURRENT = [  # (T, B, I, H, target)
    (100, 256, 256, 512, 2.0),
    (50, 64, 32, 128, 8.0),
]


def _pair(module, ref, x):
    """Closures running forward + backward of ``module`` (nnref) and ``ref`` (torch) on ``x``."""
    xd = backend.asarray(x)
    xt = torch.tensor(x, device="cuda", requires_grad=True)
    y = module(xd)
    leaves = y if isinstance(y, tuple) else (y,)
    dy = backend.asarray(np.ones(leaves[0].shape, np.float32))

    def ours():
        out = module(xd)
        module.backward(dy, None) if isinstance(out, tuple) else module.backward(dy)

    def theirs():
        xt.grad = None
        out = ref(xt)
        out = out[0] if isinstance(out, tuple) else out
        out.backward(torch.ones_like(out))

    return ours, theirs


def _cases():
    rng = np.random.default_rng(0)
    for n, c, h, w, f, s, _ in CONV:
        ref = torch.nn.Conv2d(c, f, 3, stride=s, padding=1).cuda()
        m = nnref.Conv2d(c, f, 3, stride=s, padding=1)
        m.load_state_dict({k: v.detach().cpu().numpy() for k, v in ref.state_dict().items()})
        x = rng.normal(size=(n, c, h, w)).astype(np.float32)
        yield (f"conv N{n} C{c} {h}×{w} F{f} s{s}", *_pair(m, ref, x))
    for cls, tcls in [(nnref.LSTM, torch.nn.LSTM), (nnref.GRU, torch.nn.GRU)]:
        for t, b, i, h, _ in RECURRENT:
            ref = tcls(i, h).cuda()
            m = cls(i, h)
            m.load_state_dict({k: v.detach().cpu().numpy() for k, v in ref.state_dict().items()})
            x = rng.normal(size=(t, b, i)).astype(np.float32)
            yield (f"{cls.__name__} T{t} B{b} I{i} H{h}", *_pair(m, ref, x))

TARGETS = {"cuda": {**{f"conv N{n} C{c} {h}×{w} F{f} s{s}": g for n, c, h, w, f, s, g in CONV},
                    **{f"{k} T{t} B{b} I{i} H{h}": g for k in ("LSTM", "GRU") for t, b, i, h, g in RECURRENT}}}


def cases(device):
    if device != "cuda":
        raise SystemExit("bench_gpu.py compares CuPy with PyTorch CUDA: run it with --device cuda")
    return list(_cases())

if __name__ == "__main__":
    harness.main(cases, TARGETS, __doc__)
