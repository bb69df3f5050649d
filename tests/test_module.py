import functools
import inspect
import re
from collections import OrderedDict
from collections.abc import ItemsView, KeysView, ValuesView

import numpy as np
import pytest

import nnref
from nnref import Linear, Module, Parameter, ReLU, Sequential
from nnref.module import StateDictKeyError, StateDictShapeError
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


def test_plain_attributes_may_come_before_init_parameters_and_modules_not_like_torch(torch):
    def early(nn, zeros):
        class Early(nn.Module):
            def __init__(self, what):
                self.note = 1                              # torch allows plain attributes here
                if what == "parameter":
                    self.w = nn.Parameter(zeros(1))
                elif what == "module":
                    self.m = nn.ReLU()
                elif what == "buffer":
                    self.register_buffer("b", zeros(1))
                super().__init__()
        return Early

    assert early(nnref, np.zeros)("plain").note == early(torch.nn, torch.zeros)("plain").note == 1
    for what, message in [("parameter", "cannot assign parameters before Module.__init__() call"),
                          ("module", "cannot assign module before Module.__init__() call"),
                          ("buffer", "cannot assign buffer before Module.__init__() call")]:
        with pytest.raises(AttributeError, match=re.escape(message)):
            early(torch.nn, torch.zeros)(what)
        with pytest.raises(AttributeError, match=r"Early(\.register_buffer)?: " + re.escape(message)):
            early(nnref, lambda n: np.zeros(n, np.float32))(what)


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
    p = nnref.Parameter(np.zeros(2), requires_grad=False)
    assert not p.requires_grad and p.grad is None
    p.accumulate(np.ones(2))                               # backward adds nothing to a frozen one
    assert p.grad is None
    p.requires_grad = True
    assert p.grad is not None and not p.grad.any()
    with pytest.raises(TypeError, match="Parameter: requires_grad must be a bool"):
        p.requires_grad = "no"


@pytest.mark.parametrize("how", ["requires_grad_", "attribute"])
@pytest.mark.parametrize("make_opt", [
    lambda lib, ps: lib.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda lib, ps: lib.optim.Adam(ps, lr=0.1, weight_decay=0.1),
    lambda lib, ps: lib.optim.AdamW(ps, lr=0.1)], ids=["SGD", "Adam", "AdamW"])
def test_frozen_parameters_train_as_in_torch(torch, how, make_opt):
    """Fine-tuning as torch code does it: freeze the first layer, give the optimiser every
    parameter, train. The frozen weights stay put (weight decay included), the rest move as torch's."""
    import nnref.optim

    def net(lib):
        m = lib.Sequential(lib.Linear(3, 4), lib.Tanh(), lib.Linear(4, 2))
        if how == "requires_grad_":
            m[0].requires_grad_(False)
        else:
            for p in m[0].parameters():
                p.requires_grad = False
        return m

    ours, theirs = net(nnref), net(torch.nn)
    theirs.double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    ours.double()
    opt, ref_opt = make_opt(nnref, ours.parameters()), make_opt(torch, theirs.parameters())
    x = np.random.default_rng(0).normal(size=(5, 3))
    for _ in range(3):
        opt.zero_grad(), ref_opt.zero_grad()
        y = ours(x)
        ours.backward(np.ones_like(y))
        theirs(torch.tensor(x)).sum().backward()
        opt.step(), ref_opt.step()
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert_close(a, b.detach(), what=name)
    assert ours[0].weight.grad is None and theirs[0].weight.grad is None


def test_sequential_takes_an_ordered_dict_like_torch(torch):
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
    ours[0].bias = None                                          # None on a parameter: an empty slot, like torch's
    theirs[0].bias = None
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours[0]._parameters) == list(theirs[0]._parameters) == ["weight", "bias", "extra"]


@pytest.mark.parametrize("device", ["cpu", "cpu:0", "numpy"])
def test_to_takes_torchs_devices(device, torch):
    ours, theirs = _twins(torch)
    assert ours.to(device) is ours
    if device != "numpy":
        theirs.to(device)                                        # torch takes the same strings
    assert all(isinstance(v, np.ndarray) for v in ours.state_dict().values())
    assert ours.to("cpu:1") is ours and theirs.to("cpu:1") is theirs       # torch: one host, any index
    for bad in ("tpu", "bogus", torch.zeros(1, device="meta")):             # a device, not a dtype, is wrong
        with pytest.raises(ValueError, match="Sequential.to: device must be"):
            ours.to(bad)
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


@pytest.mark.parametrize("args, kwargs", [(("cpu",), {"device": "cpu"}), ((np.float64,), {"dtype": np.float16}),
                                          ((np.float64, np.float16), {}), ((np.zeros(1), "cpu"), {})])
def test_to_refuses_an_argument_given_twice_like_torch(args, kwargs, torch):
    """torch: "invalid combination of arguments"; before, one of the two silently won."""
    ours = _twins(torch)[0]
    with pytest.raises(TypeError, match=r"Sequential.to: (device|dtype) given twice"):
        ours.to(*args, **kwargs)


def test_a_to_that_changes_nothing_keeps_the_forward(torch):
    """``m.float()`` on a float32 module or ``m.to('cpu')`` on the CPU: backward still works (torch
    has no cache to lose); a real cast clears it, and the error says why."""
    m = Linear(3, 2)
    y = m(np.ones((1, 3), np.float32))
    m.float().to("cpu")
    assert m.backward(np.ones_like(y)).shape == (1, 3)
    m.double()
    with pytest.raises(RuntimeError, match=r"Linear.backward called before forward .*a \.to\(\) that casts or moves"):
        m.backward(np.ones_like(y))


def test_a_bfloat16_torch_state_dict_loads_cast(torch):
    ref = torch.nn.Linear(3, 2).to(torch.bfloat16)
    ours = Linear(3, 2)
    ours.load_state_dict(ref.state_dict())
    assert ours.weight.dtype == np.float32
    assert_close(ours.weight.data, ref.weight.float().detach(), rtol=0, atol=0, what="bfloat16 weight")


