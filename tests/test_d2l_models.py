"""The models of 《动手学深度学习》 (d2l.ai, PyTorch edition) that are written with ``nn.Sequential``,
copied as the book writes them, built once with ``nn = torch.nn`` and once with ``nn = nnref``.

torch's weights go into nnref through ``state_dict``; both run in float64 on the same small batch
and must agree on the output, the input gradient and every parameter gradient (and on BatchNorm's
running statistics). Image sizes are the book's where the first fully connected layer fixes them
(LeNet 28 x 28, AlexNet and VGG 224 x 224); NiN, which ends in global average pooling, runs on
100 x 100 images (its last block then gives 2 x 2 maps to AdaptiveAvgPool2d).
"""
import numpy as np
import pytest

import nnref
from tests.parity import assert_close, dev


# -- the book's definitions (chapters 6.6, 7.5, 7.1, 7.2, 7.3) ------------------------------------

def lenet(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


def lenet_batchnorm(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
        nn.Linear(84, 10))


def alexnet(nn):
    return nn.Sequential(
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(6400, 4096), nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(4096, 4096), nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(4096, 10))


def vgg_block(nn, num_convs, in_channels, out_channels):
    layers = []
    for _ in range(num_convs):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def vgg(nn, conv_arch):
    conv_blks = []
    in_channels = 1
    for (num_convs, out_channels) in conv_arch:
        conv_blks.append(vgg_block(nn, num_convs, in_channels, out_channels))
        in_channels = out_channels
    return nn.Sequential(
        *conv_blks, nn.Flatten(),
        nn.Linear(out_channels * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 10))


def small_vgg(nn):
    conv_arch = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))
    ratio = 4
    small_conv_arch = [(pair[0], pair[1] // ratio) for pair in conv_arch]
    return vgg(nn, small_conv_arch)


def nin_block(nn, in_channels, out_channels, kernel_size, strides, padding):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding),
        nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())


def nin(nn):
    return nn.Sequential(
        nin_block(nn, 1, 96, kernel_size=11, strides=4, padding=0),
        nn.MaxPool2d(3, stride=2),
        nin_block(nn, 96, 256, kernel_size=5, strides=1, padding=2),
        nn.MaxPool2d(3, stride=2),
        nin_block(nn, 256, 384, kernel_size=3, strides=1, padding=1),
        nn.MaxPool2d(3, stride=2),
        nn.Dropout(0.5),
        # There are 10 label classes
        nin_block(nn, 384, 10, kernel_size=3, strides=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)),
        # Transform the four-dimensional output into two-dimensional output with a
        # shape of (batch size, 10)
        nn.Flatten())


# model, image size, mode: the dropout models are compared in eval() (their masks are random);
# the BatchNorm one in train(), on batch statistics, and its running statistics are compared too
MODELS = [(lenet, 28, True), (lenet_batchnorm, 28, True), (lenet_batchnorm, 28, False),
          (alexnet, 224, False), (small_vgg, 224, False), (nin, 100, False)]


@pytest.mark.parametrize("build,size,training", MODELS,
                         ids=["LeNet", "LeNet-BN-train", "LeNet-BN-eval", "AlexNet", "VGG-small", "NiN"])
def test_d2l_model_matches_torch(torch, build, size, training):
    saved = torch.get_default_dtype(), nnref.get_default_dtype()
    torch.set_default_dtype(torch.float64)         # both built in float64 (no float32 copy to convert)
    nnref.set_default_dtype(np.float64)
    try:
        ref = build(torch.nn).train(training)
        model = build(nnref).train(training)
    finally:
        torch.set_default_dtype(saved[0])
        nnref.set_default_dtype(saved[1])
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float64)}
    model.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    assert list(model.state_dict()) == list(ref.state_dict())

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 1, size, size))
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    dy = rng.normal(size=tuple(yt.shape))
    yt.backward(torch.tensor(dy))

    y = model(dev(x))
    tol = dict(rtol=1e-8, atol=1e-10 * max(1.0, float(yt.detach().abs().max())))
    assert_close(y, yt, **tol, what="output")
    assert_close(model.backward(dev(dy)), xt.grad, rtol=1e-8, atol=1e-12, what="input gradient")
    theirs = dict(ref.named_parameters())
    for name, p in model.named_parameters():
        g = theirs[name].grad
        assert_close(p.grad, g, rtol=1e-8, atol=1e-10 * max(1.0, float(g.abs().max())), what=f"{name} gradient")
    theirs_b = dict(ref.named_buffers())
    for name, b in model.named_buffers():
        assert_close(np.asarray(nnref.asnumpy(b), dtype=np.float64), theirs_b[name].double(), what=f"buffer {name}")
