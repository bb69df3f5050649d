r"""``ModuleList`` and ``ModuleDict``: torch.nn's containers that only register their modules
(no ``forward``, no ``backward``); the Module that holds one runs its layers itself. ``Sequential``,
the container that also runs them, is in :mod:`nnref.module`.
"""
from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from itertools import chain

from .module import Module, Sequential, inserted


class ModuleList(Module):
    r"""Modules in a list, as ``torch.nn.ModuleList``: registered under ``'0'``, ``'1'``, ... so
    that ``parameters()``, ``state_dict()`` (``'0.weight'``), ``to()`` and ``train()`` see them.

    No ``forward`` and no ``backward``: the Module that holds it runs the layers in its
    ``forward`` and calls their ``backward`` in reverse order in its own. Indexing, slicing,
    ``del``, ``append``, ``extend``, ``insert``, ``pop``, ``+`` and ``+=`` behave as torch's: a
    slice, ``del`` and ``+`` number the modules again from ``'0'``; ``+`` and ``+=`` take any
    iterable of modules. ``insert`` checks what torch's does not (a ``Module`` or None, an index
    in ``-len..len``) and counts a negative index from the end, as ``list.insert`` and
    ``Sequential.insert``, where torch's raises ``KeyError`` half-way through shifting.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self += modules

    def _key(self, idx):
        """The name of position ``idx`` (negative from the end), as torch's ``_get_abs_string_index``."""
        size = len(self._modules)
        idx = operator.index(idx)
        if not -size <= idx < size:
            raise IndexError(f"{type(self).__name__}: index {idx} is out of range for {size} modules")
        return str(idx + size if idx < 0 else idx)

    # what a numbered list of modules does the same way as Sequential
    _replace, append = Sequential._replace, Sequential.append
    __len__, __iter__ = Sequential.__len__, Sequential.__iter__

    def _renumber(self):
        self._replace((str(i), m) for i, m in enumerate(list(self._modules.values())))

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.__class__(list(self._modules.values())[idx])
        return self._modules[self._key(idx)]

    def __setitem__(self, idx, module):
        setattr(self, self._key(idx), module)

    def __delitem__(self, idx):
        if isinstance(idx, slice):
            for k in range(len(self._modules))[idx]:
                delattr(self, str(k))
        else:
            delattr(self, self._key(idx))
        self._renumber()

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        if not isinstance(other, Iterable):
            raise TypeError(f"{type(self).__name__}: + takes an iterable of modules, got {type(other).__name__}")
        combined = ModuleList()
        for i, module in enumerate(chain(self, other)):
            combined.add_module(str(i), module)
        return combined

    def insert(self, index: int, module) -> None:
        r"""Put ``module`` before position ``index``, shifting the modules from there on to the
        next number, as torch (which needs the names ``'0'``, ``'1'``, ... to do so)."""
        who = f"{type(self).__name__}.insert"
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{who}: {type(module).__name__} is not a Module subclass")
        self._replace(inserted(self._modules, index, module, who).items())

    def extend(self, modules):
        r"""``append`` each module of the iterable ``modules``; returns ``self``. ``TypeError`` for
        something not iterable or an item that is no ``Module`` (nothing is added then)."""
        who = f"{type(self).__name__}.extend"
        if not isinstance(modules, Iterable):
            raise TypeError(f"{who} should be called with an iterable, but got {type(modules).__name__}")
        modules = list(modules)
        for i, module in enumerate(modules):
            if module is not None and not isinstance(module, Module):
                raise TypeError(f"{who}: item {i} is {type(module).__name__}, not a Module subclass")
        offset = len(self)
        for i, module in enumerate(modules):
            self.add_module(str(offset + i), module)
        return self

    def pop(self, key):
        r"""``self[key]`` (a module, or a ``ModuleList`` for a slice), deleted as ``del self[key]``."""
        v = self[key]
        del self[key]
        return v

    def __repr__(self):
        r"""torch's: a run of modules that print the same is one line, ``(0-2): 3 x Linear(...)``."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return f"{type(self).__name__}()"
        lines, start = [], 0
        for end in range(1, len(reprs) + 1):
            if end == len(reprs) or reprs[end] != reprs[start]:
                count = end - start
                head = f"({start}): " if count == 1 else f"({start}-{end - 1}): {count} x "
                lines.append("  " + (head + reprs[start]).replace("\n", "\n  "))
                start = end
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class ModuleDict(Module):
    r"""Modules by name, in insertion order, as ``torch.nn.ModuleDict``: ``d['conv']`` is registered
    as the child ``'conv'`` (``state_dict`` key ``'conv.weight'``).

    No ``forward`` and no ``backward``: the Module that holds it picks the modules to run.
    ``update`` (and the constructor) take a mapping or an iterable of ``(name, module)`` pairs,
    with torch's errors: ``TypeError`` for something not iterable or an item that is not, or that
    is no ``Module``; ``ValueError`` for an item that is not a pair; names as ``add_module``
    (``TypeError`` for a non-string, ``KeyError`` for ``'a.b'``, ``''`` or a name such as
    ``'keys'`` that is already an attribute).
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        if key not in self._modules:
            raise KeyError(key)
        delattr(self, key)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def clear(self):
        r"""Remove every module."""
        for name in list(self._modules):
            delattr(self, name)

    def pop(self, key):
        r"""``self[key]``, deleted as ``del self[key]``."""
        v = self[key]
        del self[key]
        return v

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules):
        r"""Add or replace the modules of ``modules``: a mapping (its order kept), or an iterable
        of ``(name, module)`` pairs. A replaced name keeps its place, as in a dict."""
        who = f"{type(self).__name__}.update"
        if not isinstance(modules, Iterable):
            raise TypeError(f"{who} should be called with an iterable of key/value pairs, "
                            f"but got {type(modules).__name__}")
        if isinstance(modules, (Mapping, ModuleDict)):     # a ModuleDict is no Mapping, but has items()
            for key, module in modules.items():
                self[key] = module
            return
        for j, m in enumerate(modules):
            if not isinstance(m, Iterable):
                raise TypeError(f"{who}: sequence element #{j} should be Iterable; is {type(m).__name__}")
            m = tuple(m)
            if len(m) != 2:
                raise ValueError(f"{who}: sequence element #{j} has length {len(m)}; 2 is required")
            self[m[0]] = m[1]
