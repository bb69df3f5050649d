import numpy as np
import pytest

import nnref
from nnref.backend import asnumpy
from nnref.gradcheck import gradcheck
from tests.parity import assert_close, dev, load_from_torch, torch_step


def torch_basic_block(torch, cin, cout, stride):
    """torchvision's BasicBlock rebuilt from torch.nn modules (torchvision is not a dependency)."""
    nn = torch.nn

    class BasicBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            identity = x if self.downsample is None else self.downsample(x)
            return self.relu(out + identity)

    return BasicBlock()


def torch_resnet(torch, layers, channels, cin, classes):
    nn = torch.nn

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, channels[0], 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(channels[0])
            previous = channels[0]
            for i, (n, c) in enumerate(zip(layers, channels)):
                blocks = [torch_basic_block(torch, previous, c, 1 if i == 0 else 2)]
                blocks += [torch_basic_block(torch, c, c, 1) for _ in range(n - 1)]
                setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
                previous = c
            self.fc = nn.Linear(previous, classes)

        def forward(self, x):
            h = torch.relu(self.bn1(self.conv1(x)))
            for i in range(len(layers)):
                h = getattr(self, f"layer{i + 1}")(h)
            return self.fc(h.mean(dim=(2, 3)))

    return ResNet()


def _randomise_batchnorm(torch, ref):
    """γ, β and running statistics away from their defaults, so that no term hides."""
    for m in ref.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
            torch.nn.init.uniform_(m.bias, -0.5, 0.5)
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return ref


BLOCKS = [(4, 4, 1), (3, 5, 1), (4, 4, 2), (3, 6, 2)]   # identity; projection for channels, stride, both


def test_state_dict_keys_are_torchvisions(torch):
    for cin, cout, stride in BLOCKS:
        ref = torch_basic_block(torch, cin, cout, stride)
        m = nnref.BasicBlock(cin, cout, stride)
        assert list(m.state_dict()) == list(ref.state_dict())
        assert all(tuple(v.shape) == tuple(ref.state_dict()[k].shape) for k, v in m.state_dict().items())
    assert list(nnref.BasicBlock(3, 6, 2).state_dict())[-6:] == [
        "downsample.0.weight", "downsample.1.weight", "downsample.1.bias", "downsample.1.running_mean",
        "downsample.1.running_var", "downsample.1.num_batches_tracked"]
    assert nnref.BasicBlock(4, 4).downsample is None


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("cin, cout, stride", BLOCKS)
def test_basic_block_matches_torch(torch, cin, cout, stride, training):
    ref = _randomise_batchnorm(torch, torch_basic_block(torch, cin, cout, stride).double())
    m = load_from_torch(nnref.BasicBlock(cin, cout, stride, dtype=np.float64), ref)
    ref.train(training), m.train(training)
    rng = np.random.default_rng(cin * 10 + cout + stride)
    for step in range(2):   # two steps: the running statistics feed into the second one in eval
        x = rng.normal(size=(3, cin, 6, 5))
        xt, yt, dy = torch_step(torch, ref, x, rng)
        y = m(dev(x))
        assert_close(y, yt, rtol=1e-9, atol=1e-11, what=f"output, step {step}")
        assert_close(m.backward(dev(dy)), xt.grad, rtol=1e-9, atol=1e-11, what=f"input gradient, step {step}")
        grads = dict(m.named_parameters())
        for name, p in ref.named_parameters():
            assert_close(grads[name].grad, p.grad, rtol=1e-9, atol=1e-11, what=f"{name}.grad, step {step}")
        for key, value in ref.state_dict().items():
            assert_close(m.state_dict()[key], value, rtol=1e-9, atol=1e-11, what=f"{key}, step {step}")


def test_small_resnet_matches_torch(torch):
    layers, channels = (2, 1), (3, 4)
    ref = _randomise_batchnorm(torch, torch_resnet(torch, layers, channels, 2, 5).double())
    m = load_from_torch(nnref.ResNet(layers, channels, in_channels=2, num_classes=5, dtype=np.float64), ref)
    assert list(m.state_dict()) == list(ref.state_dict())
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 2, 6, 6))
    xt, yt, dy = torch_step(torch, ref, x, rng)
    assert_close(m(dev(x)), yt, rtol=1e-9, atol=1e-11, what="logits")
    assert_close(m.backward(dev(dy)), xt.grad, rtol=1e-9, atol=1e-11, what="input gradient")
    grads = dict(m.named_parameters())
    for name, p in ref.named_parameters():
        assert_close(grads[name].grad, p.grad, rtol=1e-8, atol=1e-11, what=f"{name}.grad")


