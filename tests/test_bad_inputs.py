"""Bad and extreme input for every registered case, judged by torch's own behaviour.

One table: every case of ``tests/cases.py`` meets every family below, so a new layer joins by
being listed there once. Where torch raises, nnref must raise one of the contract's exceptions
(``TypeError``, ``ValueError``, ``RuntimeError``; ``IndexError`` for an index out of range) with a
message that names the layer; where torch returns, nnref must return the same numbers (NaN where
torch has NaN). The contract adds fixed rules of its own: a non-float input is a ``TypeError``
(an integer one for index layers such as Embedding), and ``backward`` before ``forward`` a
``RuntimeError``.
"""

import numpy as np
import pytest

import nnref
from nnref import registry
from tests.cases import CASES
from tests.generic import draw_input, leaves, make_nnref, nnref_backward, pair
from tests.parity import dev

CONTRACT = (TypeError, ValueError, RuntimeError, IndexError)
TORCH_CASES = [c for c in CASES if registry.by_name(c.layer).torch and not c.random]


def ids(cases):
    return [c.name for c in cases]


def _reshaped(x, case):
    """Shape families: each a function of the case's good input."""
    out = {"extra-dims": x[None, None], "flat": x.reshape(-1), "scalar": x.reshape(-1)[0].reshape(())}
    for axis in {0, x.ndim - 1} | ({1} if x.ndim >= 3 else set()):
        bigger = list(x.shape)
        bigger[axis] += 1
        out[f"axis{axis}+1"] = np.resize(x, bigger)
        empty = list(x.shape)
        empty[axis] = 0
        out[f"axis{axis}-empty"] = x[tuple(slice(0, 0) if a == axis else slice(None) for a in range(x.ndim))]
    return out


def _torch_outcome(torch, ref, x):
    """``('raise', exc)`` or ``('ok', [outputs as float64 NumPy])``."""
    try:
        y = ref(torch.tensor(np.array(x)))            # a copy: torch refuses negative strides
    except Exception as exc:  # noqa: BLE001 - any torch error counts as 'torch refuses'
        return "raise", exc
    return "ok", [t.detach().numpy() for t in leaves(y)]


def _assert_named_error(exc, case, module=None):
    """A contract error whose message names the layer (or, inside a composite such as ResNet,
    the sublayer that refused)."""
    assert isinstance(exc, CONTRACT), f"{case.layer}: {type(exc).__name__} is not a contract error: {exc}"
    names = {case.layer} | ({type(sub).__name__ for sub in module.modules()} if module is not None else set())
    assert any(n in str(exc) for n in names), f"{case.layer}: the message names none of {sorted(names)}: {exc}"


def _judge(torch, case, m, ref, x, what):
    kind, theirs = _torch_outcome(torch, ref, x)
    if kind == "raise":
        with pytest.raises(Exception) as info:
            m(dev(x))
        _assert_named_error(info.value, case, m)
        return
    try:
        ours = leaves(m(dev(x)))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"{case.name} [{what}]: torch returns a result, nnref raises {type(exc).__name__}: {exc}")
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        a = nnref.asnumpy(a)
        assert a.shape == b.shape, f"{case.name} [{what}]: shape {a.shape}, torch {b.shape}"
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11, equal_nan=True, err_msg=f"{case.name} [{what}]")


@pytest.mark.parametrize("case", TORCH_CASES, ids=ids(TORCH_CASES))
def test_wrong_shapes_follow_torch(case, torch):
    x = draw_input(case, np.random.default_rng(0))
    for what, bad in _reshaped(x, case).items():
        m, ref = pair(torch, case)
        _judge(torch, case, m, ref, bad, what)


@pytest.mark.parametrize("case", [c for c in TORCH_CASES if c.inputs == "float"],
                         ids=ids([c for c in TORCH_CASES if c.inputs == "float"]))
def test_nan_inf_and_views_follow_torch(case, torch):
    x = draw_input(case, np.random.default_rng(1))
    with_nan = x.copy()
    with_nan.reshape(-1)[::5] = np.nan
    with_inf = x.copy()
    with_inf.reshape(-1)[1::7] = np.inf
    with_inf.reshape(-1)[3::11] = -np.inf
    transposed = np.swapaxes(np.ascontiguousarray(np.swapaxes(x, 0, -1)), 0, -1)   # same values, not contiguous
    flipped = np.ascontiguousarray(x[::-1])[::-1]                                  # negative strides
    for what, bad in {"nan": with_nan, "inf": with_inf, "transposed view": transposed,
                      "negative strides": flipped}.items():
        m, ref = pair(torch, case)
        _judge(torch, case, m, ref, bad, what)


