"""The fused GPU cell kernels compute the same formulas as the NumPy fast path's pointwise steps.

Without a GPU the CUDA source cannot run, but its arithmetic can: ``emulate`` translates
the kernel body (plain C expressions) to NumPy and runs it over every index ``i`` at once.
A wrong sign or a swapped gate in a kernel fails here, on any machine; whether CuPy
compiles and launches it is checked by tests/test_devices.py on a GPU.
"""
import re

import numpy as np
import pytest

from nnref.fast import fused_cells
from nnref.fast.gru import gru_gates_backward, gru_gates_forward
from nnref.fast.lstm import lstm_gates_backward, lstm_gates_forward

HEAD = "const ptrdiff_t b = i / H, j = i % H;\n"


def _split_declarations(line):
    """``const T a = x, b = f(y, z);`` -> ``['a = x', 'b = f(y, z)']`` (commas at depth 0 only)."""
    body = re.sub(r"^const (?:T|ptrdiff_t) ", "", line).rstrip(";")
    parts, depth, start = [], 0, 0
    for k, ch in enumerate(body):
        depth += ch in "(["
        depth -= ch in ")]"
        if ch == "," and depth == 0:
            parts.append(body[start:k])
            start = k + 1
    return [p.strip() for p in parts + [body[start:]]]


def to_python(source):
    lines = []
    for raw in (HEAD + source).splitlines():
        code = raw.split("//")[0].strip()
        if not code:
            continue
        code = re.sub(r"T\(([0-9.]+)\)", r"\1", code).replace("tanh(", "np.tanh(").replace(" / ", " // ")
        for stmt in (s.strip() for s in code.split(";") if s.strip()):
            lines.extend(_split_declarations(stmt) if stmt.startswith("const ") else [stmt])
    return "\n".join(lines)


def emulate(source, H, elementwise, raw):
    """Run a kernel body over i = 0..n-1; ``elementwise`` arrays are (B, H), ``raw`` ones any shape."""
    n = next(iter(elementwise.values())).size
    ns = {"np": np, "i": np.arange(n), "H": H}
    ns.update({k: v.reshape(-1) for k, v in raw.items()})          # views: writes land in place
    ns.update({k: v.reshape(-1).copy() for k, v in elementwise.items()})
    exec(to_python(source), ns)
    for k, v in elementwise.items():
        v.reshape(-1)[...] = ns[k]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_lstm_forward_kernel_matches_numpy_cell(rng):
    B, H = 3, 4
    z = rng.normal(size=(4, B, H))
    c_prev = rng.normal(size=(B, H))
    ref = [z.copy(), np.empty((B, H)), np.empty((B, H)), np.empty((B, H))]
    lstm_gates_forward(ref[0], c_prev, ref[1], ref[2], ref[3])
    got_z, c, tc, h = z.copy(), np.zeros((B, H)), np.zeros((B, H)), np.zeros((B, H))
    emulate(fused_cells.LSTM_FORWARD, H, {"c_prev": c_prev, "c": c, "tc": tc, "h": h,
                                          "zi": got_z[0], "zf": got_z[1], "zo": got_z[2], "zg": got_z[3]}, {})
    for name, want, got in zip(["gates", "c", "tanh c", "h"], ref, [got_z, c, tc, h]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, err_msg=name)


def test_lstm_backward_kernel_matches_numpy_cell(rng):
    B, H = 3, 4
    gates = rng.uniform(0.05, 0.95, size=(4, B, H))
    gates[3] = rng.uniform(-0.9, 0.9, size=(B, H))                  # g = tanh(.)
    dh, dc, c_prev, tc = (rng.normal(size=(B, H)) for _ in range(4))
    want_dz, want_dc = np.empty((4, B, H)), dc.copy()
    lstm_gates_backward(dh.copy(), want_dc, gates.copy(), c_prev, tc, want_dz, np.empty((2, 4, B, H)))
    dz, got_dc = np.zeros((4, B, H)), dc.copy()
    emulate(fused_cells.LSTM_BACKWARD, H, {"dh": dh, "c_prev": c_prev, "tc": tc, "dc": got_dc,
                                           "ig": gates[0], "fg": gates[1], "og": gates[2], "gg": gates[3],
                                           "dzi": dz[0], "dzf": dz[1], "dzo": dz[2], "dzg": dz[3]}, {})
    np.testing.assert_allclose(dz, want_dz, rtol=1e-12, atol=1e-14, err_msg="d pre-activations")
    np.testing.assert_allclose(got_dc, want_dc, rtol=1e-12, atol=1e-14, err_msg="dc_{t-1}")


def test_gru_forward_kernel_matches_numpy_cell(rng):
    B, H = 2, 5
    a, gh = rng.normal(size=(B, 3 * H)), rng.normal(size=(B, 3 * H))
    h_prev = rng.normal(size=(B, H))
    want_a, want_h = a.copy(), np.empty((B, H))
    gru_gates_forward(want_a, gh, h_prev, want_h)
    got_a, h = a.copy(), np.zeros((B, H))
    emulate(fused_cells.GRU_FORWARD, H, {"h_prev": h_prev, "h": h}, {"a": got_a, "gh": gh.copy()})
    np.testing.assert_allclose(got_a, want_a, rtol=1e-12, atol=1e-14, err_msg="gates")
    np.testing.assert_allclose(h, want_h, rtol=1e-12, atol=1e-14, err_msg="h")


def test_gru_backward_kernel_matches_numpy_cell(rng):
    B, H = 2, 5
    gates = rng.uniform(0.05, 0.95, size=(B, 3 * H))
    gates[:, 2 * H:] = rng.uniform(-0.9, 0.9, size=(B, H))           # n = tanh(.)
    gh, h_prev, dh = rng.normal(size=(B, 3 * H)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    want_da, want_dgh, want_dh = np.empty((B, 3 * H)), np.empty((B, 3 * H)), dh.copy()
    gru_gates_backward(want_dh, gates.copy(), gh, h_prev, want_da, want_dgh)
    da, dgh, got_dh = np.zeros((B, 3 * H)), np.zeros((B, 3 * H)), dh.copy()
    emulate(fused_cells.GRU_BACKWARD, H, {"h_prev": h_prev, "dh": got_dh},
            {"a": gates.copy(), "gh": gh.copy(), "da": da, "dgh": dgh})
    for name, want, got in [("da", want_da, da), ("dgh", want_dgh, dgh), ("dh", want_dh, got_dh)]:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, err_msg=name)


def test_emulator_catches_a_wrong_kernel(rng):
    """The check above can fail: a kernel with a flipped sign does not match."""
    B, H = 2, 3
    z, c_prev = rng.normal(size=(4, B, H)), rng.normal(size=(B, H))
    want = [z.copy(), np.empty((B, H)), np.empty((B, H)), np.empty((B, H))]
    lstm_gates_forward(want[0], c_prev, *want[1:])
    broken = fused_cells.LSTM_FORWARD.replace("c = fg * c_prev + ig * gg", "c = fg * c_prev - ig * gg")
    assert broken != fused_cells.LSTM_FORWARD
    got = [z.copy(), np.zeros((B, H)), np.zeros((B, H)), np.zeros((B, H))]
    emulate(broken, H, {"c_prev": c_prev, "c": got[1], "tc": got[2], "h": got[3],
                        "zi": got[0][0], "zf": got[0][1], "zo": got[0][2], "zg": got[0][3]}, {})
    assert np.allclose(got[0], want[0]) and not np.allclose(got[1], want[1])
