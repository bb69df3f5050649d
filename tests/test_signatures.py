"""Every registered class with a torch namesake takes torch 2.13's arguments, exactly.

Constructor and ``forward``: the same parameter names, in the same order, with the same kinds
(positional, keyword-only, ``*args``) and defaults, so code written for torch, positional or
keyword, runs unchanged. ``device`` and ``dtype`` keep torch's names and defaults and take
nnref's meanings. Options nnref adds (taught by the notes) come after torch's and are
keyword-only. The reference functions' defaults (``leaky_relu_forward(x, negative_slope=0.01)``)
must equal the constructor's.
"""
import inspect
import sys
import typing

import pytest

import nnref
from nnref import registry

TORCH_ENTRIES = [e for e in registry.ALL if e.torch]
IDS = [e.name for e in TORCH_ENTRIES]


def torch_class(torch, dotted):
    module, name = dotted.split(".")
    return getattr(getattr(torch, module), name)


def signature_of(fn):
    """Parameters after ``self``; for torch's RNNs the first typed overload (their __init__ is *args)."""
    overloads = typing.get_overloads(fn)
    sig = inspect.signature(overloads[0] if overloads else fn)
    return [p for p in sig.parameters.values() if p.name not in ("self", "cls")]


def constructor_of(cls):
    """``__new__`` where the class defines its own (torch.nn.Parameter), else ``__init__``."""
    return cls.__new__ if "__new__" in vars(cls) else cls.__init__


def default_of(p):
    """A parameter's default; a torch function as default (``TransformerEncoderLayer``'s
    ``activation=F.relu``) by its name, the string torch takes for it too: nnref holds no torch object."""
    if p.default is inspect.Parameter.empty:
        return "<none>"
    if callable(p.default) and str(getattr(p.default, "__module__", "")).startswith("torch"):
        return p.default.__name__
    return p.default


def describe(params):
    return [(p.name, p.kind.name, default_of(p)) for p in params]


def compare(ours, theirs, what, inherited=True):
    """``ours`` starts with exactly ``theirs``; whatever follows is keyword-only with a default.

    torch's ``(*args, **kwargs)`` is ``Module.__init__``'s when ``inherited`` (``torch.nn.Sigmoid``
    defines none): it refuses any argument, so nnref's takes nothing. A class's own
    ``(*args, **kwargs)`` (``torch.nn.Identity``) takes anything and ignores it: so must nnref's."""
    only_varargs = [p.kind for p in theirs] == [inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD]
    if only_varargs and inherited:      # torch.nn.Sigmoid(*args, **kwargs): it takes nothing
        theirs = []
    assert describe(ours[:len(theirs)]) == describe(theirs), (
        f"{what}: torch has {describe(theirs)}, nnref has {describe(ours)}")
    for p in ours[len(theirs):]:
        assert p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty, (
            f"{what}: nnref-only parameter {p.name!r} must be keyword-only with a default, after torch's")


@pytest.mark.parametrize("entry", TORCH_ENTRIES, ids=IDS)
def test_constructor_signature_is_torchs(entry, torch):
    ours = signature_of(constructor_of(getattr(nnref, entry.name)))
    init = constructor_of(torch_class(torch, entry.torch))
    compare(ours, signature_of(init), f"{entry.name}.__init__", inherited=init is torch.nn.Module.__init__)


FORWARD_ENTRIES = [e for e in registry.LAYERS + registry.LOSSES if e.torch]


@pytest.mark.parametrize("entry", FORWARD_ENTRIES, ids=[e.name for e in FORWARD_ENTRIES])
def test_forward_signature_is_torchs(entry, torch):
    ours = signature_of(getattr(nnref, entry.name).forward)
    theirs = signature_of(torch_class(torch, entry.torch).forward)
    compare(ours, theirs, f"{entry.name}.forward")


@pytest.mark.parametrize("entry", registry.LAYERS + registry.LOSSES,
                         ids=[e.name for e in registry.LAYERS + registry.LOSSES])
def test_reference_functions_share_the_defaults(entry):
    """A default of a function in the layer's module equals the constructor's default of that name."""
    cls = getattr(nnref, entry.name)
    defaults = {p.name: p.default for p in signature_of(cls.__init__)
                if p.default is not inspect.Parameter.empty}
    module = sys.modules[cls.__module__]
    for fname, fn in vars(module).items():
        if not inspect.isfunction(fn) or fn.__module__ != module.__name__:
            continue
        for p in inspect.signature(fn).parameters.values():
            if p.name in defaults and p.default is not inspect.Parameter.empty and p.name not in ("bias",):
                assert p.default == defaults[p.name], (
                    f"{module.__name__}.{fname}: {p.name}={p.default!r}, but {entry.name} defaults to "
                    f"{defaults[p.name]!r}")


def test_every_torch_namesake_is_checked(torch):
    """A public class whose name torch.nn or torch.optim also has must be registered with it."""
    for name in nnref.__all__:
        obj = getattr(nnref, name)
        if not isinstance(obj, type):
            continue
        if hasattr(torch.nn, name) or hasattr(torch.optim, name):
            entry = registry.by_name(name)
            assert entry.torch, f"{name} has a torch namesake but its registry entry names none"


def test_varargs_inherited_from_module_take_nothing_a_classs_own_take_anything():
    """torch.nn.Sigmoid's ``(*args, **kwargs)`` is Module's (it refuses any argument): nnref's takes
    none. torch.nn.Identity's is its own (it ignores any argument): nnref's must be the same."""
    def varargs(self, *args, **kwargs): ...

    def nothing(self): ...
    theirs, ours_varargs, ours_nothing = signature_of(varargs), signature_of(varargs), signature_of(nothing)
    compare(ours_nothing, theirs, "Sigmoid.__init__")
    compare(ours_varargs, theirs, "Identity.__init__", inherited=False)
    with pytest.raises(AssertionError, match="torch has"):
        compare(ours_nothing, theirs, "Identity.__init__", inherited=False)
    with pytest.raises(AssertionError, match="nnref-only parameter 'args'"):
        compare(ours_varargs, theirs, "Sigmoid.__init__")