def test_set_default_dtype_like_torch(torch):
    try:
        nnref.set_default_dtype(np.float64)
        torch.set_default_dtype(torch.float64)
        assert Linear(2, 3).weight.dtype == np.float64 and torch.nn.Linear(2, 3).weight.dtype == torch.float64
        assert nnref.get_default_dtype() == np.float64
        assert Linear(2, 3, dtype=np.float32).weight.dtype == np.float32     # an explicit dtype wins
        for bad in (np.int32, None, np.longdouble):            # None was float64 (NumPy's default)
            with pytest.raises(TypeError, match="set_default_dtype"):
                nnref.set_default_dtype(bad)
            with pytest.raises(TypeError):
                torch.set_default_dtype({np.int32: torch.int32, None: None, np.longdouble: torch.complex128}[bad])
    finally:
        nnref.set_default_dtype(np.float32)
        torch.set_default_dtype(torch.float32)
    assert Linear(2, 3).weight.dtype == np.float32


# --- torch's container rules: shared members, load_state_dict's result, names, Sequential's edits ---

def _f32(*shape):
    return np.zeros(shape, np.float32)


def _shared_net(nn, zeros):
    """A parameter under two names, a Linear three times, a BatchNorm twice, a None, a
    non-persistent and an empty buffer: written once for torch.nn and for nnref."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Parameter(zeros(2))
            self.b = self.a
            lin, bn = nn.Linear(2, 2), nn.BatchNorm1d(2)
            self.body = nn.Sequential(lin, nn.ReLU(), lin, bn, bn)
            self.head = lin
            self.register_buffer("count", zeros(1))
            self.register_buffer("empty", None)
            self.register_buffer("scratch", zeros(3), persistent=False)
            self.register_parameter("nothing", None)
    return Net()


def _names(pairs):
    return [name for name, _ in pairs]


def test_shared_members_are_listed_once_and_kept_in_state_dict_like_torch(torch):
    ours, theirs = _shared_net(nnref, _f32), _shared_net(torch.nn, torch.zeros)
    for m in (ours, theirs):
        assert _names(m.named_parameters()) == ["a", "body.0.weight", "body.0.bias", "body.3.weight", "body.3.bias"]
    calls = {
        "named_parameters": lambda m, rd: _names(m.named_parameters(remove_duplicate=rd)),
        "named_parameters(prefix, recurse=False)": lambda m, rd: _names(
            m.named_parameters("net", recurse=False, remove_duplicate=rd)),
        "named_buffers": lambda m, rd: _names(m.named_buffers(remove_duplicate=rd)),
        "named_buffers(prefix)": lambda m, rd: _names(m.named_buffers(prefix="net", remove_duplicate=rd)),
        "named_modules": lambda m, rd: _names(m.named_modules(remove_duplicate=rd)),
        "named_modules(prefix)": lambda m, rd: _names(m.named_modules(prefix="net", remove_duplicate=rd)),
        "modules": lambda m, rd: len(list(m.modules(remove_duplicate=rd))),
        "body.named_children": lambda m, rd: _names(m.body.named_children()),
        "body.children": lambda m, rd: len(list(m.body.children())),
        "parameters": lambda m, rd: len(list(m.parameters())),
        "parameters(recurse=False)": lambda m, rd: len(list(m.parameters(recurse=False))),
        "buffers": lambda m, rd: len(list(m.buffers())),
        "state_dict": lambda m, rd: list(m.state_dict()),
    }
    for what, call in calls.items():
        for rd in (True, False):
            assert call(ours, rd) == call(theirs, rd), f"{what}, remove_duplicate={rd}"
    memo = {ours.body}                                        # named_modules' memo, as torch's
    assert _names(ours.named_modules(memo)) == _names(theirs.named_modules({theirs.body})) == ["", "head"]
    assert next(ours.parameters()) is ours.a                  # torch's generator idiom works
    assert isinstance(ours.parameters() + ours.body.parameters(), list)    # and nnref's list use


def _state(torch_module):
    return {k: v.detach().numpy().copy() for k, v in torch_module.state_dict().items()}


def test_load_state_dict_reports_missing_and_unexpected_keys_like_torch(torch):
    ours, theirs = _shared_net(nnref, _f32), _shared_net(torch.nn, torch.zeros)
    full = _state(theirs)
    trimmed = {k: v for k, v in full.items() if k not in ("b", "body.2.bias", "body.4.running_mean")}
    extra = {**full, "zzz": np.zeros(1), "body.0.extra": np.zeros(1), "body.9.weight": np.zeros(1),
             "scratch": np.zeros(3), "nothing": np.zeros(1), "head.weight.x": np.zeros(1)}
    # (no state without num_batches_tracked: torch's BatchNorm fills that in, for checkpoints older than it)
    for state in (full, trimmed, extra):
        got = ours.load_state_dict(state, strict=False)
        want = theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=False)
        assert (got.missing_keys, got.unexpected_keys) == (want.missing_keys, want.unexpected_keys)
        assert tuple(got) == tuple(want) and repr(got) == repr(want)
    assert repr(ours.load_state_dict(full)) == "<All keys matched successfully>"


@pytest.mark.parametrize("edit", ["missing", "unexpected", "shape", "shape, not strict"])
def test_load_state_dict_errors_are_torchs_class_and_nnrefs(edit, torch):
    ours, theirs = Sequential(Linear(2, 3), ReLU(), Linear(3, 1)), \
        torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    state = _state(theirs)
    state = {k: v + 1 for k, v in state.items()}
    if edit == "missing":
        del state["2.bias"]
    elif edit == "unexpected":
        state["3.weight"] = np.zeros(1)
    else:
        state["2.weight"] = np.zeros((2, 3), np.float32)
    strict = edit != "shape, not strict"
    before = {k: nnref.asnumpy(v).copy() for k, v in ours.state_dict().items()}
    with pytest.raises(RuntimeError):
        theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=strict)
    ours_class = StateDictKeyError if edit in ("missing", "unexpected") else StateDictShapeError
    nnref_class = KeyError if edit in ("missing", "unexpected") else ValueError
    with pytest.raises(ours_class, match="2.bias" if edit == "missing" else "3.weight" if edit == "unexpected"
                       else r"key '2.weight' has shape \(2, 3\), expected \(1, 3\)") as info:
        ours.load_state_dict(state, strict=strict)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, nnref_class)
    assert str(info.value).startswith("Sequential.load_state_dict: ")    # not KeyError's quoted repr
    for k, v in ours.state_dict().items():                               # all or nothing
        np.testing.assert_array_equal(nnref.asnumpy(v), before[k], err_msg=k)


def test_load_state_dict_wants_a_mapping_like_torch(torch):
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        torch.nn.Linear(2, 2).load_state_dict([("weight", torch.zeros(2, 2))])
    with pytest.raises(TypeError, match="Linear.load_state_dict: Expected state_dict to be dict-like, got list"):
        Linear(2, 2).load_state_dict([("weight", np.zeros((2, 2)))])


def test_load_state_dict_assign_takes_the_arrays_themselves(torch):
    theirs = torch.nn.Linear(3, 2)
    state = {"weight": np.arange(6.0).reshape(2, 3), "bias": np.ones(2)}        # float64 into float32
    theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, assign=True)
    ours = Linear(3, 2)
    weight = ours.weight
    weight.grad += 1
    assert repr(ours.load_state_dict(state, assign=True)) == "<All keys matched successfully>"
    assert ours.weight is weight and ours.weight.data is state["weight"]       # not copied
    assert str(ours.weight.dtype) == str(theirs.weight.dtype).replace("torch.", "") == "float64"
    assert ours.weight.grad.dtype == np.float64 and not ours.weight.grad.any()
    bn = nnref.BatchNorm1d(2)
    counts = np.array(7)
    bn.load_state_dict({**bn.state_dict(), "num_batches_tracked": counts}, assign=True)
    assert bn.num_batches_tracked is counts and bn.get_buffer("num_batches_tracked") is counts
    before = ours.state_dict()
    with pytest.raises(TypeError, match="key 'bias' holds int64, expected floating-point numbers"):
        ours.load_state_dict({"weight": np.zeros((2, 3)), "bias": np.ones(2, np.int64)}, assign=True)
    assert all(ours.state_dict()[k] is v for k, v in before.items())         # nothing assigned


def _outcome(call):
    """The exception class ``call`` raises, or None."""
    try:
        call()
    except Exception as exc:   # noqa: BLE001 (the class is what is compared)
        return type(exc)
    return None


NAME_CASES = [
    ("register_buffer", "weight"), ("register_buffer", "forward"), ("register_buffer", "in_features"),
    ("register_buffer", "training"), ("register_buffer", "a.b"), ("register_buffer", ""),
    ("register_buffer", 1), ("register_buffer", "fresh"), ("register_parameter", "weight"),
    ("register_parameter", "in_features"), ("register_parameter", "forward"), ("register_parameter", "a.b"),
    ("register_parameter", ""), ("register_parameter", 1), ("register_parameter", "fresh"),
    ("add_module", "weight"), ("add_module", "in_features"), ("add_module", "forward"), ("add_module", "a.b"),
    ("add_module", ""), ("add_module", 1), ("add_module", "fresh"), ("register_module", "a.b"),
    ("register_module", "fresh"), ("setattr parameter", "a.b"), ("setattr parameter", ""),
    ("setattr parameter", "in_features"), ("setattr parameter", "forward"), ("setattr module", "a.b"),
]


@pytest.mark.parametrize("how, name", NAME_CASES, ids=[f"{h}-{n!r}" for h, n in NAME_CASES])
def test_names_are_checked_like_torch(how, name, torch):
    def attempt(nn, array, module):
        lin = nn.Linear(2, 2)
        value = {"register_buffer": array, "register_parameter": nn.Parameter(array),
                 "setattr parameter": nn.Parameter(array)}.get(how, module)
        if how.startswith("setattr"):
            return lambda: setattr(lin, name, value)
        return lambda: getattr(lin, how)(name, value)

    want = _outcome(attempt(torch.nn, torch.zeros(2), torch.nn.ReLU()))
    got = _outcome(attempt(nnref, _f32(2), nnref.ReLU()))
    assert got is want or (want is not None and got is not None and issubclass(got, want)), (got, want)


def test_name_errors_say_who_and_what(torch):
    lin = Linear(2, 2)
    with pytest.raises(KeyError, match="Linear.register_buffer: attribute 'weight' already exists and is not a buffer"):
        lin.register_buffer("weight", _f32(2))
    with pytest.raises(TypeError, match="Linear.register_buffer: buffer name should be a string, got int"):
        lin.register_buffer(1, _f32(2))
    with pytest.raises(KeyError, match=r"Linear.register_parameter: parameter name can't contain '\.', got 'a\.b'"):
        setattr(lin, "a.b", Parameter(_f32(1)))
    with pytest.raises(TypeError, match="Linear.add_module: int is not a Module subclass"):
        lin.add_module("m", 3)
    lin.register_module("act", ReLU())
    assert list(lin._modules) == ["act"] and lin.act is lin.get_submodule("act")
    for bad in [OrderedDict([("a.b", ReLU())]), OrderedDict([("", ReLU())]), OrderedDict([("forward", ReLU())])]:
        with pytest.raises(KeyError, match="Sequential.add_module"):
            Sequential(bad)
        with pytest.raises(KeyError):
            torch.nn.Sequential(OrderedDict((k, torch.nn.ReLU()) for k in bad))


def test_none_keeps_the_slot_like_torch(torch):
    ours, theirs = Linear(3, 2), torch.nn.Linear(3, 2)
    for m in (ours, theirs):
        m.bias = None
        m.register_parameter("scale", None)
    assert list(ours._parameters) == list(theirs._parameters) == ["weight", "bias", "scale"]
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert _names(ours.named_parameters()) == _names(theirs.named_parameters()) == ["weight"]
    with pytest.raises(TypeError):
        theirs.bias = torch.zeros(2)
    with pytest.raises(TypeError, match="Linear: cannot assign ndarray as parameter 'bias'"):
        ours.bias = _f32(2)
    x = np.random.default_rng(0).normal(size=(4, 3))
    ours.load_state_dict(_state(theirs))
    ours.double(), theirs.double()
    xt = torch.tensor(x, requires_grad=True)
    theirs(xt).sum().backward()
    assert_close(ours(x), theirs(torch.tensor(x)), what="output without bias")
    assert_close(ours.backward(np.ones((4, 2))), xt.grad, what="input gradient without bias")
    for m, P, zeros in ((ours, Parameter, np.zeros), (theirs, torch.nn.Parameter, torch.zeros)):
        m.weight = P(zeros((2, 3)))                          # a parameter assigned again keeps its place
        m.bias = P(zeros(2))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "bias"]
    s, t = Sequential(Linear(2, 2), ReLU()), torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
    s[0], t[0] = None, None
    assert list(s._modules) == list(t._modules) and len(s) == len(t) == 2
    assert _names(s.named_modules()) == _names(t.named_modules()) == ["", "1"]
    assert list(s.state_dict()) == list(t.state_dict()) == []
    with pytest.raises(TypeError, match="Sequential: cannot assign int as child module '0'"):
        s[0] = 3
    with pytest.raises(TypeError):
        t[0] = 3


def test_non_persistent_buffers_like_torch(torch):
    ours, theirs = _shared_net(nnref, _f32), _shared_net(torch.nn, torch.zeros)
    assert "scratch" not in ours.state_dict() and "scratch" in _names(ours.named_buffers())
    ours.double(), theirs.double()
    assert ours.scratch.dtype == np.float64 and theirs.scratch.dtype == torch.float64   # moved all the same
    ours.scratch, theirs.scratch = np.ones(3), torch.ones(3)        # an assignment keeps it non-persistent
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.register_buffer("scratch", np.ones(3))                     # registered again: persistent
    theirs.register_buffer("scratch", torch.ones(3))
    assert list(ours.state_dict()) == list(theirs.state_dict()) and "scratch" in ours.state_dict()


def test_delattr_unregisters_like_torch(torch):
    def edits(nn, zeros):
        lin, seq, bn = nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2)), nn.BatchNorm1d(2)
        del lin.bias
        delattr(seq, "1")
        del bn.running_var
        lin.note = 1
        del lin.note
        return lin, seq, bn

    ours, theirs = edits(nnref, _f32), edits(torch.nn, torch.zeros)
    for o, t in zip(ours, theirs):
        assert list(o.state_dict()) == list(t.state_dict())
        assert list(o._modules) == list(t._modules) and len(list(o.children())) == len(list(t.children()))
    assert len(ours[1]) == len(theirs[1]) == 2 and not hasattr(ours[0], "bias") and not hasattr(ours[0], "note")
    with pytest.raises(AttributeError):
        del theirs[0].nope
    with pytest.raises(AttributeError, match="nope"):
        del ours[0].nope


def _layout(s):
    return [(name, type(m).__name__) for name, m in s._modules.items()]


# (what, edit): each edit runs on a fresh Sequential(Linear, ReLU, Linear, Tanh), in nnref and torch
SEQUENTIAL_EDITS = [
    ("slice", lambda nn, s: s[1:]), ("step slice", lambda nn, s: s[::-2]), ("empty slice", lambda nn, s: s[5:]),
    ("negative index", lambda nn, s: s[-1]), ("index out of range", lambda nn, s: s[4]),
    ("negative out of range", lambda nn, s: s[-5]), ("string index", lambda nn, s: s["0"]),
    ("setitem", lambda nn, s: s.__setitem__(-2, nn.Sigmoid())), ("setitem out of range", lambda nn, s: s.__setitem__(4, nn.ReLU())),
    ("setitem non-module", lambda nn, s: s.__setitem__(0, 3)),
    ("delitem", lambda nn, s: s.__delitem__(1)), ("delitem negative", lambda nn, s: s.__delitem__(-4)),
    ("delitem slice", lambda nn, s: s.__delitem__(slice(0, 3, 2))), ("delitem out of range", lambda nn, s: s.__delitem__(4)),
    ("delattr then append", lambda nn, s: (delattr(s, "1"), s.append(nn.Sigmoid()))),
    ("append", lambda nn, s: s.append(nn.Sigmoid())), ("append non-module", lambda nn, s: s.append(3)),
    ("insert", lambda nn, s: s.insert(1, nn.Sigmoid())), ("insert at end", lambda nn, s: s.insert(4, nn.Sigmoid())),
    ("insert negative", lambda nn, s: s.insert(-4, nn.Sigmoid())),
    ("insert out of range", lambda nn, s: s.insert(5, nn.Sigmoid())),
    ("insert after delattr", lambda nn, s: (delattr(s, "0"), s.insert(0, nn.Sigmoid()))),
    ("extend", lambda nn, s: s.extend([nn.Sigmoid(), nn.ReLU()])), ("pop", lambda nn, s: s.pop(1)),
    ("pop slice", lambda nn, s: s.pop(slice(1, 3))), ("pop out of range", lambda nn, s: s.pop(7)),
    ("add", lambda nn, s: s + nn.Sequential(nn.Sigmoid())), ("add non-sequential", lambda nn, s: s + nn.ReLU()),
    ("iadd", lambda nn, s: s.__iadd__(nn.Sequential(nn.Sigmoid()))),
    ("iadd non-sequential", lambda nn, s: s.__iadd__([nn.ReLU()])),
    ("named: delitem renumbers", lambda nn, s: (s.__delitem__(0), s)),
    ("named: slice", lambda nn, s: s[1:3]),
]


@pytest.mark.parametrize("named", [False, True], ids=["numbered", "named"])
@pytest.mark.parametrize("what, edit", SEQUENTIAL_EDITS, ids=[w for w, _ in SEQUENTIAL_EDITS])
def test_sequential_edits_like_torch(what, edit, named, torch):
    def build(nn):
        layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2), nn.Tanh()]
        return nn.Sequential(OrderedDict(zip("abcd", layers))) if named else nn.Sequential(*layers)

    def describe(s, out):
        out = out[-1] if isinstance(out, tuple) else out
        out_layout = _layout(out) if isinstance(out, (torch.nn.Sequential, Sequential)) else type(out).__name__
        return _layout(s), list(s.state_dict()), out_layout, type(out).__name__ if out is not None else None

    _edited_like_torch(build, edit, torch, describe)


def test_sequential_errors_name_the_class_and_the_index():
    s = Sequential(Linear(2, 3), ReLU())
    with pytest.raises(IndexError, match="Sequential: index 2 is out of range for 2 modules"):
        s[2]
    with pytest.raises(IndexError, match="Sequential.insert: index -3 is out of range for 2 modules"):
        s.insert(-3, ReLU())
    with pytest.raises(TypeError, match="Sequential.insert: expected a Module, got int"):
        s.insert(0, 3)
    named = Sequential(OrderedDict(fc=Linear(2, 2)))
    with pytest.raises(KeyError, match=r"Sequential.insert: shifting the modules after index 0 needs them named"):
        named.insert(0, ReLU())
    assert _layout(named) == [("fc", "Linear")]                            # unchanged
    with pytest.raises(ValueError, match="Sequential: add operator supports only objects of Sequential class"):
        s + ReLU()


def test_a_module_twice_in_a_sequential_refuses_backward():
    """Its cache holds only the last forward, so the first use's weight gradient would be wrong."""
    lin = Linear(2, 2)
    s = Sequential(lin, nnref.Tanh(), lin)
    y = s(dev(np.ones((3, 2))))                                             # forward is fine
    with pytest.raises(RuntimeError, match=r"Sequential.backward: module '2' \(Linear\) is module '0' again"):
        s.backward(dev(np.ones(y.shape)))


