r"""Optimisers with ``torch.optim``'s signatures and behaviour (torch 2.13): ``SGD``, ``Adam``, ``AdamW``.

``step()`` updates each ``Parameter.data`` in place from its ``grad`` (a parameter whose ``grad``
is None is skipped); ``zero_grad()`` clears the gradients. The update rules are PyTorch's
(``maximize`` and ``amsgrad`` included), so the same gradients give the same trajectory.
``params`` is an iterable of ``Parameter``\ s, of ``(name, Parameter)`` pairs, or of dicts
``{'params': ..., 'lr': ...}`` (param groups, each overriding the defaults; see
:meth:`Optimizer.add_param_group`). A bare ``Parameter`` as ``params`` is a ``TypeError``, as in
torch. ``state_dict()``/``load_state_dict()`` save and restore the step counts and moments with
torch's keys (``momentum_buffer``, ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``), and
``load_state_dict`` also takes the state dict of a torch optimiser.

``foreach``, ``fused`` and ``capturable`` only choose among torch's kernels (loops, multi-tensor
or fused kernels, CUDA graphs) and change no number; nnref has one implementation, torch's loop
(its default on the CPU), so they are accepted and ignored. (One exception in torch: a parameter
listed twice in a group gets other numbers from torch's ``foreach=True`` kernels; nnref gives the
loop's.) ``fused=True`` together with ``foreach=True`` or ``differentiable=True`` is a
``RuntimeError``, as in torch; ``differentiable=True`` (autograd through the step) raises
``NotImplementedError``: nnref has no autograd.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping

import numpy as np

from .backend import get_array_module
from .checks import check_real
from .module import Parameter, parameter_list


class Optimizer:
    """Base class: param groups, per-parameter ``state``, ``zero_grad``, ``step``, state dicts."""

    def __init__(self, params, defaults: dict):
        who = type(self).__name__
        if defaults.get("fused") and defaults.get("differentiable"):
            raise RuntimeError(f"{who}: `fused` does not support `differentiable`")
        if defaults.get("fused") and defaults.get("foreach"):
            raise RuntimeError(f"{who}: `fused` and `foreach` cannot be `True` together.")
        if defaults.get("differentiable"):
            raise NotImplementedError(f"{who}: differentiable=True needs autograd, which nnref does not have")
        self._check(defaults)
        self.defaults = defaults
        try:
            params = list(params)               # a bare Parameter is no iterable: refused, as in torch
        except TypeError:
            raise TypeError(f"{who}: params argument given to the optimizer should be an iterable of "
                            f"Parameters or dicts, but got {type(params).__name__}") from None
        if not params:
            raise ValueError(f"{who}: got an empty parameter list")
        self.param_groups = []
        self.state = {}   # Parameter -> dict of its moments
        for group in params if isinstance(params[0], dict) else [{"params": params}]:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict):
        r"""Add a group, as torch: ``param_group['params']`` is one ``Parameter`` or an iterable of
        ``Parameter``\ s or of ``(name, Parameter)`` pairs (not a set: its order changes from run to
        run); the options it leaves out are taken from ``defaults``, and checked like the
        constructor's. A parameter that is already in another group is a ``ValueError``; one
        listed twice in this group a ``UserWarning`` (torch's), and every ``step`` then updates it
        once per listing, as torch's loop does."""
        who = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{who}: param_group must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise KeyError(f"{who}: a param group needs a 'params' key, got keys {list(param_group)}")
        ps = param_group["params"]
        if isinstance(ps, (set, frozenset)):
            raise TypeError(f"{who}: optimizer parameters need to be organized in ordered collections, but "
                            "the ordering of tensors in sets will change between runs. Please use a list instead.")
        try:
            ps = [ps] if isinstance(ps, Parameter) else list(ps)
        except TypeError:
            raise TypeError(f"{who}: a param group's 'params' must be a Parameter or an iterable of "
                            f"Parameters, got {type(ps).__name__}") from None
        names = [p[0] for p in ps if isinstance(p, tuple)]
        if names and len(names) != len(ps):
            raise ValueError(f"{who}: all optimizer params should be with/without names. Some param names are missing")
        group = dict(param_group, params=parameter_list([p[1] if isinstance(p, tuple) else p for p in ps], who))
        if names:
            group["param_names"] = names
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self._check(group)
        ps = group["params"]
        if len(set(ps)) != len(ps):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this "
                          "will cause an error; see github.com/pytorch/pytorch/issues/40967 for more "
                          f"information ({who}, param group {len(self.param_groups)})", stacklevel=3)
        for g in self.param_groups:
            if ("param_names" in g) != bool(names):
                raise ValueError(f"{who}: all optimizer param groups should be with/without names. cannot add "
                                 f"param group {'with' if names else 'without'} names to the optimizer")
            if not set(g["params"]).isdisjoint(ps):
                raise ValueError(f"{who}: some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    @property
    def params(self):
        """Every parameter of every group, in order."""
        return [p for g in self.param_groups for p in g["params"]]

    def zero_grad(self):
        for p in self.params:
            if p.grad is not None:
                p.grad[...] = 0

    def step(self, closure=None):
        """Update every parameter that has a gradient. ``closure`` (a function that evaluates the
        model again and returns the loss) is called first; its value is returned, as in torch."""
        loss = None if closure is None else closure()
        for group in self.param_groups:
            self._step_group(group, [p for p in group["params"] if p.grad is not None])
        return loss

    def _step_group(self, group, params):
        # one after the other: a parameter listed twice sees its state as updated by the first
        # listing, as in torch's loop over Adam's state
        for p in params:
            self._update(p, self.state.setdefault(p, {}), group)

    def _check(self, group):
        who = type(self).__name__
        for name in ("lr", "weight_decay"):
            check_real(group[name], name, who)
        if not group["lr"] >= 0:
            raise ValueError(f"{who}: invalid learning rate: {group['lr']} (must be >= 0)")
        if not group["weight_decay"] >= 0:
            raise ValueError(f"{who}: invalid weight_decay value: {group['weight_decay']} (must be >= 0)")

    # -- saving and restoring ---------------------------------------------------
    def state_dict(self) -> dict:
        """torch's layout: ``{'state': {index: {name: value}}, 'param_groups': [{..., 'params': [indices]}]}``.

        A parameter's index is its position among all groups' parameters (its last position, for
        one listed twice in a group, as torch). Arrays are copies, so the dict is a snapshot (what
        :func:`nnref.train.fit` restores after a divergence).
        """
        index = {p: i for i, p in enumerate(self.params)}
        state = {index[p]: {k: v.copy() if hasattr(v, "copy") else v for k, v in s.items()}
                 for p, s in self.state.items() if s}
        groups = [{**g, "params": [index[p] for p in g["params"]]} for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict):
        """Restore what :meth:`state_dict` returned, or what a torch optimiser's ``state_dict()``
        returned (torch tensors, converted or not, or Python numbers): same groups, same parameter
        shapes, all checked before anything is written.

        The saved ids are matched to the parameters by their places in the groups (torch's rule).
        Arrays and tensors become arrays of the parameter's dtype and backend; ``step`` (torch: a
        float tensor) becomes an int; the groups' options are taken from the saved dict.
        """
        who = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping) or not {"state", "param_groups"} <= set(state_dict):
            raise TypeError(f"{who}: expected the dict that state_dict() returns (keys 'state' and "
                            f"'param_groups'), got {type(state_dict).__name__}")
        saved_groups = state_dict["param_groups"]
        if [len(g["params"]) for g in saved_groups] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError(f"{who}: the saved param groups have other sizes than this optimiser's")
        param_of = {i: p for saved, g in zip(saved_groups, self.param_groups)
                    for i, p in zip(saved["params"], g["params"])}
        new_state = {}
        for i, s in state_dict["state"].items():
            if i not in param_of:
                raise ValueError(f"{who}: the state names parameter {i!r}, which no saved param group lists")
            p = param_of[i]
            new_state[p] = {k: _loaded(v, k, i, p, who) for k, v in s.items()}
        options = []
        for g, saved in zip(self.param_groups, saved_groups):
            host = {k: _host(v) for k, v in saved.items() if k != "params"}
            options.append({k: v.item() if getattr(v, "ndim", None) == 0 else v for k, v in host.items()})
            self._check({**g, **options[-1]})
        for g, new in zip(self.param_groups, options):
            g.update(new)           # the same dicts: code holding a group sees the loaded lr
        self.state = new_state


