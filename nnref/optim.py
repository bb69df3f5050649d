r"""Optimisers with ``torch.optim``'s signatures: ``SGD``, ``Adam``, ``AdamW``.

``step()`` updates each ``Parameter.data`` in place from its ``grad``; ``zero_grad()`` clears the
gradients. The update rules are PyTorch's (``maximize`` and ``amsgrad`` included), so the same
gradients give the same trajectory. ``params`` is an iterable of ``Parameter``\ s, of
``(name, Parameter)`` pairs, or of dicts ``{'params': [...], 'lr': ...}`` (param groups, each
overriding the defaults). ``state_dict()``/``load_state_dict()`` save and restore the step counts
and moments with torch's keys (``momentum_buffer``, ``step``, ``exp_avg``, ``exp_avg_sq``,
``max_exp_avg_sq``).

``foreach``, ``fused`` and ``capturable`` only choose among torch's kernels (loops, multi-tensor
or fused kernels, CUDA graphs) and change no number; nnref has one implementation, so they are
accepted and ignored. ``differentiable=True`` (autograd through the step) raises
``NotImplementedError``: nnref has no autograd.
"""
from __future__ import annotations

import math

from .backend import get_array_module
from .module import parameter_list


class Optimizer:
    """Base class: param groups, per-parameter ``state``, ``zero_grad``, ``step``, state dicts."""

    def __init__(self, params, defaults: dict):
        who = type(self).__name__
        if defaults.get("differentiable"):
            raise NotImplementedError(f"{who}: differentiable=True needs autograd, which nnref does not have")
        self._check(defaults)
        self.defaults = defaults
        params = list(params)
        if not params:
            raise ValueError(f"{who}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = []
        for g in groups:
            if not isinstance(g, dict) or "params" not in g:
                raise TypeError(f"{who}: param groups must all be dicts with a 'params' key, got {g!r}")
            ps = list(g["params"])
            ps = [p[1] if isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) else p for p in ps]
            group = {**defaults, **g, "params": parameter_list(ps, who)}
            self._check(group)
            self.param_groups.append(group)
        self.state = {}   # Parameter -> dict of its moments

    @property
    def params(self):
        """Every parameter of every group, in order."""
        return [p for g in self.param_groups for p in g["params"]]

    def zero_grad(self):
        for p in self.params:
            p.grad[...] = 0

    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                self._update(p, self.state.setdefault(p, {}), group)

    def _check(self, group):
        who = type(self).__name__
        if not group["lr"] >= 0:
            raise ValueError(f"{who}: invalid learning rate: {group['lr']} (must be >= 0)")
        if not group["weight_decay"] >= 0:
            raise ValueError(f"{who}: invalid weight_decay value: {group['weight_decay']} (must be >= 0)")

    # -- saving and restoring ---------------------------------------------------
    def state_dict(self) -> dict:
        """torch's layout: ``{'state': {index: {name: value}}, 'param_groups': [{..., 'params': [indices]}]}``.

        Arrays are copies, so the dict is a snapshot (what :func:`nnref.train.fit` restores
        after a divergence).
        """
        index = {p: i for i, p in enumerate(self.params)}
        state = {index[p]: {k: v.copy() if hasattr(v, "copy") else v for k, v in s.items()}
                 for p, s in self.state.items() if s}
        groups = [{**g, "params": [index[p] for p in g["params"]]} for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict):
        """Restore what :meth:`state_dict` returned (same groups, same parameter shapes), checked first."""
        who = type(self).__name__
        groups, params = state_dict["param_groups"], self.params
        if [len(g["params"]) for g in groups] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError(f"{who}.load_state_dict: the saved param groups have other sizes than this optimiser's")
        new_state = {}
        for i, s in state_dict["state"].items():
            p = params[int(i)]
            for k, v in s.items():
                if hasattr(v, "shape") and v.ndim and tuple(v.shape) != tuple(p.shape):
                    raise ValueError(f"{who}.load_state_dict: state {k!r} of parameter {i} has shape "
                                     f"{tuple(v.shape)}, expected {tuple(p.shape)}")
            xp = get_array_module(p.data)
            new_state[p] = {k: xp.asarray(v, dtype=p.dtype).copy() if getattr(v, "ndim", 0) else v
                            for k, v in s.items()}
        for g, saved in zip(self.param_groups, groups):
            g.update({k: v for k, v in saved.items() if k != "params"})
        self.state = new_state


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
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    def _check(self, group):
        super()._check(group)
        if not group["momentum"] >= 0:
            raise ValueError(f"SGD: invalid momentum value: {group['momentum']} (must be >= 0)")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")

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
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, foreach=foreach, maximize=maximize, capturable=capturable,
                                      differentiable=differentiable, fused=fused,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _check(self, group):
        super()._check(group)
        who = type(self).__name__
        if not group["eps"] >= 0:
            raise ValueError(f"{who}: invalid epsilon value: {group['eps']} (must be >= 0)")
        betas = tuple(group["betas"])
        if len(betas) != 2:
            raise ValueError(f"{who}: betas must be a pair (beta1, beta2), got {betas}")
        for i, b in enumerate(betas):
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
