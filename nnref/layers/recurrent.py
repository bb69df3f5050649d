"""What RNN, LSTM and GRU share: layers, directions, dropout between layers, ``batch_first``,
unbatched input and states.

Each cell type brings two functions that run ONE direction of ONE layer over a ``(T, B, I)``
sequence (references in ``rnn.py``, ``lstm.py``, ``gru.py``; fast equals in ``nnref/fast/``)::

    xxx_forward(x, state, W_ih, W_hh, b_ih, b_hh) -> (out (T, B, H), final state, cache)
    xxx_backward(d_out, d_final_state, cache)    -> (dx, d_initial_state, dW_ih, dW_hh, db_ih, db_hh)

where a state is ``h`` (B, H) for RNN and GRU and ``(h, c)`` for LSTM.

:class:`RecurrentBase` stacks them as ``torch.nn`` does: layer ``l`` reads layer ``l-1``'s
output (through dropout while training, when ``dropout > 0``); a bidirectional layer runs a
second copy on the time-reversed sequence and concatenates the two outputs on the feature axis;
the states are stacked on axis 0 as ``(num_layers * num_directions, B, H)``, index
``layer * num_directions + direction``.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ..backend import default_rng, device_backend, get_array_module, to_backend
from ..checks import check_float, check_ndim, check_size, need_cache, param_dtype, read_only_output
from ..module import Module, Parameter
from .dropout import dropout_backward, dropout_forward, dropout_mask


# --8<-- [start:stacked_forward]
def stacked_forward(run, x, states, weights, num_layers, num_directions, dropout=0.0):
    r"""Run a recurrence over every layer and direction, as ``torch.nn.RNN/LSTM/GRU`` do.

    ``run(x, state, w) -> (out, final_state, cache)`` handles one direction of one layer
    (e.g. ``lstm_forward``); ``x`` (T, B, I); ``states``: a tuple of (L*D, B, ·) arrays
    (``(h0,)`` or ``(h0, c0)``); ``weights(layer, d)`` gives that direction's parameters;
    ``dropout``: the probability of dropping an element of a layer's output before the next
    layer reads it (inverted dropout; 0 in evaluation). Returns ``out`` (T, B, D*H), the final
    states (a tuple like ``states``), the caches indexed ``k = layer * D + d``, and the dropout
    factors applied to the inputs of layers 1 .. L-1 (None where there was no dropout).
    """
    xp = get_array_module(x)
    D = num_directions
    finals = tuple(xp.empty_like(s) for s in states)
    caches, drops, layer_in = [], [], x
    for layer in range(num_layers):
        if layer and dropout > 0:                       # between layers, never after the last
            mask = dropout_mask(layer_in.shape, dropout, like=layer_in)
            layer_in, factor = dropout_forward(layer_in, dropout, mask)
            drops.append(factor)
        elif layer:
            drops.append(None)
        outs = []
        for d in range(D):
            k = layer * D + d
            # the reverse direction is the same recurrence run on the time-reversed sequence ...
            inp = layer_in if d == 0 else layer_in[::-1]
            out, final, cache = run(inp, tuple(s[k] for s in states), weights(layer, d))
            for f, v in zip(finals, final):
                f[k] = v
            outs.append(out if d == 0 else out[::-1])     # ... and flipped back: out[t] belongs to x[t]
            caches.append(cache)
        # the next layer reads [forward h_t ; backward h_t] at every step
        layer_in = outs[0] if D == 1 else xp.concatenate(outs, axis=2)
    return layer_in, finals, caches, drops
# --8<-- [end:stacked_forward]


# --8<-- [start:stacked_backward]
def stacked_backward(run_backward, d_out, d_states, caches, num_layers, num_directions, drops=()):
    r"""BPTT through the stack of ``stacked_forward``, top layer first.

    ``run_backward(d_out, d_final_state, cache) -> (dx, d_initial_state, param_grads)``;
    ``d_out`` (T, B, D*H); ``d_states``: a tuple of (L*D, B, ·) arrays; ``drops``: the dropout
    factors from ``stacked_forward``. A layer's input gradient is the sum over its directions
    (both read the same input), times the dropout factor, and is the output gradient of the layer
    below. Returns ``dx``, the initial states' gradients and the parameter gradients, indexed
    ``k = layer * D + d``.
    """
    xp = get_array_module(d_out)
    D = num_directions
    H = d_out.shape[-1] // D
    d_init = tuple(xp.empty_like(s) for s in d_states)
    grads = [None] * len(caches)
    grad = d_out
    for layer in reversed(range(num_layers)):
        dx = None
        for d in range(D):
            k = layer * D + d
            g = grad[:, :, d * H:(d + 1) * H]            # this direction's half of the output gradient
            dxd, d0, grads[k] = run_backward(g if d == 0 else g[::-1], tuple(s[k] for s in d_states), caches[k])
            dxd = dxd if d == 0 else dxd[::-1]
            dx = dxd if dx is None else dx + dxd
            for a, v in zip(d_init, d0):
                a[k] = v
        if layer and drops and drops[layer - 1] is not None:
            dx = dropout_backward(dx, drops[layer - 1])
        grad = dx
    return grad, d_init, grads
# --8<-- [end:stacked_backward]


def _check_int(value, who, what, minimum):
    """torch's checks of a size argument: ``TypeError`` unless an int, ``ValueError`` below ``minimum``."""
    if not isinstance(value, numbers.Integral):
        raise TypeError(f"{who}: {what} should be of type int, got {type(value).__name__} {value!r}")
    if value < minimum:
        bound = "greater than zero" if minimum == 1 else "zero or positive"
        raise ValueError(f"{who}: {what} must be {bound}, got {value}")
    return int(value)


