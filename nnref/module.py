"""``Parameter``, ``Module`` and ``Sequential``: the containers every layer builds on.

A module owns its parameters and buffers, runs ``forward`` when called, and
``backward(dy)`` returns the gradient of its input while *adding* the gradients of
its parameters into ``p.grad`` (they accumulate until ``zero_grad``), as in PyTorch.
``state_dict`` keys and shapes equal ``torch.nn``'s for the same module.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from . import backend


class Parameter:
    r"""``torch.nn.Parameter(data=None, requires_grad=True)``: a learnable float array ``data``
    and its accumulated gradient ``grad`` (same shape, dtype and device).

    ``data`` must be a NumPy or CuPy floating-point array (torch: "Only Tensors of floating point
    ... can require gradients"); a Python list or an integer array is a ``TypeError``. ``None``
    gives an empty float32 array. ``requires_grad=False`` (a frozen parameter) is not supported:
    nnref's layers always accumulate gradients, so it raises ``NotImplementedError``.
    """

    def __init__(self, data=None, requires_grad=True):
        if not requires_grad:
            raise NotImplementedError("Parameter: requires_grad=False is not supported (every nnref "
                                      "parameter accumulates a gradient); keep it out of the optimiser instead")
        if data is None:
            data = backend.zeros((0,))
        if not (hasattr(data, "dtype") and hasattr(data, "shape")):
            raise TypeError(f"Parameter: expected a floating-point array, got {type(data).__name__} "
                            "(convert it with nnref.backend.asarray)")
        if data.dtype.kind != "f":
            raise TypeError(f"Parameter: only floating-point arrays can be parameters, got {data.dtype}")
        self.data = data
        self.grad = backend.get_array_module(data).zeros_like(data)

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    def accumulate(self, g):
        """``grad += g``, cast to the parameter's dtype (the input may be float64, the weight float32)."""
        self.grad += g.astype(self.grad.dtype, copy=False)

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


class Module:
    """Base class: parameters, buffers and submodules are found by attribute, in definition order."""

    training = True

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration -------------------------------------------------------
    def __setattr__(self, name, value):
        r"""torch's rules: a ``Parameter`` is registered as a parameter and a ``Module`` as a
        submodule, wherever the name was before; an array assigned to a buffer's name stays that
        buffer (``bn.running_mean = np.zeros(3)``), and a parameter's name takes only a
        ``Parameter`` or None (``TypeError`` otherwise, as torch)."""
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call Module.__init__() before assigning attributes")
        who = type(self).__name__
        if isinstance(value, Parameter):
            self._buffers.pop(name, None)
            self._modules.pop(name, None)
            self._parameters[name] = value
        elif name in self._parameters:
            if value is not None:
                raise TypeError(f"{who}: cannot assign {type(value).__name__} as parameter {name!r} "
                                "(nnref.Parameter or None expected)")
            del self._parameters[name]
        elif isinstance(value, Module):
            self._parameters.pop(name, None)
            self._buffers.pop(name, None)
            self._modules[name] = value
        elif name in self._modules:
            if value is not None:
                raise TypeError(f"{who}: cannot assign {type(value).__name__} as child module {name!r} "
                                "(nnref.Module or None expected)")
            del self._modules[name]
        elif name in self._buffers and value is not None and not _is_array(value):
            raise TypeError(f"{who}: cannot assign {type(value).__name__} as buffer {name!r} "
                            "(an array or None expected)")
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, value):
        """A non-learnable array saved in ``state_dict`` (e.g. ``running_mean``); None is allowed
        (and left out of ``state_dict``), as in torch. Assigning to the name later keeps it a buffer."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{type(self).__name__}.register_buffer: a buffer name must be a non-empty "
                           f"string without '.', got {name!r}")
        if value is not None and not _is_array(value):
            raise TypeError(f"{type(self).__name__}.register_buffer: cannot assign {type(value).__name__} "
                            f"as buffer {name!r} (an array or None expected)")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers[name] = True
        object.__setattr__(self, name, value)

    def register_parameter(self, name: str, value):
        """Register ``value`` (a ``Parameter``, or None for an absent one such as ``bias=False``)."""
        if value is not None and not isinstance(value, Parameter):
            raise TypeError(f"{type(self).__name__}.register_parameter: cannot assign "
                            f"{type(value).__name__} as parameter {name!r} (nnref.Parameter or None expected)")
        if value is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, value)

    # -- running --------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, dy):
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- walking the tree -----------------------------------------------------
    def children(self):
        return iter(self._modules.values())

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_parameters(self, prefix=""):
        for mod_name, m in self.named_modules(prefix):
            for name, p in m._parameters.items():
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix=""):
        for mod_name, m in self.named_modules(prefix):
            for name in m._buffers:
                yield (f"{mod_name}.{name}" if mod_name else name), getattr(m, name)

    # -- modes and gradients --------------------------------------------------
    def train(self, mode: bool = True):
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.grad[...] = 0

    # -- state ----------------------------------------------------------------
    def _state_slots(self):
        """(key, owner module, attribute name, is_parameter) in PyTorch's order: per module, parameters then buffers."""
        for mod_name, m in self.named_modules():
            for name in m._parameters:
                yield (f"{mod_name}.{name}" if mod_name else name), m, name, True
            for name in m._buffers:
                if getattr(m, name) is not None:     # torch leaves None buffers out of state_dict
                    yield (f"{mod_name}.{name}" if mod_name else name), m, name, False

    def state_dict(self):
        """An ``OrderedDict`` key -> array with PyTorch's keys (``weight``, ``0.bias``, ``running_var`` ...)."""
        out = OrderedDict()
        for key, m, name, is_param in self._state_slots():
            value = getattr(m, name)
            out[key] = value.data if is_param else value
        return out

    def load_state_dict(self, state, strict: bool = True):
        """Copy arrays from ``state`` (NumPy, CuPy, or anything ``np.asarray`` takes) into this module.

        Values are cast to each array's dtype and moved to its device. A missing or unexpected
        key raises ``KeyError`` naming it (unless ``strict=False``); a wrong shape raises ``ValueError``,
        a non-numeric array ``TypeError``. All or nothing: every value is checked and converted
        before the first one is written.
        """
        slots = {key: (m, name, is_param) for key, m, name, is_param in self._state_slots()}
        if strict:
            missing = [k for k in slots if k not in state]
            unexpected = [k for k in state if k not in slots]
            if missing or unexpected:
                raise KeyError(f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                               f"unexpected keys {unexpected}")
        pairs = []
        for key, value in state.items():
            if key not in slots:
                continue
            m, name, is_param = slots[key]
            target = getattr(m, name).data if is_param else getattr(m, name)
            value = _as_array(value)
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(f"{type(self).__name__}.load_state_dict: key {key!r} has shape "
                                 f"{tuple(value.shape)}, expected {tuple(target.shape)}")
            if value.dtype.kind not in "biuf":
                raise TypeError(f"{type(self).__name__}.load_state_dict: key {key!r} holds {value.dtype}, "
                                f"expected numbers for an array of {target.dtype}")
            pairs.append((target, backend.to_backend(value, backend.backend_of(target), dtype=target.dtype)))
        # write only once every key, shape and conversion succeeded: a bad dict never half-loads a module
        for target, value in pairs:
            target[...] = value
        return self

    def to(self, *args, **kwargs):
        r"""Move and/or cast every parameter, gradient and buffer, in place; returns the module.

        As ``torch.nn.Module.to``: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``,
        ``to(array)`` (that array's device and dtype), and the keywords ``device=``, ``dtype=``
        (``non_blocking`` is accepted and ignored). ``device``: ``'cpu'``, ``'cuda'``, ``'cuda:N'``,
        or the backend names ``'numpy'``, ``'cupy'``. ``dtype`` must be a floating-point dtype; it
        casts the floating-point parameters and buffers only (``num_batches_tracked`` stays an
        integer), as torch does.
        """
        device, dtype = _to_arguments(type(self).__name__, args, kwargs)
        where = None if device is None else backend.device_backend(device, f"{type(self).__name__}.to")

        def convert(a):
            if a is None:
                return None
            cast = dtype if dtype is not None and getattr(a.dtype, "kind", "") == "f" else None
            if where is not None and backend.backend_of(a) != where:
                return backend.to_backend(a, where, dtype=cast)
            return a if cast is None else a.astype(cast, copy=False)

        for m in self.modules():
            for p in m._parameters.values():
                p.data, p.grad = convert(p.data), convert(p.grad)
            for b in m._buffers:
                object.__setattr__(m, b, convert(getattr(m, b)))
            if "_cache" in m.__dict__:
                m._cache = None                      # a forward's cache lives on the old device
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
        value = value.detach().cpu().numpy()
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


