"""Helpers for comparing nnref with torch.nn on the same weights and inputs."""
import numpy as np

from nnref.backend import asarray, asnumpy


def dev(a):
    """A host array moved to the default backend (NumPy or CuPy)."""
    return asarray(np.asarray(a))


def load_from_torch(module, torch_module):
    """Copy a torch module's state into ``module`` through ``load_state_dict`` (keys must match)."""
    module.load_state_dict({k: v.detach().cpu().numpy() for k, v in torch_module.state_dict().items()})
    return module


def assert_close(actual, expected, rtol=1e-10, atol=1e-12, what="value"):
    """``actual`` (NumPy, CuPy or torch) equals ``expected`` within tolerance, with a message naming ``what``."""
    a = _host(actual)
    e = _host(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    if a.dtype.kind == e.dtype.kind == "f":
        # assert_allclose's own test, in one pass (it takes ~1 s on AlexNet's 46 M weights); any
        # NaN or inf falls through to assert_allclose, which also writes the message on failure
        with np.errstate(invalid="ignore", over="ignore"):
            if (np.abs(a - e) <= atol + rtol * np.abs(e)).all():
                return
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=what)


def _host(a):
    if hasattr(a, "detach"):
        return a.detach().cpu().numpy()
    return asnumpy(a)


def torch_step(torch, ref, x, rng):
    """Run torch's ``ref`` on ``x`` (requiring grad) and backpropagate a ``dy`` drawn from ``rng``.

    Returns ``(xt, yt, dy)``: ``xt.grad`` and the parameters' ``.grad`` are then torch's gradients.
    """
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    dy = rng.normal(size=tuple(yt.shape))
    yt.backward(torch.tensor(dy))
    return xt, yt, dy


def assert_step_matches_torch(torch, m, ref, x, rng, rtol=1e-10, atol=1e-12):
    """nnref's ``m`` and torch's ``ref`` (same weights) on ``x`` and one random ``dy``: the
    output, the input gradient and every parameter's gradient (matched by name) agree.
    Returns ``(y, yt)`` for further checks."""
    xt, yt, dy = torch_step(torch, ref, x, rng)
    y = m(dev(x))
    assert_close(y, yt, rtol, atol, what="output")
    assert_close(m.backward(dev(dy)), xt.grad, rtol, atol, what="input gradient")
    theirs = dict(ref.named_parameters())
    for name, p in m.named_parameters():
        assert_close(p.grad, theirs[name].grad, rtol, atol, what=f"{name} gradient")
    return y, yt

