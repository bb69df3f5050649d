r"""Sliding windows: the sizes that convolution and pooling share.

A window of ``kernel`` positions, spread ``dilation`` apart, slides with step ``stride``
over an axis of ``size`` inputs with ``padding`` extra entries on each side.
"""
from __future__ import annotations



# --8<-- [start:output_size]
def output_size(size, kernel, stride=1, padding=0, dilation=1, ceil_mode=False):
    r"""Number of window positions along one axis (convolution and pooling alike):

    $$
    O = \left\lfloor \frac{I + 2P - D(K - 1) - 1}{S} \right\rfloor + 1
    $$

    With ``ceil_mode`` the division rounds up, so a last, partial window that hangs over the
    end is kept, unless it would start beyond the input and its left padding (PyTorch's rule).
    """
    span = dilation * (kernel - 1) + 1                 # the window's extent, holes included
    room = size + 2 * padding - span
    if ceil_mode:
        out = -(-room // stride) + 1                   # ceil division
        if (out - 1) * stride >= size + padding:       # the last window would start in the right padding
            out -= 1
        return out
    return room // stride + 1
# --8<-- [end:output_size]
