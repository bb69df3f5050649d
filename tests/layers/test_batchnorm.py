import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import nnref
from nnref.gradcheck import gradcheck
from nnref.layers.batchnorm import batchnorm_backward, batchnorm_forward
from tests.parity import assert_close, dev, load_from_torch

CASES = [  # (nnref class, torch class name, input shape)
    (nnref.BatchNorm1d, "BatchNorm1d", (6, 3)),
    (nnref.BatchNorm1d, "BatchNorm1d", (4, 3, 5)),
    (nnref.BatchNorm2d, "BatchNorm2d", (2, 3, 4, 5)),
]


def _pair(torch, cls, tname, momentum=0.1):
    ref = getattr(torch.nn, tname)(3, momentum=momentum).double()
    torch.nn.init.uniform_(ref.weight, 0.5, 1.5)    # non-trivial γ and β
    torch.nn.init.uniform_(ref.bias, -1.0, 1.0)
    return load_from_torch(cls(3, momentum=momentum, dtype=np.float64), ref), ref


def _step(torch, m, ref, x, dy):
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    yt.backward(torch.tensor(dy))
    y = m(dev(x))
    dx = m.backward(dev(dy))
    return y, dx, yt, xt.grad


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("cls, tname, shape", CASES)
def test_train_steps_match_torch(torch, cls, tname, shape, momentum):
    """Several training steps: output, all gradients, running statistics, num_batches_tracked."""
    m, ref = _pair(torch, cls, tname, momentum)
    rng = np.random.default_rng(1)
    for step in range(3):
        x = rng.normal(size=shape) * (step + 1) + 2.0 * step   # the statistics move between steps
        dy = rng.normal(size=shape)
        y, dx, yt, dxt = _step(torch, m, ref, x, dy)
        assert_close(y, yt, what=f"output, step {step}")
        assert_close(dx, dxt, rtol=1e-9, atol=1e-11, what=f"input gradient, step {step}")
        assert_close(m.weight.grad, ref.weight.grad, rtol=1e-9, what=f"weight gradient, step {step}")
        assert_close(m.bias.grad, ref.bias.grad, what=f"bias gradient, step {step}")
        for key, value in ref.state_dict().items():
            assert_close(m.state_dict()[key], value, what=f"{key}, step {step}")
    assert int(m.num_batches_tracked) == 3
    assert m.num_batches_tracked.dtype == np.int64 and m.num_batches_tracked.shape == ()
    assert list(m.state_dict()) == list(ref.state_dict())


@pytest.mark.parametrize("cls, tname, shape", CASES)
def test_eval_uses_running_statistics_like_torch(torch, cls, tname, shape):
    m, ref = _pair(torch, cls, tname)
    rng = np.random.default_rng(2)
    for _ in range(2):   # fill the running statistics with something other than 0 and 1
        x = rng.normal(size=shape) * 3 + 1
        _step(torch, m, ref, x, np.ones(shape))
    m.eval(), ref.eval()
    m.zero_grad(), ref.zero_grad()
    x, dy = rng.normal(size=shape), rng.normal(size=shape)
    y, dx, yt, dxt = _step(torch, m, ref, x, dy)
    assert_close(y, yt, what="eval output")
    assert_close(dx, dxt, what="eval input gradient")
    assert_close(m.weight.grad, ref.weight.grad, what="eval weight gradient")
    assert_close(m.bias.grad, ref.bias.grad, what="eval bias gradient")
    assert int(m.num_batches_tracked) == 2   # eval does not count
    assert_close(m.running_var, ref.running_var, what="running_var unchanged in eval")


def test_load_torch_state_dict_into_float32(torch):
    ref = torch.nn.BatchNorm2d(4)
    ref(torch.randn(8, 4, 3, 3) * 2 + 1)   # non-default running statistics and a count of 1
    m = load_from_torch(nnref.BatchNorm2d(4), ref)
    assert m.running_mean.dtype == np.float32 and m.num_batches_tracked.dtype == np.int64
    assert int(m.num_batches_tracked) == 1
    for key, value in ref.state_dict().items():
        assert_close(m.state_dict()[key], value, rtol=1e-6, what=key)
    x = np.random.default_rng(3).normal(size=(2, 4, 3, 3)).astype(np.float32)
    ref.eval(), m.eval()
    assert_close(m(dev(x)), ref(torch.tensor(x)), rtol=1e-5, atol=1e-6, what="float32 eval output")


