"""Normalization: layer_norm, group_norm, batch_norm (one primitive, `standardize`, then
an affine map) and normalize (a composite, as torch writes it).

standardize(x) = (x - mean) / sqrt(var + eps) over some dims, var the biased variance.
It is a primitive so that float16 inputs are normalized in float32 and rounded once, as
torch's kernels do (the composite would round x - mean in float16, which loses the
digits that the division by a small spread brings back). Its Jacobian is symmetric,

    J t = rstd * (t - mean(t) - out * mean(t * out)),    rstd = 1 / sqrt(var + eps),

so the VJP and the JVP are the same map, written in engine ops (out is the output
tensor itself, differentiable again). eps keeps it smooth where the spread is 0, but
its curvature grows as 1 / (var + eps) there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..dispatch import Primitive
from ..elementwise import clamp, rsqrt
from ..reductions import mean, norm
from ..shape import reshape
from ..tensor import Tensor

__all__ = ["layer_norm", "group_norm", "batch_norm", "normalize"]


def _standardize(x: np.ndarray, dim: tuple, eps: float) -> np.ndarray:
    centered = x - np.mean(x, axis=dim, keepdims=True)
    variance = np.mean(centered * centered, axis=dim, keepdims=True)
    return centered / np.sqrt(variance + eps)


def _rstd(x: np.ndarray, dim: tuple, eps: float) -> np.ndarray:
    centered = x - np.mean(x, axis=dim, keepdims=True)
    return 1 / np.sqrt(np.mean(centered * centered, axis=dim, keepdims=True) + eps)


def _jacobian_times(t: Tensor, out: Tensor, x: Tensor, dim: tuple, eps: float) -> Tensor:
    rstd = rstd_p(x, dim=dim, eps=eps)
    return rstd * (t - mean(t, dim, keepdim=True) - out * mean(t * out, dim, keepdim=True))


def _count(x: Tensor, dim: tuple) -> int:
    return math.prod(x.shape[d] for d in dim)


standardize_p = Primitive(
    "standardize",
    _standardize,
    vjp=lambda g, out, x, dim, eps: (_jacobian_times(g, out, x, dim, eps),),
    jvp=lambda ts, out, x, dim, eps: _jacobian_times(ts[0], out, x, dim, eps),
)
# rstd = 1 / sqrt(var + eps), kept dims; d rstd / dx = -rstd^2 standardize(x) / n. A
# primitive, so that its derivative is never formed as rsqrt's -rstd^3 / 2 (1 / eps^1.5
# = 3e7 overflows float16 where the spread is 0, and 0 * inf is NaN).
rstd_p = Primitive(
    "rstd",
    _rstd,
    vjp=lambda g, out, x, dim, eps: (
        -(g * out) * (standardize_p(x, dim=dim, eps=eps) * out) / _count(x, dim),
    ),
    jvp=lambda ts, out, x, dim, eps: (
        -(mean(standardize_p(x, dim=dim, eps=eps) * ts[0], dim, keepdim=True) * out) * out
    ),
)


def _affine(out: Tensor, weight: Tensor | None, bias: Tensor | None, shape: tuple) -> Tensor:
    """out * weight + bias, weight and bias reshaped to `shape` (they broadcast)."""
    if weight is not None:
        out = out * reshape(weight, shape)
    if bias is not None:
        out = out + reshape(bias, shape)
    return out


def layer_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Standardized over the trailing dims `normalized_shape`, then * weight + bias."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if input.shape[input.ndim - len(shape) :] != shape:
        raise RuntimeError(f"layer_norm: {shape} is not the trailing shape of {input.shape}")
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    return _affine(standardize_p(input, dim=dims, eps=eps), weight, bias, shape)


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Channels split into num_groups groups; each (sample, group) standardized over its
    channels and positions; then * weight + bias per channel."""
    n, c = input.shape[:2]
    if c % num_groups:
        raise RuntimeError(f"group_norm: {c} channels do not split into {num_groups} groups")
    per_group = input.data.size // max(n * num_groups, 1)
    if n * per_group == 1:  # torch's check, although such a group norm is just the bias
        raise ValueError(f"Expected more than 1 value per channel when training, got {input.shape}")
    grouped = reshape(input, (n, num_groups, per_group))
    out = reshape(standardize_p(grouped, dim=(2,), eps=eps), input.shape)
    return _affine(out, weight, bias, (c,) + (1,) * (input.ndim - 2))


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """training (or no running statistics): each channel standardized over the batch and
    positions, the running statistics (if given) updated in place like torch's; else
    normalized with the running statistics. Then * weight + bias per channel."""
    shape = (input.shape[1],) + (1,) * (input.ndim - 2)
    dims = (0, *range(2, input.ndim))
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm: running_mean and running_var needed when not training")
        scale = rsqrt(reshape(running_var, shape) + eps)
        return _affine((input - reshape(running_mean, shape)) * scale, weight, bias, shape)
    count = input.data.size // max(input.shape[1], 1)
    if count <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got {shape}")
    if running_mean is not None and running_var is not None:
        x = input.data.astype(np.float64)
        batch_var = np.var(x, axis=dims) * count / (count - 1)  # torch keeps the unbiased one
        for stat, value in ((running_mean, np.mean(x, axis=dims)), (running_var, batch_var)):
            stat.data[...] = (1 - momentum) * stat.data + momentum * value
    return _affine(standardize_p(input, dim=dims, eps=eps), weight, bias, shape)


def normalize(
    input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Any = None
) -> Tensor:
    """input / max(||input||_2 over dim, eps), written as torch writes it (its gradient at
    the zero vector is 1 / eps: there the norm is clamped, and x / eps is linear)."""
    if p != 2:
        raise NotImplementedError("only p=2 is implemented")
    if out is not None:
        raise NotImplementedError("out=")
    return input / clamp(norm(input, 2, dim, keepdim=True), min=eps)