def test_train_checks_the_mode_and_calls_each_childs_train_like_torch(torch):
    def log_of(nn):
        calls = []

        class Logged(nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = nn.Linear(1, 1)

            def train(self, mode=True):
                calls.append(mode)
                return super().train(mode)

        net = nn.Sequential(Logged(), nn.Sequential(Logged()))
        net.eval()
        net.train()
        assert all(m.training for m in net.modules())
        for bad in (1, "yes", np.bool_(True)):
            with pytest.raises(ValueError, match="training mode is expected to be boolean"):
                net.train(bad)
        return calls

    assert log_of(nnref) == log_of(torch.nn) == [False, False, True, True]


def test_parameter_of_a_numpy_scalar_is_a_0d_array(torch):
    p = Parameter(np.float64(1.0))
    assert type(p.data) is np.ndarray and p.shape == tuple(torch.nn.Parameter(torch.tensor(1.0)).shape) == ()
    p.data[...] = 3.0
    p.accumulate(np.float64(2.0))
    assert float(p.data) == 3.0 and float(p.grad) == 2.0
    with pytest.raises(TypeError, match="only floating-point arrays"):
        Parameter(np.int64(1))


def test_apply_zero_grad_requires_grad_and_get_like_torch(torch):
    def visit(nn):
        order = []
        net = _shared_net(nn, torch.zeros if nn is torch.nn else _f32)
        assert net.apply(lambda m: order.append(type(m).__name__)) is net
        return net, order

    (ours, ours_order), (theirs, theirs_order) = visit(nnref), visit(torch.nn)
    assert ours_order == theirs_order
    for target in ["", "body", "body.3", "head"]:
        assert type(ours.get_submodule(target)).__name__ == type(theirs.get_submodule(target)).__name__
    for target in ["a", "b", "body.0.weight", "head.bias"]:
        assert ours.get_parameter(target).shape == tuple(theirs.get_parameter(target).shape)
    for target in ["count", "scratch", "body.3.running_var"]:
        assert ours.get_buffer(target).shape == tuple(theirs.get_buffer(target).shape)
    lookups = [("get_submodule", "body.9"), ("get_submodule", "a"), ("get_submodule", "body.0.weight"),
               ("get_parameter", "count"), ("get_parameter", "body.x.weight"), ("get_parameter", "body.0.nope"),
               ("get_buffer", "a"), ("get_buffer", "body.3.nope"), ("get_parameter", "nothing"),
               ("get_buffer", "empty")]
    for method, target in lookups:
        want = _outcome(functools.partial(getattr(theirs, method), target))
        assert _outcome(functools.partial(getattr(ours, method), target)) is want, (method, target, want)
    with pytest.raises(AttributeError, match="Sequential has no attribute `9`"):
        ours.get_submodule("body.9")
    for p in ours.parameters():
        p.grad += 1
    for set_to_none in (True, False):                       # nnref zero-fills either way
        ours.zero_grad(set_to_none=set_to_none)
        assert all(p.grad is not None and not p.grad.any() for p in ours.parameters())
    assert ours.requires_grad_() is ours and ours.requires_grad_(True) is ours
    assert ours.requires_grad_(False) is ours and theirs.requires_grad_(False) is theirs
    assert [p.requires_grad for p in ours.parameters()] == [p.requires_grad for p in theirs.parameters()]


MODULE_METHODS = ["named_parameters", "parameters", "named_buffers", "buffers", "named_modules", "modules",
                  "children", "named_children", "load_state_dict", "register_buffer", "register_parameter",
                  "add_module", "register_module", "train", "eval", "zero_grad", "apply", "get_submodule",
                  "get_parameter", "get_buffer", "requires_grad_", "extra_repr", "cuda"]
SEQUENTIAL_METHODS = ["__getitem__", "__setitem__", "__delitem__", "append", "insert", "extend", "pop",
                      "__add__", "__iadd__"]
MODULE_LIST_METHODS = ["__init__", "__getitem__", "__setitem__", "__delitem__", "__len__", "__iter__", "__iadd__",
                       "__add__", "insert", "append", "extend", "pop"]
MODULE_DICT_METHODS = ["__init__", "__getitem__", "__setitem__", "__delitem__", "__len__", "__iter__", "__contains__",
                       "clear", "pop", "keys", "values", "items", "update"]


@pytest.mark.parametrize("cls, method", [("Module", m) for m in MODULE_METHODS]
                         + [("Sequential", m) for m in SEQUENTIAL_METHODS]
                         + [("ModuleList", m) for m in MODULE_LIST_METHODS]
                         + [("ModuleDict", m) for m in MODULE_DICT_METHODS])
def test_method_signatures_are_torchs(cls, method, torch):
    def described(fn):
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]

    assert described(getattr(getattr(nnref, cls), method)) == described(getattr(getattr(torch.nn, cls), method))


