"""Two versions of nnref against each other and against PyTorch, in one process.

    benchmarks/run.sh before_after.py --before REV [--rounds 7] [--out FILE]

``git archive REV nnref`` is unpacked as a package ``nnref_before`` (nnref imports itself only
relatively, so the copy runs as it did then), and every case of ``bench_cnn.py``,
``bench_rnn.py`` and ``bench_mlp.py`` is built twice: with the old package and with the
current one. Each round times the three blocks back to back (before, after, torch), so all
three share the machine's load of the moment; the ratios are medians of per-round ratios.
This is how a change proves it did not make a benchmark slower.
"""
from __future__ import annotations

import argparse
import datetime
import importlib
import statistics
import sys
import time
from pathlib import Path

import torch

import harness
from revision import unpack_revision

HERE = Path(__file__).resolve().parent
BENCHES = ("bench_cnn", "bench_rnn", "bench_mlp")


def import_revision(rev: str):
    """The package ``nnref`` as it was at ``rev``, imported as ``nnref_before``."""
    sys.path.insert(0, str(unpack_revision(rev)))
    return importlib.import_module("nnref_before")


def build(bench, lib, device="cpu"):
    """``bench.cases(device)`` with ``lib`` standing in for ``nnref`` inside the bench module."""
    current = bench.nnref
    bench.nnref = lib
    try:
        return bench.cases(device)
    finally:
        bench.nnref = current


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--before", required=True, help="git revision of the old version")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", help="run only cases whose name contains this text")
    ap.add_argument("--out")
    args = ap.parse_args()
    torch.set_num_threads(2)
    old = import_revision(args.before)
    rows = []
    for name in BENCHES:
        bench = importlib.import_module(name)
        befores, afters = build(bench, old), build(bench, bench.nnref)
        for (case, before, ref), (_, after, _) in zip(befores, afters):
            if args.only and args.only not in case:
                continue
            t = {"before": [], "after": [], "torch": []}
            for _ in range(args.rounds):
                for key, fn in (("before", before), ("after", after), ("torch", ref)):
                    t[key].append(harness.time_block(fn, args.repeats))
                    time.sleep(harness.PAUSE)
            ratio = lambda a, b: statistics.median(x / y for x, y in zip(t[a], t[b]))
            rows.append((case, ratio("before", "torch"), ratio("after", "torch"), ratio("after", "before")))
            print(f"{case}: before/torch {rows[-1][1]:.2f}, after/torch {rows[-1][2]:.2f}, "
                  f"after/before {rows[-1][3]:.2f}", flush=True)
    lines = [f"{harness.machine()}; before = {args.before}, after = the working tree; {args.rounds} rounds × "
             f"{args.repeats} calls, median of per-round ratios; {datetime.date.today().isoformat()}", "",
             "| case | before/torch | after/torch | after/before |", "|---|---:|---:|---:|"]
    lines += [f"| {c} | {a:.2f} | {b:.2f} | {r:.2f} |" for c, a, b, r in rows]
    harness.report("\n".join(lines) + "\n", args.out)


if __name__ == "__main__":
    main()
