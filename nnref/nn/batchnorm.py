r"""``torch.nn.BatchNorm1d`` and ``BatchNorm2d``: parameters, running statistics and checks around
:mod:`nnref.layers.batchnorm`; they run its equal but faster twin :mod:`nnref.fast.batchnorm`."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..backend import get_array_module
from ..checks import (backward_cache, check_float, check_int, check_ndim, check_real, check_size, compute_dtype,
                      param_dtype)
from ..fast import batchnorm as fast
from ..layers.batchnorm import BatchNormCache
from ..module import Module, Parameter


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d; they differ only in the input layouts they accept."""

    _ndims: tuple = ()
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-05, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None, dtype=None, *,
                 bias: bool = True):
        super().__init__()
        who = type(self).__name__
        num_features = check_int(num_features, "num_features", who, 1)
        if not check_real(eps, "eps", who) > 0:          # torch refuses eps <= 0 when training
            raise ValueError(f"{who}: eps must be > 0, got {eps}")
        if momentum is not None and not 0.0 <= check_real(momentum, "momentum", who) <= 1.0:
            raise ValueError(f"{who}: momentum must lie in [0, 1] (or be None for a cumulative "
                             f"average), got {momentum}")
        dtype = param_dtype(dtype, who)
        name = backend.device_backend(device, who)
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        C = self.num_features

        def const(value, dt=dtype, shape=(C,)):
            return backend.to_backend(np.full(shape, value, dtype=dt), name)

        # affine=False: no γ, β (fixed at 1 and 0); bias=False: no β; track_running_stats=False:
        # no running statistics, the batch's own are used in evaluation too. All as in PyTorch,
        # where the missing entries are None and absent from state_dict.
        self.register_parameter("weight", Parameter(const(1.0)) if affine else None)          # γ
        self.register_parameter("bias", Parameter(const(0.0)) if affine and bias else None)   # β
        if track_running_stats:
            self.register_buffer("running_mean", const(0.0))
            self.register_buffer("running_var", const(1.0))
            self.register_buffer("num_batches_tracked", const(0, np.int64, ()))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None
        self._cache = None

    def forward(self, input):
        x, who = input, type(self).__name__
        check_float(x, who)
        check_ndim(x, who, self._ndims, self._layout)
        xp = get_array_module(x, *(p.data for p in self.parameters()), self.running_mean)  # one device
        if x.size == 0:     # torch returns any empty input as it is, whatever its channel count
            if self.training and self.track_running_stats:
                self.num_batches_tracked[...] += 1          # and counts it, statistics unchanged
            self._cache = (BatchNormCache(x, None, None, False), x.shape, x.dtype)
            return x.copy()
        if self.affine or self.track_running_stats:   # else nothing has C entries: torch takes any C
            check_size(x, who, 1, self.num_features, "channels")
        C = x.shape[1]
        batch_stats = self.training or not self.track_running_stats
        if batch_stats and x.size == C:
            raise ValueError(f"{who}: expected more than 1 value per channel when training, "
                             f"got input of shape {tuple(x.shape)}")
        factor = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked[...] += 1   # in place: assigning the attribute would unregister the buffer
            if factor is None:                   # momentum=None: cumulative average, as PyTorch
                factor = 1.0 / float(self.num_batches_tracked)
        dt = compute_dtype(x.dtype)       # float16 is normalised in float32, as torch does
        gamma = xp.ones(C, dtype=dt) if self.weight is None else self.weight.data.astype(dt, copy=False)
        beta = xp.zeros(C, dtype=dt) if self.bias is None else self.bias.data.astype(dt, copy=False)
        if batch_stats:                        # running statistics, if any, updated in place
            y, cache = fast.batchnorm_forward(x.astype(dt, copy=False), gamma, beta, self.running_mean,
                                              self.running_var, factor, self.eps, True)
        else:
            y, cache = fast.batchnorm_forward(x.astype(dt, copy=False), gamma, beta,
                                              self.running_mean.astype(dt), self.running_var.astype(dt),
                                              factor, self.eps, False)
        y = y.astype(x.dtype, copy=False)
        self._cache = (cache, y.shape, y.dtype)
        return y

    def backward(self, dy):
        cache, dy = backward_cache(self._cache, dy, type(self).__name__)
        if dy.size == 0:                         # an empty input: γ and β get zero gradients
            return dy.copy()
        dx, dgamma, dbeta = fast.batchnorm_backward(dy.astype(cache.x_hat.dtype, copy=False), cache)
        if self.weight is not None:
            self.weight.accumulate(dgamma)
        if self.bias is not None:
            self.bias.accumulate(dbeta)
        return dx.astype(dy.dtype, copy=False)

    def _state_defaults(self, state, prefix):
        # torch's rule for state dicts older than num_batches_tracked: keep the module's own count
        if self.num_batches_tracked is not None:
            state.setdefault(prefix + "num_batches_tracked", self.num_batches_tracked)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    r"""``torch.nn.BatchNorm1d(num_features, eps=1e-05, momentum=0.1, affine=True,
    track_running_stats=True, device=None, dtype=None, *, bias=True)`` for (N, C) or (N, C, L).

    Parameters ``weight`` (γ, ones) and ``bias`` (β, zeros), None with ``affine=False``
    (``bias`` also with ``bias=False``); buffers
    ``running_mean`` (zeros), ``running_var`` (ones) and ``num_batches_tracked`` (0-d int64),
    None with ``track_running_stats=False`` (then evaluation also normalises by the batch's
    own statistics); in PyTorch's ``state_dict`` order. ``momentum=None``: a cumulative average.
    float16 input is normalised in float32 and returned as float16, as torch does.
    """

    _ndims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    r"""``torch.nn.BatchNorm2d(num_features, eps=1e-05, momentum=0.1, affine=True,
    track_running_stats=True, device=None, dtype=None, *, bias=True)`` for (N, C, H, W);
    see BatchNorm1d."""

    _ndims = (4,)
    _layout = "(N, C, H, W)"
