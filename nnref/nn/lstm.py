r"""``torch.nn.LSTM``: the reference step is :mod:`nnref.layers.lstm`; the Module runs the equal but
faster :mod:`nnref.fast.lstm` when there is no projection."""
from __future__ import annotations

from ..fast.lstm import lstm_backward_fast, lstm_forward_fast
from ..layers.lstm import LSTMCache, lstm_backward, lstm_forward
from .recurrent import RecurrentBase


class LSTM(RecurrentBase):
    r"""``torch.nn.LSTM``: ``out, (h_n, c_n) = lstm(input, (h0, c0))``.

    ``dx = lstm.backward(d_out, (d_h_n, d_c_n))``; then ``lstm.dh0`` and ``lstm.dc0`` hold the
    gradients of ``h0`` and ``c0``. With ``proj_size > 0`` (LSTMP) $h_t = W_{hr}(o \odot \tanh c_t)$
    has ``proj_size`` features while ``c`` keeps ``hidden_size``.
    """

    mode = "LSTM"
    n_gates = 4
    state_names = ("h0", "c0")

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)

    def _run(self, x, state, weights):
        W_ih, W_hh, b_ih, b_hh, W_hr = weights
        if W_hr is None:                               # the fast path has no projection
            return lstm_forward_fast(x, state, W_ih, W_hh, b_ih, b_hh)
        return lstm_forward(x, state, W_ih, W_hh, b_ih, b_hh, W_hr)

    def _run_backward(self, d_out, d_state, cache):
        if isinstance(cache, LSTMCache):
            dx, d0, *dw = lstm_backward(d_out, d_state, cache)
        else:
            dx, d0, *dw = lstm_backward_fast(d_out, d_state, cache)
        return dx, d0, dw
