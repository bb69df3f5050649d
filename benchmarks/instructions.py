"""Instructions per training step, an old revision of nnref against the current one, counted by
valgrind's callgrind: a measure that does not move with the machine's load.

    benchmarks/instructions.py --before REV [--steps 20] [--out FILE]

Why: on a shared 2-core VM the wall-clock time of the *same* code, measured twice in one
process, differs by up to ±5 % (an A/A test), which is as large as the differences a
refactoring is judged by. The number of instructions a step executes is the same on every run.
It is a proxy: it does not see cache misses or how fast each instruction retires, so a change
that is equal here can still be slower in time, and the wall-clock tables stay the measure
against PyTorch.

Each workload runs in a child process under ``valgrind --tool=callgrind``, once with 2 steps
and once with ``2 + steps``; the difference divided by ``steps`` is one step, free of the cost
of imports and set-up. Both libraries run the same float32 data with one BLAS thread.
Needs ``valgrind`` (Debian: ``apt-get install valgrind``), no torch; about 15 minutes on 2 cores
(the MLP's matrix products are slow under valgrind).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import harness
from revision import unpack_revision

HERE = Path(__file__).resolve().parent
WORKLOADS = ("CNN step (notebook, N=64)", "MLP step 256×784-512-256-10")


def workload(name, lib):
    """One training step of ``name`` built from ``lib``: a function of no arguments."""
    import numpy as np
    import models
    rng = np.random.default_rng(0)
    lib.manual_seed(0)
    if name.startswith("CNN"):
        model, x = models.notebook_cnn(lib), rng.random((64, 1, 8, 8)).astype(np.float32)
        opt = lib.Adam(model.parameters(), lr=1e-3)
    else:
        model, x = models.mlp(lib), rng.normal(size=(256, 784)).astype(np.float32)
        opt = lib.SGD(model.parameters(), lr=0.01)
    y = rng.integers(0, 10, len(x))
    loss = lib.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss(model(x), y)
        model.backward(loss.backward())
        opt.step()
    return step


def child(which, name, steps, before_dir):
    """Runs under valgrind: import the library, build the workload, run ``steps`` steps."""
    sys.path.insert(0, str(HERE))
    if which == "before":
        sys.path.insert(0, before_dir)
        import nnref_before as lib
    else:
        sys.path.insert(0, str(HERE.parent))
        import nnref as lib
    step = workload(name, lib)
    for _ in range(steps):
        step()


def count(which, name, steps, before_dir):
    """Instructions executed by the child (callgrind's "Collected" total)."""
    out = Path(tempfile.mkdtemp(prefix="callgrind-")) / "out"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONMALLOC="malloc")
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
         sys.executable, __file__, "--child", which, name, str(steps), before_dir],
        env=env, capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", proc.stderr).group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", help="git revision of the old version")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--out", help="also write the Markdown table to this file")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        which, name, steps, before_dir = args.child
        return child(which, name, int(steps), before_dir)
    if not args.before:
        ap.error("--before REV is required")
    before_dir = str(unpack_revision(args.before))
    runs = [(which, name, n) for name in WORKLOADS for which in ("before", "after") for n in (2, 2 + args.steps)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:   # each child is one process
        counts = dict(zip(runs, pool.map(lambda run: count(*run, before_dir), runs)))
    rows = []
    for name in WORKLOADS:
        per_step = {which: (counts[which, name, 2 + args.steps] - counts[which, name, 2]) / args.steps
                    for which in ("before", "after")}
        rows.append((name, per_step["before"], per_step["after"]))
        print(f"{name}: before {per_step['before'] / 1e6:.2f} M, after {per_step['after'] / 1e6:.2f} M "
              f"instructions per step, after/before {per_step['after'] / per_step['before']:.3f}", flush=True)
    valgrind = subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip()
    lines = [f"Instructions per step (valgrind callgrind, {args.steps} steps, one BLAS thread), "
             f"before = `{args.before}`, after = working tree; {datetime.date.today()}, "
             f"{platform.machine()}, Python {platform.python_version()}, {valgrind}.", "",
             "| workload | before (M instr.) | after (M instr.) | after/before |",
             "|---|---:|---:|---:|"]
    lines += [f"| {n} | {b / 1e6:.2f} | {a / 1e6:.2f} | {a / b:.3f} |" for n, b, a in rows]
    harness.report("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