def _host(value):
    """A torch tensor as a NumPy array (``detach`` marks one); anything else as it is."""
    return value.detach().cpu().numpy() if hasattr(value, "detach") else value


def _loaded(value, key, i, p, who):
    """One saved state entry for parameter ``p`` (saved id ``i``), in nnref's types, or a ``ValueError``."""
    value = _host(value)
    if key == "step":                       # torch keeps the step count as a float tensor
        step = float(value)
        if not (step >= 0 and step.is_integer()):
            raise ValueError(f"{who}: state 'step' of parameter {i} is {step}, expected a whole number >= 0")
        return int(step)
    if value is None:                       # torch's SGD can save a momentum_buffer of None
        return None
    if tuple(np.shape(value)) != tuple(p.shape):
        raise ValueError(f"{who}: state {key!r} of parameter {i} has shape {tuple(np.shape(value))}, "
                         f"expected {tuple(p.shape)}")
    return get_array_module(p.data).asarray(value, dtype=p.dtype).copy()


# --8<-- [start:sgd]
def sgd_update(w, g, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
               maximize=False):
    r"""One SGD step on array ``w`` (in place) with gradient ``g``; ``state`` keeps the velocity.

    $$
    \begin{aligned}
    g &\leftarrow \pm g + \lambda w \quad (- \text{ when maximize}) \\
    v &\leftarrow \mu v + (1-d)\,g \quad (v = g \text{ at the first step}) \\
    w &\leftarrow w - \eta\,(g + \mu v \text{ if Nesterov else } v)
    \end{aligned}
    $$
    """
    if maximize:
        g = -g                            # ascend: step along +gradient
    if weight_decay:
        g = g + weight_decay * w          # L2 penalty (λ/2)‖w‖² folded into the gradient
    if momentum:
        v = state.get("momentum_buffer")
        if v is None:
            v = state["momentum_buffer"] = g.copy()  # the first step starts the velocity at g
        else:
            v *= momentum
            v += (1 - dampening) * g      # v ← μ v + (1−d) g
        g = g + momentum * v if nesterov else v   # Nesterov: g + μ v; plain momentum: v
    w -= lr * g                           # w ← w − η g
