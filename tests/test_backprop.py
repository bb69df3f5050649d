"""Backpropagation through a whole network (docs/neural-network/backprop.md).

The by-hand chain of pure functions, ``Sequential.backward`` and a few steps of the training
loop are compared with PyTorch's autograd on the same weights, in float64.
"""
import numpy as np
import pytest

import nnref
from nnref.gradcheck import GradcheckError, gradcheck
from nnref.layers.activation import relu_backward, relu_forward, tanh_backward, tanh_forward
from nnref.layers.linear import linear_backward, linear_forward
from nnref.layers.losses import (cross_entropy_backward, cross_entropy_forward, mse_backward, mse_forward,
                          target_distribution)
from tests.parity import assert_close, dev, load_from_torch

ACTIVATIONS = {"tanh": (tanh_forward, tanh_backward), "relu": (relu_forward, relu_backward)}


def _torch_two_layer(torch, n_in, n_hidden, n_out, act):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(n_in, n_hidden), act(), torch.nn.Linear(n_hidden, n_out)).double()


@pytest.mark.parametrize("act", ["tanh", "relu"])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_chain_rule_by_hand_matches_torch_autograd(torch, act, loss):
    rng = np.random.default_rng(0)
    n, n_in, n_hidden, n_out = 7, 3, 5, 4
    x = rng.normal(size=(n, n_in))
    target = rng.normal(size=(n, n_out)) if loss == "mse" else rng.integers(0, n_out, size=n)
    ref = _torch_two_layer(torch, n_in, n_hidden, n_out, {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[act])
    xt = torch.tensor(x, requires_grad=True)
    out = ref(xt)
    lt = (torch.nn.functional.mse_loss(out, torch.tensor(target)) if loss == "mse"
          else torch.nn.functional.cross_entropy(out, torch.tensor(target)))
    lt.backward()

    W1, b1, W2, b2 = (dev(p.detach().numpy()) for p in ref.parameters())
    fwd, bwd = ACTIVATIONS[act]
    z1, c1 = linear_forward(dev(x), W1, b1)
    h, c2 = fwd(z1)
    out, c3 = linear_forward(h, W2, b2)
    if loss == "mse":
        value, c4 = mse_forward(out, dev(target))
        dout = mse_backward(1.0, c4)
    else:
        q, _ = target_distribution(dev(target), n_out)
        value, c4 = cross_entropy_forward(out, q)
        dout = cross_entropy_backward(1.0, c4)
    dh, dW2, db2 = linear_backward(dout, c3)
    dz1 = bwd(dh, c2)
    dx, dW1, db1 = linear_backward(dz1, c1)

    assert float(value) == pytest.approx(lt.item(), rel=1e-12)
    for name, mine, theirs in [("dx", dx, xt.grad), ("dW1", dW1, ref[0].weight.grad),
                               ("db1", db1, ref[0].bias.grad), ("dW2", dW2, ref[2].weight.grad),
                               ("db2", db2, ref[2].bias.grad)]:
        assert_close(mine, theirs, what=name)


def test_sequential_backward_runs_in_reverse_and_matches_torch(torch):
    torch.manual_seed(1)
    ref = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Sigmoid(), torch.nn.Linear(6, 5),
                              torch.nn.GELU(), torch.nn.Linear(5, 2)).double()
    model = nnref.Sequential(nnref.Linear(4, 6, dtype=np.float64), nnref.Sigmoid(),
                             nnref.Linear(6, 5, dtype=np.float64), nnref.GELU(),
                             nnref.Linear(5, 2, dtype=np.float64))
    load_from_torch(model, ref)
    rng = np.random.default_rng(2)
    x, dy = rng.normal(size=(3, 4)), rng.normal(size=(3, 2))
    xt = torch.tensor(x, requires_grad=True)
    ref(xt).backward(torch.tensor(dy))
    model(dev(x))
    dx = model.backward(dev(dy))
    assert_close(dx, xt.grad, what="input gradient")
    for (name, p), (tname, tp) in zip(model.named_parameters(), ref.named_parameters()):
        assert name == tname
        assert_close(p.grad, tp.grad, what=f"gradient of {name}")


def test_gradients_accumulate_until_zero_grad_like_torch(torch):
    torch.manual_seed(3)
    ref = torch.nn.Linear(3, 2).double()
    layer = load_from_torch(nnref.Linear(3, 2, dtype=np.float64), ref)
    rng = np.random.default_rng(3)
    batches = [(rng.normal(size=(4, 3)), rng.normal(size=(4, 2))) for _ in range(3)]
    for x, dy in batches:
        ref(torch.tensor(x)).backward(torch.tensor(dy))
        layer(dev(x))
        layer.backward(dev(dy))
    assert_close(layer.weight.grad, ref.weight.grad, what="accumulated weight gradient")
    assert_close(layer.bias.grad, ref.bias.grad, what="accumulated bias gradient")
    layer.zero_grad()
    assert not nnref.asnumpy(layer.weight.grad).any() and not nnref.asnumpy(layer.bias.grad).any()


def test_training_loop_follows_torch_sgd(torch):
    """The page's loop (zero_grad, forward, backward, step) takes torch's exact trajectory."""
    xs = np.linspace(-3, 3, 16).reshape(-1, 1)
    ys = np.sin(xs)
    ref = _torch_two_layer(torch, 1, 8, 1, torch.nn.Tanh)
    model = nnref.Sequential(nnref.Linear(1, 8, dtype=np.float64), nnref.Tanh(),
                             nnref.Linear(8, 1, dtype=np.float64))
    load_from_torch(model, ref)
    opt_t = torch.optim.SGD(ref.parameters(), lr=0.1)
    opt = nnref.SGD(model.parameters(), lr=0.1)
    loss_fn = nnref.MSELoss()
    losses, losses_t = [], []
    for _ in range(25):
        opt_t.zero_grad()
        lt = torch.nn.functional.mse_loss(ref(torch.tensor(xs)), torch.tensor(ys))
        lt.backward()
        opt_t.step()
        losses_t.append(lt.item())

        opt.zero_grad()
        loss = loss_fn(model(dev(xs)), dev(ys))
        model.backward(loss_fn.backward())
        opt.step()
        losses.append(loss)
    np.testing.assert_allclose(losses, losses_t, rtol=1e-10)
    assert losses[-1] < losses[0]
    for (name, p), tp in zip(model.named_parameters(), ref.parameters()):
        assert_close(p.data, tp, rtol=1e-9, atol=1e-12, what=f"{name} after 25 steps")


def test_gradcheck_of_a_two_layer_network_and_a_broken_one():
    x = np.random.default_rng(4).normal(size=(6, 2))
    net = nnref.Sequential(nnref.Linear(2, 5, dtype=np.float64), nnref.Tanh(), nnref.Linear(5, 1, dtype=np.float64))
    assert gradcheck(net, dev(x))

    class NoTanhDerivative(nnref.Tanh):
        def _backward(self, dy, y):
            return dy  # forgets the factor 1 - y^2

    broken = nnref.Sequential(nnref.Linear(2, 5, dtype=np.float64), NoTanhDerivative(),
                              nnref.Linear(5, 1, dtype=np.float64))
    with pytest.raises(GradcheckError, match="Sequential: gradient of"):
        gradcheck(broken, dev(x))


def test_backward_before_forward_names_the_layer():
    model = nnref.Sequential(nnref.Linear(2, 3), nnref.ReLU(), nnref.Linear(3, 1))
    with pytest.raises(RuntimeError, match=r"^Linear\.backward called before forward"):
        model.backward(dev(np.ones((1, 1), dtype=np.float32)))
