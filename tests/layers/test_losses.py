import inspect
import math

import numpy as np
import pytest

import nnref
from nnref.gradcheck import numerical_gradient
from tests.parity import assert_close, dev

REDUCTIONS = ["mean", "sum", "none"]


def run_both(torch, nn_cls, t_cls, kwargs, z, y, grad=None):
    """nnref's and torch's loss on the same float64 data: values and input gradients agree."""
    tkw = {k: torch.tensor(v) if k == "weight" else v for k, v in kwargs.items()}
    zt = torch.tensor(z, requires_grad=True)
    lt = t_cls(**tkw)(zt, torch.tensor(y))
    lt.backward(torch.ones_like(lt) if grad is None else torch.tensor(grad))
    nkw = {k: dev(v) if k == "weight" else v for k, v in kwargs.items()}
    fn = nn_cls(**nkw)
    loss = fn(dev(z), dev(y))
    if kwargs.get("reduction", "mean") == "none":
        assert_close(loss, lt, what="per-element loss")
    else:
        assert isinstance(loss, float)
        assert loss == pytest.approx(lt.item(), rel=1e-12, nan_ok=True)
    assert_close(fn.backward(None if grad is None else dev(grad)), zt.grad, what="input gradient")


def test_signatures_are_torchs(torch):
    for name in ["MSELoss", "CrossEntropyLoss"]:
        ours = inspect.signature(getattr(nnref, name).__init__).parameters
        theirs = inspect.signature(getattr(torch.nn, name).__init__).parameters
        assert [(p.name, p.default, p.kind) for p in ours.values()] == \
               [(p.name, p.default, p.kind) for p in theirs.values()]
        assert list(inspect.signature(getattr(nnref, name).forward).parameters) == ["self", "input", "target"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_matches_torch(torch, reduction):
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    grad = rng.normal(size=(4, 3)) if reduction == "none" else None
    run_both(torch, nnref.MSELoss, torch.nn.MSELoss, dict(reduction=reduction), z, y, grad)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_cross_entropy_matches_torch(torch, reduction, scale):
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(5, 4)) * scale   # 1e4: naive exp would overflow
    with np.errstate(over="raise", invalid="raise"):
        run_both(torch, nnref.CrossEntropyLoss, torch.nn.CrossEntropyLoss, dict(reduction=reduction),
                 logits, np.array([0, 3, 1, 1, 2]))


OPTIONS = [
    dict(weight=True),
    dict(ignore_index=2),
    dict(weight=True, ignore_index=2),
    dict(weight=True, ignore_index=-100, label_smoothing=0.2),
    dict(label_smoothing=0.3),
    dict(weight=True, ignore_index=1, label_smoothing=0.15),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2, 3), (4,)], ids=["NC", "NCd1d2", "unbatched"])
def test_cross_entropy_class_indices_every_option(torch, reduction, opts, shape):
    rng = np.random.default_rng(2)
    z = rng.normal(size=shape)
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    y = rng.integers(0, 4, size=tshape)
    if y.ndim:
        y.reshape(-1)[::3] = opts.get("ignore_index", -100)   # some ignored targets
    kwargs = dict(opts, reduction=reduction)
    if kwargs.pop("weight", False):
        kwargs["weight"] = rng.uniform(0.2, 3.0, size=4)
    grad = rng.normal(size=tshape) if reduction == "none" else None
    run_both(torch, nnref.CrossEntropyLoss, torch.nn.CrossEntropyLoss, kwargs, z, y, grad)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("shape", [(5, 4), (2, 4, 3), (4,)])
def test_cross_entropy_probability_targets(torch, reduction, smoothing, shape):
    rng = np.random.default_rng(3)
    z = rng.normal(size=shape)
    if len(shape) == 1:
        p = rng.dirichlet(np.ones(4))
    else:
        p = np.moveaxis(rng.dirichlet(np.ones(4), size=shape[:1] + shape[2:]), -1, 1)
    kwargs = dict(reduction=reduction, label_smoothing=smoothing, weight=rng.uniform(0.5, 2, 4))
    grad = rng.normal(size=shape[:1] + shape[2:]) if reduction == "none" and len(shape) > 1 else None
    run_both(torch, nnref.CrossEntropyLoss, torch.nn.CrossEntropyLoss, kwargs, z, p, grad)


@pytest.mark.parametrize("legacy", [dict(size_average=False), dict(reduce=False), dict(size_average=True),
                                    dict(size_average=False, reduce=True), dict(reduce=True)])
