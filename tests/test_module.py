import numpy as np
import pytest

import nnref
from nnref import Linear, Module, Parameter, ReLU, Sequential
from tests.parity import assert_close, dev, load_from_torch


def test_sequential_state_dict_keys_equal_torch(torch):
    ref = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2, bias=False))
    m = Sequential(Linear(4, 3), ReLU(), Linear(3, 2, bias=False))
    assert list(m.state_dict()) == list(ref.state_dict()) == ["0.weight", "0.bias", "2.weight"]
    assert [tuple(v.shape) for v in m.state_dict().values()] == \
           [tuple(v.shape) for v in ref.state_dict().values()]


def test_sequential_forward_backward_matches_torch(torch):
    rng = np.random.default_rng(0)
    ref = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)).double()
    m = load_from_torch(Sequential(Linear(4, 5, dtype=np.float64), nnref.Tanh(),
                                   Linear(5, 2, dtype=np.float64)), ref)
    x, dy = rng.normal(size=(3, 4)), rng.normal(size=(3, 2))
    xt = torch.tensor(x, requires_grad=True)
    ref(xt).backward(torch.tensor(dy))
    assert_close(m(dev(x)), ref(torch.tensor(x)), what="output")
    assert_close(m.backward(dev(dy)), xt.grad, what="input gradient")
    for (name, p), (tname, tp) in zip(m.named_parameters(), ref.named_parameters()):
        assert name == tname
        assert_close(p.grad, tp.grad, what=name)


def test_load_state_dict_casts_and_copies():
    m = Linear(2, 2)  # float32
    w = np.arange(4, dtype=np.float64).reshape(2, 2)
    before = m.weight.data
    m.load_state_dict({"weight": w, "bias": [1.0, 2.0]})
    assert m.weight.data is before            # copied into the existing array
    assert m.weight.dtype == np.float32
    assert_close(m.weight.data, w.astype(np.float32), what="weight")
    w[0, 0] = 99                              # no aliasing with the source
    assert nnref.asnumpy(m.weight.data)[0, 0] == 0


def test_load_state_dict_errors():
    m = Sequential(Linear(2, 3), ReLU(), Linear(3, 1))
    good = {k: nnref.asnumpy(v).copy() for k, v in m.state_dict().items()}
    missing = dict(good)
    del missing["2.bias"]
    with pytest.raises(KeyError, match=r"missing keys \['2.bias'\]"):
        m.load_state_dict(missing)
    with pytest.raises(KeyError, match=r"unexpected keys \['3.weight'\]"):
        m.load_state_dict({**good, "3.weight": np.zeros(1)})
    with pytest.raises(ValueError, match=r"key '0.weight' has shape \(2, 3\), expected \(3, 2\)"):
        m.load_state_dict({**good, "0.weight": np.zeros((2, 3))})
    before = {k: nnref.asnumpy(v).copy() for k, v in m.state_dict().items()}
    bad_late = {**{k: np.full_like(v, 7.0) for k, v in good.items()}, "2.weight": np.zeros((2, 3))}
    with pytest.raises(ValueError, match="key '2.weight'"):
        m.load_state_dict(bad_late)
    for k, v in m.state_dict().items():      # nothing was copied before the error
        np.testing.assert_array_equal(nnref.asnumpy(v), before[k])
    m.load_state_dict(missing, strict=False)  # partial loads are allowed when asked for


def test_train_eval_and_zero_grad():
    m = Sequential(Linear(2, 2), Sequential(Linear(2, 2)))
    assert all(s.training for s in m.modules())
    m.eval()
    assert not any(s.training for s in m.modules())
    m.train()
    assert all(s.training for s in m.modules())
    for p in m.parameters():
        p.grad += 1
    m.zero_grad()
    assert all(not nnref.asnumpy(p.grad).any() for p in m.parameters())


def test_custom_module_registers_in_order_and_bias_none():
    class Net(Module):
        def __init__(self):
            super().__init__()
            self.scale = Parameter(dev(np.ones(3)))
            self.body = Linear(3, 3, bias=False)
            self.register_buffer("steps", np.zeros((), np.int64))

    net = Net()
    # torch's order: a module's own parameters, then its buffers, then its children
    assert list(net.state_dict()) == ["scale", "steps", "body.weight"]
    assert [n for n, _ in net.named_parameters()] == ["scale", "body.weight"]
    assert net.body.bias is None


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match="Sequential: argument 1 is ufunc, expected a Module"):
        Sequential(Linear(1, 1), np.tanh)


