r"""Every CUDA kernel nnref ships compiles, for sm_80 (A100) and sm_90 (H100), in float and double,
as CuPy would hand it to the compiler: checked with nvcc wherever it is installed, without a GPU.

nnref's kernels are ``cupy.ElementwiseKernel``\ s built in one place from one table
(``nnref.fast.fused_cells.KERNELS``); ``test_every_kernel_comes_from_the_table`` fails on any other
use of a CuPy kernel API in ``nnref/``, so a new kernel cannot be left out of this test.

CuPy is not needed: :func:`cupy_source` writes the source CuPy's ``ElementwiseKernel`` generates
(``cupy/_core/_kernel.pyx``): ``typedef <type> T;`` for the type placeholder, the parameters as
``CArray<type, ndim, c_contiguous, index_32_bits>`` (inputs ``const``), ``raw`` arrays by name,
scalars by their C type (``int64`` is ``long long``), a grid-stride loop over ``i`` (``ptrdiff_t``)
with ``_ind.set(i)``, and a reference ``[const] T &x = _raw_x[_ind.get()];`` for every non-raw array
before the body. :data:`CUPY_HEADER` stands for CuPy's ``carray.cuh`` with the same interface
(indexing by a flat ``ptrdiff_t`` or by the indexer's index, ``const`` element access through a
``const`` array). nvcc compiles the result with CuPy's options (``--std=c++17``, ``-ftz=true``) to
machine code (ptxas) for both architectures; any error fails the test. The kernels of one type go to
nvcc as one file, each in a namespace of its own (nvcc's start-up is most of a compile); where that
fails, each kernel is compiled alone to name the ones that do not compile. The arrays are the
contiguous ones nnref passes (CuPy reduces them to one dimension, raw arrays keep two), and a
concrete-typed parameter like ``int64 H`` is the Python int nnref passes (a scalar).

Where no nvcc is found, the compile tests skip and say so; ``docs/performance.md`` says what has
been compiled and what has run on a GPU.
"""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from nnref.fast import fused_cells

ROOT = Path(__file__).resolve().parent.parent.parent
NVCC = shutil.which("nvcc")
ARCHS = ("sm_80", "sm_90")
TYPES = {"float": np.float32, "double": np.float64}
# CuPy's kernel APIs: anything in nnref/ that names one builds a kernel
KERNEL_APIS = {"ElementwiseKernel", "RawKernel", "ReductionKernel", "RawModule", "fuse", "rawkernel"}
BUILDERS = {("nnref/fast/fused_cells.py", "_kernel")}   # where a kernel may be built: from KERNELS only

needs_nvcc = pytest.mark.skipif(NVCC is None, reason="no CUDA compiler (nvcc) on this machine: "
                                "nnref's CUDA kernels were not compiled (tests/fast/test_kernels_compile.py)")

# CuPy's carray.cuh as far as an ElementwiseKernel's code reaches (written for this test)
CUPY_HEADER = r"""
#include <cstddef>
#include <math_constants.h>

#define CUPY_FOR(i, n) \
  for (ptrdiff_t i = static_cast<ptrdiff_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<ptrdiff_t>(blockDim.x) * gridDim.x)

template <typename T, int ndim, bool c_contiguous = false, bool use_32bit_indexing = false>
class CArray {
  T* data_;
  ptrdiff_t size_;
  ptrdiff_t shape_[ndim];
  ptrdiff_t strides_[ndim];   // bytes
 public:
  __device__ ptrdiff_t size() const { return size_; }
  __device__ const T& operator[](ptrdiff_t flat) const {      // C order over the shape
    ptrdiff_t offset = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      offset += (flat % shape_[d]) * strides_[d];
      flat /= shape_[d];
    }
    return *reinterpret_cast<const T*>(reinterpret_cast<const char*>(data_) + offset);
  }
  __device__ T& operator[](ptrdiff_t flat) { return const_cast<T&>(static_cast<const CArray&>(*this)[flat]); }
  template <typename Int>
  __device__ const T& operator[](const Int (&index)[ndim]) const {
    ptrdiff_t offset = 0;
    for (int d = 0; d < ndim; ++d) offset += index[d] * strides_[d];
    return *reinterpret_cast<const T*>(reinterpret_cast<const char*>(data_) + offset);
  }
  template <typename Int>
  __device__ T& operator[](const Int (&index)[ndim]) {
    return const_cast<T&>(static_cast<const CArray&>(*this)[index]);
  }
};

template <int ndim, bool use_32bit_indexing = false>
class CIndexer {
  ptrdiff_t size_;
  ptrdiff_t shape_[ndim];
  ptrdiff_t index_[ndim];
 public:
  __device__ ptrdiff_t size() const { return size_; }
  __device__ void set(ptrdiff_t flat) {
    for (int d = ndim - 1; d >= 0; --d) {
      index_[d] = flat % shape_[d];
      flat /= shape_[d];
    }
  }
  __device__ const ptrdiff_t (&get() const)[ndim] { return index_; }
};
"""