def test_defaults_match_torch(torch):
    m, ref = nnref.BatchNorm1d(5), torch.nn.BatchNorm1d(5)
    assert [(k, tuple(v.shape)) for k, v in m.state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
    for key, value in ref.state_dict().items():
        assert_close(m.state_dict()[key], value, what=key)
    assert [name for name, _ in m.named_parameters()] == ["weight", "bias"]
    assert m.weight.dtype == np.float32
    assert repr(m) == repr(ref)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("cls, shape", [(nnref.BatchNorm1d, (5, 3)), (nnref.BatchNorm1d, (3, 3, 2)),
                                        (nnref.BatchNorm2d, (2, 3, 2, 3))])
def test_gradcheck(cls, shape, training):
    m = cls(3, dtype=np.float64)
    rng = np.random.default_rng(4)
    m.weight.data[...] = dev(rng.uniform(0.5, 1.5, 3))
    m.bias.data[...] = dev(rng.normal(size=3))
    m.running_mean[...] = dev(rng.normal(size=3))
    m.running_var[...] = dev(rng.uniform(0.5, 2.0, 3))
    m.train(training)
    # gradcheck runs forward many times; momentum 0 keeps the running statistics fixed in training
    m.momentum = 0.0
    assert gradcheck(m, dev(rng.normal(size=shape) * 2 + 1))


def test_backward_matches_naive_loop():
    """The compact dx formula against the chain rule written out term by term for one channel."""
    rng = np.random.default_rng(5)
    M, eps, g = 6, 1e-5, 1.7
    x, dy = rng.normal(size=(M, 1)), rng.normal(size=(M, 1))
    _, cache = batchnorm_forward(x, np.array([g]), np.array([0.3]), eps=eps)
    dx, _, _ = batchnorm_backward(dy, cache)
    mu = x.mean()
    var = ((x - mu) ** 2).mean()
    naive = np.zeros(M)
    for i in range(M):
        for j in range(M):
            # d y_j / d x_i = g * (δ_ij - 1/M) / σ - g (x_j - μ)(x_i - μ) / (M σ³)
            s = np.sqrt(var + eps)
            d = g * ((i == j) - 1 / M) / s - g * (x[j, 0] - mu) * (x[i, 0] - mu) / (M * s**3)
            naive[i] += dy[j, 0] * d
    np.testing.assert_allclose(dx[:, 0], naive, rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 4), c=st.integers(1, 3), h=st.integers(1, 3), w=st.integers(1, 3))
def test_train_output_is_normalised_per_channel(n, c, h, w):
    x = np.random.default_rng(n * 100 + c * 10 + h).normal(size=(n, c, h, w)) * 5 + 3
    m = nnref.BatchNorm2d(c, eps=1e-12, dtype=np.float64)
    y = nnref.asnumpy(m(dev(x)))
    assert y.shape == x.shape
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-9)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-6)
    np.testing.assert_allclose(nnref.asnumpy(m.running_var),
                               0.9 + 0.1 * x.var(axis=(0, 2, 3), ddof=1), rtol=1e-12)


def test_dtype_follows_input():
    m = nnref.BatchNorm2d(2)
    x = dev(np.random.default_rng(6).normal(size=(3, 2, 2, 2)))
    for dtype in (np.float32, np.float64):
        y = m(x.astype(dtype))
        assert y.dtype == dtype
        assert m.backward(y).dtype == dtype
    assert m.weight.grad.dtype == np.float32 and m.running_mean.dtype == np.float32


def test_single_value_per_channel_is_an_error_in_training_only(torch):
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        torch.nn.BatchNorm1d(3)(torch.ones(1, 3))
    m = nnref.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected more than 1 value per channel "
                                         r"when training, got input of shape \(1, 3\)"):
        m(dev(np.ones((1, 3), np.float32)))
    assert int(m.num_batches_tracked) == 0   # a refused batch is not counted
    with pytest.raises(ValueError, match="BatchNorm2d: expected more than 1 value per channel"):
        nnref.BatchNorm2d(3)(dev(np.ones((1, 3, 1, 1), np.float32)))
    nnref.BatchNorm1d(3)(dev(np.ones((1, 3, 2), np.float32)))   # 2 values per channel: fine
    m.eval()
    assert m(dev(np.ones((1, 3), np.float32))).shape == (1, 3)
    m.train()
    m(dev(np.ones((0, 3), np.float32)))                          # no values at all: empty output, as torch
    with pytest.raises(ValueError, match="batchnorm_forward: expected more than 1 value"):
        batchnorm_forward(np.ones((1, 3)), np.ones(3), np.zeros(3))


