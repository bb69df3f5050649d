"""Bad and extreme input for every registered case, judged by torch's own behaviour.

One table: every case of ``tests/cases.py`` meets every family below, so a new layer joins by
being listed there once. A family bends one input at a time (the others stay good; an input
repeated with ``Same`` is bent with it). Where torch raises, nnref must raise one of the
contract's exceptions (``TypeError``, ``ValueError``, ``RuntimeError``; ``IndexError`` for an index
out of range) with a message that names the layer; where torch returns, nnref must return the
same numbers (NaN where torch has NaN). The contract adds fixed rules of its own: a non-float
input is a ``TypeError`` (an integer one for index layers such as Embedding), and ``backward``
before ``forward`` a ``RuntimeError``.
"""
import dataclasses

import numpy as np
import pytest

import nnref
from nnref import registry
from tests.cases import CASES
from tests.generic import (backward, call, draw, drawn_inputs, leaves, like, make_nnref,
                           make_torch, moved, output_grads, pair, replace_input, torch_call)

CONTRACT = (TypeError, ValueError, RuntimeError, IndexError)
TORCH_CASES = [c for c in CASES if registry.by_name(c.layer).torch and not c.random]


def ids(cases):
    return [c.name for c in cases]


def _reshaped(x):
    """Shape families: each a function of one good input."""
    out = {"extra-dims": x[None, None], "flat": x.reshape(-1), "scalar": x.reshape(-1)[0].reshape(())}
    for axis in {0, x.ndim - 1} | ({1} if x.ndim >= 3 else set()):
        bigger = list(x.shape)
        bigger[axis] += 1
        out[f"axis{axis}+1"] = np.resize(x, bigger)
        empty = list(x.shape)
        empty[axis] = 0
        out[f"axis{axis}-empty"] = x[tuple(slice(0, 0) if a == axis else slice(None) for a in range(x.ndim))]
    return out


def _bent(case, drawn, family):
    """``(what, Call)`` for every input the case draws and every variant ``family(x)`` of it."""
    for i in drawn_inputs(case):
        for what, bad in family(drawn.args[i]).items():
            yield f"input {i} {what}", replace_input(case, drawn, i, bad)


def _torch_outcome(torch, ref, case, drawn):
    """``('raise', exc)`` or ``('ok', [outputs as float64 NumPy])``."""
    try:
        y, _ = torch_call(torch, ref, case, drawn, requires_grad=False)
    except Exception as exc:  # noqa: BLE001 - any torch error counts as 'torch refuses'
        return "raise", exc
    return "ok", [None if t is None else t.detach().numpy() for t in leaves(y)]


def _assert_named_error(exc, case, module=None):
    """A contract error whose message names the layer (or, inside a composite such as ResNet,
    the sublayer that refused)."""
    assert isinstance(exc, CONTRACT), f"{case.layer}: {type(exc).__name__} is not a contract error: {exc}"
    names = {case.layer} | ({type(sub).__name__ for sub in module.modules()} if module is not None else set())
    assert any(n in str(exc) for n in names), f"{case.layer}: the message names none of {sorted(names)}: {exc}"


def _judge(torch, case, m, ref, drawn, what):
    kind, theirs = _torch_outcome(torch, ref, case, drawn)
    if kind == "raise":
        with pytest.raises(Exception) as info:
            call(m, drawn)
        _assert_named_error(info.value, case, m)
        return
    try:
        ours = leaves(call(m, drawn))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"{case.name} [{what}]: torch returns a result, nnref raises {type(exc).__name__}: {exc}")
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if b is None:
            assert a is None, f"{case.name} [{what}]: an output where torch has None"
            continue
        a = nnref.asnumpy(a)
        assert a.shape == b.shape, f"{case.name} [{what}]: shape {a.shape}, torch {b.shape}"
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11, equal_nan=True, err_msg=f"{case.name} [{what}]")


@pytest.mark.parametrize("case", TORCH_CASES, ids=ids(TORCH_CASES))
def test_wrong_shapes_follow_torch(case, torch):
    drawn = draw(case, np.random.default_rng(0))
    for what, bad in _bent(case, drawn, _reshaped):
        m, ref = pair(torch, case)
        _judge(torch, case, m, ref, bad, what)


