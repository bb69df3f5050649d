r"""The LSTM and GRU cell arithmetic as one CUDA kernel each (CuPy), for the GPU.

Why: on a GPU every array operation is a kernel launch of a few microseconds, and the
NumPy-style pointwise steps in ``fast/lstm.py`` / ``fast/gru.py`` issue about fifteen of
them per time step, so a recurrent layer spends its time launching, not computing. Here each
step's pointwise work, forward or backward, is a single ``cupy.ElementwiseKernel`` over the
(B, H) hidden units. The formulas are those of ``lstm_gates_forward`` and friends (the CPU
fast path), with the same in-place contract and signatures; ``tests/fast/test_fused_cells.py``
checks the arithmetic on CPU, ``tests/test_devices.py`` that both paths agree on a GPU.

Each thread handles one hidden unit ``j`` of one sample ``b``: the LSTM kernels get the four
gate blocks as separate (B, H) arrays; the GRU kernels read that unit's gates from the row
``a[b, g*H + j]`` by hand.
"""
from __future__ import annotations

# --8<-- [start:fused_common]
_SIGMOID = "(T(0.5) * tanh(T(0.5) * ({})) + T(0.5))"   # σ(x) = ½ tanh(x/2) + ½: no overflow
# every kernel nnref ships: name -> (in_params, out_params, body); each is compiled as CuPy
# would compile it, for sm_80 and sm_90, by tests/fast/test_kernels_compile.py (where nvcc is)
KERNELS = {}
_compiled = {}


def elementwise_args(name):
    """The arguments of ``cupy.ElementwiseKernel`` for kernel ``name``: in_params, out_params,
    operation, kernel name."""
    in_params, out_params, body = KERNELS[name]
    if "int64 H" in in_params:  # kernels that index gate-major rows by hand
        body = "const ptrdiff_t b = i / H, j = i % H;\n" + body
    return in_params, out_params, body, f"nnref_{name}"


def _kernel(name):
    """Compile once, on first use (CuPy is imported only on the GPU path)."""
    if name not in _compiled:
        import cupy
        _compiled[name] = cupy.ElementwiseKernel(*elementwise_args(name))
    return _compiled[name]
# --8<-- [end:fused_common]


# --8<-- [start:lstm_fused]
# The gate blocks [i, f, o, g] arrive as four (B, H) arrays; the sigmoid gates' pre-activations
# come halved (fast.lstm.gate_scale), so sigma(z) = 1/2 tanh(z/2) + 1/2 takes them as they are.
LSTM_FORWARD = """
const T ig = T(0.5) * tanh(zi) + T(0.5), fg = T(0.5) * tanh(zf) + T(0.5);
const T og = T(0.5) * tanh(zo) + T(0.5), gg = tanh(zg);
zi = ig; zf = fg; zo = og; zg = gg;
c = fg * c_prev + ig * gg;
tc = tanh(c);
h = og * tc;
"""

LSTM_BACKWARD = """
const T dct = dc + dh * og * (T(1) - tc * tc);      // dL/dc_t
dzi = dct * gg * ig * (T(1) - ig);
dzf = dct * c_prev * fg * (T(1) - fg);
dzo = dh * tc * og * (T(1) - og);
dzg = dct * ig * (T(1) - gg * gg);
dc = dct * fg;                                       // dL/dc_{t-1}
"""


KERNELS["lstm_cell_forward"] = ("T c_prev", "T zi, T zf, T zo, T zg, T c, T tc, T h", LSTM_FORWARD)
KERNELS["lstm_cell_backward"] = ("T dh, T c_prev, T tc, T ig, T fg, T og, T gg",
                                 "T dc, T dzi, T dzf, T dzo, T dzg", LSTM_BACKWARD)


def lstm_gates_forward(z, c_prev, c, tc, h):
    """Fused ``fast.lstm.lstm_gates_forward``: same arguments, same in-place results."""
    _kernel("lstm_cell_forward")(c_prev, z[0], z[1], z[2], z[3], c, tc, h)


def lstm_gates_backward(dh, dc, gates, c_prev, tc, dz):
    """Fused ``fast.lstm.lstm_gates_backward`` (needs no scratch): ``dc`` becomes ∂L/∂c_{t-1}; returns it."""
    _kernel("lstm_cell_backward")(dh, c_prev, tc, gates[0], gates[1], gates[2], gates[3],
                                  dc, dz[0], dz[1], dz[2], dz[3])
    return dc
# --8<-- [end:lstm_fused]


# --8<-- [start:gru_fused]
GRU_FORWARD = """
const ptrdiff_t r = b * 3 * H + j;
const T rg = {sr}, zg = {sz};
const T ng = tanh(a[r + 2 * H] + rg * gh[r + 2 * H]);   // r after the matrix product (PyTorch)
a[r] = rg; a[r + H] = zg; a[r + 2 * H] = ng;
h = ng + zg * (h_prev - ng);
""".format(sr=_SIGMOID.format("a[r] + gh[r]"), sz=_SIGMOID.format("a[r + H] + gh[r + H]"))

GRU_BACKWARD = """
const ptrdiff_t r = b * 3 * H + j;
const T rg = a[r], zg = a[r + H], ng = a[r + 2 * H], d = dh;
const T dn = d * (T(1) - zg) * (T(1) - ng * ng);
const T dz = d * (h_prev - ng) * zg * (T(1) - zg);
const T dr = dn * gh[r + 2 * H] * rg * (T(1) - rg);
da[r] = dr; da[r + H] = dz; da[r + 2 * H] = dn;
dgh[r] = dr; dgh[r + H] = dz; dgh[r + 2 * H] = dn * rg;
dh = d * zg;                                             // the direct path to h_{t-1}
"""


KERNELS["gru_cell_forward"] = ("raw T gh, T h_prev, int64 H", "raw T a, T h", GRU_FORWARD)
KERNELS["gru_cell_backward"] = ("raw T a, raw T gh, T h_prev, int64 H", "T dh, raw T da, raw T dgh",
                                GRU_BACKWARD)


def gru_gates_forward(a, gh, h_prev, h):
    """Fused ``fast.gru.gru_gates_forward``: same arguments, same in-place results."""
    _kernel("gru_cell_forward")(gh, h_prev, h.shape[-1], a, h)


def gru_gates_backward(dh, a, gh, h_prev, da, dgh):
    """Fused ``fast.gru.gru_gates_backward``: ``dh`` becomes the direct path ``dh * z``; returns it."""
    _kernel("gru_cell_backward")(a, gh, h_prev, dh.shape[-1], dh, da, dgh)
    return dh
# --8<-- [end:gru_fused]