def test_module_without_init_is_a_clear_error():
    class Broken(Module):
        def __init__(self):
            self.w = 1

    with pytest.raises(RuntimeError, match=r"call Module.__init__\(\)"):
        Broken()


LAYERS_AND_INPUTS = [
    (lambda: nnref.Linear(3, 2), (4, 3)),
    (lambda: nnref.ReLU(), (4, 3)),
    (lambda: nnref.LeakyReLU(), (4, 3)),
    (lambda: nnref.Sigmoid(), (4, 3)),
    (lambda: nnref.Tanh(), (4, 3)),
    (lambda: nnref.Softplus(), (4, 3)),
    (lambda: nnref.GELU(), (4, 3)),
    (lambda: nnref.Dropout(0.5), (4, 3)),
    (lambda: nnref.BatchNorm1d(3), (4, 3)),
    (lambda: nnref.BatchNorm2d(2), (4, 2, 3, 3)),
    (lambda: nnref.Conv2d(2, 2, 3, padding=1), (4, 2, 3, 3)),
    (lambda: nnref.MaxPool2d(2), (4, 2, 4, 4)),
    (lambda: nnref.AvgPool2d(2), (4, 2, 4, 4)),
    (lambda: nnref.Flatten(), (4, 2, 3, 3)),
    (lambda: nnref.BasicBlock(2, 2), (4, 2, 3, 3)),
    (lambda: nnref.ResNet(layers=(1,), channels=(2,), in_channels=2, num_classes=3), (4, 2, 4, 4)),
    (lambda: Sequential(Linear(3, 2), nnref.ReLU()), (4, 3)),
]


@pytest.mark.parametrize("make,shape", LAYERS_AND_INPUTS)
def test_backward_rejects_a_gradient_of_the_wrong_shape(make, shape):
    """A (1, ...) gradient would broadcast against (4, ...) and give a wrong answer silently."""
    m = make()
    y = m(dev(np.random.default_rng(0).normal(size=shape)))
    wrong = dev(np.ones((1,) + tuple(y.shape[1:])))
    with pytest.raises(ValueError, match=r"\.backward: expected a gradient of the output's shape \(4,"):
        m.backward(wrong)
    assert m.backward(dev(np.ones(y.shape))).shape == shape


@pytest.mark.parametrize("data, error", [
    ([1.0, 2.0], "expected a floating-point array, got list"),
    (np.array([1, 2]), "only floating-point arrays can be parameters, got int64"),
    (3.0, "expected a floating-point array, got float"),
])
def test_parameter_takes_float_arrays_only_like_torch(torch, data, error):
    with pytest.raises(TypeError, match=f"Parameter: {error}"):
        nnref.Parameter(data)
    if isinstance(data, np.ndarray):    # torch refuses integer tensors too
        with pytest.raises(RuntimeError, match="floating point"):
            torch.nn.Parameter(torch.tensor(data))


def test_parameter_defaults_and_frozen_parameters():
    assert nnref.Parameter().shape == (0,) and nnref.Parameter().dtype == np.float32
    with pytest.raises(NotImplementedError, match="requires_grad=False"):
        nnref.Parameter(np.zeros(2), requires_grad=False)


def test_sequential_takes_an_ordered_dict_like_torch(torch):
    from collections import OrderedDict
    m = Sequential(OrderedDict([("fc", Linear(3, 2)), ("act", ReLU())]))
    ref = torch.nn.Sequential(OrderedDict([("fc", torch.nn.Linear(3, 2)), ("act", torch.nn.ReLU())]))
    assert list(m.state_dict()) == list(ref.state_dict()) == ["fc.weight", "fc.bias"]
    with pytest.raises(TypeError, match="Sequential: argument act is int, expected a Module"):
        Sequential(OrderedDict([("fc", Linear(3, 2)), ("act", 3)]))


def test_none_buffers_are_left_out_of_state_dict_like_torch(torch):
    class M(Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("stats", None)
            self.register_buffer("count", np.zeros(1))

    ref = torch.nn.Module()
    ref.register_buffer("stats", None)
    ref.register_buffer("count", torch.zeros(1))
    assert list(M().state_dict()) == list(ref.state_dict()) == ["count"]
