"""``output_size`` (nnref/layers/window.py), the window count that convolution and pooling share,
equals the size of torch's output for every size, kernel, stride, padding, dilation and ceil_mode
in a small box (all of them, not a sample), and is below 1 exactly where torch refuses an input too
small for its window.
"""
import itertools

import pytest

from nnref.layers.window import output_size

# size, kernel, stride, padding, dilation
BOX = list(itertools.product(range(1, 13), range(1, 6), range(1, 5), range(0, 4), range(1, 4)))


def _torch_size(run):
    try:
        return run().shape[-1]
    except RuntimeError:           # torch: the output would be empty
        return None


def test_convolution_windows_match_torch(torch):
    F = torch.nn.functional
    wrong = []
    for size, kernel, stride, padding, dilation in BOX:
        got = _torch_size(lambda: F.conv1d(torch.zeros(1, 1, size), torch.zeros(1, 1, kernel), stride=stride,
                                           padding=padding, dilation=dilation))
        n = output_size(size, kernel, stride, padding, dilation)
        if (n if n >= 1 else None) != got:
            wrong.append(((size, kernel, stride, padding, dilation), n, got))
    assert not wrong, wrong[:5]


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pooling_windows_match_torch(torch, ceil_mode):
    F = torch.nn.functional
    wrong = []
    for size, kernel, stride, padding, dilation in BOX:
        if padding > kernel // 2:      # torch's rule for pooling
            continue
        got = _torch_size(lambda: F.max_pool1d(torch.zeros(1, 1, size), kernel, stride, padding, dilation,
                                               ceil_mode=ceil_mode))
        n = output_size(size, kernel, stride, padding, dilation, ceil_mode)
        if (n if n >= 1 else None) != got:
            wrong.append(((size, kernel, stride, padding, dilation), n, got))
    assert not wrong, wrong[:5]


@pytest.mark.parametrize("args,expected", [
    ((5, 3), 3),                       # (5 - 3) / 1 + 1
    ((5, 3, 2, 1), 3),                 # padded to 7, windows at 0, 2, 4
    ((7, 3, 1, 0, 2), 3),              # a dilated window spans 5
    ((6, 3, 2, 0, 1, True), 3),        # ceil mode keeps the partial last window ...
    ((5, 2, 2, 1, 1, True), 3),        # ... unless it would start in the right padding
])
def test_output_size_by_hand(args, expected):
    assert output_size(*args) == expected