C_TYPES = {np.dtype(t): c for t, c in [
    (np.bool_, "bool"), (np.int8, "signed char"), (np.uint8, "unsigned char"), (np.int16, "short"),
    (np.uint16, "unsigned short"), (np.int32, "int"), (np.uint32, "unsigned int"), (np.int64, "long long"),
    (np.uint64, "unsigned long long"), (np.float32, "float"), (np.float64, "double")]}


def parameters(spec: str, is_const: bool) -> list[dict]:
    """CuPy's ``ParameterInfo`` for each comma-separated parameter: ``[raw] <type> <name>``."""
    params = []
    for text in filter(None, (s.strip() for s in spec.split(","))):
        words = text.split()
        if len(words) < 2:
            raise ValueError(f"syntax error in kernel parameter {text!r}")
        *keywords, type_, name = words
        unknown = set(keywords) - {"raw", "_non_const"}
        if unknown:
            raise ValueError(f"unknown keyword {unknown} in kernel parameter {text!r}")
        params.append(dict(name=name, type=type_, raw="raw" in keywords,
                           const=is_const and "_non_const" not in keywords,
                           ctype=type_ if len(type_) == 1 else C_TYPES[np.dtype(type_)]))
    return params


def cupy_source(in_params: str, out_params: str, operation: str, name: str, T: str) -> str:
    """The CUDA source CuPy's ``ElementwiseKernel(in_params, out_params, operation, name)`` compiles
    when its type placeholders are ``T`` and its arrays contiguous (see the module docstring)."""
    return CUPY_HEADER + cupy_kernel(in_params, out_params, operation, name, T)


def cupy_kernel(in_params: str, out_params: str, operation: str, name: str, T: str) -> str:
    """:func:`cupy_source` after the header: the type placeholders' typedefs and the kernel."""
    if not re.fullmatch(r"[A-Za-z_]\w*", name):
        raise ValueError(f"invalid kernel name {name!r}")
    params = parameters(in_params, True) + parameters(out_params, False)
    if "i" in [p["name"] for p in params]:
        raise ValueError("'i' cannot be a parameter name")
    placeholders = sorted({p["type"] for p in params if len(p["type"]) == 1})
    typedefs = "".join(f"typedef {T} {t};\n" for t in placeholders)
    decls, refs = [], []
    for p in params:
        scalar = not p["raw"] and len(p["type"]) != 1      # nnref passes Python ints there
        ctype = T if len(p["type"]) == 1 else p["ctype"]    # every placeholder is T here
        c_type = ctype if scalar else f"CArray<{ctype}, {2 if p['raw'] else 1}, 1, 1>"
        decls.append(f"{'const ' if p['const'] else ''}{c_type} {p['name'] if p['raw'] or scalar else '_raw_' + p['name']}")
        if not p["raw"] and not scalar:
            refs.append(f"{'const ' if p['const'] else ''}{p['ctype']} &{p['name']} = _raw_{p['name']}[_ind.get()];")
    decls.append("CIndexer<1, 1> _ind")
    body = "\n".join(refs + [operation])
    return (f"\n{typedefs}\n"
            f'extern "C" __global__ void {name}({", ".join(decls)}) {{\n'
            f"  ;\n  #pragma unroll 1\n  CUPY_FOR(i, _ind.size()) {{\n    _ind.set(i);\n"
            f"    {body};\n  }}\n  ;\n}}\n")


def compile_for_gpus(source: str, folder: Path) -> subprocess.CompletedProcess:
    """nvcc with CuPy's options, to machine code for every architecture of ARCHS."""
    cu = folder / "kernel.cu"
    cu.write_text(source, encoding="utf-8")
    gencode = [f"-gencode=arch=compute_{a[3:]},code={a}" for a in ARCHS]
    return subprocess.run([NVCC, "--std=c++17", "-ftz=true", "-fatbin", *gencode, "-o", str(folder / "kernel.fatbin"),
                           str(cu)], capture_output=True, text=True)


class _KernelAPIUses(ast.NodeVisitor):
    """(file, enclosing function) of every name or attribute in KERNEL_APIS."""

    def __init__(self, path):
        self.path, self.function, self.uses = path, "<module>", []

    def visit_FunctionDef(self, node):
        outer, self.function = self.function, node.name
        self.generic_visit(node)
        self.function = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Attribute(self, node):
        if node.attr in KERNEL_APIS:
            self.uses.append((self.path, self.function))
        self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in KERNEL_APIS:
            self.uses.append((self.path, self.function))


