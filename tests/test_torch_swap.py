"""Issue 11's promise, end to end: torch code runs unchanged with ``nn`` swapped for nnref.

The model definitions below are written once, for torch (positional and keyword arguments
mixed, as people write them). They are built with ``nn = torch.nn`` and with ``nn = nnref``,
the torch ``state_dict`` is loaded into nnref, and outputs, input gradients, parameter
gradients and a few optimiser steps must agree in float64.
"""
import numpy as np
import pytest

import nnref
from tests.parity import assert_close

TOL = dict(rtol=1e-8, atol=1e-10)


def cnn(nn, p_drop):
    return nn.Sequential(
        nn.Conv2d(3, 8, (3, 3), (1, 1), (1, 1), (1, 1), 1, True, "reflect", dtype=DTYPE[nn]),
        nn.BatchNorm2d(8, 1e-5, 0.1, True, True, dtype=DTYPE[nn]),
        nn.ReLU(True),
        nn.MaxPool2d(2, 2, 0, 1, False, True),
        nn.Conv2d(8, 8, 3, padding="same", groups=8, dilation=2, dtype=DTYPE[nn]),
        nn.LeakyReLU(0.1, False),
        nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False),
        nn.Flatten(1, -1),
        nn.Dropout(p_drop, False),
        nn.Linear(72, 10, True, dtype=DTYPE[nn]),
        nn.GELU("tanh"),
        nn.LayerNorm(10, 1e-5, True, True, dtype=DTYPE[nn]),
    )


DTYPE = {}


@pytest.fixture(autouse=True)
def _dtypes(torch):
    DTYPE[torch.nn] = torch.float64
    DTYPE[nnref] = np.float64


def _copy_state(torch, ref, ours):
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_a_torch_cnn_definition_runs_unchanged(torch, mode):
    torch.manual_seed(0)
    ref = cnn(torch.nn, 0.0 if mode == "train" else 0.4)      # dropout's masks are random in training
    ours = cnn(nnref, 0.0 if mode == "train" else 0.4)
    _copy_state(torch, ref, ours)
    ref.train(mode == "train")
    ours.train(mode == "train")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3, 9, 9))
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    y = ours(x)
    assert_close(y, yt, **TOL, what="output")
    dy = rng.normal(size=y.shape)
    yt.backward(torch.tensor(dy))
    assert_close(ours.backward(dy), xt.grad, **TOL, what="input gradient")
    theirs = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, theirs[name].grad, **TOL, what=f"{name} gradient")
    for name, b in ref.named_buffers():
        assert_close(np.asarray(ours.state_dict()[name], dtype=np.float64), b.double(), **TOL, what=name)


def test_loss_and_optimiser_positional_arguments_and_steps(torch):
    torch.manual_seed(0)
    ref, ours = cnn(torch.nn, 0.0), cnn(nnref, 0.0)
    _copy_state(torch, ref, ours)
    weight = np.linspace(0.5, 1.5, 10)
    loss_t = torch.nn.CrossEntropyLoss(torch.tensor(weight), None, 3, None, "mean", 0.1)
    loss_n = nnref.CrossEntropyLoss(weight, None, 3, None, "mean", 0.1)
    opt_t = torch.optim.Adam(ref.parameters(), 1e-2, (0.9, 0.99), 1e-8, 0.01, True)
    opt_n = nnref.Adam(ours.parameters(), 1e-2, (0.9, 0.99), 1e-8, 0.01, True)
    rng = np.random.default_rng(1)
    for step in range(3):
        x, target = rng.normal(size=(6, 3, 9, 9)), rng.integers(0, 10, 6)
        opt_t.zero_grad()
        lt = loss_t(ref(torch.tensor(x)), torch.tensor(target))
        lt.backward()
        opt_t.step()
        opt_n.zero_grad()
        ln = loss_n(ours(x), target)
        ours.backward(loss_n.backward())
        opt_n.step()
        assert abs(ln - lt.item()) < 1e-9, f"step {step}: loss {ln} vs {lt.item()}"
    theirs = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.data, theirs[name], **TOL, what=f"{name} after three Adam steps")


def test_a_torch_recurrent_definition_runs_unchanged(torch):
    torch.manual_seed(0)
    ref = torch.nn.LSTM(6, 8, 2, True, True, 0.0, True, 5, dtype=torch.float64)
    ours = nnref.LSTM(6, 8, 2, True, True, 0.0, True, 5, dtype=np.float64)
    _copy_state(torch, ref, ours)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 7, 6))                                # batch_first
    h0, c0 = rng.normal(size=(4, 3, 5)), rng.normal(size=(4, 3, 8))
    xt = torch.tensor(x, requires_grad=True)
    out_t, (h_t, c_t) = ref(xt, (torch.tensor(h0), torch.tensor(c0)))
    out, (h, c) = ours(x, (h0, c0))
    for a, b, what in ((out, out_t, "out"), (h, h_t, "h_n"), (c, c_t, "c_n")):
        assert_close(a, b, **TOL, what=what)
    d_out, dh, dc = (rng.normal(size=a.shape) for a in (out, h, c))
    (out_t * torch.tensor(d_out)).sum().add((h_t * torch.tensor(dh)).sum()).add(
        (c_t * torch.tensor(dc)).sum()).backward()
    assert_close(ours.backward(d_out, (dh, dc)), xt.grad, **TOL, what="input gradient")
    theirs = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, theirs[name].grad, **TOL, what=f"{name} gradient")