# --8<-- [end:sgd]


class SGD(Optimizer):
    r"""``torch.optim.SGD(params, lr=0.001, momentum=0, dampening=0, weight_decay=0, nesterov=False,
    *, maximize=False, foreach=None, differentiable=False, fused=None)``."""

    def __init__(self, params, lr=0.001, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                                  "foreach": foreach, "differentiable": differentiable, "fused": fused})

    def _check(self, group):
        super()._check(group)
        for name in ("momentum", "dampening"):
            check_real(group[name], name, "SGD")
        if not group["momentum"] >= 0:
            raise ValueError(f"SGD: invalid momentum value: {group['momentum']} (must be >= 0)")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")

    def _step_group(self, group, params):
        # torch reads every momentum buffer before it updates any parameter: a parameter listed
        # twice in a group starts both of its first-step buffers at its gradient (the last is kept)
        states = [dict(self.state.get(p, {})) for p in params]
        for p, state in zip(params, states):
            self._update(p, state, group)
        for p, state in zip(params, states):
            if state:
                self.state[p] = state

    def _update(self, p, state, group):
        sgd_update(p.data, p.grad, state, group["lr"], group["momentum"], group["dampening"],
                   group["weight_decay"], group["nesterov"], group["maximize"])


# --8<-- [start:adam]
def adam_update(w, g, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                amsgrad=False, maximize=False, decoupled_weight_decay=False):
    r"""One Adam step on ``w`` (in place); ``state`` keeps ``step`` $t$, ``exp_avg`` $m$ and
    ``exp_avg_sq`` $v$ (and ``max_exp_avg_sq`` $\hat v$ for AMSGrad).

    $$
    \begin{aligned}
    m &\leftarrow \beta_1 m + (1-\beta_1) g, \qquad v \leftarrow \beta_2 v + (1-\beta_2) g^2 \\
    w &\leftarrow w - \frac{\eta}{1-\beta_1^t}\,\frac{m}{\sqrt{v}/\sqrt{1-\beta_2^t} + \epsilon}
    \end{aligned}
    $$

    AMSGrad uses $\hat v \leftarrow \max(\hat v, v)$ in place of $v$ in the step, so the
    per-weight step size never grows. ``maximize`` ascends ($g \leftarrow -g$ first). Weight
    decay λ: added to the gradient ($g \leftarrow g + \lambda w$, Adam's L2 penalty), or with
    ``decoupled_weight_decay`` applied to the weight itself ($w \leftarrow (1-\eta\lambda) w$, AdamW).
    """
    xp = get_array_module(w)
    b1, b2 = betas
    if maximize:
        g = -g
    if weight_decay:
        if decoupled_weight_decay:
            w *= 1 - lr * weight_decay    # AdamW: shrink w, outside the adaptive scaling
        else:
            g = g + weight_decay * w
    if "step" not in state:
        state.update(step=0, exp_avg=xp.zeros_like(w), exp_avg_sq=xp.zeros_like(w))
        if amsgrad:
            state["max_exp_avg_sq"] = xp.zeros_like(w)
    state["step"] += 1
    t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
    m *= b1
    m += (1 - b1) * g                     # m ← β₁ m + (1−β₁) g
    v *= b2
    v += (1 - b2) * g * g                 # v ← β₂ v + (1−β₂) g²
    if amsgrad:
        v = xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
    denom = xp.sqrt(v) / math.sqrt(1 - b2**t) + eps   # √v̂ + ε
    w -= (lr / (1 - b1**t)) * m / denom               # w ← w − η m̂ / (√v̂ + ε)
