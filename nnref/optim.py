"""Optimisers: ``step()`` updates each ``Parameter.data`` from its ``grad``; ``zero_grad()`` clears them.

The update rules are PyTorch's, so the same gradients give the same trajectory.
"""
from __future__ import annotations

import math

from .backend import get_array_module
from .module import parameter_list


class Optimizer:
    def __init__(self, params, lr):
        self.params = parameter_list(params, type(self).__name__)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not lr >= 0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got {lr}")
        self.lr = lr
        self.state = [dict() for _ in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad[...] = 0

    def step(self):
        for p, state in zip(self.params, self.state):
            self._update(p, state)


# --8<-- [start:sgd]
def sgd_update(w, g, state, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """One SGD step on array ``w`` (in place) with gradient ``g``; ``state`` keeps the velocity.

    $$
    g \\leftarrow g + \\lambda w,\\qquad v \\leftarrow \\mu v + (1-d)\\,g,\\qquad
    w \\leftarrow w - \\eta\\,(g + \\mu v \\text{ if Nesterov else } v)
    $$
    """
    if weight_decay:
        g = g + weight_decay * w          # L2 penalty (λ/2)‖w‖² folded into the gradient
    if momentum:
        v = state.get("velocity")
        if v is None:
            v = state["velocity"] = g.copy()  # the first step starts the velocity at g
        else:
            v *= momentum
            v += (1 - dampening) * g
        g = g + momentum * v if nesterov else v
    w -= lr * g
# --8<-- [end:sgd]


class SGD(Optimizer):
    """``torch.optim.SGD(params, lr, momentum=0, weight_decay=0, nesterov=False)``."""

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0, nesterov=False, *, dampening=0.0):
        super().__init__(params, lr)
        if not momentum >= 0 or not weight_decay >= 0:
            raise ValueError(f"SGD: momentum and weight_decay must be >= 0, got {momentum}, {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        self.momentum, self.weight_decay, self.nesterov, self.dampening = momentum, weight_decay, nesterov, dampening

    def _update(self, p, state):
        sgd_update(p.data, p.grad, state, self.lr, self.momentum, self.dampening,
                   self.weight_decay, self.nesterov)


# --8<-- [start:adam]
def adam_update(w, g, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                decoupled_weight_decay=False):
    """One Adam step on ``w`` (in place); ``state`` keeps ``t``, ``m`` and ``v``.

    $$
    m \\leftarrow \\beta_1 m + (1-\\beta_1) g,\\quad v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2,\\quad
    w \\leftarrow w - \\frac{\\eta}{1-\\beta_1^t}\\,\\frac{m}{\\sqrt{v}/\\sqrt{1-\\beta_2^t} + \\epsilon}
    $$

    Weight decay λ: added to the gradient ($g \\leftarrow g + \\lambda w$, Adam's L2 penalty), or with
    ``decoupled_weight_decay`` applied to the weight itself ($w \\leftarrow (1-\\eta\\lambda) w$, AdamW).
    """
    xp = get_array_module(w)
    b1, b2 = betas
    if weight_decay:
        if decoupled_weight_decay:
            w *= 1 - lr * weight_decay    # AdamW: shrink w, outside the adaptive scaling
        else:
            g = g + weight_decay * w
    if "t" not in state:
        state.update(t=0, m=xp.zeros_like(w), v=xp.zeros_like(w))
    state["t"] += 1
    t, m, v = state["t"], state["m"], state["v"]
    m *= b1
    m += (1 - b1) * g
    v *= b2
    v += (1 - b2) * g * g
    denom = xp.sqrt(v) / math.sqrt(1 - b2**t) + eps
    w -= (lr / (1 - b1**t)) * m / denom
# --8<-- [end:adam]


class Adam(Optimizer):
    """``torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)``.

    ``decoupled_weight_decay=True`` (keyword, as in PyTorch) turns it into AdamW.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *,
                 decoupled_weight_decay=False):
        super().__init__(params, lr)
        who = type(self).__name__
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"{who}: betas must be two numbers in [0, 1), got {betas}")
        if not eps >= 0 or not weight_decay >= 0:
            raise ValueError(f"{who}: eps and weight_decay must be >= 0, got {eps}, {weight_decay}")
        self.betas, self.eps, self.weight_decay = tuple(betas), eps, weight_decay
        self.decoupled_weight_decay = decoupled_weight_decay

    def _update(self, p, state):
        adam_update(p.data, p.grad, state, self.lr, self.betas, self.eps, self.weight_decay,
                    self.decoupled_weight_decay)


class AdamW(Adam):
    """``torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)``:
    Adam with decoupled weight decay (Loshchilov & Hutter 2019)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr, betas, eps, weight_decay, decoupled_weight_decay=True)
