r"""``torch.nn.RNN``: the reference step is :mod:`nnref.layers.rnn`; the Module runs the equal but
faster :mod:`nnref.fast.rnn`."""
from __future__ import annotations

from ..fast.rnn import rnn_backward_fast, rnn_forward_fast
from .recurrent import RecurrentBase


class RNN(RecurrentBase):
    r"""``torch.nn.RNN``: ``out, h_n = rnn(input, hx=None)`` (``hx`` is ``h0``).

    ``dx = rnn.backward(d_out, d_state=None)`` with ``d_state`` the gradient of ``h_n``; then
    ``rnn.dh0`` holds the gradient of ``h0``.
    """

    mode = "RNN"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)
        self.nonlinearity = nonlinearity

    def _run(self, x, state, weights):
        out, h_n, cache = rnn_forward_fast(x, state[0], *weights[:4], nonlinearity=self.nonlinearity)
        return out, (h_n,), cache

    def _run_backward(self, d_out, d_state, cache):
        dx, dh0, *dw = rnn_backward_fast(d_out, d_state[0], cache)
        return dx, (dh0,), dw

    def extra_repr(self):
        s = super().extra_repr()  # torch leaves the nonlinearity out; we show it when it is not the default
        return s if self.nonlinearity == "tanh" else s + ", nonlinearity='relu'"