def _extreme(x):
    with_nan = x.copy()
    with_nan.reshape(-1)[::5] = np.nan
    with_inf = x.copy()
    with_inf.reshape(-1)[1::7] = np.inf
    with_inf.reshape(-1)[3::11] = -np.inf
    transposed = np.swapaxes(np.ascontiguousarray(np.swapaxes(x, 0, -1)), 0, -1)   # same values, not contiguous
    flipped = np.ascontiguousarray(x[::-1])[::-1]                                  # negative strides
    return {"nan": with_nan, "inf": with_inf, "transposed view": transposed, "negative strides": flipped}


FLOAT_CASES = [c for c in TORCH_CASES if drawn_inputs(c, ("float",))]


@pytest.mark.parametrize("case", FLOAT_CASES, ids=ids(FLOAT_CASES))
def test_nan_inf_and_views_follow_torch(case, torch):
    drawn = draw(case, np.random.default_rng(1))
    for i in drawn_inputs(case, ("float",)):
        for what, bad in _extreme(drawn.args[i]).items():
            m, ref = pair(torch, case)
            _judge(torch, case, m, ref, replace_input(case, drawn, i, bad), f"input {i} {what}")


def _bad_dtypes(kind, x):
    if kind == "index":
        return {"float": x.astype(np.float64), "complex": x.astype(np.complex128), "list": x.tolist()}
    return {"int64": np.round(x).astype(np.int64), "bool": x > 0, "complex": x.astype(np.complex128),
            "object": x.astype(object), "list": x.tolist()}


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_wrong_dtypes_are_type_errors(case):
    drawn = draw(case, np.random.default_rng(2))
    for i in drawn_inputs(case):
        for what, bad in _bad_dtypes(case.inputs[i].kind, drawn.args[i]).items():
            m = make_nnref(case)
            m.train(case.train)
            with pytest.raises(TypeError) as info:
                call(m, replace_input(case, drawn, i, bad))
            assert case.layer in str(info.value), f"{case.name} [input {i} {what}]: message does not name the layer"


HALF_CASES = [c for c in CASES if drawn_inputs(c, ("float",)) and not c.random]


@pytest.mark.parametrize("case", HALF_CASES, ids=ids(HALF_CASES))
def test_float16_keeps_its_dtype_and_is_close(case):
    """float16 in, float16 out (and float16 gradients), close to the same module on float64."""
    drawn = draw(case, np.random.default_rng(3))
    drawn = moved(drawn, lambda v: v * 0.5 if v.dtype.kind == "f" else v)
    half = moved(drawn, lambda v: v.astype(np.float16) if v.dtype.kind == "f" else v)
    m = make_nnref(case, dtype=np.float32)
    m.train(case.train)
    state = {k: np.array(nnref.asnumpy(v)) for k, v in m.state_dict().items()}
    exact = [None if a is None else nnref.asnumpy(a) for a in leaves(call(m, drawn))]
    m.load_state_dict(state)                       # running statistics as before the first call
    y = call(m, half)
    for a, e in zip(leaves(y), exact):
        if e is None or e.dtype.kind != "f":       # indices stay integers
            continue
        assert a.dtype == np.float16, f"{case.name}: float16 input gave a {a.dtype} output"
        scale = max(1.0, float(np.abs(e).max(initial=0)))
        np.testing.assert_allclose(nnref.asnumpy(a).astype(np.float64), e, rtol=0.05, atol=0.05 * scale,
                                   err_msg=f"{case.name}: float16 result")
    grads = output_grads(case, y, lambda a: np.ones(a.shape, dtype=np.float16) * 0.1)
    for d in backward(m, case, grads):
        assert d.dtype == np.float16 and np.isfinite(nnref.asnumpy(d)).all(), f"{case.name}: float16 gradient"