# --- ModuleList and ModuleDict: every method against torch's, run live -----------------------

def _described(out, torch):
    """What an edit returned, comparable across the libraries: a container by its class and
    layout, a module by its class, anything else (a length, a bool, a list of names) as it is."""
    if isinstance(out, (torch.nn.Module, Module)):
        has_layout = isinstance(out, (torch.nn.ModuleList, torch.nn.ModuleDict, torch.nn.Sequential,
                                      nnref.ModuleList, nnref.ModuleDict, Sequential))
        return type(out).__name__, _layout(out) if has_layout else None
    return out


def _edited_like_torch(build, edit, torch, describe=None):
    """Run ``edit(nn, build(nn))`` in torch.nn and in nnref: the same error class (nnref's may be a
    subclass), or the same ``describe(container, result)``: by default the result, layout,
    ``state_dict`` keys, ``len`` and ``repr`` afterwards."""
    def container(c, out):
        out = tuple(_described(o, torch) for o in out) if isinstance(out, tuple) else _described(out, torch)
        return out, _layout(c), list(c.state_dict()), len(c), repr(c)

    results = {}
    for nn in (torch.nn, nnref):
        c = build(nn)
        try:
            out = edit(nn, c)
        except Exception as exc:   # noqa: BLE001 (the class is what is compared)
            results[nn] = ("raised", type(exc))
            continue
        results[nn] = (describe or container)(c, out)
    want, got = results[torch.nn], results[nnref]
    if want[0] == "raised":
        assert got[0] == "raised" and issubclass(got[1], want[1]), (got, want)
    else:
        assert got == want