def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected input of shape \(N, C\) or \(N, C, L\)"):
        nnref.BatchNorm1d(3)(dev(np.ones((2, 3, 4, 5), np.float32)))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected input of shape \(N, C, H, W\)"):
        nnref.BatchNorm2d(3)(dev(np.ones((2, 3), np.float32)))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 3 channels \(axis 1\), got 4"):
        nnref.BatchNorm2d(3)(dev(np.ones((2, 4, 2, 2), np.float32)))
    with pytest.raises(TypeError, match="BatchNorm1d: expected a floating-point array"):
        nnref.BatchNorm1d(3)(dev(np.ones((2, 3), np.int32)))
    with pytest.raises(RuntimeError, match="BatchNorm2d.backward called before forward"):
        nnref.BatchNorm2d(3).backward(dev(np.ones((2, 3, 2, 2), np.float32)))
    with pytest.raises(ValueError, match="BatchNorm1d: num_features must be greater than zero"):
        nnref.BatchNorm1d(0)
    with pytest.raises(ValueError, match="BatchNorm2d: momentum must lie in"):
        nnref.BatchNorm2d(3, momentum=1.5)
    with pytest.raises(ValueError, match="BatchNorm2d: eps must be > 0"):
        nnref.BatchNorm2d(3, eps=0)
    with pytest.raises(TypeError, match="BatchNorm1d: momentum must be a number, got 'a'"):
        nnref.BatchNorm1d(3, momentum="a")          # at construction, not inside the first forward
    with pytest.raises(TypeError, match="BatchNorm1d: eps must be a number, got None"):
        nnref.BatchNorm1d(3, eps=None)
    with pytest.raises(ValueError, match="'running_var' has shape"):
        sd = dict(nnref.BatchNorm1d(3).state_dict(), running_var=np.ones(4))
        nnref.BatchNorm1d(3).load_state_dict(sd)


def test_exported_from_both_places():
    assert nnref.layers.BatchNorm1d is nnref.BatchNorm1d
    assert nnref.layers.BatchNorm2d is nnref.BatchNorm2d