def test_deprecated_size_average_and_reduce_map_like_torch(torch, legacy):
    with pytest.warns(UserWarning):
        ours = nnref.CrossEntropyLoss(**legacy).reduction
    with pytest.warns(UserWarning):
        assert nnref.MSELoss(**legacy).reduction == ours
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ours == torch.nn.CrossEntropyLoss(**legacy).reduction


def test_cross_entropy_gradient_is_numerical_gradient():
    rng = np.random.default_rng(4)
    z, y = dev(rng.normal(size=(5, 3))), dev(np.array([0, 2, -100, 1, 2]))
    fn = nnref.CrossEntropyLoss(weight=dev(np.array([0.5, 2.0, 1.0])), label_smoothing=0.1)
    fn(z, y)
    assert_close(fn.backward(), numerical_gradient(lambda: fn(z, y), z), rtol=1e-6, atol=1e-9)


def test_empty_batch_and_all_ignored_give_nan_like_torch(torch):
    run_both(torch, nnref.CrossEntropyLoss, torch.nn.CrossEntropyLoss, {}, np.zeros((0, 3)),
             np.zeros(0, dtype=np.int64))
    run_both(torch, nnref.MSELoss, torch.nn.MSELoss, {}, np.zeros((0, 3)), np.zeros((0, 3)))
    run_both(torch, nnref.CrossEntropyLoss, torch.nn.CrossEntropyLoss, dict(weight=np.ones(3)),
             np.ones((2, 3)), np.array([-100, -100]))
    assert math.isnan(nnref.CrossEntropyLoss()(dev(np.zeros((0, 3))), dev(np.zeros(0, dtype=np.int64))))


def test_float16_accumulates_in_float32():
    fn = nnref.MSELoss()
    x = dev(np.full(8, 300.0, np.float16))             # 300^2 * 8 overflows float16 (max 65504)
    assert fn(x, dev(np.zeros(8, np.float16))) == 90000.0
    assert fn.backward().dtype == np.float16
    ce = nnref.CrossEntropyLoss(reduction="none")
    out = ce(dev(np.zeros((2, 3), np.float16)), dev(np.array([0, 1])))
    assert out.dtype == np.float16 and ce.backward().dtype == np.float16


def test_float32_gradient_stays_float32():
    fn = nnref.CrossEntropyLoss()
    fn(dev(np.zeros((2, 3), np.float32)), dev(np.array([0, 2])))
    assert fn.backward().dtype == np.float32


def test_errors():
    z = dev(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="reduction must be one of"):
        nnref.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="MSELoss: input has shape"):
        nnref.MSELoss()(dev(np.zeros((2, 3))), dev(np.zeros((3, 2))))
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: target 3 is out of bounds.*\[0, 2\]"):
        nnref.CrossEntropyLoss()(z, dev(np.array([0, 3])))
    with pytest.raises(ValueError, match=r"target -1 is out of bounds"):
        nnref.CrossEntropyLoss()(z, dev(np.array([0, -1])))
    with pytest.raises(TypeError, match="CrossEntropyLoss: target must hold integer class indices"):
        nnref.CrossEntropyLoss()(z, dev(np.array([0.0, 1.0])))
    with pytest.raises(ValueError, match=r"weight has 2 entries but the input has 3 classes"):
        nnref.CrossEntropyLoss(weight=dev(np.ones(2)))(z, dev(np.array([0, 1])))
    with pytest.raises(ValueError, match="label_smoothing"):
        nnref.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        nnref.MSELoss().backward()
    fn = nnref.MSELoss(reduction="none")
    fn(z, z)
    with pytest.raises(ValueError, match=r"grad of the loss's shape \(2, 3\)"):
        fn.backward(dev(np.ones(3)))


@pytest.mark.parametrize("call", [
    lambda: nnref.MSELoss()([1.0, 2.0], dev(np.zeros(2))),
    lambda: nnref.MSELoss()(dev(np.zeros(2)), [1.0, 2.0]),
    lambda: nnref.CrossEntropyLoss()(dev(np.zeros((2, 3))), [0, 1]),
    lambda: nnref.CrossEntropyLoss(weight=[1.0, 1.0, 1.0]),
])
def test_python_lists_are_refused_with_a_clear_type_error(call):
    with pytest.raises(TypeError, match=r"(MSELoss|CrossEntropyLoss).*expected an array"):
        call()