def _types(modules):
    return [type(m).__name__ for m in modules]


# (what, edit): each edit runs on a fresh ModuleList([Linear, ReLU, Linear, Tanh]), in nnref and torch
MODULE_LIST_EDITS = [
    ("index", lambda nn, s: s[1]), ("negative index", lambda nn, s: s[-1]),
    ("index out of range", lambda nn, s: s[4]), ("negative out of range", lambda nn, s: s[-5]),
    ("string index", lambda nn, s: s["0"]), ("float index", lambda nn, s: s[1.0]),
    ("slice renumbers", lambda nn, s: s[1:]), ("step slice", lambda nn, s: s[::-2]), ("empty slice", lambda nn, s: s[5:]),
    ("setitem", lambda nn, s: s.__setitem__(-2, nn.Sigmoid())), ("setitem None", lambda nn, s: s.__setitem__(0, None)),
    ("setitem out of range", lambda nn, s: s.__setitem__(4, nn.ReLU())),
    ("setitem non-module", lambda nn, s: s.__setitem__(0, 3)), ("setitem string index", lambda nn, s: s.__setitem__("0", nn.ReLU())),
    ("delitem renumbers", lambda nn, s: s.__delitem__(1)), ("delitem negative", lambda nn, s: s.__delitem__(-4)),
    ("delitem slice", lambda nn, s: s.__delitem__(slice(0, 3, 2))), ("delitem all", lambda nn, s: s.__delitem__(slice(None))),
    ("delitem out of range", lambda nn, s: s.__delitem__(4)), ("delitem string", lambda nn, s: s.__delitem__("1")),
    ("delitem leaves no attribute", lambda nn, s: (s.__delitem__(0), hasattr(s, "3"), hasattr(s, "0"))),
    ("len", lambda nn, s: len(s)), ("iter", lambda nn, s: _types(s)), ("reversed", lambda nn, s: _types(reversed(s))),
    ("append", lambda nn, s: s.append(nn.Sigmoid())), ("append None", lambda nn, s: s.append(None)),
    ("append non-module", lambda nn, s: s.append(3)),
    ("extend", lambda nn, s: s.extend([nn.Sigmoid(), nn.ReLU()])),
    ("extend generator", lambda nn, s: s.extend(nn.Linear(2, 2) for _ in range(2))),
    ("extend sequential", lambda nn, s: s.extend(nn.Sequential(nn.Sigmoid()))),
    ("extend non-iterable", lambda nn, s: s.extend(3)), ("extend non-module", lambda nn, s: s.extend([3])),
    ("insert", lambda nn, s: s.insert(1, nn.Sigmoid())), ("insert at 0", lambda nn, s: s.insert(0, nn.Sigmoid())),
    ("insert at end", lambda nn, s: s.insert(4, nn.Sigmoid())),
    ("insert after delattr", lambda nn, s: (delattr(s, "0"), s.insert(0, nn.Sigmoid()))),
    ("delattr then index", lambda nn, s: (delattr(s, "1"), s[1])),
    ("delattr then append", lambda nn, s: (delattr(s, "1"), s.append(nn.Sigmoid()))),
    ("pop", lambda nn, s: s.pop(1)), ("pop negative", lambda nn, s: s.pop(-1)), ("pop slice", lambda nn, s: s.pop(slice(1, 3))),
    ("pop out of range", lambda nn, s: s.pop(7)),
    ("add", lambda nn, s: s + nn.ModuleList([nn.Sigmoid()])), ("add list", lambda nn, s: s + [nn.Sigmoid()]),
    ("add sliced", lambda nn, s: s[2:] + s[:1]), ("add non-iterable", lambda nn, s: s + 3),
    ("iadd", lambda nn, s: s.__iadd__(nn.ModuleList([nn.Sigmoid()]))), ("iadd list", lambda nn, s: s.__iadd__([nn.ReLU()])),
    ("iadd non-iterable", lambda nn, s: s.__iadd__(nn.ReLU())),
    ("parameters", lambda nn, s: _names(s.named_parameters())), ("modules", lambda nn, s: _names(s.named_modules())),
    ("call", lambda nn, s: s(1)),
    ("constructor: none", lambda nn, s: nn.ModuleList()), ("constructor: None", lambda nn, s: nn.ModuleList(None)),
    ("constructor: generator", lambda nn, s: nn.ModuleList(nn.Linear(1, 1) for _ in range(3))),
    ("constructor: non-iterable", lambda nn, s: nn.ModuleList(3)),
    ("constructor: a module", lambda nn, s: nn.ModuleList(nn.ReLU())),
    ("constructor: non-module", lambda nn, s: nn.ModuleList([nn.ReLU(), np.tanh])),
    ("repr of repeats", lambda nn, s: repr(nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU(), nn.ReLU()]
                                                          + [nn.Sequential(nn.Tanh()), nn.Sequential(nn.Tanh())]))),
    ("repr of one", lambda nn, s: repr(nn.ModuleList([nn.Sequential(nn.Linear(1, 1))]))),
]