def _bad_dtypes(case, x):
    if case.inputs == "index":
        return {"float": x.astype(np.float64), "complex": x.astype(np.complex128), "list": x.tolist()}
    return {"int64": np.round(x).astype(np.int64), "bool": x > 0, "complex": x.astype(np.complex128),
            "object": x.astype(object), "list": x.tolist()}


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_wrong_dtypes_are_type_errors(case):
    x = draw_input(case, np.random.default_rng(2))
    for what, bad in _bad_dtypes(case, x).items():
        m = make_nnref(case)
        m.train(case.train)
        with pytest.raises(TypeError) as info:
            m(bad if isinstance(bad, list) else dev(bad))
        assert case.layer in str(info.value), f"{case.name} [{what}]: message does not name the layer"


@pytest.mark.parametrize("case", [c for c in CASES if c.inputs == "float" and not c.random],
                         ids=ids([c for c in CASES if c.inputs == "float" and not c.random]))
def test_float16_keeps_its_dtype_and_is_close(case):
    """float16 in, float16 out (and float16 gradients), close to the same module on float64."""
    x = draw_input(case, np.random.default_rng(3)) * 0.5
    m = make_nnref(case, dtype=np.float32)
    m.train(case.train)
    state = {k: np.array(nnref.asnumpy(v)) for k, v in m.state_dict().items()}
    exact = [nnref.asnumpy(a) for a in leaves(m(dev(x)))]
    m.load_state_dict(state)                       # running statistics as before the first call
    y = m(dev(x.astype(np.float16)))
    for a, e in zip(leaves(y), exact):
        assert a.dtype == np.float16, f"{case.name}: float16 input gave a {a.dtype} output"
        scale = max(1.0, float(np.abs(e).max(initial=0)))
        np.testing.assert_allclose(nnref.asnumpy(a).astype(np.float64), e, rtol=0.05, atol=0.05 * scale,
                                   err_msg=f"{case.name}: float16 result")
    grads = [np.ones(a.shape, dtype=np.float16) * 0.1 for a in leaves(y)]
    dx = nnref_backward(m, y, grads)
    assert dx.dtype == np.float16 and np.isfinite(nnref.asnumpy(dx)).all(), f"{case.name}: float16 gradient"


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_backward_protocol(case):
    """Before forward: RuntimeError. A gradient of the wrong shape: ValueError. Twice after one
    forward: the same input gradient again and the parameter gradients added twice, or a
    RuntimeError (torch's default) -- never a different answer."""
    rng = np.random.default_rng(4)
    x = draw_input(case, rng)
    m = make_nnref(case)
    m.train(case.train)
    with pytest.raises(RuntimeError) as info:
        m.backward(dev(np.ones(3)))
    _assert_named_error(info.value, case)

    y = m(dev(x))
    grads = [rng.normal(size=a.shape) for a in leaves(y)]
    wrong = [np.concatenate([g, g[:1]]) if g.ndim else np.ones(2) for g in grads]
    with pytest.raises(ValueError) as info:
        nnref_backward(m, y, wrong)
    _assert_named_error(info.value, case, m)

    nnref.manual_seed(0)
    m = make_nnref(case)
    m.train(case.train)
    y = m(dev(x))
    first = nnref_backward(m, y, grads)
    once = {n: np.array(nnref.asnumpy(p.grad)) for n, p in m.named_parameters()}
    try:
        second = nnref_backward(m, y, grads)
    except RuntimeError as exc:
        _assert_named_error(exc, case, m)
        return
    if case.inputs == "float":
        np.testing.assert_allclose(nnref.asnumpy(second), nnref.asnumpy(first), rtol=1e-12, atol=0,
                                   err_msg=f"{case.name}: a second backward gave another input gradient")
    for n, p in m.named_parameters():
        np.testing.assert_allclose(nnref.asnumpy(p.grad), 2 * once[n], rtol=1e-12, atol=1e-300,
                                   err_msg=f"{case.name}: {n} after two backward calls")


def _int_positions(case):
    return [i for i, a in enumerate(case.args) if isinstance(a, int) and not isinstance(a, bool)]


@pytest.mark.parametrize("case", TORCH_CASES, ids=ids(TORCH_CASES))
def test_out_of_range_constructor_arguments_follow_torch(case, torch):
    from tests.generic import make_torch
    for i in _int_positions(case):
        for bad in (-1, 0, 2.5, "3"):
            args = list(case.args)
            args[i] = bad
            bent = type(case)(case.layer, tuple(args), case.kwargs, case.shape, case.train, case.inputs, case.id)
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
