r"""What ``torch.nn.RNN``, ``LSTM`` and ``GRU`` share as Modules: parameters in torch's layout and
order, input and state checks, ``batch_first``, unbatched input; the layer/direction loops are the
reference functions :func:`nnref.layers.recurrent.stacked_forward` / ``stacked_backward``."""
from __future__ import annotations

import math
import warnings

from ..backend import default_rng, device_backend, get_array_module, to_backend
from ..checks import (check_float, check_gradient, check_int, check_ndim, check_probability, check_size, need_cache,
                      param_dtype, read_only_output)
from ..layers.recurrent import stacked_backward, stacked_forward
from ..module import Module, Parameter


class RecurrentBase(Module):
    """Parameters, input checks and the layer/direction loops of ``torch.nn.RNN/LSTM/GRU``.

    A subclass sets ``n_gates`` (rows of ``W_ih`` per hidden unit: RNN 1, LSTM 4, GRU 3) and
    ``state_names`` (LSTM ``("h0", "c0")``) and implements ``_run`` / ``_run_backward`` for one
    direction with states as tuples; ``weights`` come as ``(W_ih, W_hh, b_ih, b_hh, W_hr)``.
    """

    n_gates = 1
    state_names = ("h0",)

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        input_size = check_int(input_size, "input_size", name, 1)
        hidden_size = check_int(hidden_size, "hidden_size", name, 1)
        num_layers = check_int(num_layers, "num_layers", name, 1)
        proj_size = check_int(proj_size, "proj_size", name, 0)
        if proj_size >= hidden_size:
            raise ValueError(f"{name}: proj_size has to be smaller than hidden_size, "
                             f"got proj_size={proj_size} and hidden_size={hidden_size}")
        try:
            dropout = check_probability(dropout, "dropout", name)
        except TypeError as exc:            # torch's recurrent layers raise ValueError for any bad dropout
            raise ValueError(str(exc)) from None
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
        gate_rows, H, D = self.n_gates * hidden_size, hidden_size, self.num_directions
        P = proj_size or hidden_size          # the size of h (and of each direction's output)
        bound = 1.0 / math.sqrt(hidden_size)  # torch: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))
        host = default_rng().host             # drawn on the host, moved to the chosen backend
        # registered in torch's order, so state_dict keys come out in torch's order
        for layer in range(num_layers):
            n_in = input_size if layer == 0 else D * P
            for suffix in self._suffixes():
                shapes = [("weight_ih", (gate_rows, n_in)), ("weight_hh", (gate_rows, P))]
                if self.bias:
                    shapes += [("bias_ih", (gate_rows,)), ("bias_hh", (gate_rows,))]
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

    @property
    def all_weights(self):
        r"""torch's ``all_weights``: one list of Parameters per layer and direction, in
        ``state_dict`` order (``weight_ih``, ``weight_hh``, biases, ``weight_hr``)."""
        return [[p for name, p in self._parameters.items() if name.endswith(f"_l{layer}{suffix}")]
                for layer in range(self.num_layers) for suffix in self._suffixes()]

    def flatten_parameters(self):
        r"""As torch's, for cuDNN's single weight buffer; nnref keeps separate arrays, so there is
        nothing to do (torch code that calls it runs unchanged)."""

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
        for g, what in zip((d_out, *given), ("d_out", *(f"gradient of {s[0]}_n" for s in self.state_names))):
            if g is not None:
                check_gradient(g, name, what)
        xp = get_array_module(like, d_out, *given)  # TypeError for mixed devices
        user_shape = (T, DP) if unbatched else ((B, T, DP) if self.batch_first else (T, B, DP))
        if d_out is None:
            grad = xp.zeros(shape, dtype=like.dtype)
        else:
            if tuple(d_out.shape) != user_shape:
                raise ValueError(f"{name}.backward: expected d_out of shape {user_shape}, got {tuple(d_out.shape)}")
            d_out = d_out.astype(like.dtype, copy=False)     # as torch: dx then has the input's dtype
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
            s = s.astype(like.dtype, copy=False)
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