@pytest.mark.parametrize("what, edit", MODULE_LIST_EDITS, ids=[w for w, _ in MODULE_LIST_EDITS])
def test_module_list_like_torch(what, edit, torch):
    _edited_like_torch(lambda nn: nn.ModuleList([nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2), nn.Tanh()]), edit, torch)


def test_module_list_insert_checks_what_torchs_does_not(torch):
    """torch's ModuleList.insert takes anything at any index: a negative index raises KeyError
    half-way through its shifting, one past the end leaves a gap, a non-Module goes in. nnref's
    counts a negative index from the end as ``torch.nn.Sequential.insert`` and ``list.insert``
    do, and refuses the rest, unchanged."""
    for index in (-1, -4):
        s, t = nnref.ModuleList([Linear(2, 3), ReLU(), Linear(3, 2), nnref.Tanh()]), \
            torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2), torch.nn.Tanh())
        modules, sigmoid = list(s), nnref.Sigmoid()
        modules.insert(index, sigmoid)
        assert s.insert(index, sigmoid) is None and list(s) == modules
        t.insert(index, torch.nn.Sigmoid())
        assert _layout(s) == _layout(t)
        with pytest.raises(KeyError):
            torch.nn.ModuleList([torch.nn.ReLU()]).insert(index, torch.nn.Tanh())
    s = nnref.ModuleList([Linear(2, 3), ReLU()])
    before = _layout(s)
    with pytest.raises(IndexError, match="ModuleList.insert: index 3 is out of range for 2 modules"):
        s.insert(3, ReLU())
    with pytest.raises(IndexError, match="ModuleList.insert: index -3 is out of range for 2 modules"):
        s.insert(-3, ReLU())
    with pytest.raises(TypeError, match="ModuleList.insert: int is not a Module subclass"):
        s.insert(0, 3)
    assert _layout(s) == before


