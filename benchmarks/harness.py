"""Time nnref against PyTorch side by side, in one process, on the same inputs.

Why the ceremony (measured in ../shared/research/cpu-speed.md, 2 cores):
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

    Per case, ``rounds`` interleaved blocks of each library; the result is the median of the
    block medians. ``sync`` (e.g. a CUDA synchronise) runs after every call when given.
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
        ms_a, ms_b = 1e3 * statistics.median(a), 1e3 * statistics.median(b)
        rows.append((name, ms_a, ms_b, ms_a / ms_b))
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
