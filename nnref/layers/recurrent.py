"""What RNN, LSTM and GRU share: layers, directions, ``batch_first``, unbatched input and states.

Each cell type brings two pure functions that run ONE direction of ONE layer over a
``(T, B, I)`` sequence (see ``rnn.py``, ``lstm.py``, ``gru.py``)::

    xxx_forward(x, state, W_ih, W_hh, b_ih, b_hh) -> (out (T, B, H), final state, cache)
    xxx_backward(d_out, d_final_state, cache)    -> (dx, d_initial_state, dW_ih, dW_hh, db_ih, db_hh)

where a state is ``h`` (B, H) for RNN and GRU and ``(h, c)`` for LSTM.

:class:`RecurrentBase` stacks them as ``torch.nn`` does: layer ``l`` reads layer ``l-1``'s
output; a bidirectional layer runs a second copy on the time-reversed sequence and
concatenates the two outputs on the feature axis; the states are stacked on axis 0 as
``(num_layers * num_directions, B, H)``, index ``layer * num_directions + direction``.
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import default_rng, get_array_module
from ..checks import check_float, check_ndim, check_size, need_cache
from ..module import Module, Parameter


# --8<-- [start:stacked_forward]
def stacked_forward(run, x, states, weights, num_layers, num_directions):
    """Run a recurrence over every layer and direction, as ``torch.nn.RNN/LSTM/GRU`` do.

    ``run(x, state, w) -> (out, final_state, cache)`` handles one direction of one layer
    (e.g. ``lstm_forward``); ``x`` (T, B, I); ``states``: a tuple of (L*D, B, H) arrays
    (``(h0,)`` or ``(h0, c0)``); ``weights(layer, d)`` gives that direction's parameters.
    Returns ``out`` (T, B, D*H), the final states (a tuple like ``states``) and the caches,
    all indexed ``k = layer * D + d``.
    """
    xp = get_array_module(x)
    D = num_directions
    finals = tuple(xp.empty_like(s) for s in states)
    caches, layer_in = [], x
    for layer in range(num_layers):
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
    return layer_in, finals, caches
# --8<-- [end:stacked_forward]


# --8<-- [start:stacked_backward]
def stacked_backward(run_backward, d_out, d_states, caches, num_layers, num_directions):
    """BPTT through the stack of ``stacked_forward``, top layer first.

    ``run_backward(d_out, d_final_state, cache) -> (dx, d_initial_state, param_grads)``;
    ``d_out`` (T, B, D*H); ``d_states``: a tuple of (L*D, B, H) arrays. A layer's input
    gradient is the sum over its directions (both read the same input) and is the output
    gradient of the layer below. Returns ``dx``, the initial states' gradients and the
    parameter gradients, indexed ``k = layer * D + d``.
    """
    xp = get_array_module(d_out)
    D, H = num_directions, d_states[0].shape[-1]
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
        grad = dx
    return grad, d_init, grads
# --8<-- [end:stacked_backward]


class RecurrentBase(Module):
    """Parameters, input checks and the layer/direction loops of ``torch.nn.RNN/LSTM/GRU``.

    A subclass sets ``gates`` (rows of ``W_ih`` per hidden unit: RNN 1, LSTM 4, GRU 3) and
    ``n_states`` (LSTM 2: ``h`` and ``c``; else 1) and implements ``_run`` / ``_run_backward``
    for one direction with states as tuples.
    """

    gates = 1
    n_states = 1
    state_names = ("h0",)

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, bidirectional: bool = False, dtype=np.float32):
        super().__init__()
        name = type(self).__name__
        if input_size <= 0 or hidden_size <= 0 or num_layers <= 0:
            raise ValueError(f"{name}: input_size, hidden_size and num_layers must be positive, "
                             f"got {input_size}, {hidden_size} and {num_layers}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.num_directions = 2 if bidirectional else 1
        G, H, D = self.gates * hidden_size, hidden_size, self.num_directions
        bound = 1.0 / math.sqrt(hidden_size)  # torch: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))
        rng = default_rng()
        # registered in torch's order, so state_dict keys come out in torch's order
        for layer in range(num_layers):
            n_in = input_size if layer == 0 else D * H
            for suffix in self._suffixes():
                shapes = [("weight_ih", (G, n_in)), ("weight_hh", (G, H))]
                if bias:
                    shapes += [("bias_ih", (G,)), ("bias_hh", (G,))]
                for kind, shape in shapes:
                    setattr(self, f"{kind}_l{layer}{suffix}",
                            Parameter(rng.uniform(shape, -bound, bound, dtype=dtype)))
        self._cache = None
        self.dh0 = None  # gradient of the initial hidden state, set by backward

    def _suffixes(self):
        return ("", "_reverse")[: self.num_directions]

    def _weights(self, layer, direction, dtype):
        """``(W_ih, W_hh, b_ih, b_hh)`` of one layer and direction in ``dtype`` (biases None when ``bias=False``)."""
        suffix = self._suffixes()[direction]
        names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if self.bias else [])
        arrays = [getattr(self, f"{n}_l{layer}{suffix}").data.astype(dtype, copy=False) for n in names]
        return tuple(arrays) if self.bias else (*arrays, None, None)

    # -- one direction of one layer: supplied by RNN, LSTM, GRU ------------------------
    def _run(self, x, state, weights):
        raise NotImplementedError

    def _run_backward(self, d_out, d_state, cache):
        raise NotImplementedError

    # -- states as tuples of (L*D, B, H) arrays ----------------------------------------
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
        get_array_module(x, s)  # TypeError when x and the state sit on different devices
        if tuple(s.shape) != shape:
            raise ValueError(f"{name}: expected {what} of shape {shape}, got {tuple(s.shape)}")
        if s.dtype != x.dtype:
            raise TypeError(f"{name}: {what} has dtype {s.dtype} but the input {x.dtype}; "
                            "pass both in one dtype")
        return s

    # -- forward -------------------------------------------------------------------------
    def forward(self, x, hx=None, *, h0=None):
        """``x``: (T, B, I), (B, T, I) with ``batch_first``, or unbatched (T, I).

        ``hx`` (torch's name; ``h0=`` is accepted too): ``h0`` (RNN, GRU) or ``(h0, c0)`` (LSTM),
        each (num_layers * num_directions, B, H) or (num_layers * num_directions, H) for
        unbatched input; zeros when None. Returns ``(out, h_n)`` or ``(out, (h_n, c_n))`` like torch.
        """
        name = type(self).__name__
        if h0 is not None:
            if hx is not None:
                raise TypeError(f"{name}: pass the initial state once, as hx or as h0, not both")
            hx = h0
        check_float(x, name)
        check_ndim(x, name, (2, 3), "(T, B, input_size)" + (" with batch_first=True: (B, T, input_size)"
                                                                  if self.batch_first else "")
                   + " or unbatched (T, input_size)")
        check_size(x, name, -1, self.input_size, "input features")
        xp = get_array_module(x, self.weight_ih_l0.data)
        unbatched = x.ndim == 2
        if unbatched:
            x = x[:, None]
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        T, B = x.shape[:2]
        if T == 0 or B == 0:
            raise ValueError(f"{name}: got an empty sequence or batch, input shape {tuple(x.shape)}")
        LD, H, D = self.num_layers * self.num_directions, self.hidden_size, self.num_directions
        if hx is None:
            states = tuple(xp.zeros((LD, B, H), dtype=x.dtype) for _ in range(self.n_states))
        else:
            shape = (LD, H) if unbatched else (LD, B, H)
            states = tuple(self._check_state(s, what, shape, x)
                           for s, what in zip(self._state_tuple(hx), self.state_names))
            if unbatched:
                states = tuple(s[:, None] for s in states)
        x = xp.ascontiguousarray(x)
        weights = lambda layer, d: self._weights(layer, d, x.dtype)  # compute in the input's dtype
        out, finals, caches = stacked_forward(self._run, x, states, weights, self.num_layers, self.num_directions)
        self._cache = (caches, unbatched, out)
        if unbatched:
            return out[:, 0], self._state_out([f[:, 0] for f in finals])
        if self.batch_first:
            out = out.transpose(1, 0, 2)
        return out, self._state_out(finals)

    # -- backward ------------------------------------------------------------------------
    def backward(self, d_out=None, d_state=None):
        """BPTT through every layer and direction; returns the gradient of ``x``.

        ``d_out`` has the shape of ``out`` (None: zeros); ``d_state`` is ``d_h_n`` (RNN, GRU)
        or ``(d_h_n, d_c_n)`` (LSTM), shaped like the final states (None: zeros). Parameter
        gradients are added into ``p.grad``; the initial states' gradients are left in
        ``self.dh0`` (and ``self.dc0`` for LSTM).
        """
        name = type(self).__name__
        caches, unbatched, like = need_cache(self._cache, name)  # like: the output, for shape and dtype
        shape = like.shape
        T, B, DH = shape
        LD, H, D = self.num_layers * self.num_directions, self.hidden_size, self.num_directions
        xp = get_array_module(like)
        user_shape = (T, DH) if unbatched else ((B, T, DH) if self.batch_first else (T, B, DH))
        if d_out is None:
            grad = xp.zeros(shape, dtype=like.dtype)
        else:
            get_array_module(like, d_out)
            if tuple(d_out.shape) != user_shape:
                raise ValueError(f"{name}.backward: expected d_out of shape {user_shape}, got {tuple(d_out.shape)}")
            grad = d_out[:, None] if unbatched else (d_out.transpose(1, 0, 2) if self.batch_first else d_out)
        state_shape = (LD, H) if unbatched else (LD, B, H)
        d_states = []
        for s, what in zip((None,) * self.n_states if d_state is None else self._state_tuple(d_state),
                           self.state_names):
            if s is None:
                d_states.append(xp.zeros((LD, B, H), dtype=like.dtype))
                continue
            get_array_module(like, s)
            if tuple(s.shape) != state_shape:
                raise ValueError(f"{name}.backward: expected the gradient of the final "
                                 f"{what[0]}_n of shape {state_shape}, got {tuple(s.shape)}")
            d_states.append(s[:, None] if unbatched else s)
        grad, d_init, grads = stacked_backward(self._run_backward, grad, tuple(d_states), caches,
                                               self.num_layers, self.num_directions)
        for k, dw in enumerate(grads):  # k = layer * D + direction
            suffix = self._suffixes()[k % D]
            for kind, dp in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), dw):
                if dp is not None:
                    getattr(self, f"{kind}_l{k // D}{suffix}").accumulate(dp)
        if unbatched:
            d_init = [a[:, 0] for a in d_init]
            grad = grad[:, 0]
        elif self.batch_first:
            grad = grad.transpose(1, 0, 2)
        for what, a in zip(self.state_names, d_init):
            setattr(self, "d" + what, a)
        return grad

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s