def test_weight_is_a_buffer_like_torchs(torch):
    w = np.array([1.0, 2.0, 0.5])
    ours = nnref.CrossEntropyLoss(weight=dev(w))
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(w))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert list(nnref.CrossEntropyLoss().state_dict()) == list(torch.nn.CrossEntropyLoss().state_dict()) == []


@pytest.mark.parametrize("target,message", [
    (np.array([0, 2]), r"class-index target must have shape \(\) or \(1,\) for input of shape \(3,\), got \(2,\)"),
    (np.zeros((1, 3), dtype=np.int64), r"for input of shape \(3,\), got \(1, 3\)"),
    (np.array([0.5, 0.5]), r"float probabilities of the input's shape \(3,\); got float64 of shape \(2,\)"),
])
def test_unbatched_logits_with_a_wrong_target_report_the_shapes_passed(torch, target, message):
    """(C,) logits: the error names the user's shapes, never the batch of one added inside."""
    logits = np.array([0.2, -1.0, 0.5])
    with pytest.raises(Exception):
        torch.nn.CrossEntropyLoss()(torch.tensor(logits), torch.tensor(target))
    with pytest.raises((ValueError, TypeError), match=message) as info:
        nnref.CrossEntropyLoss()(dev(logits), dev(target))
    assert "input of shape (1, 3)" not in str(info.value) and "input's shape (1, 3)" not in str(info.value)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_unbatched_logits_take_a_one_element_target_like_torch(torch, reduction):
    """torch takes the class of (C,) logits as shape () or (1,); both give a 0-d loss (torch's
    backward fails for the (1,) form, so the gradient is compared with the () form's)."""
    logits = np.array([0.2, -1.0, 0.5])
    xt = torch.tensor(logits, requires_grad=True)
    torch.nn.CrossEntropyLoss(reduction=reduction)(xt, torch.tensor(2)).backward()
    for target in (np.array(2), np.array([2])):
        lt = torch.nn.CrossEntropyLoss(reduction=reduction)(torch.tensor(logits), torch.tensor(target))
        fn = nnref.CrossEntropyLoss(reduction=reduction)
        loss = fn(dev(logits), dev(target))
        assert np.shape(nnref.asnumpy(loss)) == tuple(lt.shape)
        assert_close(np.asarray(nnref.asnumpy(loss)), lt, what="loss")
        assert_close(fn.backward(), xt.grad, what="d logits")


def test_out_of_range_targets_are_index_errors_as_torch(torch):
    """torch raises IndexError; nnref's error is an IndexError and (as its other bad values) a ValueError."""
    x, y = np.zeros((4, 3)), np.array([0, 1, 2, 3])
    with pytest.raises(IndexError):
        torch.nn.CrossEntropyLoss()(torch.tensor(x), torch.tensor(y))
    with pytest.raises(IndexError, match="CrossEntropyLoss: target 3 is out of bounds") as info:
        nnref.CrossEntropyLoss()(dev(x), dev(y))
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"ignore_index": 1.5}, TypeError, "ignore_index must be an int"),       # int() made it 1
    ({"ignore_index": None}, TypeError, "ignore_index must be an int"),
    ({"label_smoothing": "a"}, TypeError, "label_smoothing must be a number"),
    ({"label_smoothing": None}, TypeError, "label_smoothing must be a number"),
])
def test_constructor_arguments_are_checked_where_given(torch, kwargs, error, match):
    with pytest.raises(error, match=f"CrossEntropyLoss: {match}"):
        nnref.CrossEntropyLoss(**kwargs)


@pytest.mark.parametrize("name", ["MSELoss", "CrossEntropyLoss"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_backward_takes_only_a_float_gradient(name, reduction):
    """A list, string or integer array as ``grad``: TypeError naming the loss, not NumPy's message."""
    loss = getattr(nnref, name)(reduction=reduction)
    x = dev(np.random.default_rng(0).normal(size=(4, 3)))
    loss(x, dev(np.zeros((4, 3)) if name == "MSELoss" else np.array([0, 1, 2, 0])))
    shape = (4, 3) if name == "MSELoss" else (4,)
    for grad in ([1.0], "a", dev(np.ones(shape if reduction == "none" else (), np.int64))):
        with pytest.raises(TypeError, match=f"{name}.backward"):
            loss.backward(grad)
    assert loss.backward(dev(np.ones(shape)) if reduction == "none" else 2.0).shape == (4, 3)