def _wrong(g):
    return np.concatenate([g, g[:1]]) if g.ndim else np.ones(2)


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_backward_protocol(case):
    """Before forward: RuntimeError. A gradient of the wrong shape (each output's in turn): ValueError;
    one that is no float array (integers, bools, a list): TypeError.
    Twice after one forward: the same input gradients again and the parameter gradients added
    twice, or a RuntimeError (torch's default) -- never a different answer."""
    rng = np.random.default_rng(4)
    drawn = draw(case, rng)
    m = make_nnref(case)
    m.train(case.train)
    with pytest.raises(RuntimeError) as info:
        m.backward(nnref.backend.asarray(np.ones(3)))
    _assert_named_error(info.value, case)

    y = call(m, drawn)
    grads = output_grads(case, y, lambda a: rng.normal(size=a.shape))
    n = len(leaves(grads))
    for k in range(n):
        seen = iter(range(n))
        wrong = [like(g, lambda a: _wrong(a) if next(seen) == k else a) for g in grads]
        with pytest.raises(ValueError) as info:
            backward(m, case, wrong)
        _assert_named_error(info.value, case, m)
    # not a float array: integer arithmetic would truncate every gradient below it (seen: BatchNorm,
    # LayerNorm, attention), a list or a torch tensor fail somewhere inside
    for k in range(n):
        for spoil in (lambda a: a.astype(np.int64), lambda a: a.astype(bool), lambda a: nnref.asnumpy(a).tolist()):
            seen = iter(range(n))
            wrong = [like(g, lambda a: spoil(a) if next(seen) == k else a) for g in grads]
            with pytest.raises(TypeError) as info:
                backward(m, case, wrong)
            _assert_named_error(info.value, case, m)

    nnref.manual_seed(0)
    m = make_nnref(case)
    m.train(case.train)
    y = call(m, drawn)
    first = [np.array(nnref.asnumpy(d)) for d in backward(m, case, grads)]
    once = {name: np.array(nnref.asnumpy(p.grad)) for name, p in m.named_parameters()}
    try:
        second = backward(m, case, grads)
    except RuntimeError as exc:
        _assert_named_error(exc, case, m)
        return
    for k, (a, b) in enumerate(zip(second, first)):
        np.testing.assert_allclose(nnref.asnumpy(a), b, rtol=1e-12, atol=0,
                                   err_msg=f"{case.name}: a second backward gave another gradient of input {k}")
    for name, p in m.named_parameters():
        np.testing.assert_allclose(nnref.asnumpy(p.grad), 2 * once[name], rtol=1e-12, atol=1e-300,
                                   err_msg=f"{case.name}: {name} after two backward calls")


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
@pytest.mark.parametrize("dtype, dy_dtype", [(np.float64, np.float32), (np.float32, np.float64)])
def test_input_gradients_keep_the_inputs_dtype_whatever_dy(case, dtype, dy_dtype):
    """torch casts the incoming gradient to the output's dtype, so dx has the input's dtype even
    when dy has another (before: ReLU gave float32 for a float64 input, Linear float64 for a
    float32 one)."""
    rng = np.random.default_rng(6)
    m = make_nnref(case, dtype)
    m.train(case.train)
    y = call(m, draw(case, rng, dtype))
    grads = output_grads(case, y, lambda a: rng.normal(size=a.shape).astype(dy_dtype))
    for k, g in enumerate(backward(m, case, grads)):
        for a in leaves(g):
            assert a is None or a.dtype == dtype, f"{case.name}: input gradient {k} is {a.dtype}, input {dtype}"


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_wrong_arguments_name_the_layer_called(case):
    """Too many arguments or an unknown keyword: Python's own message names the class that
    defines ``forward`` (``_Activation.forward()``, ``RecurrentBase.forward()``); nnref's names the
    layer the user called."""
    m = make_nnref(case)
    d = moved(draw(case, np.random.default_rng(7)))
    for args, kwargs in [((*d.args, *[object()] * 12), d.kwargs), (d.args, {**d.kwargs, "no_such_option": 1})]:
        with pytest.raises(TypeError, match=rf"^{type(m).__name__}\.forward: "):
            m(*args, **kwargs)


def _int_positions(case):
    return [i for i, a in enumerate(case.args) if isinstance(a, int) and not isinstance(a, bool)]


@pytest.mark.parametrize("case", TORCH_CASES, ids=ids(TORCH_CASES))
def test_out_of_range_constructor_arguments_follow_torch(case, torch):
    for i in _int_positions(case):
        for bad in (-1, 0, 2.5, "3"):
            args = list(case.args)
            args[i] = bad
            bent = dataclasses.replace(case, args=tuple(args))
            try:
                make_torch(torch, bent)
            except Exception:  # noqa: BLE001
                with pytest.raises(Exception) as info:
                    make_nnref(bent)
                _assert_named_error(info.value, case)
                continue
            try:                # torch accepts it; nnref may refuse earlier than torch, but clearly
                make_nnref(bent)
            except Exception as exc:  # noqa: BLE001
                _assert_named_error(exc, case)
