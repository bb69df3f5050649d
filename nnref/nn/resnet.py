r"""Residual networks: torchvision's ``BasicBlock`` and a small ResNet for small images.

A residual block outputs ``relu(F(x) + shortcut(x))``. The shortcut is the identity, or a
1x1 convolution with batch norm (``downsample``) when the block changes the number of
channels or the resolution. Attribute names, and so ``state_dict`` keys, are torchvision's:
``conv1``, ``bn1``, ``conv2``, ``bn2``, ``downsample.0``, ``downsample.1``.
"""
from __future__ import annotations

import math

from ..backend import default_rng, device_backend, get_array_module, to_backend
from ..checks import backward_cache, check_float, check_int, check_ndim, check_size, param_dtype
from ..layers.activation import relu_backward, relu_forward
from ..module import Module, Sequential
from .batchnorm import BatchNorm2d
from .conv import Conv2d
from .linear import Linear


# --8<-- [start:basic_block]
class BasicBlock(Module):
    r"""``torchvision.models.resnet.BasicBlock(in_channels, out_channels, stride)``:

    $$
    H(x) = \mathrm{ReLU}\big(F(x) + s(x)\big),\qquad
    F = \mathrm{BN}_2 \circ \mathrm{conv}_2 \circ \mathrm{ReLU} \circ \mathrm{BN}_1 \circ \mathrm{conv}_1
    $$

    ``conv1`` is 3x3 with ``stride``, ``conv2`` 3x3 with stride 1, both without bias (the batch
    norm after them has its own shift). The shortcut ``s`` is the identity when the shapes
    allow it, otherwise ``downsample = Sequential(Conv2d(in, out, 1, stride, bias=False),
    BatchNorm2d(out))``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, *, device=None, dtype=None):
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", "BasicBlock", 1)
        self.out_channels = check_int(out_channels, "out_channels", "BasicBlock", 1)
        self.stride = check_int(stride, "stride", "BasicBlock", 1)
        on = dict(device=device, dtype=dtype)
        self.conv1 = Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False, **on)
        self.bn1 = BatchNorm2d(out_channels, **on)
        self.conv2 = Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False, **on)
        self.bn2 = BatchNorm2d(out_channels, **on)
        if stride != 1 or in_channels != out_channels:
            self.downsample = Sequential(
                Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False, **on),
                BatchNorm2d(out_channels, **on))
        else:
            self.downsample = None
        self._cache = None

    def forward(self, x):
        check_float(x, "BasicBlock")
        check_ndim(x, "BasicBlock", 4, "(N, C, H, W)")
        check_size(x, "BasicBlock", 1, self.in_channels, "input channels")
        h, mask1 = relu_forward(self.bn1(self.conv1(x)))
        f = self.bn2(self.conv2(h))                                   # F(x)
        shortcut = x if self.downsample is None else self.downsample(x)
        y, mask2 = relu_forward(f + shortcut)                         # H(x) = relu(F(x) + x)
        self._cache = ((mask1, mask2), y.shape, y.dtype)
        return y

    def backward(self, dy):
        (mask1, mask2), dy = backward_cache(self._cache, dy, "BasicBlock")
        d_sum = relu_backward(dy, mask2)              # dL/d(F(x) + s(x)): goes to both branches
        d_h = self.conv2.backward(self.bn2.backward(d_sum))
        dx_f = self.conv1.backward(self.bn1.backward(relu_backward(d_h, mask1)))
        dx_s = d_sum if self.downsample is None else self.downsample.backward(d_sum)
        return dx_f + dx_s                            # dH/dx = dF/dx + I: the shortcut's term

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"
# --8<-- [end:basic_block]


class ResNet(Module):
    r"""A small ResNet for small images, laid out as torchvision's (``conv1``, ``bn1``,
    ``layer1``..., ``fc``) with the CIFAR stem of He et al. (2015): a 3x3 convolution instead
    of 7x7 plus max pooling.

    ``layers[i]`` BasicBlocks of ``channels[i]`` channels per stage; every stage after the
    first halves the resolution. Then global average pooling (torchvision's ``avgpool``, no
    parameters) and ``fc``. ``layers=(3, 3, 3)``, ``channels=(16, 32, 64)`` is ResNet-20.
    Convolutions start as torchvision's: N(0, 2 / fan_out) (Kaiming, fan-out mode).
    """

    def __init__(self, layers=(2, 2, 2), channels=(16, 32, 64), in_channels: int = 3,
                 num_classes: int = 10, *, device=None, dtype=None):
        super().__init__()
        if len(layers) != len(channels) or not layers or min(layers) < 1:
            raise ValueError(f"ResNet: layers and channels must be equally long, non-empty, with "
                             f"at least one block per stage; got {layers} and {channels}")
        check_int(in_channels, "in_channels", "ResNet", 1)
        check_int(num_classes, "num_classes", "ResNet", 1)
        on = dict(device=device, dtype=dtype)
        self.conv1 = Conv2d(in_channels, channels[0], kernel_size=3, stride=1, padding=1, bias=False, **on)
        self.bn1 = BatchNorm2d(channels[0], **on)
        self.stages, previous = [], channels[0]
        for i, (n, c) in enumerate(zip(layers, channels)):
            blocks = [BasicBlock(previous, c, 1 if i == 0 else 2, **on)]
            blocks += [BasicBlock(c, c, 1, **on) for _ in range(n - 1)]
            setattr(self, f"layer{i + 1}", Sequential(*blocks))
            self.stages.append(getattr(self, f"layer{i + 1}"))
            previous = c
        self.fc = Linear(previous, num_classes, **on)
        host, where, dt = default_rng().host, device_backend(device, "ResNet"), param_dtype(dtype, "ResNet")
        for m in self.modules():
            if isinstance(m, Conv2d):
                fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1]
                w = host.normal(0.0, math.sqrt(2.0 / fan_out), m.weight.shape)
                m.weight.data = to_backend(w, where, dt)
        self._cache = None

    def forward(self, x):
        check_float(x, "ResNet")
        check_ndim(x, "ResNet", 4, "(N, C, H, W)")
        check_size(x, "ResNet", 1, self.conv1.in_channels, "input channels")
        h, mask = relu_forward(self.bn1(self.conv1(x)))
        for stage in self.stages:
            h = stage(h)
        y = self.fc(h.mean(axis=(2, 3)))              # global average pooling, then fc
        self._cache = ((mask, h.shape), y.shape, y.dtype)
        return y

    def backward(self, dy):
        (mask, shape), dy = backward_cache(self._cache, dy, "ResNet")
        xp = get_array_module(dy)
        d_pooled = self.fc.backward(dy)
        dh = xp.broadcast_to((d_pooled / (shape[2] * shape[3]))[:, :, None, None], shape)
        for stage in reversed(self.stages):
            dh = stage.backward(dh)
        return self.conv1.backward(self.bn1.backward(relu_backward(dh, mask)))