@pytest.mark.parametrize("affine, bias", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("track", [True, False])
@pytest.mark.parametrize("cls, tname, shape", CASES)
def test_affine_bias_and_track_running_stats_options_match_torch(torch, cls, tname, shape, affine, bias, track):
    """affine=False: no weight/bias; bias=False: no bias; track_running_stats=False: no buffers,
    and evaluation normalises by the batch too. Same state_dict keys, outputs, gradients, repr."""
    ref = getattr(torch.nn, tname)(3, affine=affine, track_running_stats=track, bias=bias).double()
    if affine:
        torch.nn.init.uniform_(ref.weight, 0.5, 1.5)
    if ref.bias is not None:
        torch.nn.init.uniform_(ref.bias, -1.0, 1.0)
    m = load_from_torch(cls(3, affine=affine, track_running_stats=track, dtype=np.float64, bias=bias), ref)
    assert list(m.state_dict()) == list(ref.state_dict())
    assert repr(m) == repr(ref)
    rng = np.random.default_rng(4)
    for training in (True, False):
        m.train(training), ref.train(training)
        m.zero_grad(), ref.zero_grad()
        x, dy = rng.normal(size=shape) * 2 + 1, rng.normal(size=shape)
        y, dx, yt, dxt = _step(torch, m, ref, x, dy)
        assert_close(y, yt, what=f"output, training={training}")
        assert_close(dx, dxt, rtol=1e-9, atol=1e-11, what=f"input gradient, training={training}")
        if affine:
            assert_close(m.weight.grad, ref.weight.grad, rtol=1e-9, what="weight gradient")
        if ref.bias is not None:
            assert_close(m.bias.grad, ref.bias.grad, what="bias gradient")
        for key, value in ref.state_dict().items():
            assert_close(m.state_dict()[key], value, what=key)
    assert (m.weight is None) == (not affine) and (m.bias is None) == (ref.bias is None)
    assert (m.running_mean is None) == (not track)



@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("cls, tname, shape", [(nnref.BatchNorm1d, "BatchNorm1d", (0, 3)),
                                               (nnref.BatchNorm1d, "BatchNorm1d", (0, 3, 4)),
                                               (nnref.BatchNorm1d, "BatchNorm1d", (2, 3, 0)),
                                               (nnref.BatchNorm2d, "BatchNorm2d", (0, 3, 2, 2))])
def test_empty_batch_like_torch(torch, cls, tname, shape, training):
    """torch returns an empty output, leaves the running statistics alone, still counts the batch
    in training, and gives zero weight and bias gradients."""
    m, ref = _pair(torch, cls, tname)
    m.train(training), ref.train(training)
    x, dy = np.zeros(shape), np.zeros(shape)
    y, dx, yt, dxt = _step(torch, m, ref, x, dy)
    assert y.shape == dx.shape == shape
    assert_close(m.weight.grad, ref.weight.grad, what="weight gradient")
    assert_close(m.bias.grad, ref.bias.grad, what="bias gradient")
    for key, value in ref.state_dict().items():
        assert_close(m.state_dict()[key], value, what=key)


@pytest.mark.parametrize("training", [True, False])
def test_float16_statistics_accumulate_in_float32_like_torch(torch, training):
    """Squares of float16 values near 1000 overflow float16 (max 65504): torch accumulates the
    statistics in float32 and returns float16; so does nnref, running statistics included."""
    ref = torch.nn.BatchNorm2d(3)
    m = load_from_torch(nnref.BatchNorm2d(3), ref)
    m.train(training), ref.train(training)
    rng = np.random.default_rng(7)
    if not training:   # running statistics of the large data first
        for mod in (m, ref):
            mod.train()
        x0 = (rng.normal(size=(4, 3, 5, 5)) * 300 + 1000).astype(np.float16)
        m(dev(x0)), ref(torch.tensor(x0))
        m.eval(), ref.eval()
    x = (rng.normal(size=(4, 3, 5, 5)) * 300 + 1000).astype(np.float16)
    dy = rng.normal(size=x.shape).astype(np.float16)
    y, dx, yt, dxt = _step(torch, m, ref, x, dy)
    assert y.dtype == dx.dtype == np.float16
    assert np.isfinite(nnref.asnumpy(y)).all()
    assert_close(y.astype(np.float32), yt.float(), rtol=2e-3, atol=2e-3, what="float16 output")
    assert_close(dx.astype(np.float32), dxt.float(), rtol=2e-3, atol=2e-3, what="float16 input gradient")
    assert_close(m.weight.grad, ref.weight.grad, rtol=2e-3, atol=2e-2, what="weight gradient")
    for key in ("running_mean", "running_var"):
        assert m.state_dict()[key].dtype == np.float32
        assert_close(m.state_dict()[key], ref.state_dict()[key], rtol=1e-3, what=key)


def test_device_and_dtype_arguments():
    m = nnref.BatchNorm2d(3, 1e-5, 0.1, True, True, "cpu", np.float64)
    assert isinstance(m.weight.data, np.ndarray) and m.weight.dtype == np.float64
    assert m.running_var.dtype == np.float64 and m.num_batches_tracked.dtype == np.int64
    assert nnref.BatchNorm1d(3).running_mean.dtype == np.float32      # dtype=None: float32
    with pytest.raises(TypeError, match="BatchNorm1d: dtype must be a floating-point dtype"):
        nnref.BatchNorm1d(3, dtype=np.int32)
    with pytest.raises(ValueError, match="BatchNorm2d: device must be None, 'cpu', 'cuda'"):
        nnref.BatchNorm2d(3, device="tpu")


def test_empty_or_unchecked_channels_follow_torch(torch):
    """torch returns any empty input unchanged (whatever its channel count, counting the batch in
    training), and without affine parameters or running statistics it accepts any channel count."""
    for training in (True, False):
        m, ref = nnref.BatchNorm1d(7), torch.nn.BatchNorm1d(7)
        m.train(training), ref.train(training)
        y = m(dev(np.zeros((4, 0), np.float32)))
        assert y.shape == tuple(ref(torch.zeros(4, 0)).shape) == (4, 0)
        assert int(m.num_batches_tracked) == int(ref.num_batches_tracked)
        assert m.backward(y).shape == (4, 0) and float(abs(m.weight.grad).sum()) == 0
    plain = nnref.BatchNorm2d(3, affine=False, track_running_stats=False)
    x = np.random.default_rng(8).normal(size=(2, 5, 3, 3))
    yt = torch.nn.BatchNorm2d(3, affine=False, track_running_stats=False)(torch.tensor(x))
    assert_close(plain(dev(x)), yt, what="5 channels through BatchNorm2d(3) without parameters or buffers")


def test_a_state_dict_without_num_batches_tracked_loads_as_in_torch(torch):
    """torch fills in a missing num_batches_tracked (state dicts from before it existed) with the
    module's own count, inside a Sequential too; nothing is reported missing."""
    ref = torch.nn.Sequential(torch.nn.BatchNorm1d(3), torch.nn.ReLU())
    ref.train()(torch.randn(4, 3))                  # count 1
    ours = nnref.Sequential(nnref.BatchNorm1d(3), nnref.ReLU())
    ours(dev(np.ones((4, 3), np.float32)) * dev(np.arange(4.0, dtype=np.float32)[:, None]))
    sd = {k: v.numpy() for k, v in ref.state_dict().items() if not k.endswith("num_batches_tracked")}
    sd["0.running_mean"] = sd["0.running_mean"] + 1
    theirs, result = ref.load_state_dict({k: torch.tensor(v) for k, v in sd.items()}), ours.load_state_dict(sd)
    assert (result.missing_keys, result.unexpected_keys) == (theirs.missing_keys, theirs.unexpected_keys) == ([], [])
    assert int(ours[0].num_batches_tracked) == int(ref[0].num_batches_tracked) == 1
    assert_close(ours[0].running_mean, ref[0].running_mean, what="running_mean loaded")
    assert "0.num_batches_tracked" not in sd                  # the caller's dict is left alone
