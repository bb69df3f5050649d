"""Time nnref against PyTorch side by side, in one process, on the same inputs.

Why the ceremony (measured on a 2-core VM):
- OpenBLAS workers spin for about 0.1 s after each call, which halves the speed of torch
  run right after NumPy: we pause ``PAUSE`` seconds between blocks;
- the machine is shared and noise is bursty: blocks of the two libraries are interleaved
  and we report medians over rounds.

Run benchmarks with ``benchmarks/run.sh`` (it sets the malloc thresholds and unsets the
OpenBLAS core-type overrides), e.g. ``benchmarks/run.sh bench_cnn.py``.
"""
from __future__ import annotations

import os
import platform
import statistics
import time

PAUSE = 0.12


def time_block(fn, repeats):
    """Median seconds of ``fn()`` over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def compare(cases, rounds=7, repeats=5, sync=None):
    """``cases``: list of ``(name, nnref_fn, torch_fn)``. Returns rows ``(name, nnref_ms, torch_ms, ratio)``.

    Per case, ``rounds`` interleaved blocks of each library; the times are the medians of the
    block medians, the ratio is the median of the per-round ratios (a round's two blocks run
    back to back, so they share the machine's load of the moment). ``sync`` (e.g. a CUDA
    synchronise) runs after every call when given.
    """
    rows = []
    for name, ours, theirs in cases:
        if sync is not None:
            ours = _synced(ours, sync)
            theirs = _synced(theirs, sync)
        a, b = [], []
        for _ in range(rounds):
            a.append(time_block(ours, repeats))
            time.sleep(PAUSE)
            b.append(time_block(theirs, repeats))
            time.sleep(PAUSE)
        ratio = statistics.median(x / y for x, y in zip(a, b))
        rows.append((name, 1e3 * statistics.median(a), 1e3 * statistics.median(b), ratio))
    return rows


def _synced(fn, sync):
    def run():
        fn()
        sync()
    return run


def machine():
    """One line naming the machine and the libraries."""
    import numpy
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} cores; numpy {numpy.__version__}, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads)")


def table(rows, targets=None):
    """A Markdown table of ``rows``; ``targets`` maps a case name to its goal ratio."""
    targets = targets or {}
    lines = ["| case | nnref ms | torch ms | nnref/torch | target |", "|---|---:|---:|---:|---:|"]
    for name, a, b, r in rows:
        goal = targets.get(name)
        lines.append(f"| {name} | {a:.2f} | {b:.2f} | {r:.2f} | {'≤ %.2f' % goal if goal else ''} |")
    return "\n".join(lines)


def report(text, out=None):
    """Print a benchmark's Markdown result and, with ``out``, write it there (the 性能 page
    includes the files in ``benchmarks/results/``)."""
    print(text)
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)


def agree(ours, theirs, what, rtol=1e-3, atol=1e-4):
    """Refuse to time two computations that do not compute the same thing."""
    import numpy as np
    from nnref.backend import asnumpy
    a, b = asnumpy(ours), theirs.detach().cpu().numpy()
    if not np.allclose(a, b, rtol=rtol, atol=atol):
        raise AssertionError(f"{what}: nnref and torch disagree (max diff {np.abs(a - b).max():.3g})")


def main(build_cases, targets, doc=""):
    """The command line every benchmark shares: ``[--quick] [--device cpu|cuda] [--out FILE]``.

    ``build_cases(device)`` returns ``[(name, nnref_fn, torch_fn), ...]``; ``targets`` maps a
    device to ``{case name: goal ratio}``. Prints a Markdown table headed by the machine.
    """
    import argparse
    import datetime

    import torch

    from nnref import backend
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--quick", action="store_true", help="one round: a smoke test, not a measurement")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--out", help="also write the Markdown result to this file")
    args = ap.parse_args()
    if args.device == "cuda":
        import cupy
        backend.set_backend("cupy")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

        def sync():
            cupy.cuda.get_current_stream().synchronize()
            torch.cuda.synchronize()
        head = (f"{torch.cuda.get_device_name()}, CuPy {cupy.__version__}, torch {torch.__version__}, "
                "fp32, TF32 off")
    else:
        torch.set_num_threads(2)
        sync = None
        head = machine()
    rounds, repeats = (1, 3) if args.quick else (7, 5)
    rows = compare(build_cases(args.device), rounds=rounds, repeats=repeats, sync=sync)
    note = " (--quick: one round, a smoke test, not a measurement)" if args.quick else ""
    text = (f"{head}; {rounds} rounds × {repeats} calls, median; "
            f"{datetime.date.today().isoformat()}{note}\n\n{table(rows, targets.get(args.device))}\n")
    report(text, args.out)
