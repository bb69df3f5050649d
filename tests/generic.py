"""Build a registered case in nnref and in torch with the same arguments and the same weights."""
from __future__ import annotations

import inspect

import numpy as np

import nnref
from nnref import registry
from tests.parity import dev


def torch_class(torch, dotted):
    module, name = dotted.split(".")
    return getattr(getattr(torch, module), name)


def _takes(cls, name):
    return name in inspect.signature(cls.__init__).parameters


def make_nnref(case, dtype=np.float64):
    cls = getattr(nnref, case.layer)
    kwargs = dict(case.kwargs)
    if _takes(cls, "dtype"):
        kwargs["dtype"] = dtype
    return cls(*case.args, **kwargs)


def make_torch(torch, case):
    """torch's module for ``case`` in float64, its floating state drawn afresh (non-zero biases,
    positive running variances) so that nothing is checked at a trivial value."""
    cls = torch_class(torch, registry.by_name(case.layer).torch)
    kwargs = dict(case.kwargs)
    if _takes(cls, "dtype") or case.layer in ("RNN", "LSTM", "GRU"):
        kwargs["dtype"] = torch.float64
    ref = cls(*case.args, **kwargs)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, t in ref.state_dict().items():
            if t.is_floating_point() and t.numel():
                fresh = torch.rand(t.shape, generator=g, dtype=t.dtype) + 0.5 if name.endswith("running_var") \
                    else torch.randn(t.shape, generator=g, dtype=t.dtype) * 0.5
                t.copy_(fresh)
    return ref


def pair(torch, case):
    """``(nnref module, torch module)`` with identical weights and buffers, both in the case's mode."""
    ref = make_torch(torch, case)
    m = make_nnref(case)
    m.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    ref.train(case.train)
    m.train(case.train)
    return m, ref


def draw_input(case, rng, shape=None):
    shape = case.shape if shape is None else shape
    if case.inputs == "index":
        return rng.integers(0, case.args[0], size=shape)
    return rng.normal(size=shape)


def leaves(y):
    """The arrays of an output: ``y``, ``(out, h_n)`` or ``(out, (h_n, c_n))``."""
    if isinstance(y, (tuple, list)):
        return [a for part in y for a in leaves(part)]
    return [y]


def nnref_backward(m, y, grads):
    """Call ``m.backward`` with gradients shaped like ``y`` (recurrent: ``d_out, d_state``)."""
    if isinstance(y, tuple):
        d_out, rest = grads[0], grads[1:]
        d_state = rest[0] if len(rest) == 1 else tuple(rest)
        return m.backward(dev(d_out), tuple(dev(g) for g in d_state) if isinstance(d_state, tuple)
                          else dev(d_state))
    return m.backward(dev(grads[0]))
