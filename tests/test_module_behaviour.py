"""What every registered layer does as a Module, checked over every case of tests/cases.py:
torch's state_dict keys, shapes and order; torch's names from named_parameters, named_buffers
and named_modules; load_state_dict's result as torch's, all or nothing, with errors naming the
key; dtype of parameters, outputs and gradients; zero_grad; train/eval; device moves."""
import numpy as np
import pytest

import nnref
from nnref import registry
from tests.cases import CASES
from tests.generic import backward, call, differentiated, draw, drawn_inputs, leaves, make_nnref, make_torch, output_grads

TORCH_CASES = [c for c in CASES if registry.by_name(c.layer).torch]


def ids(cases):
    return [c.name for c in cases]


@pytest.mark.parametrize("case", TORCH_CASES, ids=ids(TORCH_CASES))
def test_state_dict_keys_shapes_and_order_are_torchs(case, torch):
    ours = make_nnref(case).state_dict()
    theirs = make_torch(torch, case).state_dict()
    assert list(ours) == list(theirs)
    for k in theirs:
        assert tuple(np.shape(ours[k])) == tuple(theirs[k].shape), k


@pytest.mark.parametrize("case", TORCH_CASES, ids=ids(TORCH_CASES))
def test_named_members_and_load_state_dicts_result_are_torchs(case, torch):
    ours, theirs = make_nnref(case), make_torch(torch, case)
    for walk in ("named_parameters", "named_buffers", "named_modules"):
        assert [n for n, _ in getattr(ours, walk)()] == [n for n, _ in getattr(theirs, walk)()], walk
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    # every other key (num_batches_tracked kept: torch's BatchNorm fills it in, for old checkpoints)
    partial = {k: v for i, (k, v) in enumerate(state.items()) if i % 2 == 0 or k.endswith("num_batches_tracked")}
    partial["surplus.weight"] = np.zeros(1)
    for given, strict in ((state, True), (partial, False)):
        got = ours.load_state_dict(given, strict=strict)
        want = theirs.load_state_dict({k: torch.tensor(v) for k, v in given.items()}, strict=strict)
        assert (got.missing_keys, got.unexpected_keys) == (want.missing_keys, want.unexpected_keys)


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_load_state_dict_is_all_or_nothing_and_names_the_key(case):
    m = make_nnref(case)
    state = {k: np.array(nnref.asnumpy(v)) for k, v in m.state_dict().items()}
    if not state:
        return
    first, last = list(state)[0], list(state)[-1]
    before = {k: v.copy() for k, v in state.items()}
    bad = {k: v + 1 if v.dtype.kind == "f" else v for k, v in state.items()}
    bad[last] = np.zeros(np.shape(state[last]) + (2,))          # wrong shape, checked before any copy
    with pytest.raises(ValueError, match=last):
        m.load_state_dict(bad)
    after = m.state_dict()
    for k in state:
        np.testing.assert_array_equal(nnref.asnumpy(after[k]), before[k], err_msg=f"{k} changed by a refused load")
    missing = dict(state)
    del missing[first]
    with pytest.raises(KeyError, match=first):
        m.load_state_dict(missing)
    with pytest.raises(KeyError, match="surplus"):
        m.load_state_dict({**state, "surplus": np.zeros(1)})


FLOAT_CASES = [c for c in CASES if drawn_inputs(c, ("float",))]


@pytest.mark.parametrize("case", FLOAT_CASES, ids=ids(FLOAT_CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_outputs_and_gradients_keep_the_input_dtype(case, dtype):
    m = make_nnref(case, dtype)
    m.train(case.train)
    for name, p in m.named_parameters():
        assert p.data.dtype == dtype and p.grad.dtype == dtype, name
    rng = np.random.default_rng(0)
    drawn = draw(case, rng, dtype)
    y = call(m, drawn)
    for a in leaves(y):
        assert a is None or a.dtype == dtype or a.dtype.kind == "i", a.dtype     # indices stay integers
    grads = backward(m, case, output_grads(case, y, lambda a: rng.normal(size=a.shape).astype(dtype)))
    for k, d in zip(differentiated(case), grads):
        x = drawn.args[k]
        assert d.dtype == dtype and d.shape == x.shape, f"gradient of input {k}: {d.dtype} {d.shape}"
    for name, p in m.named_parameters():
        assert p.grad.dtype == dtype, name


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_zero_grad_train_eval_and_moves(case):
    m = make_nnref(case)
    m.train(case.train)
    rng = np.random.default_rng(0)
    y = call(m, draw(case, rng))
    backward(m, case, output_grads(case, y, lambda a: rng.normal(size=a.shape)))
    m.zero_grad()
    assert all(not np.any(nnref.asnumpy(p.grad)) for p in m.parameters())
    m.eval()
    assert all(not sub.training for sub in m.modules())
    m.train()
    assert all(sub.training for sub in m.modules())
    m.to("numpy")
    assert repr(m).startswith(case.layer)
