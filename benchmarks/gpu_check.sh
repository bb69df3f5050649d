#!/usr/bin/env bash
# On a GPU machine: the whole test suite on CuPy (NNREF_BACKEND=cupy), then the GPU benchmarks,
# ending with one table. Logs go to $OUT (default /tmp/nnref-gpu). Meant to finish in under
# 5 minutes on an H100.
#
# The GPU machine has CuPy, NumPy, PyTorch, pytest and hypothesis, but not Sybil or
# pymdown-extensions (needed to run the pages): fetch them here first with
#   benchmarks/gpu_wheels.sh          (writes .whl/, which the device tool can carry)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/nnref-gpu}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/nnref-site .whl/*.whl \
    && export PYTHONPATH=/tmp/nnref-site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
"$PY" -c "import cupy, torch, numpy; print('cupy', cupy.__version__, 'torch', torch.__version__, 'numpy', numpy.__version__)" | tee -a "$OUT/gpu.txt"

# 1. every test on CuPy arrays; the site build and browser check need no GPU and run in CI
NNREF_BACKEND=cupy timeout 240 "$PY" -m pytest tests docs nnref -q -p no:cacheprovider \
  --ignore=tests/test_site.py --ignore=tests/test_browser.py -o addopts="--doctest-modules" \
  2>&1 | tee "$OUT/pytest-gpu.log"
tests=${PIPESTATUS[0]}

# 2. speed against PyTorch CUDA (TF32 off)
timeout 150 "$PY" benchmarks/bench_gpu.py --device cuda --out "$OUT/bench-gpu.md" 2>&1 | tee "$OUT/bench-gpu.log"
timeout 60 "$PY" benchmarks/bench_mlp.py --device cuda --out "$OUT/bench-mlp-gpu.md" 2>&1 | tee -a "$OUT/bench-gpu.log"

echo
echo "== GPU check: tests exit $tests =="
tail -n 1 "$OUT/pytest-gpu.log"
cat "$OUT/bench-gpu.md" "$OUT/bench-mlp-gpu.md" 2>/dev/null
exit "$tests"
