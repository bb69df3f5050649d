r"""The maths of every layer, one file per concept: the reference pairs ``xxx_forward(x, ...) ->
(y, cache)`` / ``xxx_backward(dy, cache) -> grads``, written against ``xp`` (NumPy or CuPy) and
importing nothing of nnref but the backend and the checks, so that a reader can copy one file.

The Modules that own parameters and call these functions are in :mod:`nnref.nn`. For code
written against earlier versions, ``nnref.layers.Conv2d`` and the other layer classes are the
same objects as ``nnref.Conv2d``: the package attaches them here when ``nnref`` is imported
(this package itself never imports :mod:`nnref.nn`).
"""
