"""Checkpoints: round trip, dtypes, PyTorch's keys, atomic writes, and refusal of damaged,
mismatched or pickled files."""
import os
import zipfile

import numpy as np
import pytest

import nnref
from nnref import backend, checkpoint
from nnref.module import StateDictKeyError, StateDictShapeError
from tests.parity import assert_close, dev


def _model(dtype=np.float32):
    nnref.manual_seed(0)
    m = nnref.Sequential(nnref.Linear(4, 5, dtype=dtype), nnref.BatchNorm1d(5, dtype=dtype), nnref.ReLU(),
                         nnref.Linear(5, 2, dtype=dtype))
    m(dev(np.random.default_rng(0).normal(size=(6, 4)).astype(dtype)))   # move the running statistics
    return m


def _fresh(dtype=np.float32):
    nnref.manual_seed(1)
    return nnref.Sequential(nnref.Linear(4, 5, dtype=dtype), nnref.BatchNorm1d(5, dtype=dtype), nnref.ReLU(),
                            nnref.Linear(5, 2, dtype=dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_keeps_values_and_dtypes(tmp_path, dtype):
    a, b = _model(dtype), _fresh(dtype)
    path = tmp_path / "model.npz"
    checkpoint.save(a, path)
    assert checkpoint.load(b, path) is b
    for (k, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert k == kb and va.dtype == vb.dtype
        assert (backend.asnumpy(va) == backend.asnumpy(vb)).all(), k
    # the file itself: plain arrays under PyTorch's keys, readable without pickle
    with np.load(path, allow_pickle=False) as f:
        assert f.files == list(a.state_dict())
        assert f["0.weight"].dtype == dtype and f["1.num_batches_tracked"].dtype == np.int64
    x = dev(np.ones((3, 4), dtype=dtype))
    a.eval(), b.eval()
    assert (backend.asnumpy(a(x)) == backend.asnumpy(b(x))).all()


def test_keys_and_shapes_are_torchs(tmp_path, torch):
    a = _model(np.float64)
    path = tmp_path / "m.npz"
    checkpoint.save(a, str(path))
    t = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5), torch.nn.ReLU(),
                            torch.nn.Linear(5, 2)).double()
    with np.load(path, allow_pickle=False) as f:
        t.load_state_dict({k: torch.tensor(f[k]) for k in f.files})   # strict: same keys and shapes
    t.eval(), a.eval()
    x = np.random.default_rng(1).normal(size=(3, 4))
    assert_close(a(dev(x)), t(torch.tensor(x)), what="outputs after loading into torch")


def test_atomic_write_leaves_the_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    checkpoint.save(_fresh(), path)
    before = path.read_bytes()
    real = np.lib.format.write_array
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(_model(), path)
    assert path.read_bytes() == before                   # the old checkpoint is untouched
    assert os.listdir(tmp_path) == ["ckpt.npz"]          # and no temporary file is left behind


def test_save_refuses_object_arrays_and_leaves_nothing(tmp_path):
    m = nnref.Linear(2, 2)
    m.register_buffer("note", np.array(["a", None], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        checkpoint.save(m, tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


def _saved(tmp_path):
    path = tmp_path / "good.npz"
    checkpoint.save(_model(), path)
    return path


@pytest.mark.parametrize("damage", ["truncated", "flipped", "empty", "text", "npy"])
def test_damaged_files_are_refused_with_the_file_name(tmp_path, damage):
    data = _saved(tmp_path).read_bytes()
    bad = tmp_path / "bad.npz"
    if damage == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":
        raw = bytearray(data)
        raw[200:260] = bytes(b ^ 0xFF for b in raw[200:260])   # inside the first array's data
        bad.write_bytes(bytes(raw))
    elif damage == "empty":
        bad.write_bytes(b"")
    elif damage == "text":
        bad.write_text("not a checkpoint")
    else:
        with open(bad, "wb") as f:
            np.save(f, np.ones(3))
    m = _fresh()
    before = {k: backend.asnumpy(v).copy() for k, v in m.state_dict().items()}
    with pytest.raises(ValueError, match="bad.npz"):
        checkpoint.load(m, bad)
    for k, v in m.state_dict().items():      # nothing was half-loaded
        assert (backend.asnumpy(v) == before[k]).all()


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        checkpoint.load(_fresh(), tmp_path / "nope.npz")


class _Boom:
    triggered = False

    def __reduce__(self):
        return (_Boom._trigger, ())

    @staticmethod
    def _trigger():
        _Boom.triggered = True
        return "pwned"


def test_pickled_object_arrays_are_never_loaded(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{"weight": np.array([_Boom()], dtype=object), "bias": np.zeros(2)})
    _Boom.triggered = False
    with pytest.raises(ValueError, match="evil.npz.*object array"):
        checkpoint.load(nnref.Linear(2, 2), path)
    assert not _Boom.triggered


def test_wrong_shape_names_the_key_and_file(tmp_path):
    path = tmp_path / "wide.npz"
    checkpoint.save(nnref.Linear(3, 2), path)
    with pytest.raises(ValueError, match=r"wide.npz.*'weight' has shape \(2, 3\), expected \(2, 4\) for Linear"):
        checkpoint.load(nnref.Linear(4, 2), path)


def test_a_wrong_shape_anywhere_loads_nothing(tmp_path):
    path = tmp_path / "head.npz"
    checkpoint.save(nnref.Sequential(nnref.Linear(3, 4), nnref.ReLU(), nnref.Linear(4, 5)), path)
    target = nnref.Sequential(nnref.Linear(3, 4), nnref.ReLU(), nnref.Linear(4, 2))   # same first layer
    before = {k: backend.asnumpy(v).copy() for k, v in target.state_dict().items()}
    with pytest.raises(ValueError, match=r"'2.weight' has shape \(5, 4\), expected \(2, 4\)"):
        checkpoint.load(target, path)
    for k, v in target.state_dict().items():
        assert (backend.asnumpy(v) == before[k]).all(), f"{k} was changed by a failed load"


def test_missing_and_unexpected_keys(tmp_path):
    path = tmp_path / "nobias.npz"
    checkpoint.save(nnref.Linear(3, 2, bias=False), path)
    with pytest.raises(KeyError, match=r"nobias.npz.*missing keys \['bias'\]"):
        checkpoint.load(nnref.Linear(3, 2), path)
    target = nnref.Linear(3, 2)
    checkpoint.load(target, path, strict=False)          # only the weight is loaded
    with np.load(path) as f:
        assert (backend.asnumpy(target.weight.data) == f["weight"]).all()
    path2 = tmp_path / "extra.npz"
    checkpoint.save(nnref.Linear(3, 2), path2)
    with pytest.raises(KeyError, match=r"unexpected keys \['bias'\]"):
        checkpoint.load(nnref.Linear(3, 2, bias=False), path2)


def test_load_casts_to_the_modules_dtype(tmp_path):
    path = tmp_path / "f64.npz"
    a = nnref.Linear(3, 2, dtype=np.float64)
    checkpoint.save(a, path)
    b = nnref.Linear(3, 2, dtype=np.float32)
    checkpoint.load(b, path)
    assert b.weight.dtype == np.float32
    assert_close(b.weight.data, backend.asnumpy(a.weight.data).astype(np.float32), rtol=0, atol=0)


def test_load_state_returns_host_arrays_in_file_order(tmp_path):
    path = _saved(tmp_path)
    state = checkpoint.load_state(path)
    assert list(state) == list(_model().state_dict())
    assert all(type(v) is np.ndarray for v in state.values())
    with zipfile.ZipFile(path) as zf:      # stored, not compressed: one .npy per key
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        assert [i.filename for i in zf.infolist()] == [f"{k}.npy" for k in state]


def test_a_bad_array_anywhere_loads_nothing(tmp_path):
    """Every array is checked and converted before the first is written: a non-numeric last array
    leaves the module as it was, and the message names the key and the file."""
    src = nnref.Sequential(nnref.Linear(3, 4), nnref.ReLU(), nnref.Linear(4, 2))
    state = {k: backend.asnumpy(v) for k, v in src.state_dict().items()}
    state["2.bias"] = np.array(["a", "b"])
    path = tmp_path / "text.npz"
    np.savez(path, **state)
    target = nnref.Sequential(nnref.Linear(3, 4), nnref.ReLU(), nnref.Linear(4, 2))
    before = {k: backend.asnumpy(v).copy() for k, v in target.state_dict().items()}
    with pytest.raises(TypeError, match=r"text.npz.*key '2.bias' holds <U1, expected numbers"):
        checkpoint.load(target, path)
    for k, v in target.state_dict().items():
        assert (backend.asnumpy(v) == before[k]).all(), f"{k} was changed by a failed load"


def test_a_conversion_failure_midway_loads_nothing(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    checkpoint.save(_model(), path)
    target = _fresh()
    before = {k: backend.asnumpy(v).copy() for k, v in target.state_dict().items()}
    calls = []
    real = backend.to_backend

    def flaky(a, name=None, dtype=None):
        calls.append(1)
        if len(calls) == 3:
            raise MemoryError("simulated")
        return real(a, name, dtype)

    monkeypatch.setattr(backend, "to_backend", flaky)
    with pytest.raises(MemoryError):
        checkpoint.load(target, path)
    monkeypatch.undo()
    for k, v in target.state_dict().items():
        assert (backend.asnumpy(v) == before[k]).all(), f"{k} was changed by a failed load"


def test_saving_into_a_missing_directory_names_the_target(tmp_path):
    path = tmp_path / "no" / "such" / "model.npz"
    with pytest.raises(FileNotFoundError, match=r"cannot write .*model\.npz.*does not exist") as info:
        checkpoint.save(nnref.Linear(2, 2), path)
    assert ".tmp" not in str(info.value)


def test_a_directory_or_no_module_is_named(tmp_path):
    with pytest.raises(IsADirectoryError, match=r"checkpoint.save: cannot write .*: it is a directory") as info:
        checkpoint.save(nnref.Linear(2, 2), tmp_path)
    assert ".tmp" not in str(info.value)
    for call in (lambda: checkpoint.save(None, tmp_path / "m.npz"), lambda: checkpoint.load(None, tmp_path / "m.npz")):
        with pytest.raises(TypeError, match=r"checkpoint\.(save|load): expected an nnref Module, got NoneType"):
            call()


def test_key_and_shape_errors_are_also_torchs_runtime_error(tmp_path):
    """``load`` keeps load_state_dict's classes (KeyError or ValueError, and RuntimeError as torch)
    and returns the module, strict or not."""
    path = tmp_path / "nobias.npz"
    checkpoint.save(nnref.Linear(3, 2, bias=False), path)
    with pytest.raises(StateDictKeyError, match=r"^checkpoint .*nobias.npz.*missing keys \['bias'\]") as info:
        checkpoint.load(nnref.Linear(3, 2), path)
    assert isinstance(info.value, KeyError) and isinstance(info.value, RuntimeError)
    with pytest.raises(StateDictShapeError, match=r"nobias.npz.*'weight' has shape \(2, 3\)") as info:
        checkpoint.load(nnref.Linear(4, 2, bias=False), path)
    assert isinstance(info.value, ValueError) and isinstance(info.value, RuntimeError)
    target = nnref.Linear(3, 2)
    assert checkpoint.load(target, path, strict=False) is target
