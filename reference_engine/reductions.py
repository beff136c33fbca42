"""Reductions over dims, and ops along one dim (softmax, scans); their Tensor methods.

Reductions are primitives (rules.reduction: d out / d x as element-wise weights), so
that float16 inputs are reduced in float32 and rounded once, as torch does; var, std and
norm too, whose composite forms would square float16 intermediates.
"""

from __future__ import annotations

import builtins
import math
from typing import Any, NamedTuple

import numpy as np

from . import conventions
from .dispatch import Dim, Primitive, dims
from .elementwise import exp, log, maximum, minimum, where
from .rules import expand_reduced, linear, reduction, sum_p
from .shape import cat, flip, gather, permute, reshape, squeeze, transpose, unsqueeze
from .tensor import Tensor, ones_like

__all__ = """sum mean prod amax amin max min logsumexp var std norm softmax log_softmax cumsum
cumprod ValuesIndices""".split()


def _count(shape: tuple, dim: tuple) -> int:
    return math.prod(shape[d] for d in dim)


def _prod_of_others(out: Tensor, x: Tensor, dim: tuple, keepdim: bool) -> Tensor:
    """For each element, the product of the other elements of its slice over `dim`:
    (product of those before it) * (product of those after it). No division by x, so it
    is exact when x holds zeros, and O(n) memory (a where(eye, 1, x) product is O(n^2)
    and its higher derivatives O(n^k)).
    """
    kept = tuple(i for i in range(x.ndim) if i not in dim)
    moved = permute(x, kept + dim)
    flat = reshape(moved, moved.shape[: len(kept)] + (_count(x.shape, dim),))
    one = ones_like(flat[..., :1])
    before = cumprod(cat([one, flat[..., :-1]], -1), -1)
    after = flip(cumprod(flip(cat([flat[..., 1:], one], -1), -1), -1), -1)
    others = reshape(before * after, moved.shape)
    return permute(others, tuple(np.argsort(kept + dim)))


def _ties(op: str) -> Any:
    """Weights of amax/amin/max/min: at ties as declared for `op` (torch: split evenly)."""

    def weights(out: Tensor, x: Tensor, dim: tuple, keepdim: bool) -> Tensor:
        reduced = out.data if keepdim else np.expand_dims(out.data, dim)
        return Tensor(conventions.tie_weights(x.data, reduced, dim, conventions.choice(op)))

    return weights


def _centered(x: Tensor, dim: tuple) -> Tensor:
    return x - mean(x, dim, keepdim=True)


def _var(x: np.ndarray, axis: tuple, keepdims: bool, correction: float) -> np.ndarray:
    n = _count(x.shape, axis)
    centered = x - np.sum(x, axis=axis, keepdims=True) / n
    dof = builtins.max(n - correction, 0)  # 0: inf or nan, like torch
    return np.sum(centered * centered, axis=axis, keepdims=keepdims) / dof


def _var_weights(out: Tensor, x: Tensor, dim: tuple, keepdim: bool, correction: float) -> Tensor:
    dof = builtins.max(_count(x.shape, dim) - correction, 0)
    return (_centered(x, dim) * 2) / dof


def _std_weights(out: Tensor, x: Tensor, dim: tuple, keepdim: bool, correction: float) -> Tensor:
    dof = builtins.max(_count(x.shape, dim) - correction, 0)
    spread = expand_reduced(out, x.shape, dim, keepdim) * dof
    weights = _centered(x, dim) / spread
    return where(spread == 0, 0, weights) if conventions.choice("std") == "zero" else weights


def _norm_weights(out: Tensor, x: Tensor, dim: tuple, keepdim: bool) -> Tensor:
    norm = expand_reduced(out, x.shape, dim, keepdim)
    weights = x / norm  # at most 1: x / norm, not grad / norm, keeps float16 in range
    return where(norm == 0, 0, weights) if conventions.choice("norm") == "zero" else weights


