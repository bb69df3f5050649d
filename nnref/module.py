"""``Parameter``, ``Module`` and ``Sequential``: the containers every layer builds on
(``ModuleList`` and ``ModuleDict`` are in :mod:`nnref.containers`).

A module owns its parameters and buffers, runs ``forward`` when called, and
``backward(dy)`` returns the gradient of its input while *adding* the gradients of
its parameters into ``p.grad`` (they accumulate until ``zero_grad``), as in PyTorch.
``state_dict`` keys and shapes equal ``torch.nn``'s for the same module.
"""
from __future__ import annotations

import numbers
import operator
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from . import backend


class Parameter:
    r"""``torch.nn.Parameter(data=None, requires_grad=True)``: a learnable float array ``data``
    and its accumulated gradient ``grad`` (same shape, dtype and device).

    ``data`` must be a NumPy or CuPy floating-point array (torch: "Only Tensors of floating point
    ... can require gradients"); a Python list or an integer array is a ``TypeError``. A NumPy
    scalar (``np.float64(1.0)``) becomes a 0-d array, so ``p.data[...] = v`` updates it in place.
    ``None`` gives an empty float32 array.

    ``requires_grad=False`` (or ``p.requires_grad = False`` later, or ``module.requires_grad_(False)``)
    freezes it, as in torch: ``backward`` adds nothing to it and ``grad`` is None, so optimisers
    and clipping skip it. (nnref starts a trainable parameter's ``grad`` at zeros, where torch
    starts at None; freezing drops it, so a frozen parameter is skipped as one torch never gave a
    gradient.)
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = backend.zeros((0,))
        if not (hasattr(data, "dtype") and hasattr(data, "shape")):
            raise TypeError(f"Parameter: expected a floating-point array, got {type(data).__name__} "
                            "(convert it with nnref.backend.asarray)")
        if isinstance(data, np.generic):      # a NumPy scalar is immutable: no in-place update
            data = np.asarray(data)
        if data.dtype.kind != "f":
            raise TypeError(f"Parameter: only floating-point arrays can be parameters, got {data.dtype}")
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"Parameter: requires_grad must be a bool, got {type(value).__name__}")
        self._requires_grad = bool(value)
        if not value:
            self.grad = None                  # frozen: nothing to add into, optimisers skip it
        elif self.grad is None:
            self.grad = backend.get_array_module(self.data).zeros_like(self.data)

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    def accumulate(self, g, index=...):
        """``grad[index] += g``, cast to the parameter's dtype (the input may be float64, the weight
        float32); nothing for a frozen parameter (``requires_grad=False``)."""
        if self._requires_grad:
            self.grad[index] += g.astype(self.grad.dtype, copy=False)

    def __repr__(self):
        return f"Parameter(shape={tuple(self.data.shape)}, dtype={self.data.dtype})"


def parameter_list(params, who: str):
    """``params`` as a list of ``Parameter``; ``TypeError`` naming ``who`` and the offending item otherwise."""
    params = list(params)
    for i, p in enumerate(params):
        if not isinstance(p, Parameter):
            raise TypeError(f"{who}: parameter {i} is {type(p).__name__}, "
                            "expected nnref.Parameter (pass module.parameters())")
    return params


class _MemberList(list):
    r"""What ``parameters()`` and ``buffers()`` return: a list (nnref code adds and indexes them)
    that ``next()`` also walks, as the generator torch returns (``next(model.parameters())``)."""

    def __next__(self):
        i = self.__dict__.get("_next", 0)
        if i >= len(self):
            raise StopIteration
        self._next = i + 1
        return self[i]


class StateDictKeyError(KeyError, RuntimeError):
    r"""``load_state_dict(strict=True)``: keys missing from the state dict or not in the module.
    A ``KeyError`` (nnref's contract) and a ``RuntimeError`` (what torch raises)."""

    __str__ = RuntimeError.__str__          # the message as written, not KeyError's quoted repr


class StateDictShapeError(ValueError, RuntimeError):
    r"""``load_state_dict``: an array whose shape is not the module's. A ``ValueError`` (nnref's
    contract) and a ``RuntimeError`` (what torch raises)."""


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    r"""What ``load_state_dict`` returns, as torch's: the module's keys the state dict lacked and
    the state dict's keys the module has no place for (both empty after a strict load)."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class Module:
    r"""Base class, as ``torch.nn.Module``: a ``Parameter``, a ``Module`` or a registered buffer
    assigned to an attribute is found by name, in definition order.

    ``_parameters``, ``_buffers`` and ``_modules`` map names to values (None for an empty slot,
    such as ``bias=False``) as torch's do; each value is also an ordinary attribute, so reading
    ``self.weight`` needs no lookup hook. Change them by assignment, ``register_*``,
    ``add_module`` or ``del``, which keep the two in step, not by writing to the dicts.
    Plain attributes may be set before ``Module.__init__()``; parameters, buffers and
    submodules not (``AttributeError``, as torch).
    """

    training = True

    def __init__(self):
        # object.__setattr__: these exist before our __setattr__ can use them
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())

    # -- registration -------------------------------------------------------
    def _check_name(self, who: str, kind: str, name, registry: str):
        """torch's checks on a new name for a parameter, buffer or module (``registry`` is its dict)."""
        if registry not in self.__dict__:
            raise AttributeError(f"{who}: cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{who}: {kind} name should be a string, got {type(name).__name__}")
        if "." in name:
            raise KeyError(f"{who}: {kind} name can't contain '.', got {name!r}")
        if name == "":
            raise KeyError(f"{who}: {kind} name can't be empty string \"\"")
        if hasattr(self, name) and name not in self.__dict__[registry]:
            raise KeyError(f"{who}: attribute {name!r} already exists and is not a {kind}")

    def _forget(self, name, keep: str):
        """Drop ``name`` from the attributes and every registry but ``keep`` (where it keeps its place)."""
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry != keep:
                self.__dict__[registry].pop(name, None)
        self._non_persistent_buffers_set.discard(name)
        self.__dict__.pop(name, None)

    def __setattr__(self, name, value):
        r"""torch's rules: a ``Parameter`` is registered as a parameter and a ``Module`` as a
        submodule, wherever the name was before; an array assigned to a buffer's name stays that
        buffer (``bn.running_mean = np.zeros(3)``); a parameter's name takes only a ``Parameter``
        or None, a submodule's only a ``Module`` or None (``TypeError`` otherwise). None keeps the
        slot: it leaves ``state_dict`` and ``named_parameters`` but stays a parameter's name."""
        who = type(self).__name__
        d = self.__dict__
        if isinstance(value, Parameter):
            if "_parameters" not in d:
                raise AttributeError(f"{who}: cannot assign parameters before Module.__init__() call")
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
        elif name in d.get("_parameters", ()):
            if value is not None:
                raise TypeError(f"{who}: cannot assign {type(value).__name__} as parameter {name!r} "
                                "(nnref.Parameter or None expected)")
            self.register_parameter(name, None)
        elif isinstance(value, Module):
            if "_modules" not in d:
                raise AttributeError(f"{who}: cannot assign module before Module.__init__() call")
            self._forget(name, keep="_modules")
            self._modules[name] = value          # no name check here, as torch's __setattr__
            object.__setattr__(self, name, value)
        elif name in d.get("_modules", ()):
            if value is not None:
                raise TypeError(f"{who}: cannot assign {type(value).__name__} as child module {name!r} "
                                "(nnref.Module or None expected)")
            self._modules[name] = None
            object.__setattr__(self, name, None)
        elif name in d.get("_buffers", ()):
            if value is not None and not _is_array(value):
                raise TypeError(f"{who}: cannot assign {type(value).__name__} as buffer {name!r} "
                                "(an array or None expected)")
            self._buffers[name] = value
            object.__setattr__(self, name, value)
        else:
            object.__setattr__(self, name, value)

    def __delattr__(self, name):
        r"""``del m.name``: a parameter, buffer or submodule leaves its registry, and so
        ``state_dict`` (``del linear.bias``; ``delattr(seq, '1')`` shortens a ``Sequential``)."""
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(registry, ()):
                del self.__dict__[registry][name]
                self._non_persistent_buffers_set.discard(name)
                self.__dict__.pop(name, None)
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor, persistent: bool = True):
        r"""A non-learnable array (``running_mean``), saved in ``state_dict`` unless
        ``persistent=False``; moved by ``to()`` either way. None is allowed and left out of
        ``state_dict`` and ``named_buffers``, as torch. Assigning to the name later keeps it a buffer.

        Names as torch: ``TypeError`` for a non-string, ``KeyError`` for one with ``'.'``, an
        empty one, or one already taken by another attribute (a parameter, a method, an option).
        """
        who = f"{type(self).__name__}.register_buffer"
        self._check_name(who, "buffer", name, "_buffers")
        if tensor is not None and not _is_array(tensor):
            raise TypeError(f"{who}: cannot assign {type(tensor).__name__} as buffer {name!r} "
                            "(an array or None expected)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)
        object.__setattr__(self, name, tensor)

    def register_parameter(self, name: str, param):
        r"""Register ``param``: a ``Parameter``, or None for an empty slot (``bias=False``) that
        stays a parameter's name but is left out of ``state_dict``. Names as ``register_buffer``."""
        who = f"{type(self).__name__}.register_parameter"
        self._check_name(who, "parameter", name, "_parameters")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"{who}: cannot assign {type(param).__name__} as parameter {name!r} "
                            "(nnref.Parameter or None expected)")
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def add_module(self, name: str, module):
        r"""Register ``module`` (a ``Module`` or None) as the child ``name``. Names as
        ``register_buffer``; ``TypeError`` for anything but a ``Module`` or None."""
        who = f"{type(self).__name__}.add_module"
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{who}: {type(module).__name__} is not a Module subclass")
        self._check_name(who, "module", name, "_modules")
        self._modules[name] = module
        object.__setattr__(self, name, module)

    def register_module(self, name: str, module):
        r"""``add_module``, under torch's other name."""
        self.add_module(name, module)

    # -- running --------------------------------------------------------------
    def forward(self, *input):
        r"""None of its own (``ModuleList``, ``ModuleDict``, a subclass that defines none):
        ``NotImplementedError`` naming the class, as torch's ``Module.forward``."""
        who = type(self).__name__
        raise NotImplementedError(f'{who}.forward: Module [{who}] is missing the required "forward" function')

    def backward(self, dy):
        r"""None of its own: a Module that runs its children (those of a ``ModuleList``, say)
        writes a ``backward`` that calls theirs in reverse order."""
        who = type(self).__name__
        raise NotImplementedError(f"{who}.backward: not defined; a Module that runs layers in its forward "
                                  "writes a backward that calls theirs in reverse order")

    def __call__(self, *args, **kwargs):
        try:
            return self.forward(*args, **kwargs)
        except TypeError as e:
            if e.__traceback__.tb_next is not None:     # raised inside forward: already says who
                raise
            # Python's own words for wrong arguments name the class that defines forward
            # (``_Activation.forward() takes 2 positional arguments``): say which layer was called
            raise TypeError(f"{type(self).__name__}.forward: {str(e).partition('() ')[2] or e}") from None

    # -- walking the tree -----------------------------------------------------
    # As torch: a module or array reached twice is given once, under its first name
    # (remove_duplicate=False gives every path); None slots are skipped.
    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and m not in seen:
                seen.add(m)
                yield name, m

    def children(self):
        return (m for _, m in self.named_children())

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self, remove_duplicate=True):
        return (m for _, m in self.named_modules(remove_duplicate=remove_duplicate))

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        seen = set()                                  # ids: arrays are not hashable
        walk = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mod_name, m in walk:
            for name, v in getattr(m, registry).items():
                if v is None or id(v) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(v))
                yield (f"{mod_name}.{name}" if mod_name else name), v

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        r"""Every parameter once, in ``named_parameters`` order: a list that ``next()`` also walks
        (torch returns a generator; ``list(m.parameters())`` works on both)."""
        return _MemberList(p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        r"""Every buffer that is not None, once (non-persistent ones too), as ``parameters``."""
        return _MemberList(b for _, b in self.named_buffers(recurse=recurse))

    def get_submodule(self, target: str):
        r"""The submodule at the dotted path ``target`` (``''``: this module); ``AttributeError``
        naming the step that is missing or is no ``Module``, as torch."""
        m = self
        for item in target.split(".") if target else ():
            if not hasattr(m, item):
                raise AttributeError(f"{type(m).__name__} has no attribute `{item}`")
            m = getattr(m, item)
            if not isinstance(m, Module):
                raise AttributeError(f"`{item}` is not an nnref.Module")  # noqa: TRY004 (torch's class)
        return m

    def _owner(self, target: str):
        """``(module, name)`` for the dotted path ``target``; ``AttributeError`` when the name is absent."""
        path, _, name = target.rpartition(".")
        m = self.get_submodule(path)
        if not hasattr(m, name):
            raise AttributeError(f"{type(m).__name__} has no attribute `{name}`")
        return m, name

    def get_parameter(self, target: str):
        r"""The ``Parameter`` at the dotted path ``target``; ``AttributeError`` as ``get_submodule``."""
        m, name = self._owner(target)
        if not isinstance(getattr(m, name), Parameter):
            raise AttributeError(f"`{name}` is not an nnref.Parameter")
        return getattr(m, name)

    def get_buffer(self, target: str):
        r"""The buffer at the dotted path ``target``; ``AttributeError`` as ``get_submodule``."""
        m, name = self._owner(target)
        if name not in m._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return m._buffers[name]

    def apply(self, fn):
        r"""``fn(m)`` for every submodule, children first, then ``fn(self)``; returns ``self``."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # -- modes and gradients --------------------------------------------------
    def train(self, mode: bool = True):
        r"""Set ``training`` here and call each child's ``train(mode)`` (an override is called);
        ``ValueError`` unless ``mode`` is a bool, as torch."""
        if not isinstance(mode, bool):
            raise ValueError(  # noqa: TRY004 (torch's class)
                f"{type(self).__name__}.train: training mode is expected to be boolean, got {type(mode).__name__}")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True):
        r"""Fill every parameter's ``grad`` with zeros. nnref keeps gradients as arrays that
        ``backward`` adds into, so ``set_to_none`` (torch: drop them) zero-fills too."""
        for p in self.parameters():
            if p.grad is not None:
                p.grad[...] = 0

    def requires_grad_(self, requires_grad: bool = True):
        r"""Set ``requires_grad`` of every parameter (False freezes them, see :class:`Parameter`);
        returns ``self``, as torch."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    # -- state ----------------------------------------------------------------
    def _own_state(self):
        """(name, is_parameter) of this module's own ``state_dict`` entries: parameters, then
        persistent buffers; None is left out, as torch."""
        return ([(name, True) for name, p in self._parameters.items() if p is not None]
                + [(name, False) for name, b in self._buffers.items()
                   if b is not None and name not in self._non_persistent_buffers_set])

    def _state_slots(self, prefix=""):
        r"""(key, owner module, attribute name, is_parameter) for each entry of ``state_dict``, in
        torch's order: a module's own entries, then its children's. A shared module or parameter
        is listed under every name it has (torch keeps them all)."""
        for name, is_param in self._own_state():
            yield prefix + name, self, name, is_param
        for name, m in self._modules.items():
            if m is not None:
                yield from m._state_slots(f"{prefix}{name}.")

    def state_dict(self):
        """An ``OrderedDict`` key -> array with PyTorch's keys (``weight``, ``0.bias``, ``running_var`` ...)."""
        out = OrderedDict()
        for key, m, name, is_param in self._state_slots():
            out[key] = m._parameters[name].data if is_param else m._buffers[name]
        return out

    def _state_defaults(self, state, prefix: str):
        r"""Add to ``state`` (a copy) what an older state dict may lack, as torch's
        ``_load_from_state_dict`` does (BatchNorm: ``num_batches_tracked``). None here."""

    def _incompatible_keys(self, state, prefix=""):
        r"""``(missing, unexpected)`` by torch's rules, in module order: an entry of a module's own
        state absent from ``state`` is missing; a key under a module's prefix is unexpected when
        the rest is a name that is not its own state, or a dotted path not into one of its children."""
        own = [name for name, _ in self._own_state()]
        missing = [prefix + name for name in own if prefix + name not in state]
        unexpected = []
        for key in state:
            if key.startswith(prefix):
                head, dot, _ = key[len(prefix):].partition(".")
                if head not in (self._modules if dot else own):
                    unexpected.append(key)
        for name, m in self._modules.items():
            if m is not None:
                more_missing, more_unexpected = m._incompatible_keys(state, f"{prefix}{name}.")
                missing += more_missing
                unexpected += more_unexpected
        return missing, unexpected

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        r"""Load arrays (NumPy, CuPy, torch tensors, nested lists) from the mapping ``state_dict``.

        Returns ``_IncompatibleKeys(missing_keys, unexpected_keys)``, as torch. With ``strict``,
        a missing or unexpected key raises :class:`StateDictKeyError` (a ``KeyError`` and a
        ``RuntimeError``) naming them; a wrong shape raises :class:`StateDictShapeError` (a
        ``ValueError`` and a ``RuntimeError``) naming the key, strict or not; a non-numeric array
        ``TypeError``; a state dict that is no mapping ``TypeError``. All or nothing: every value
        is checked and converted before the first one is written.

        ``assign=False`` copies into the existing arrays, cast to their dtype, on their device.
        ``assign=True`` makes the given arrays the module's own, as torch: their dtype is kept and
        they are not copied (a later write to one shows in the module); one from another device,
        a list or a torch tensor is converted first, to the module's device. A parameter stays
        the same ``Parameter`` object, its ``data`` replaced and its ``grad`` reset to zeros.
        """
        who = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{who}: Expected state_dict to be dict-like, got {type(state_dict).__name__}")
        state_dict = OrderedDict(state_dict)         # a copy: the defaults below go into it, not the caller's
        for name, m in self.named_modules(remove_duplicate=False):
            m._state_defaults(state_dict, f"{name}." if name else "")
        missing, unexpected = self._incompatible_keys(state_dict)
        if strict and (missing or unexpected):
            raise StateDictKeyError(f"{who}: missing keys {missing}, unexpected keys {unexpected}")
        slots = {key: (m, name, is_param) for key, m, name, is_param in self._state_slots()}
        writes = []
        for key, value in state_dict.items():
            if key not in slots:
                continue
            m, name, is_param = slots[key]
            target = m._parameters[name].data if is_param else m._buffers[name]
            value = _as_array(value)
            if tuple(value.shape) != tuple(target.shape):
                raise StateDictShapeError(f"{who}: key {key!r} has shape {tuple(value.shape)}, "
                                          f"expected {tuple(target.shape)}")
            if value.dtype.kind not in "biuf" or (assign and is_param and value.dtype.kind != "f"):
                raise TypeError(f"{who}: key {key!r} holds {value.dtype}, expected "
                                f"{'floating-point numbers' if assign and is_param else 'numbers'} "
                                f"for an array of {target.dtype}")
            where = backend.backend_of(target)
            if assign:
                value = value if backend.backend_of(value) == where else backend.to_backend(value, where)
            else:
                value = backend.to_backend(value, where, dtype=target.dtype)
            writes.append((m, name, is_param, target, value))
        # write only once every key, shape and conversion succeeded: a bad dict never half-loads a module
        for m, name, is_param, target, value in writes:
            if not assign:
                target[...] = value
            elif is_param:
                p = m._parameters[name]
                p.data = value
                p.grad = backend.get_array_module(value).zeros_like(value) if p.requires_grad else None
            else:
                m._buffers[name] = value
                object.__setattr__(m, name, value)
        return _IncompatibleKeys(missing, unexpected)

    def to(self, *args, **kwargs):
        r"""Move and/or cast every parameter, gradient and buffer, in place; returns the module.

        As ``torch.nn.Module.to``: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``,
        ``to(array)`` (that array's device and dtype), and the keywords ``device=``, ``dtype=``
        (``non_blocking`` is accepted and ignored). ``device``: ``'cpu'``, ``'cuda'``, ``'cuda:N'``,
        or the backend names ``'numpy'``, ``'cupy'``. ``dtype`` must be a floating-point dtype; it
        casts the floating-point parameters and buffers only (``num_batches_tracked`` stays an
        integer), as torch does. Non-persistent buffers move too.
        """
        where, dtype = _to_arguments(type(self).__name__, args, kwargs)

        def convert(a):
            if a is None:
                return None
            cast = dtype if dtype is not None and getattr(a.dtype, "kind", "") == "f" else None
            if where is not None and backend.backend_of(a) != where:
                return backend.to_backend(a, where, dtype=cast)
            return a if cast is None else a.astype(cast, copy=False)

        changed = False
        for p in self.parameters():
            data = convert(p.data)
            changed |= data is not p.data
            p.data, p.grad = data, convert(p.grad)
        for m in self.modules():
            for name, b in list(m._buffers.items()):
                m._buffers[name] = convert(b)
                changed |= m._buffers[name] is not b
                object.__setattr__(m, name, m._buffers[name])
        if changed:      # a forward's cache holds the old device's or dtype's arrays; a no-op keeps it
            for m in self.modules():
                if "_cache" in m.__dict__:
                    m._cache = None
        return self

    def cpu(self):
        """``to('cpu')``: every array to NumPy."""
        return self.to("cpu")

    def cuda(self, device=None):
        """``to('cuda')``: every array to CuPy (``device`` as in torch: None or the current GPU's index)."""
        return self.to("cuda" if device is None else f"cuda:{device}")

    def double(self):
        """Floating-point parameters and buffers to float64, as ``torch.nn.Module.double``."""
        return self.to(np.float64)

    def float(self):
        """Floating-point parameters and buffers to float32."""
        return self.to(np.float32)

    def half(self):
        """Floating-point parameters and buffers to float16."""
        return self.to(np.float16)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"


def _as_array(value):
    """torch tensors (``.detach().cpu().numpy()``), CuPy and NumPy arrays, or nested lists."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":      # NumPy has no bfloat16; exact in float32
            value = value.float()
        value = value.numpy()
    if backend.is_cupy_array(value):
        return value
    return np.asarray(value)


def _is_array(value) -> bool:
    """A NumPy or CuPy array (or scalar); not a dtype or a scalar type such as ``np.float64``."""
    return (hasattr(value, "shape") and hasattr(value, "dtype")
            and not isinstance(value, (type, np.dtype)))


DEVICE_NAMES = ("cpu", "cuda", "numpy", "cupy")


def _is_device(value) -> bool:
    if type(value).__name__ == "device":                   # torch.device
        return True
    return isinstance(value, str) and value.split(":")[0].strip() in DEVICE_NAMES


def _is_dtype_name(text: str) -> bool:
    try:
        np.dtype(text)
    except TypeError:
        return False
    return True


def _to_arguments(who, args, kwargs):
    """``(backend name or None, dtype or None)`` from the ways torch's ``Module.to`` can be called."""
    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise TypeError(f"{who}.to got unexpected keyword arguments {sorted(unknown)}")
    if kwargs.get("memory_format") is not None:
        raise NotImplementedError(f"{who}.to: memory_format is not supported (nnref arrays are NumPy/CuPy)")
    if len(args) > 2:
        raise TypeError(f"{who}.to takes at most a device and a dtype, got {len(args)} positional arguments")
    given = {"device": [], "dtype": []}          # torch: each may be given once, in one of its places
    for name in ("device", "dtype"):
        if kwargs.get(name) is not None:
            given[name].append(kwargs[name])
    for a in args:
        if _is_array(a):
            if type(a).__module__.startswith("torch"):   # a tensor: its device type and dtype
                given["device"].append(getattr(a.device, "type", "cpu"))
                given["dtype"].append(a.dtype)
            else:
                given["device"].append("cupy" if backend.is_cupy_array(a) else "cpu")
                given["dtype"].append(a.dtype)
        elif a is None:
            continue
        elif isinstance(a, numbers.Integral) and not isinstance(a, bool):
            given["device"].append(f"cuda:{a}")          # torch: an int is a GPU index
        elif _is_device(a) or (isinstance(a, str) and not _is_dtype_name(a)):
            given["device"].append(a)                    # an unknown string is reported as a device
        else:
            given["dtype"].append(a)
    for name, values in given.items():
        if len(values) > 1:
            raise TypeError(f"{who}.to: {name} given twice ({', '.join(map(repr, values))}); "
                            "torch takes to(device), to(dtype), to(device, dtype) or to(tensor)")
    device, dtype = (values[0] if values else None for values in given.values())
    # both checked here, before anything moves
    where = None if device is None else backend.device_backend(device, f"{who}.to")
    return where, None if dtype is None else backend.float_dtype(dtype, f"{who}.to")


def inserted(modules, index, module, who: str) -> dict:
    r"""``modules`` (name -> module) with ``module`` at position ``index`` (``-len..len``) and those
    after it renamed to the next number, as torch's ``insert`` shifts them; a new dict, so that a
    failure (``IndexError``, or ``KeyError`` when the names are not ``'0'``, ``'1'``, ...) changes nothing."""
    n = len(modules)
    index = operator.index(index)
    if not -n <= index <= n:
        raise IndexError(f"{who}: index {index} is out of range for {n} modules")
    index = index + n if index < 0 else index
    named = dict(modules)
    for i in range(n, index, -1):
        if str(i - 1) not in named:
            raise KeyError(f"{who}: shifting the modules after index {index} needs them named "
                           f"'0', '1', ...; they are {list(modules)}")
        named[str(i)] = named[str(i - 1)]
    named[str(index)] = module
    return named


class Sequential(Module):
    r"""Modules run in order; ``backward`` runs them in reverse, passing each input gradient on.

    Submodules are named ``'0'``, ``'1'``, ... (or by the keys of one ``OrderedDict``) so that
    ``state_dict`` keys are PyTorch's (``'0.weight'``). Indexing, slicing, ``append``,
    ``insert``, ``extend``, ``pop``, ``del`` and ``+`` behave as torch's: a slice keeps the
    names (``s[1:]`` holds ``'1'``, ``'2'``), ``del s[i]`` renumbers every module from ``'0'``,
    ``delattr(s, '1')`` and ``append`` do not renumber.
    """

    def __init__(self, *args):
        super().__init__()
        # torch also takes one OrderedDict name -> module
        named = args[0].items() if len(args) == 1 and isinstance(args[0], OrderedDict) else \
            ((str(i), m) for i, m in enumerate(args))
        for name, layer in named:
            if layer is not None and not isinstance(layer, Module):
                raise TypeError(f"{type(self).__name__}: argument {name} is {type(layer).__name__}, "
                                "expected a Module")
            self.add_module(name, layer)

    def _key(self, idx):
        """The name at position ``idx`` (negative from the end); ``IndexError`` outside, as torch."""
        size = len(self._modules)
        idx = operator.index(idx)
        if not -size <= idx < size:
            raise IndexError(f"{type(self).__name__}: index {idx} is out of range for {size} modules")
        return list(self._modules)[idx]

    def _replace(self, named):
        """Make ``named`` (name, module) pairs the children, in that order."""
        for name in self._modules:
            self.__dict__.pop(name, None)
        self._modules.clear()
        for name, m in named:
            self._modules[name] = m
            object.__setattr__(self, name, m)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.__class__(OrderedDict(list(self._modules.items())[idx]))
        return self._modules[self._key(idx)]

    def __setitem__(self, idx, module):
        setattr(self, self._key(idx), module)

    def __delitem__(self, idx):
        names = list(self._modules)[idx] if isinstance(idx, slice) else [self._key(idx)]
        for name in names:
            delattr(self, name)
        self._replace((str(i), m) for i, m in enumerate(list(self._modules.values())))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        r"""Add ``module`` under the name ``str(len(self))``; returns ``self``."""
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index: int, module):
        r"""Put ``module`` at ``index`` (``-len <= index <= len``), shifting the modules after it to
        the next number, as torch (which needs the names ``'0'``, ``'1'``, ... to do so)."""
        who = f"{type(self).__name__}.insert"
        if not isinstance(module, Module):
            raise TypeError(f"{who}: expected a Module, got {type(module).__name__}")
        self._replace(inserted(self._modules, index, module, who).items())
        return self

    def extend(self, sequential):
        r"""``append`` each module of ``sequential``; returns ``self``."""
        for layer in sequential:
            self.append(layer)
        return self

    def pop(self, key):
        r"""``self[key]`` (a module, or a ``Sequential`` for a slice), deleted as ``del self[key]``."""
        v = self[key]
        del self[key]
        return v

    def _check_operand(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(  # noqa: TRY004 (torch's class)
                f"{type(self).__name__}: add operator supports only objects of Sequential class, "
                f"but {type(other)} is given.")

    def __add__(self, other):
        self._check_operand(other)
        return Sequential().extend(self).extend(other)

    def __iadd__(self, other):
        self._check_operand(other)
        return self.extend(other)

    def _check_each_module_once(self):
        """A module listed twice keeps only the cache of its last forward: its backward would be wrong."""
        first = {}
        for name, m in self._modules.items():
            if m is not None and first.setdefault(id(m), name) != name:
                raise RuntimeError(
                    f"{type(self).__name__}.backward: module {name!r} ({type(m).__name__}) is module "
                    f"{first[id(m)]!r} again; an nnref module keeps the cache of its last forward only, so "
                    "one used twice cannot be differentiated (use separate modules, e.g. copy.deepcopy)")

    # --8<-- [start:sequential]
    def forward(self, input):
        x = input
        for layer in self._modules.values():
            x = layer(x)
        return x

    def backward(self, dy):
        self._check_each_module_once()  # each layer keeps one forward's cache
        for layer in reversed(self._modules.values()):  # chain rule, right to left
            dy = layer.backward(dy)
        return dy
    # --8<-- [end:sequential]

