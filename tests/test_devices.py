"""CPU and GPU agree, and a layer's forward/backward never copies device data back to the host.

Every case draws its data on the host with NumPy and builds the module after
``manual_seed(0)`` on each backend; since nnref draws random numbers on the host, both
modules start from identical weights (and identical dropout masks). These tests need
CuPy and a GPU; ``benchmarks/gpu_check.sh`` runs them on a GPU machine.
"""
import contextlib

import numpy as np
import pytest

import nnref
from nnref import backend
from tests.cases import CASES as ALL_CASES
from tests.generic import backward, draw, leaves, make_nnref, moved, output_grads

gpu = pytest.mark.skipif(not backend.cupy_available(),
                         reason="needs CuPy and a GPU (benchmarks/gpu_check.sh runs these on one)")


# every registered case (tests/cases.py), by name
CASES = {c.name: c for c in ALL_CASES}
TOLERANCE = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}


def run_case(name, dtype, backend_name):
    """Forward and backward of one case on one backend; everything returned on the host."""
    case = CASES[name]
    host = np.random.default_rng(0)
    drawn = draw(case, host, dtype)
    with backend.use_backend(backend_name):
        nnref.manual_seed(0)
        m = make_nnref(case, dtype)
        m.train(case.train)
        d = moved(drawn, backend.asarray)
        y = m(*d.args, **d.kwargs)
        grads = output_grads(case, y, lambda a: host.normal(size=a.shape).astype(a.dtype))
        out = {"output": [backend.asnumpy(a) for a in leaves(y) if a is not None]}
        for k, g in enumerate(backward(m, case, grads, backend.asarray)):
            out[f"gradient of input {k}"] = backend.asnumpy(g)
        out.update({n: backend.asnumpy(p.grad) for n, p in m.named_parameters()})
        out.update({n: backend.asnumpy(b) for n, b in m.named_buffers()})
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_float32_path_agrees_with_float64_on_cpu(name):
    """The same case in both precisions on NumPy (also keeps the GPU cases' table honest here)."""
    lo, hi = run_case(name, np.float32, "numpy"), run_case(name, np.float64, "numpy")
    for key in hi:
        for a, b in zip(leaves(lo[key]), leaves(hi[key])):
            assert a.dtype == (np.int64 if b.dtype == np.int64 else np.float32), f"{name} {key}: {a.dtype}"
            np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4, err_msg=f"{name}: {key}")


@gpu
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(CASES))
def test_cpu_and_gpu_agree(name, dtype):
    cpu, gpu = run_case(name, dtype, "numpy"), run_case(name, dtype, "cupy")
    assert cpu.keys() == gpu.keys()
    for key in cpu:
        for a, b in zip(leaves(cpu[key]), leaves(gpu[key])):
            assert a.dtype == b.dtype, f"{name} {key}: dtype {a.dtype} on CPU, {b.dtype} on GPU"
            np.testing.assert_allclose(b, a, err_msg=f"{name}: {key}", **TOLERANCE[dtype])


@contextlib.contextmanager
def no_device_to_host():
    """Fail loudly on any device-to-host transfer inside the block."""
    import cupy

    def refuse(*args, **kwargs):
        raise AssertionError("a device-to-host transfer inside a layer's forward/backward")

    patches = [(cupy, "asnumpy")] + [(cupy.ndarray, m) for m in
                                      ("get", "item", "tolist", "__float__", "__int__", "__bool__")]
    saved = []
    for owner, attr in patches:
        try:
            saved.append((owner, attr, owner.__dict__.get(attr, getattr(owner, attr))))
            setattr(owner, attr, refuse)
        except (TypeError, AttributeError):  # an extension type that will not take the patch
            saved.pop()
    # (cupyx.allow_synchronize is deprecated and, by its own documentation, reports false
    # positives, e.g. for host-to-device copies such as a dropout mask; the patches suffice:
    # numpy.asarray of a CuPy array is already a TypeError in CuPy itself.)
    try:
        yield
    finally:
        for owner, attr, value in saved:
            setattr(owner, attr, value)


# Index layers (Embedding) read the smallest and largest index back to raise IndexError like
# torch: without that one sync, CuPy's take would wrap an out-of-range index silently.
SYNC_BY_DESIGN = {name for name, c in CASES.items() if any(getattr(s, "kind", None) == "index" for s in c.inputs)}


@gpu
@pytest.mark.parametrize("name", [n for n in CASES if n not in SYNC_BY_DESIGN])
def test_no_host_round_trips_in_forward_and_backward(name):
    case = CASES[name]
    drawn = moved(draw(case, np.random.default_rng(1), np.float32), lambda a: backend.to_backend(a, "cupy"))
    with backend.use_backend("cupy"):
        m = make_nnref(case, np.float32)
        m.train(case.train)
        y = m(*drawn.args, **drawn.kwargs)  # the first call may compile kernels; the guarded second must not sync
        grads = output_grads(case, y, lambda a: backend.to_backend(np.ones(a.shape, a.dtype), "cupy"))
        with no_device_to_host():
            m(*drawn.args, **drawn.kwargs)
            m.backward(*grads)
