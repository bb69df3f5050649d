"""One check for the three recurrent fast paths: fast forward/backward == the reference, float64."""
import numpy as np

from tests.parity import assert_close, dev


def assert_fast_equals_reference(fwd, bwd, fwd_fast, bwd_fast, T, B, I, H, gates, *, lstm=False,
                                 bias=True, d_state=True, seed=0, **kw):
    """Same inputs to both: outputs, final states, dx, initial-state gradients and every parameter
    gradient agree. Inputs are not changed by either path (both get the same arrays)."""
    rng = np.random.default_rng(seed)
    x = dev(rng.normal(size=(T, B, I)))
    weights = [dev(rng.normal(size=s) * 0.6) for s in [(gates * H, I), (gates * H, H)]]
    weights += [dev(rng.normal(size=gates * H)) for _ in range(2)] if bias else [None, None]
    state = tuple(dev(rng.normal(size=(B, H))) for _ in range(2 if lstm else 1))
    state = state if lstm else state[0]
    before = [a.copy() for a in (x, *weights) if a is not None]
    out, fin, cache = fwd(x, state, *weights, **kw)
    out_f, fin_f, cache_f = fwd_fast(x, state, *weights, **kw)
    assert_close(out_f, out, what="out")
    for a, e in zip(fin_f if lstm else [fin_f], fin if lstm else [fin]):
        assert_close(a, e, what="final state")
    d_out = dev(rng.normal(size=(T, B, H)))
    d_fin = tuple(dev(rng.normal(size=(B, H))) if d_state else None for _ in range(2 if lstm else 1))
    d_fin = d_fin if lstm else d_fin[0]
    got, want = bwd_fast(d_out, d_fin, cache_f), bwd(d_out, d_fin, cache)
    names = ["dx", "d_initial_state", "dW_ih", "dW_hh", "db_ih", "db_hh"]
    for name, a, e in zip(names, got, want):
        if name == "d_initial_state" and lstm:
            assert_close(a[0], e[0], what="dh0")
            assert_close(a[1], e[1], what="dc0")
        elif e is None:
            assert a is None, name
        else:
            assert_close(a, e, what=name)
    for a, b in zip([a for a in (x, *weights) if a is not None], before):
        assert_close(a, b, rtol=0, atol=0, what="an input left unchanged")