def _to_arguments(who, args, kwargs):
    """``(device, dtype)`` from the ways torch's ``Module.to`` can be called."""
    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise TypeError(f"{who}.to got unexpected keyword arguments {sorted(unknown)}")
    if kwargs.get("memory_format") is not None:
        raise NotImplementedError(f"{who}.to: memory_format is not supported (nnref arrays are NumPy/CuPy)")
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    if len(args) > 2:
        raise TypeError(f"{who}.to takes at most a device and a dtype, got {len(args)} positional arguments")
    for a in args:
        if _is_array(a):
            device, dtype = ("cupy" if backend.is_cupy_array(a) else "cpu"), a.dtype
        elif a is None:
            continue
        elif _is_device(a):
            device = a
        else:
            dtype = a
    if dtype is not None:
        dtype = backend.float_dtype(dtype, f"{who}.to")
    return device, dtype


class Sequential(Module):
    """Modules run in order; ``backward`` runs them in reverse, passing each input gradient on.

    Submodules are named ``'0'``, ``'1'``, ... so that ``state_dict`` keys are PyTorch's
    (``'0.weight'``).
    """

    def __init__(self, *args):
        super().__init__()
        # torch also takes one OrderedDict name -> module
        named = args[0].items() if len(args) == 1 and isinstance(args[0], OrderedDict) else \
            ((str(i), m) for i, m in enumerate(args))
        for name, layer in named:
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: argument {name} is {type(layer).__name__}, expected a Module")
            setattr(self, name, layer)

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    # --8<-- [start:sequential]
    def forward(self, input):
        x = input
        for layer in self._modules.values():
            x = layer(x)
        return x

    def backward(self, dy):
        for layer in reversed(self._modules.values()):  # the chain rule, right to left
            dy = layer.backward(dy)
        return dy
    # --8<-- [end:sequential]
