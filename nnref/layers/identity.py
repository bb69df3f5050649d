r"""``torch.nn.Identity``: a placeholder layer that returns its input unchanged, e.g. the shortcut
$s(x) = x$ of a residual block, or a classifier head removed with ``model.fc = Identity()``."""
from __future__ import annotations


# --8<-- [start:identity]
def identity_forward(x):
    r"""The identity map; the output is ``x`` itself (as torch's, no copy) and nothing is cached:

    $$
    y = x
    $$
    """
    return x, None                      # y = x; backward needs nothing


def identity_backward(dy, cache=None):
    r"""$\partial y / \partial x = I$, so the gradient passes through unchanged:

    $$
    \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}
    $$
    """
    return dy                           # ∂L/∂x = ∂L/∂y
# --8<-- [end:identity]
