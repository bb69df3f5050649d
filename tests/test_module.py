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


# --- torch's attribute rules, devices and dtypes ---------------------------------------------

def _twins(torch):
    """The same small model in both libraries: a BatchNorm (buffers) inside a Sequential."""
    return (Sequential(Linear(3, 4), nnref.BatchNorm1d(4)),
            torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)))


def test_assigning_to_buffers_and_parameters_follows_torch(torch):
    ours, theirs = _twins(torch)
    ours[1].running_mean = np.full(4, 2.0, np.float32)          # an array on a buffer's name
    theirs[1].running_mean = torch.full((4,), 2.0)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    np.testing.assert_array_equal(ours.state_dict()["1.running_mean"], theirs.state_dict()["1.running_mean"].numpy())
    ours[1].running_var = None                                   # None: still a buffer, left out
    theirs[1].running_var = None
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours[0].extra = Parameter(np.zeros(2, np.float32))           # a new Parameter registers
    theirs[0].extra = torch.nn.Parameter(torch.zeros(2))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    with pytest.raises(TypeError):
        theirs[0].weight = torch.zeros(4, 3)                     # torch refuses a tensor on a parameter
    with pytest.raises(TypeError, match="Linear: cannot assign ndarray as parameter 'weight'"):
        ours[0].weight = np.zeros((4, 3), np.float32)
    with pytest.raises(TypeError, match="cannot assign list as buffer 'running_mean'"):
        ours[1].running_mean = [0.0] * 4
    ours[0].bias = None                                          # None on a parameter: removed, like torch's
    theirs[0].bias = None
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("device", ["cpu", "cpu:0", "numpy"])
def test_to_takes_torchs_devices(device, torch):
    ours, theirs = _twins(torch)
    assert ours.to(device) is ours
    if device != "numpy":
        theirs.to(device)                                        # torch takes the same strings
    assert all(isinstance(v, np.ndarray) for v in ours.state_dict().values())
    with pytest.raises(ValueError, match="Sequential.to: device must be"):
        ours.to("cpu:1")
    if not nnref.backend.cupy_available():
        with pytest.raises(RuntimeError, match="needs CuPy and a GPU"):
            ours.to("cuda:0")


@pytest.mark.parametrize("how", ["to(float64)", "to(dtype=float64)", "to('cpu', float64)", "double()",
                                 "to(array)", "to(torch.float64)"])
def test_to_dtype_casts_floats_only_like_torch(how, torch):
    ours, theirs = _twins(torch)
    call = {"to(float64)": lambda m: m.to(np.float64), "to(dtype=float64)": lambda m: m.to(dtype=np.float64),
            "to('cpu', float64)": lambda m: m.to("cpu", np.float64), "double()": lambda m: m.double(),
            "to(array)": lambda m: m.to(np.zeros(1)), "to(torch.float64)": lambda m: m.to(torch.float64)}[how]
    call(ours)
    theirs.double()
    got = {k: str(v.dtype) for k, v in ours.state_dict().items()}
    want = {k: str(v.dtype).replace("torch.", "") for k, v in theirs.state_dict().items()}
    assert got == want                                           # num_batches_tracked stays int64
    assert all(p.grad.dtype == np.float64 for p in ours.parameters())
    ours.float()
    assert {str(v.dtype) for k, v in ours.state_dict().items() if "num_batches" not in k} == {"float32"}
    with pytest.raises(TypeError, match=r"Sequential.to: dtype must be a floating-point dtype"):
        ours.to(np.int64)
    with pytest.raises(TypeError):
        theirs.to(torch.int64)


def test_set_default_dtype_like_torch(torch):
    try:
        nnref.set_default_dtype(np.float64)
        torch.set_default_dtype(torch.float64)
        assert Linear(2, 3).weight.dtype == np.float64 and torch.nn.Linear(2, 3).weight.dtype == torch.float64
        assert nnref.get_default_dtype() == np.float64
        assert Linear(2, 3, dtype=np.float32).weight.dtype == np.float32     # an explicit dtype wins
        with pytest.raises(TypeError, match="set_default_dtype"):
            nnref.set_default_dtype(np.int32)
    finally:
        nnref.set_default_dtype(np.float32)
        torch.set_default_dtype(torch.float32)
    assert Linear(2, 3).weight.dtype == np.float32