class RecurrentBase(Module):
    """Parameters, input checks and the layer/direction loops of ``torch.nn.RNN/LSTM/GRU``.

    A subclass sets ``gates`` (rows of ``W_ih`` per hidden unit: RNN 1, LSTM 4, GRU 3) and
    ``state_names`` (LSTM ``("h0", "c0")``) and implements ``_run`` / ``_run_backward`` for one
    direction with states as tuples; ``weights`` come as ``(W_ih, W_hh, b_ih, b_hh, W_hr)``.
    """

    gates = 1
    state_names = ("h0",)

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        input_size = _check_int(input_size, name, "input_size", 1)
        hidden_size = _check_int(hidden_size, name, "hidden_size", 1)
        num_layers = _check_int(num_layers, name, "num_layers", 1)
        proj_size = _check_int(proj_size, name, "proj_size", 0)
        if proj_size >= hidden_size:
            raise ValueError(f"{name}: proj_size has to be smaller than hidden_size, "
                             f"got proj_size={proj_size} and hidden_size={hidden_size}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout is the probability of zeroing an element and must be "
                             f"a number in [0, 1], got {dropout!r}")
        if dropout > 0 and num_layers == 1:   # torch warns the same way
            warnings.warn(f"{name}: dropout is applied after all but the last recurrent layer, so "
                          f"non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
        dt = param_dtype(dtype, name)
        where = device_backend(device, name)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bool(bias), bool(batch_first), bool(bidirectional)
        self.dropout, self.proj_size = float(dropout), proj_size
        self.num_directions = 2 if bidirectional else 1
        G, H, D = self.gates * hidden_size, hidden_size, self.num_directions
        P = proj_size or hidden_size          # the size of h (and of each direction's output)
        bound = 1.0 / math.sqrt(hidden_size)  # torch: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))
        host = default_rng().host             # drawn on the host, moved to the chosen backend
        # registered in torch's order, so state_dict keys come out in torch's order
        for layer in range(num_layers):
            n_in = input_size if layer == 0 else D * P
            for suffix in self._suffixes():
                shapes = [("weight_ih", (G, n_in)), ("weight_hh", (G, P))]
                if self.bias:
                    shapes += [("bias_ih", (G,)), ("bias_hh", (G,))]
                if proj_size:
                    shapes += [("weight_hr", (P, H))]
                for kind, shape in shapes:
                    data = to_backend(host.uniform(-bound, bound, shape).astype(dt), where)
                    self.register_parameter(f"{kind}_l{layer}{suffix}", Parameter(data))
        self._cache = None
        self.dh0 = None  # gradient of the initial hidden state, set by backward
        self.dc0 = None  # LSTM: gradient of the initial cell state

    @property
    def n_states(self):
        """1 for RNN and GRU (``h``), 2 for LSTM (``h`` and ``c``)."""
        return len(self.state_names)

    def _suffixes(self):
        return ("", "_reverse")[: self.num_directions]

    def _weights(self, layer, direction, dtype):
        """``(W_ih, W_hh, b_ih, b_hh, W_hr)`` of one layer and direction in ``dtype`` (None where absent)."""
        suffix = self._suffixes()[direction]

        def get(kind, present=True):
            return getattr(self, f"{kind}_l{layer}{suffix}").data.astype(dtype, copy=False) if present else None
        return (get("weight_ih"), get("weight_hh"), get("bias_ih", self.bias), get("bias_hh", self.bias),
                get("weight_hr", self.proj_size > 0))

    # -- one direction of one layer: supplied by RNN, LSTM, GRU ------------------------
    def _run(self, x, state, weights):
        raise NotImplementedError

    def _run_backward(self, d_out, d_state, cache):
        raise NotImplementedError

    # -- states as tuples of (L*D, B, ·) arrays ----------------------------------------
    def _state_sizes(self):
        """Features of each state: h has proj_size (or hidden_size), c hidden_size."""
        return (self.proj_size or self.hidden_size, self.hidden_size)[: self.n_states]

    def _state_tuple(self, hx):
        """The user's state (``h0`` or ``(h0, c0)``) as a tuple."""
        if self.n_states == 1:
            return (hx,)
        if not isinstance(hx, (tuple, list)) or len(hx) != self.n_states:
            raise TypeError(f"{type(self).__name__}: expected the state as a tuple "
                            f"({', '.join(self.state_names)}), got {type(hx).__name__}")
        return tuple(hx)

    def _state_out(self, states):
        return states[0] if self.n_states == 1 else tuple(states)

    def _check_state(self, s, what, shape, x):
        name = type(self).__name__
        check_float(s, f"{name} {what}")
        if tuple(s.shape) != shape:
            raise ValueError(f"{name}: expected {what} of shape {shape}, got {tuple(s.shape)}")
        if s.dtype != x.dtype:
            raise TypeError(f"{name}: {what} has dtype {s.dtype} but the input {x.dtype}; "
                            "pass both in one dtype")
        return s

    # -- forward -------------------------------------------------------------------------
    def forward(self, input, hx=None):
        """``input``: (T, B, I), (B, T, I) with ``batch_first``, or unbatched (T, I).

        ``hx``: ``h0`` (RNN, GRU) or ``(h0, c0)`` (LSTM), each (num_layers * num_directions, B, ·)
        or (num_layers * num_directions, ·) for unbatched input; zeros when None. Returns
        ``(out, h_n)`` or ``(out, (h_n, c_n))`` like torch. In ``train()`` mode with
        ``dropout > 0`` the inputs of layers 1 .. L-1 go through inverted dropout.
        """
        x = input
        name = type(self).__name__
        check_float(x, name)
        check_ndim(x, name, (2, 3), "(T, B, input_size)" + (" with batch_first=True: (B, T, input_size)"
                                                                  if self.batch_first else "")
                   + " or unbatched (T, input_size)")
        check_size(x, name, -1, self.input_size, "input features")
        given = () if hx is None else self._state_tuple(hx)
        xp = get_array_module(x, self.weight_ih_l0.data, *given)  # TypeError for mixed devices
        unbatched = x.ndim == 2
        if unbatched:
            x = x[:, None]
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        T, B = x.shape[:2]
        if T == 0:
            raise ValueError(f"{name}: expected a sequence of at least one step, got input shape "
                             f"{tuple(input.shape)}")
        LD = self.num_layers * self.num_directions
        sizes = self._state_sizes()
        if hx is None:
            states = tuple(xp.zeros((LD, B, n), dtype=x.dtype) for n in sizes)
        else:
            states = tuple(self._check_state(s, what, (LD, n) if unbatched else (LD, B, n), x)
                           for s, what, n in zip(given, self.state_names, sizes))
            if unbatched:
                states = tuple(s[:, None] for s in states)
        x = xp.ascontiguousarray(x)
        weights = lambda layer, d: self._weights(layer, d, x.dtype)  # compute in the input's dtype
        p = self.dropout if self.training else 0.0
        out, finals, caches, drops = stacked_forward(self._run, x, states, weights, self.num_layers,
                                                     self.num_directions, p)
        self._cache = (caches, drops, unbatched, out)
        if unbatched:
            out, finals = out[:, 0], [f[:, 0] for f in finals]
        elif self.batch_first:
            out = out.transpose(1, 0, 2)
        # the cache keeps out (and the fast LSTM views it): hand it out read-only
        return read_only_output(out), self._state_out(finals)

    # -- backward ------------------------------------------------------------------------
    def backward(self, d_out=None, d_state=None):
        """BPTT through every layer and direction; returns the gradient of ``input``.

        ``d_out`` has the shape of ``out`` (None: zeros); ``d_state`` is ``d_h_n`` (RNN, GRU)
        or ``(d_h_n, d_c_n)`` (LSTM), shaped like the final states (None: zeros). Parameter
        gradients are added into ``p.grad``; the initial states' gradients are left in
        ``self.dh0`` (and ``self.dc0`` for LSTM).
        """
        name = type(self).__name__
        caches, drops, unbatched, like = need_cache(self._cache, name)  # like: the output, for shape and dtype
        shape = like.shape
        T, B, DP = shape
        LD, D = self.num_layers * self.num_directions, self.num_directions
        given = (None,) * self.n_states if d_state is None else self._state_tuple(d_state)
        xp = get_array_module(like, d_out, *given)  # TypeError for mixed devices
        user_shape = (T, DP) if unbatched else ((B, T, DP) if self.batch_first else (T, B, DP))
        if d_out is None:
            grad = xp.zeros(shape, dtype=like.dtype)
        else:
            if tuple(d_out.shape) != user_shape:
                raise ValueError(f"{name}.backward: expected d_out of shape {user_shape}, got {tuple(d_out.shape)}")
            grad = d_out[:, None] if unbatched else (d_out.transpose(1, 0, 2) if self.batch_first else d_out)
        d_states = []
        for s, what, n in zip(given, self.state_names, self._state_sizes()):
            if s is None:
                d_states.append(xp.zeros((LD, B, n), dtype=like.dtype))
                continue
            state_shape = (LD, n) if unbatched else (LD, B, n)
            if tuple(s.shape) != state_shape:
                raise ValueError(f"{name}.backward: expected the gradient of the final "
                                 f"{what[0]}_n of shape {state_shape}, got {tuple(s.shape)}")
            d_states.append(s[:, None] if unbatched else s)
        grad, d_init, grads = stacked_backward(self._run_backward, grad, tuple(d_states), caches,
                                               self.num_layers, D, drops)
        for k, dw in enumerate(grads):  # k = layer * D + direction
            suffix = self._suffixes()[k % D]
            for kind, dp in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"), dw):
                if dp is not None:
                    getattr(self, f"{kind}_l{k // D}{suffix}").accumulate(dp)
        if unbatched:
            d_init = [a[:, 0] for a in d_init]
            grad = grad[:, 0]
        elif self.batch_first:
            grad = grad.transpose(1, 0, 2)
        self.dh0 = d_init[0]
        if len(d_init) == 2:
            self.dc0 = d_init[1]
        return grad

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s