def _dict_of(nn, kind):
    layers = [("fc", nn.Linear(2, 3)), ("act", nn.ReLU())]
    return {"dict": dict(layers), "OrderedDict": OrderedDict(layers), "pairs": layers,
            "lists": [list(p) for p in layers], "generator": iter(layers),
            "ModuleDict": nn.ModuleDict(layers)}[kind]


# (what, edit): each edit runs on a fresh ModuleDict {'fc': Linear, 'act': ReLU, 'out': Linear}
MODULE_DICT_EDITS = [
    ("getitem", lambda nn, d: d["act"]), ("getitem missing", lambda nn, d: d["zz"]),
    ("getitem non-string", lambda nn, d: d[0]), ("getitem unhashable", lambda nn, d: d[["fc"]]),
    ("attribute", lambda nn, d: d.fc),
    ("setitem new", lambda nn, d: d.__setitem__("head", nn.Linear(2, 1))),
    ("setitem existing keeps its place", lambda nn, d: d.__setitem__("fc", nn.Sigmoid())),
    ("setitem None", lambda nn, d: d.__setitem__("act", None)),
    ("setitem non-module", lambda nn, d: d.__setitem__("head", 3)),
    ("setitem non-string key", lambda nn, d: d.__setitem__(1, nn.ReLU())),
    ("setitem dotted key", lambda nn, d: d.__setitem__("a.b", nn.ReLU())),
    ("setitem empty key", lambda nn, d: d.__setitem__("", nn.ReLU())),
    ("setitem method name", lambda nn, d: d.__setitem__("keys", nn.ReLU())),
    ("setitem attribute name", lambda nn, d: d.__setitem__("training", nn.ReLU())),
    ("delitem", lambda nn, d: d.__delitem__("fc")), ("delitem missing", lambda nn, d: d.__delitem__("zz")),
    ("delitem non-string", lambda nn, d: d.__delitem__(0)),
    ("delitem leaves no attribute", lambda nn, d: (d.__delitem__("fc"), hasattr(d, "fc"))),
    ("len", lambda nn, d: len(d)), ("iter", lambda nn, d: list(d)),
    ("contains", lambda nn, d: ("fc" in d, "zz" in d, 0 in d, "keys" in d)),
    ("clear", lambda nn, d: (d.clear(), hasattr(d, "act"), len(d))),
    ("clear then add", lambda nn, d: (d.clear(), d.__setitem__("act", nn.Tanh()))),
    ("pop", lambda nn, d: (d.pop("act"), hasattr(d, "act"))), ("pop value", lambda nn, d: d.pop("fc")),
    ("pop missing", lambda nn, d: d.pop("zz")),
    ("keys", lambda nn, d: (isinstance(d.keys(), KeysView), list(d.keys()))),   # torch's are a dict's views
    ("values", lambda nn, d: (isinstance(d.values(), ValuesView), _types(d.values()))),
    ("items", lambda nn, d: (isinstance(d.items(), ItemsView), [(k, type(m).__name__) for k, m in d.items()])),
    ("keys are live", lambda nn, d: (lambda keys: (d.pop("fc"), list(keys)))(d.keys())),
    *[(f"update {kind}", lambda nn, d, kind=kind: d.update(_dict_of(nn, kind)))
      for kind in ("dict", "OrderedDict", "pairs", "lists", "generator", "ModuleDict")],
    ("update new and existing", lambda nn, d: d.update([("new", nn.Tanh()), ("fc", nn.Sigmoid())])),
    ("update non-iterable", lambda nn, d: d.update(3)), ("update a module", lambda nn, d: d.update(nn.ReLU())),
    ("update non-iterable item", lambda nn, d: d.update([3])),
    ("update item of length 1", lambda nn, d: d.update([("a",)])),
    ("update item of length 3", lambda nn, d: d.update([("a", nn.ReLU(), nn.ReLU())])),
    ("update a string", lambda nn, d: d.update("ab")),
    ("update non-module", lambda nn, d: d.update({"x": 3})), ("update non-string key", lambda nn, d: d.update({1: nn.ReLU()})),
    ("parameters", lambda nn, d: _names(d.named_parameters())), ("modules", lambda nn, d: _names(d.named_modules())),
    ("call", lambda nn, d: d(1)),
    ("constructor: none", lambda nn, d: nn.ModuleDict()), ("constructor: None", lambda nn, d: nn.ModuleDict(None)),
    ("constructor: pairs", lambda nn, d: nn.ModuleDict([("b", nn.ReLU()), ("a", nn.Tanh())])),
    ("constructor: non-iterable", lambda nn, d: nn.ModuleDict(3)),
    ("constructor: a list", lambda nn, d: nn.ModuleDict([nn.ReLU()])),
    ("repr", lambda nn, d: repr(nn.ModuleDict({"seq": nn.Sequential(nn.Linear(1, 1)), "act": nn.ReLU()}))),
]


