#!/usr/bin/env bash
# Fetch, on this machine, the pure-Python wheels the GPU machine lacks (Python 3.12 there),
# into .whl/ (ignored by git; the device tool carries it). See benchmarks/gpu_check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform any -d .whl sybil==10.1.0 pymdown-extensions==13.1.2
ls .whl