mean_p = linear(
    "mean",
    lambda x, dim, keepdim: np.sum(x, axis=dim, keepdims=keepdim) / _count(x.shape, dim),
    lambda g, out, x, dim, keepdim: (
        expand_reduced(g, x.shape, dim, keepdim) / _count(x.shape, dim),
    ),
)
prod_p = reduction("prod", np.prod, _prod_of_others)
amax_p = reduction("amax", np.amax, _ties("amax"))
amin_p = reduction("amin", np.amin, _ties("amin"))
max_p = reduction("max", np.amax, _ties("max"))  # the full max(x)
min_p = reduction("min", np.amin, _ties("min"))
var_p = reduction("var", _var, _var_weights)
std_p = reduction("std", lambda x, **a: np.sqrt(_var(x, **a)), _std_weights)
norm_p = reduction("norm", lambda x, **a: np.sqrt(np.sum(x * x, **a)), _norm_weights)


def sum(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    return sum_p(input, dim=dims(dim, input.ndim), keepdim=keepdim)


def mean(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    return mean_p(input, dim=dims(dim, input.ndim), keepdim=keepdim)


def prod(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    return prod_p(input, dim=dims(dim, input.ndim), keepdim=keepdim)


def amax(input: Tensor, dim: Dim = (), keepdim: bool = False) -> Tensor:
    return amax_p(input, dim=dims(dim, input.ndim), keepdim=keepdim)


def amin(input: Tensor, dim: Dim = (), keepdim: bool = False) -> Tensor:
    return amin_p(input, dim=dims(dim, input.ndim), keepdim=keepdim)


class ValuesIndices(NamedTuple):
    """What max(x, dim) and min(x, dim) return, like torch.return_types.max."""

    values: Tensor
    indices: Tensor


def _extreme(x: Tensor, dim: Any, keepdim: bool, other: Any, largest: bool) -> Any:
    if other is not None or isinstance(dim, Tensor):  # torch.max(x, other) is maximum
        return (maximum if largest else minimum)(x, dim if other is None else other)
    if dim is None:  # the full reduction: ties as declared for max / min
        return (max_p if largest else min_p)(x, dim=dims(None, x.ndim), keepdim=False)
    rule = conventions.choice("max_dim" if largest else "min_dim")
    index = conventions.extreme_index(x.data, dim % builtins.max(x.ndim, 1), largest, rule)
    values, indices = gather(x, dim, index), Tensor(index)  # the gradient follows the index
    if not keepdim:
        values, indices = squeeze(values, dim), squeeze(indices, dim)
    return ValuesIndices(values, indices)


def max(input: Tensor, dim: Any = None, keepdim: bool = False, *, other: Any = None) -> Any:
    """max(x) (a tensor), max(x, dim) (values, indices) or max(x, other) (maximum)."""
    return _extreme(input, dim, keepdim, other, largest=True)


def min(input: Tensor, dim: Any = None, keepdim: bool = False, *, other: Any = None) -> Any:
    return _extreme(input, dim, keepdim, other, largest=False)


def _shift(x: Tensor, dim: tuple) -> Tensor:
    """The max over dim as a constant (0 where infinite or empty): keeps exp in range."""
    m = np.max(x.data, axis=dim, keepdims=True, initial=-np.inf)
    return Tensor(np.where(np.isinf(m), 0, m).astype(x.dtype))


def logsumexp(input: Tensor, dim: Dim, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x - m))) + m with a constant shift m, like torch."""
    dim = dims(dim, input.ndim)
    m = _shift(input, dim)
    out = log(sum(exp(input - m), dim, keepdim=True)) + m
    return out if keepdim else squeeze(out, dim)


def _correction(dim: Any, unbiased: bool | None, correction: float | None) -> tuple:
    """torch's two spellings: var(x, dim, unbiased) and var(x, dim, correction=)."""
    if isinstance(dim, bool):  # var(x, True): the overload without dim
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError("var/std take unbiased or correction, not both")
    if correction is None:
        correction = 0 if unbiased is False else 1
    return dim, correction


def var(
    input: Tensor,
    dim: Dim = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    dim, correction = _correction(dim, unbiased, correction)
    return var_p(input, dim=dims(dim, input.ndim), keepdim=keepdim, correction=correction)


def std(
    input: Tensor,
    dim: Dim = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    """Its gradient at zero spread is 0 like torch's (or NaN: conventions.CHOICES)."""
    dim, correction = _correction(dim, unbiased, correction)
    return std_p(input, dim=dims(dim, input.ndim), keepdim=keepdim, correction=correction)


def norm(input: Tensor, p: Any = "fro", dim: Dim = None, keepdim: bool = False) -> Tensor:
    """The 2-norm (torch.linalg.vector_norm); its gradient at 0 is 0 like torch's."""
    if p not in (2, "fro"):
        raise NotImplementedError("only the 2-norm is implemented")
    return norm_p(input, dim=dims(dim, input.ndim), keepdim=keepdim)


# -- along one dim -----------------------------------------------------------------------
def softmax(input: Tensor, dim: int) -> Tensor:
    shifted = exp(input - _shift(input, dims(dim, input.ndim)))
    return shifted / sum(shifted, dim, keepdim=True)


def log_softmax(input: Tensor, dim: int) -> Tensor:
    return input - logsumexp(input, dim, keepdim=True)


def _cumprod_partials(x: Tensor, dim: int) -> tuple[Tensor, np.ndarray]:
    """partials[..., k, i] = d cumprod(x)_i / d x_k along `dim` (moved last), and k <= i."""
    n = x.shape[dim]
    row = unsqueeze(transpose(x, dim, -1), -2)  # (..., 1, n)
    partials = cumprod(where(np.eye(n, dtype=bool), 1, row), -1)  # x_k replaced by 1
    return partials, np.triu(np.ones((n, n), dtype=bool))


def _cumprod_vjp(g: Tensor, out: Tensor, x: Tensor, dim: int) -> tuple:
    partials, k_le_i = _cumprod_partials(x, dim)
    grad = sum(where(k_le_i, partials, 0) * unsqueeze(transpose(g, dim, -1), -2), -1)
    return (transpose(grad, dim, -1),)


def _cumprod_jvp(ts: tuple, out: Tensor, x: Tensor, dim: int) -> Tensor:
    partials, k_le_i = _cumprod_partials(x, dim)
    tangent = sum(where(k_le_i, partials, 0) * unsqueeze(transpose(ts[0], dim, -1), -1), -2)
    return transpose(tangent, dim, -1)


cumsum_p = linear(
    "cumsum",
    lambda x, dim: np.cumsum(x, axis=dim),
    lambda g, out, x, dim: (flip(cumsum(flip(g, (dim,)), dim), (dim,)),),
)
cumprod_p = Primitive(
    "cumprod", lambda x, dim: np.cumprod(x, axis=dim), vjp=_cumprod_vjp, jvp=_cumprod_jvp
)


def _scan(primitive: Primitive, x: Tensor, dim: int) -> Tensor:
    if x.ndim == 0:  # numpy would flatten a 0-d input to 1-d
        return reshape(_scan(primitive, reshape(x, 1), dim), ())
    return primitive(x, dim=dim % x.ndim)


def cumsum(input: Tensor, dim: int) -> Tensor:
    return _scan(cumsum_p, input, dim)


def cumprod(input: Tensor, dim: int) -> Tensor:
    return _scan(cumprod_p, input, dim)


# -- Tensor methods ------------------------------------------------------------------------
Tensor.sum, Tensor.mean, Tensor.prod, Tensor.amax, Tensor.amin = sum, mean, prod, amax, amin
Tensor.max, Tensor.min, Tensor.logsumexp = max, min, logsumexp
Tensor.var, Tensor.std, Tensor.norm = var, std, norm
Tensor.softmax, Tensor.log_softmax, Tensor.cumsum, Tensor.cumprod = (
    softmax,
    log_softmax,
    cumsum,
    cumprod,
)
