import numpy as np
import pytest

import nnref
from nnref.backend import asnumpy
from nnref.gradcheck import gradcheck
from nnref.layers.identity import identity_backward, identity_forward
from tests.parity import assert_close, dev, load_from_torch


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (4, 7), (7,), (), (0, 3)])
def test_matches_torch_and_returns_the_input_itself(torch, shape):
    x = np.random.default_rng(0).normal(size=shape)
    xt = torch.tensor(x, requires_grad=True)
    ref = torch.nn.Identity()
    yt = ref(xt)
    dy = np.random.default_rng(1).normal(size=shape)
    yt.backward(torch.tensor(dy))
    m = nnref.Identity()
    xd = dev(x)
    y = m(xd)
    assert (y is xd) == (yt is xt) is True             # the same object, as torch's
    assert_close(y, yt, rtol=0, atol=0, what="output")
    assert_close(m.backward(dev(dy)), xt.grad, rtol=0, atol=0, what="input gradient")


def test_the_reference_pair():
    x, dy = np.ones((2, 3)), np.full((2, 3), 2.0)
    y, cache = identity_forward(x)
    assert y is x and cache is None
    assert identity_backward(dy, cache) is dy


def test_backward_gives_the_gradient_in_the_inputs_dtype_and_shape():
    m = nnref.Identity()
    m(dev(np.ones((2, 3), np.float32)))
    dx = m.backward(dev(np.full((2, 3), 0.5)))                 # a float64 gradient
    assert dx.shape == (2, 3) and dx.dtype == np.float32
    assert (asnumpy(dx) == 0.5).all()
    y = m(dev(np.ones((4,), np.float16)))
    assert y.dtype == np.float16 and m.backward(dev(np.ones(4, np.float16))).dtype == np.float16


@pytest.mark.parametrize("args, kwargs", [((), {}), ((54,), {}),
                                          ((54,), dict(unused_argument1=0.1, unused_argument2=False)),
                                          ((1, "two", None), dict(dtype="anything", inplace=True))])
def test_constructor_takes_and_ignores_any_arguments_like_torch(torch, args, kwargs):
    m, ref = nnref.Identity(*args, **kwargs), torch.nn.Identity(*args, **kwargs)
    assert repr(m) == repr(ref) == "Identity()"
    assert dict(m.state_dict()) == dict(ref.state_dict()) == {}
    assert list(m.parameters()) == [] and list(ref.parameters()) == []
    assert [n for n, _ in m.named_modules()] == [n for n, _ in ref.named_modules()] == [""]
    x = np.arange(6.0).reshape(2, 3)
    assert_close(m(dev(x)), ref(torch.tensor(x)), rtol=0, atol=0, what="output")


def test_in_a_sequential_like_torch(torch):
    ref = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Identity(), torch.nn.Tanh()).double()
    m = load_from_torch(nnref.Sequential(nnref.Linear(4, 3, dtype=np.float64), nnref.Identity(), nnref.Tanh()), ref)
    x = np.random.default_rng(0).normal(size=(5, 4))
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    yt.backward(torch.ones_like(yt))
    y = m(dev(x))
    assert_close(y, yt, what="output")
    assert_close(m.backward(dev(np.ones((5, 3)))), xt.grad, what="input gradient")


def test_a_resnet_without_its_head_gives_the_pooled_features():
    net = nnref.ResNet(layers=(1, 1), channels=(4, 8), in_channels=1, num_classes=10, dtype=np.float64)
    x = dev(np.random.default_rng(0).normal(size=(3, 1, 6, 6)))
    logits = net(x)
    net.fc = nnref.Identity()
    features = net(x)
    assert features.shape == (3, 8)
    assert net.backward(dev(np.ones((3, 8)))).shape == (3, 1, 6, 6)
    assert logits.shape == (3, 10)


def test_gradcheck():
    assert gradcheck(nnref.Identity(), dev(np.random.default_rng(0).normal(size=(3, 2, 4))))


def test_takes_float_arrays_only_unlike_torch(torch):
    """torch's Identity passes anything through (integer tensors, even lists); nnref's layers take
    float arrays only, and say so naming the layer."""
    assert torch.nn.Identity()(torch.arange(3)).dtype == torch.int64
    with pytest.raises(TypeError, match="Identity: expected a floating-point array"):
        nnref.Identity()(dev(np.arange(3)))
    with pytest.raises(TypeError, match="Identity: expected an array for input, got list"):
        nnref.Identity()([1.0, 2.0])


def test_errors():
    with pytest.raises(RuntimeError, match="Identity.backward called before forward"):
        nnref.Identity().backward(dev(np.zeros((2, 3))))
    m = nnref.Identity()
    m(dev(np.zeros((2, 3))))
    with pytest.raises(ValueError, match=r"Identity.backward: expected a gradient of the output's shape \(2, 3\)"):
        m.backward(dev(np.zeros((1, 3))))
    with pytest.raises(TypeError, match="Identity.forward: takes 2 positional arguments but 3 were given"):
        m(dev(np.zeros(2)), dev(np.zeros(2)))