def kernel_api_uses() -> list[tuple[str, str]]:
    """(file, enclosing function) of every mention of a CuPy kernel API in nnref/."""
    uses = []
    for path in sorted((ROOT / "nnref").rglob("*.py")):
        visitor = _KernelAPIUses(path.relative_to(ROOT).as_posix())
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        uses += visitor.uses
    return uses


def test_every_kernel_comes_from_the_table():
    """A kernel built anywhere but from ``fused_cells.KERNELS`` would escape the compile test."""
    uses = set(kernel_api_uses())
    stray = sorted(uses - BUILDERS)
    assert not stray, (f"CuPy kernels built outside nnref.fast.fused_cells.KERNELS: {stray}; put their specs in "
                       "that table (or teach tests/fast/test_kernels_compile.py the new kind)")
    assert uses == BUILDERS, "the kernel builder moved: update BUILDERS"
    assert fused_cells.KERNELS, "no kernel in the table"


def test_generated_source_is_cupys():
    """The parts CuPy writes for ``ElementwiseKernel('T x, raw T r, int64 n', 'T y', ...)``."""
    src = cupy_source("T x, raw T r, int64 n", "T y", "y = x + r[i] * n", "k", "double")
    assert "typedef double T;" in src
    assert ('extern "C" __global__ void k(const CArray<double, 1, 1, 1> _raw_x, const CArray<double, 2, 1, 1> r, '
            'const long long n, CArray<double, 1, 1, 1> _raw_y, CIndexer<1, 1> _ind)') in src
    assert "const T &x = _raw_x[_ind.get()];\nT &y = _raw_y[_ind.get()];\ny = x + r[i] * n;" in src
    with pytest.raises(ValueError, match="'i'"):
        cupy_source("T i", "T y", "y = i", "k", "float")


def kernels_source(names, T: str) -> str:
    """The header, then each kernel of ``names`` as :func:`cupy_kernel` writes it, in a namespace of
    its own: one file that nvcc compiles at once, in which no kernel sees another's typedefs."""
    return CUPY_HEADER + "".join(f"\nnamespace kernel_{name} {{{cupy_kernel(*fused_cells.elementwise_args(name), T)}}}\n"
                                 for name in names)


@needs_nvcc
@pytest.mark.parametrize("T", TYPES)
def test_every_kernel_compiles_for_sm80_and_sm90(T, tmp_path):
    # one nvcc run for the whole table (nvcc's fixed cost, ~0.6 s, is most of one kernel's compile);
    # where it fails, each kernel is compiled alone, to name the ones that do not compile
    names = sorted(fused_cells.KERNELS)
    proc = compile_for_gpus(kernels_source(names, T), tmp_path)
    if proc.returncode != 0:
        errors = {}
        for name in names:
            (tmp_path / name).mkdir()
            alone = compile_for_gpus(cupy_source(*fused_cells.elementwise_args(name), T), tmp_path / name)
            if alone.returncode != 0:
                errors[name] = alone.stderr[-2000:]
        pytest.fail(f"kernels that do not compile (T = {T}): {sorted(errors)}\n" +
                    "\n".join(errors.values() or [proc.stderr[-4000:]]))
    machine_code = (tmp_path / "kernel.fatbin").read_bytes()
    for name in names:     # every kernel, under the name CuPy launches it by, for both architectures
        symbol = fused_cells.elementwise_args(name)[3].encode()
        assert machine_code.count(symbol) >= len(ARCHS), f"{symbol} is not in the machine code"


@needs_nvcc
def test_a_broken_kernel_does_not_compile(tmp_path):
    """The check can fail: a body that writes to an input (const in CuPy) and one with a typo."""
    in_params, out_params, body, name = fused_cells.elementwise_args("lstm_cell_forward")
    for broken in [body + "c_prev = c;\n", body.replace("tanh(zg)", "tanh(zg")]:
        proc = compile_for_gpus(cupy_source(in_params, out_params, broken, name, "float"), tmp_path)
        assert proc.returncode != 0 and "error" in proc.stderr, broken


def test_performance_page_states_what_was_compiled_and_run():
    """The 性能 page's GPU status names every kernel of the table and every registered layer."""
    from nnref import registry
    page = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    section = page.split("{#gpu-status}", 1)[1].split("\n#", 1)[0]
    kernels = set(re.findall(r"`(nnref_\w+)`", section))
    assert kernels == {fused_cells.elementwise_args(k)[3] for k in fused_cells.KERNELS}, kernels
    named = set(re.findall(r"`(\w+)`", section))
    missing = [e.name for e in registry.LAYERS if e.name not in named]
    assert not missing, f"docs/performance.md#gpu-status does not say what runs on a GPU for {missing}"
