#!/usr/bin/env bash
# Run one benchmark script with the settings the measurements assume:
# - the OpenBLAS core-type overrides unset (they select a slower kernel on this CPU);
# - glibc's malloc thresholds raised, so large temporaries are not returned to the OS and
#   faulted in again on every call.
# Usage: benchmarks/run.sh bench_cnn.py [args]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-$here/../.venv/bin/python}
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
  MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296 \
  "$py" "$here/$1" "${@:2}"
