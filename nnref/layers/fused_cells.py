"""The LSTM and GRU cell arithmetic as one CUDA kernel each (CuPy), for the GPU.

Why: on a GPU every array operation is a kernel launch of a few microseconds, and the
NumPy-style cells in ``lstm.py`` / ``gru.py`` issue about fifteen of them per time step,
so a recurrent layer spends its time launching, not computing. Here each step's
pointwise work, forward or backward, is a single ``cupy.ElementwiseKernel`` over the
(B, H) hidden units. The formulas are the same as in ``lstm_cell_forward`` and friends
(which stay the readable reference and the CPU path), with the same in-place contract
and signatures; ``tests/test_devices.py`` checks both paths agree on a GPU.

Each thread handles one hidden unit ``j`` of one sample ``b`` and reads that unit's gates
from the gate-major row ``a[b, g*H + j]``.
"""
from __future__ import annotations

# --8<-- [start:fused_common]
_SIGMOID = "(T(0.5) * tanh(T(0.5) * ({})) + T(0.5))"   # σ(x) = ½ tanh(x/2) + ½: no overflow
_kernels = {}


def _kernel(name, in_params, out_params, body):
    """Compile once, on first use (CuPy is imported only on the GPU path)."""
    if name not in _kernels:
        import cupy
        head = "const ptrdiff_t b = i / H, j = i % H;\n"
        _kernels[name] = cupy.ElementwiseKernel(in_params, out_params, head + body, f"nnref_{name}")
    return _kernels[name]
# --8<-- [end:fused_common]


# --8<-- [start:lstm_fused]
LSTM_FORWARD = """
const ptrdiff_t r = b * 4 * H + j;
const T ig = {si}, fg = {sf}, gg = tanh(a[r + 2 * H]), og = {so};
a[r] = ig; a[r + H] = fg; a[r + 2 * H] = gg; a[r + 3 * H] = og;
c = fg * c_prev + ig * gg;
tc = tanh(c);
h = og * tc;
""".format(si=_SIGMOID.format("a[r]"), sf=_SIGMOID.format("a[r + H]"), so=_SIGMOID.format("a[r + 3 * H]"))

LSTM_BACKWARD = """
const ptrdiff_t r = b * 4 * H + j;
const T ig = a[r], fg = a[r + H], gg = a[r + 2 * H], og = a[r + 3 * H];
const T dct = dc + dh * og * (T(1) - tc * tc);      // dL/dc_t
da[r] = dct * gg * ig * (T(1) - ig);
da[r + H] = dct * c_prev * fg * (T(1) - fg);
da[r + 2 * H] = dct * ig * (T(1) - gg * gg);
da[r + 3 * H] = dh * tc * og * (T(1) - og);
dc = dct * fg;                                       // dL/dc_{t-1}
"""


def lstm_cell_forward(a, c_prev, c, tc, h):
    """Fused ``lstm.lstm_cell_forward``: same arguments, same in-place results."""
    k = _kernel("lstm_cell_forward", "T c_prev, int64 H", "raw T a, T c, T tc, T h", LSTM_FORWARD)
    k(c_prev, c.shape[-1], a, c, tc, h)


def lstm_cell_backward(dh, dc, a, c_prev, tc, da):
    """Fused ``lstm.lstm_cell_backward``: ``dc`` becomes ∂L/∂c_{t-1}; returns it."""
    k = _kernel("lstm_cell_backward", "T dh, T c_prev, T tc, raw T a, int64 H", "T dc, raw T da",
                LSTM_BACKWARD)
    k(dh, c_prev, tc, a, dc.shape[-1], dc, da)
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


def gru_cell_forward(a, gh, h_prev, h):
    """Fused ``gru.gru_cell_forward``: same arguments, same in-place results."""
    k = _kernel("gru_cell_forward", "raw T gh, T h_prev, int64 H", "raw T a, T h", GRU_FORWARD)
    k(gh, h_prev, h.shape[-1], a, h)


def gru_cell_backward(dh, a, gh, h_prev, da, dgh):
    """Fused ``gru.gru_cell_backward``: ``dh`` becomes the direct path ``dh * z``; returns it."""
    k = _kernel("gru_cell_backward", "raw T a, raw T gh, T h_prev, int64 H", "T dh, raw T da, raw T dgh",
                GRU_BACKWARD)
    k(a, gh, h_prev, dh.shape[-1], dh, da, dgh)
    return dh
# --8<-- [end:gru_fused]
