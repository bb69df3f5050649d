"""The calling convention of ``tests/cases.py``, implemented once for every generic test.

Build a case in nnref and in torch with the same arguments and weights (:func:`pair`), draw its
inputs (:func:`draw`), call it (:func:`call`), hand ``backward`` the gradients of the outputs it
differentiates (:func:`backward`) and read back one gradient per differentiated input, on either
side (:func:`torch_call`, :func:`torch_backward`). Nothing here knows a layer by name.
"""
from __future__ import annotations

import inspect
from typing import NamedTuple

import numpy as np

import nnref
from nnref import registry
from nnref.backend import asarray
from tests.cases import Input


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
    if _takes(cls, "dtype") or case.layer in ("RNN", "LSTM", "GRU"):   # their __init__ is *args
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


# -- trees: an output is an array, None, or a tuple of them ((out, (h_n, c_n))) -------------------

def leaves(tree):
    """The arrays (and Nones) of ``tree`` in order: ``y``, ``(out, h_n)``, ``(out, (h_n, c_n))``."""
    if isinstance(tree, (tuple, list)):
        return [a for part in tree for a in leaves(part)]
    return [tree]


def like(tree, make):
    """``tree`` with every array ``a`` replaced by ``make(a)`` (None stays None)."""
    if isinstance(tree, (tuple, list)):
        return tuple(like(t, make) for t in tree)
    return None if tree is None else make(tree)


# -- the inputs ---------------------------------------------------------------------------------

class Call(NamedTuple):
    """Forward's arguments: ``args`` (an input repeated by ``Same`` is the same object) and ``kwargs``."""
    args: tuple
    kwargs: dict


def _draw_one(spec, rng, dtype, args):
    if isinstance(spec, tuple):                         # a tuple argument, e.g. an LSTM's (h0, c0)
        return tuple(_draw_one(s, rng, dtype, args) for s in spec)
    if not isinstance(spec, Input):
        return spec
    if spec.kind == "float":
        return rng.normal(size=spec.shape).astype(dtype)
    if spec.kind == "index":
        return rng.integers(0, spec.high, size=spec.shape)
    if spec.kind == "same":
        return args[spec.same_as]
    return spec.value.copy()


def draw(case, rng, dtype=np.float64) -> Call:
    """The case's arguments as host NumPy arrays (floats in ``dtype``)."""
    args = []
    for spec in case.inputs:
        args.append(_draw_one(spec, rng, dtype, args))
    return Call(tuple(args), {k: _draw_one(v, rng, dtype, args) for k, v in case.call.items()})


def replace_input(case, drawn: Call, position, value) -> Call:
    """``drawn`` with input ``position`` (and every ``Same`` copy of it) replaced by ``value``."""
    args = list(drawn.args)
    for i, spec in enumerate(case.inputs):
        if i == position or (isinstance(spec, Input) and spec.kind == "same" and spec.same_as == position):
            args[i] = value
    return Call(tuple(args), drawn.kwargs)


def drawn_inputs(case, kinds=("float", "index")):
    """Positions of the inputs drawn at random of the given kinds (what the bad-input families bend)."""
    return [i for i, s in enumerate(case.inputs) if isinstance(s, Input) and s.kind in kinds]


def differentiated(case):
    """Positions of the inputs whose gradients ``backward`` returns, in order."""
    out = []
    for i, s in enumerate(case.inputs):
        source = case.inputs[s.same_as] if isinstance(s, Input) and s.kind == "same" else s
        if isinstance(source, Input) and source.kind == "float" and source.grad:
            out.append(i)
    return out


def moved(drawn: Call, convert=asarray) -> Call:
    """``drawn`` with every host array converted (default: to the default backend); an array that
    appears twice is converted once, so ``Same`` inputs stay one object."""
    done = {}

    def one(a):
        if isinstance(a, (tuple, list)):
            return tuple(one(t) for t in a)
        if not isinstance(a, (np.ndarray, np.generic)):
            return a
        if id(a) not in done:
            done[id(a)] = (a, convert(a))
        return done[id(a)][1]
    return Call(tuple(one(a) for a in drawn.args), {k: one(v) for k, v in drawn.kwargs.items()})


def call(m, drawn: Call):
    """``m(*args, **kwargs)`` with the host arrays of ``drawn`` moved to the default backend."""
    d = moved(drawn)
    return m(*d.args, **d.kwargs)


# -- backward -----------------------------------------------------------------------------------

def grad_outputs(case, y):
    """The outputs ``backward`` takes gradients of, as a list (one entry per argument of backward)."""
    if not isinstance(y, tuple):
        return [y]
    return [y[k] for k in (range(len(y)) if case.outputs is None else case.outputs)]


def output_grads(case, y, make):
    """One gradient tree per differentiated output, each array made by ``make(a)`` (host)."""
    return [like(o, make) for o in grad_outputs(case, y)]


def input_grads(case, returned):
    """What ``backward`` returned, as a list with one gradient per differentiated input; an
    ``AssertionError`` when it broke the convention (one alone as itself, several as a tuple)."""
    n = len(differentiated(case))
    if n == 0:
        assert returned is None, f"{case.name}: backward returned {type(returned).__name__}; no input has a gradient"
        return []
    if n == 1:
        assert not isinstance(returned, tuple), f"{case.name}: backward returned a tuple for one input"
        return [returned]
    assert isinstance(returned, tuple) and len(returned) == n, (
        f"{case.name}: backward must return a tuple of {n} input gradients, got {type(returned).__name__}")
    return list(returned)


def backward(m, case, grads, convert=asarray):
    """``m.backward(*grads)`` (host trees moved by ``convert``); returns the input gradients as a list."""
    return input_grads(case, m.backward(*(like(g, convert) for g in grads)))


# -- the torch side -----------------------------------------------------------------------------

def torch_call(torch, ref, case, drawn: Call, requires_grad=True):
    """``ref`` on tensors of ``drawn``: each position its own tensor (a ``Same`` input an equal copy),
    the differentiated ones requiring grad. Returns ``(output, leaf tensors by position)``."""
    wanted = set(differentiated(case)) if requires_grad else set()

    def tensor(a, grad=False):
        if isinstance(a, (tuple, list)):
            return tuple(tensor(t) for t in a)
        if not isinstance(a, (np.ndarray, np.generic)):
            return a
        return torch.tensor(np.array(a), requires_grad=grad)   # a copy: torch refuses negative strides
    args = [tensor(a, i in wanted) for i, a in enumerate(drawn.args)]
    kwargs = {k: tensor(v) for k, v in drawn.kwargs.items()}
    return ref(*args, **kwargs), args


def torch_backward(torch, case, yt, grads):
    """Backpropagate ``sum <output, grad>`` over the differentiated outputs of torch's ``yt``."""
    total = 0
    for o, g in zip(grad_outputs(case, yt), grads):
        for t, a in zip(leaves(o), leaves(g)):
            if t is not None:
                total = total + (t * torch.tensor(a)).sum()
    total.backward()


def torch_input_grads(case, tensors):
    """torch's gradient of each differentiated input (zeros where the output does not depend on it)."""
    return [tensors[i].grad if tensors[i].grad is not None else np.zeros(tuple(tensors[i].shape))
            for i in differentiated(case)]