@pytest.mark.parametrize("cin, cout, stride", [(2, 2, 1), (2, 3, 2)], ids=["identity", "projection"])
def test_gradcheck_basic_block(cin, cout, stride):
    m = nnref.BasicBlock(cin, cout, stride, dtype=np.float64)
    assert gradcheck(m, dev(np.random.default_rng(0).normal(size=(2, cin, 4, 4))))


def test_gradcheck_small_resnet():
    m = nnref.ResNet((1, 1), (2, 3), in_channels=1, num_classes=3, dtype=np.float64)
    assert gradcheck(m, dev(np.random.default_rng(0).normal(size=(3, 1, 4, 4))))


def test_the_shortcut_passes_the_gradient_unchanged_when_the_branch_is_silent():
    """With bn2's γ = 0 the branch F(x) is a constant: dH/dx = I (times the final ReLU's mask)."""
    m = nnref.BasicBlock(3, 3, dtype=np.float64)
    m.bn2.weight.data[...] = 0.0
    m.bn2.bias.data[...] = 5.0      # every output positive: the final ReLU's mask is all ones
    x = dev(np.random.default_rng(0).normal(size=(2, 3, 4, 4)))
    dy = dev(np.random.default_rng(1).normal(size=(2, 3, 4, 4)))
    m(x)
    assert_close(m.backward(dy), dy, what="input gradient = upstream gradient")


def test_dtypes_and_eval_output_shape():
    m = nnref.ResNet((1, 1, 1), (4, 8, 16), in_channels=3, num_classes=7)
    x = dev(np.random.default_rng(0).normal(size=(2, 3, 8, 8)).astype(np.float32))
    y = m(x)
    assert y.shape == (2, 7) and y.dtype == np.float32
    assert m.backward(y).dtype == np.float32
    m.eval()
    assert m(x).shape == (2, 7)
    assert all(p.grad.dtype == np.float32 for p in m.parameters())


def test_torchvision_init_of_the_convolutions():
    m = nnref.ResNet((2,), (32,), in_channels=3)
    w = asnumpy(m.layer1[0].conv1.weight.data)
    assert abs(w.std() / np.sqrt(2 / (32 * 9)) - 1) < 0.05    # N(0, 2 / fan_out)


def test_errors():
    with pytest.raises(ValueError, match="BasicBlock: expected 4 input channels"):
        nnref.BasicBlock(4, 4)(dev(np.zeros((1, 3, 4, 4))))
    with pytest.raises(ValueError, match=r"BasicBlock: expected input of shape \(N, C, H, W\)"):
        nnref.BasicBlock(4, 4)(dev(np.zeros((4, 4, 4))))
    with pytest.raises(RuntimeError, match="BasicBlock.backward called before forward"):
        nnref.BasicBlock(1, 1).backward(dev(np.zeros((1, 1, 2, 2))))
    with pytest.raises(ValueError, match="ResNet: expected 3 input channels"):
        nnref.ResNet()(dev(np.zeros((1, 1, 8, 8), np.float32)))
    with pytest.raises(ValueError, match="ResNet: layers and channels"):
        nnref.ResNet((2, 2), (16,))
    with pytest.raises(ValueError, match="ResNet: num_classes must be greater than zero, got 0"):
        nnref.ResNet(num_classes=0)
    with pytest.raises(TypeError, match="ResNet: in_channels must be an int"):
        nnref.ResNet(in_channels=3.0)
    with pytest.raises(TypeError, match="BasicBlock: stride must be an int"):
        nnref.BasicBlock(2, 2, 1.5)


def test_device_and_dtype_reach_every_parameter():
    m = nnref.ResNet((1, 1), (2, 4), in_channels=1, num_classes=3, device="cpu", dtype=np.float64)
    assert {type(p.data) for p in m.parameters()} == {np.ndarray}
    assert {p.dtype for p in m.parameters()} == {np.dtype(np.float64)}
    assert {v.dtype for v in m.state_dict().values() if v.dtype.kind == "f"} == {np.dtype(np.float64)}