@pytest.mark.parametrize("what, edit", MODULE_DICT_EDITS, ids=[w for w, _ in MODULE_DICT_EDITS])
def test_module_dict_like_torch(what, edit, torch):
    _edited_like_torch(lambda nn: nn.ModuleDict({"fc": nn.Linear(2, 3), "act": nn.ReLU(), "out": nn.Linear(3, 2)}),
                       edit, torch)


def test_containers_have_no_forward_or_backward_and_say_whose(torch):
    for cls in (nnref.ModuleList, nnref.ModuleDict):
        with pytest.raises(NotImplementedError, match=rf'{cls.__name__}.forward: Module \[{cls.__name__}\] is missing'):
            cls()(np.ones(2))
        with pytest.raises(NotImplementedError, match=f"{cls.__name__}.backward: not defined"):
            cls().backward(np.ones(2))
        with pytest.raises(NotImplementedError, match=rf"Module \[{cls.__name__}\] is missing"):
            getattr(torch.nn, cls.__name__)()(torch.ones(2))


def _stack(nn):
    """A model whose layers sit in a ModuleList and whose head is picked from a ModuleDict, written
    once for both libraries: nnref's backward runs the layers' backward in reverse."""
    class Stack(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.layers = nn.ModuleList()
            for n_in, n_out in zip(sizes[:-1], sizes[1:]):
                self.layers.extend([nn.Linear(n_in, n_out), nn.Tanh()])
            self.heads = nn.ModuleDict({"small": nn.Linear(sizes[-1], 1), "big": nn.Linear(sizes[-1], 2)})

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return self.heads["big"](x)

        def backward(self, dy):
            dy = self.heads["big"].backward(dy)
            for layer in reversed(self.layers):
                dy = layer.backward(dy)
            return dy
    return Stack([3, 5, 4])


def test_a_module_list_model_trains_like_torch(torch):
    ours, theirs = _stack(nnref), _stack(torch.nn).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert _names(ours.named_modules()) == _names(theirs.named_modules())
    assert repr(ours) == repr(theirs)
    ours.load_state_dict(_state(theirs))
    ours.double()
    opt, ref_opt = nnref.SGD(ours.parameters(), lr=0.1, momentum=0.9), torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    loss_fn, ref_loss = nnref.MSELoss(), torch.nn.MSELoss()
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    for _ in range(4):
        opt.zero_grad(), ref_opt.zero_grad()
        loss = loss_fn(ours(x), t)
        ours.backward(loss_fn.backward())
        ref = ref_loss(theirs(torch.tensor(x)), torch.tensor(t))
        ref.backward()
        assert_close(np.float64(loss), ref.detach(), what="loss")
        opt.step(), ref_opt.step()
    for (name, a), (tname, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert name == tname
        assert_close(a, b.detach(), what=name)
    for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        if tp.grad is None:         # the unused head: torch never gave it a gradient, nnref's stays zero
            assert name.startswith("heads.small.") and not p.grad.any()
        else:
            assert_close(p.grad, tp.grad, what=f"{name}.grad")