# --8<-- [end:adam]


class Adam(Optimizer):
    r"""``torch.optim.Adam(params, lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0,
    amsgrad=False, *, foreach=None, maximize=False, capturable=False, differentiable=False,
    fused=None, decoupled_weight_decay=False)``; ``decoupled_weight_decay=True`` is AdamW."""

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        betas = tuple(betas) if isinstance(betas, list) else betas     # torch keeps a tuple
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                                  "amsgrad": amsgrad, "foreach": foreach, "maximize": maximize,
                                  "capturable": capturable, "differentiable": differentiable, "fused": fused,
                                  "decoupled_weight_decay": decoupled_weight_decay})

    def _check(self, group):
        super()._check(group)
        who = type(self).__name__
        check_real(group["eps"], "eps", who)
        if not group["eps"] >= 0:
            raise ValueError(f"{who}: invalid epsilon value: {group['eps']} (must be >= 0)")
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)):
            raise TypeError(f"{who}: betas must be a pair (beta1, beta2), got {type(betas).__name__}")
        if len(betas) != 2:       # torch reads betas[0] and betas[1] and ignores the rest
            raise ValueError(f"{who}: betas must be a pair (beta1, beta2), got {len(betas)} values: {betas!r}")
        for i, b in enumerate(betas):
            check_real(b, f"betas[{i}]", who)
            if not 0.0 <= b < 1.0:
                raise ValueError(f"{who}: invalid beta parameter at index {i}: {b} (must be in [0, 1))")

    def _update(self, p, state, group):
        adam_update(p.data, p.grad, state, group["lr"], group["betas"], group["eps"], group["weight_decay"],
                    group["amsgrad"], group["maximize"], group["decoupled_weight_decay"])


class AdamW(Adam):
    r"""``torch.optim.AdamW(params, lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01,
    amsgrad=False, *, maximize=False, foreach=None, capturable=False, differentiable=False,
    fused=None)``: Adam with decoupled weight decay (Loshchilov & Hutter 2019)."""

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
