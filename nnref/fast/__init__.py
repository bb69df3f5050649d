r"""Speed paths, apart from the reference code they equal.

``nnref/fast/<concept>.py`` sits beside ``nnref/layers/<concept>.py``. Each function names the
reference function it equals and says why it is faster; ``tests/fast/test_<concept>.py`` proves
the two equal (float64, edge cases, hypothesis shapes). The ``Module`` classes call these.
"""
