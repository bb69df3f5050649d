r"""``torch.nn.GRU``: the reference step is :mod:`nnref.layers.gru`; the Module runs the equal but
faster :mod:`nnref.fast.gru`."""
from __future__ import annotations

from ..fast.gru import gru_backward_fast, gru_forward_fast
from .recurrent import RecurrentBase


class GRU(RecurrentBase):
    r"""``torch.nn.GRU``: ``out, h_n = gru(input, hx=None)`` (``hx`` is ``h0``).

    ``dx = gru.backward(d_out, d_state=None)`` with ``d_state`` the gradient of ``h_n``; then
    ``gru.dh0`` holds the gradient of ``h0``.
    """

    mode = "GRU"
    n_gates = 3

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)

    def _run(self, x, state, weights):
        out, h_n, cache = gru_forward_fast(x, state[0], *weights[:4])
        return out, (h_n,), cache

    def _run_backward(self, d_out, d_state, cache):
        dx, dh0, *dw = gru_backward_fast(d_out, d_state[0], cache)
        return dx, (dh0,), dw
