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



from ..backend import get_array_module
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
