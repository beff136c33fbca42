"""Public ops with torch's names and signatures; composites are written here.

Each function either calls one primitive (primitives.apply) or composes others.
At the bottom they become Tensor methods and operators.
"""

from __future__ import annotations

import builtins
import math
from typing import Any, NamedTuple

import numpy as np

from . import conventions, primitives  # modules, not names: primitives imports ops too
from .tensor import Tensor, _size, tensor

__all__ = """neg exp log log1p expm1 sqrt rsqrt reciprocal abs sign sin cos tan tanh sigmoid atan
asin acos sinh cosh erf relu square softplus gelu clamp clip add sub mul div maximum minimum pow
where sum mean prod amax amin max min logsumexp var std norm softmax log_softmax cumsum cumprod
matmul reshape view permute transpose broadcast_to expand unsqueeze squeeze flip cat stack
getitem index_put gather index_select eq ne lt le gt ge logical_and logical_or
logical_not""".split()

Scalar = int | float | bool
Dim = int | tuple | list | None


def _lift(value: Any, like: Any = None) -> Tensor:
    """A Tensor for value. Python numbers take `like`'s float dtype: float32 stays float32."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, Scalar) and isinstance(like, Tensor) and like.dtype.kind == "f":
        return Tensor(np.asarray(value, dtype=like.dtype))
    return tensor(value)


def _pair(x: Any, y: Any) -> tuple[Tensor, Tensor]:
    like = x if isinstance(x, Tensor) else y
    return _lift(x, like), _lift(y, like)


def _dims(dim: Dim, ndim: int) -> tuple[int, ...]:
    """dim as a sorted tuple of non-negative axes; None or () means all of them."""
    if dim is None or dim == () or dim == [] or ndim == 0:
        return tuple(range(ndim))
    return tuple(sorted(d % ndim for d in ((dim,) if isinstance(dim, int) else dim)))


def _reduced_count(x: Tensor, dims: tuple) -> int:
    return math.prod(x.shape[d] for d in dims)


# -- element-wise ------------------------------------------------------------------------
def _unary(name: str) -> Any:
    def op(x: Tensor) -> Tensor:
        return primitives.apply(name, x)

    op.__name__ = op.__qualname__ = name
    return op


_UNARY = """neg exp log log1p expm1 sqrt rsqrt reciprocal abs sign sin cos tan tanh sigmoid
atan asin acos sinh cosh erf relu""".split()
(
    neg,
    exp,
    log,
    log1p,
    expm1,
    sqrt,
    rsqrt,
    reciprocal,
    abs,
    sign,
    sin,
    cos,
    tan,
    tanh,
    sigmoid,
    atan,
    asin,
    acos,
    sinh,
    cosh,
    erf,
    relu,
) = map(_unary, _UNARY)


def square(x: Tensor) -> Tensor:
    return pow(x, 2)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return primitives.apply("softplus", x, beta=beta, threshold=threshold)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """Exact gelu, x * Phi(x); the product rule gives torch's Phi(x) + x * phi(x)."""
    if approximate != "none":
        raise NotImplementedError("only the exact (erf) gelu is implemented")
    return x * 0.5 * (1 + erf(x * (1 / math.sqrt(2))))


def clamp(x: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    return primitives.apply("clamp", x, min=min, max=max)


clip = clamp


def _binary(name: str) -> Any:
    def op(x: Any, y: Any) -> Tensor:
        return primitives.apply(name, *_pair(x, y))

    op.__name__ = op.__qualname__ = name
    return op


add, sub, mul, div, maximum, minimum = map(_binary, "add sub mul div maximum minimum".split())


def pow(x: Any, exponent: Any) -> Tensor:
    """x ** exponent: a python-number exponent is an attribute, a tensor one an input."""
    if isinstance(x, Tensor) and isinstance(exponent, Scalar):
        return primitives.apply("pow_scalar", x, exponent=exponent)
    return primitives.apply("pow", *_pair(x, exponent))


def where(condition: Any, x: Any, y: Any) -> Tensor:
    condition = np.asarray(condition.data if isinstance(condition, Tensor) else condition)
    return primitives.apply("where", *_pair(x, y), condition=condition.astype(bool))


# -- reductions ----------------------------------------------------------------------------
def sum(x: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    return primitives.apply("sum", x, dim=_dims(dim, x.ndim), keepdim=keepdim)


def mean(x: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    dims = _dims(dim, x.ndim)
    return sum(x, dims, keepdim) / _reduced_count(x, dims)


def prod(x: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    return primitives.apply("prod", x, dim=_dims(dim, x.ndim), keepdim=keepdim)


def amax(x: Tensor, dim: Dim = (), keepdim: bool = False) -> Tensor:
    return primitives.apply("amax", x, dim=_dims(dim, x.ndim), keepdim=keepdim)


def amin(x: Tensor, dim: Dim = (), keepdim: bool = False) -> Tensor:
    return primitives.apply("amin", x, dim=_dims(dim, x.ndim), keepdim=keepdim)


class ValuesIndices(NamedTuple):
    """What max(x, dim) and min(x, dim) return, like torch.return_types.max."""

    values: Tensor
    indices: Tensor


def _extreme(x: Tensor, dim: Any, keepdim: bool, largest: bool) -> Any:
    if dim is None:  # full reduction: ties share the gradient, like amax
        return amax(x) if largest else amin(x)
    if isinstance(dim, Tensor):  # torch.max(x, other) is maximum
        return maximum(x, dim) if largest else minimum(x, dim)
    index = conventions.first_index(x.data, dim % builtins.max(x.ndim, 1), largest)
    values, indices = gather(x, dim, index), Tensor(index)
    if not keepdim:
        values, indices = squeeze(values, dim), squeeze(indices, dim)
    return ValuesIndices(values, indices)


def max(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    return _extreme(x, dim, keepdim, largest=True)


def min(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    return _extreme(x, dim, keepdim, largest=False)


def _shift(x: Tensor, dims: tuple) -> Tensor:
    """The max over dims as a constant (0 where infinite or empty): keeps exp in range."""
    m = np.max(x.data, axis=dims, keepdims=True, initial=-np.inf)
    return Tensor(np.where(np.isinf(m), 0, m).astype(x.dtype))


def logsumexp(x: Tensor, dim: Dim, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x - m))) + m with a constant shift m, like torch."""
    dims = _dims(dim, x.ndim)
    m = _shift(x, dims)
    out = log(sum(exp(x - m), dims, keepdim=True)) + m
    return out if keepdim else squeeze(out, dims)


def var(x: Tensor, dim: Dim = None, *, correction: int = 1, keepdim: bool = False) -> Tensor:
    dims = _dims(dim, x.ndim)
    centered = x - mean(x, dims, keepdim=True)
    dof = builtins.max(_reduced_count(x, dims) - correction, 0)
    return sum(centered * centered, dims, keepdim) / dof


def std(x: Tensor, dim: Dim = None, *, correction: int = 1, keepdim: bool = False) -> Tensor:
    return primitives.apply("sqrt_subgradient", var(x, dim, correction=correction, keepdim=keepdim))


def norm(x: Tensor, p: Any = 2, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """The 2-norm (torch.linalg.vector_norm); its gradient at 0 is 0 like torch's."""
    if p not in (2, "fro"):
        raise NotImplementedError("only the 2-norm is implemented")
    return primitives.apply("sqrt_subgradient", sum(x * x, dim, keepdim))


# -- along one dim -------------------------------------------------------------------------
def softmax(x: Tensor, dim: int) -> Tensor:
    shifted = exp(x - _shift(x, _dims(dim, x.ndim)))
    return shifted / sum(shifted, dim, keepdim=True)


def log_softmax(x: Tensor, dim: int) -> Tensor:
    return x - logsumexp(x, dim, keepdim=True)


def _scan(name: str, x: Tensor, dim: int) -> Tensor:
    if x.ndim == 0:  # numpy would flatten a 0-d input to 1-d
        return _scan(name, x.reshape(1), dim).reshape(())
    return primitives.apply(name, x, dim=dim % x.ndim)


def cumsum(x: Tensor, dim: int) -> Tensor:
    return _scan("cumsum", x, dim)


def cumprod(x: Tensor, dim: int) -> Tensor:
    return _scan("cumprod", x, dim)


# -- linear algebra ------------------------------------------------------------------------
def matmul(x: Tensor, y: Tensor) -> Tensor:
    """torch.matmul: 1-d operands get a unit dim, added then removed; batches broadcast."""
    out = primitives.apply(
        "matmul", x.unsqueeze(0) if x.ndim == 1 else x, y.unsqueeze(-1) if y.ndim == 1 else y
    )
    if x.ndim == 1:
        out = out.squeeze(-2)
    return out.squeeze(-1) if y.ndim == 1 else out


# -- shape ---------------------------------------------------------------------------------
def reshape(x: Tensor, *shape: Any) -> Tensor:
    return primitives.apply("reshape", x, shape=_size(shape))


view = reshape


def permute(x: Tensor, *dims: Any) -> Tensor:
    return primitives.apply("permute", x, axes=tuple(d % x.ndim for d in _size(dims)))


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    axes = list(range(x.ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return permute(x, axes)


def broadcast_to(x: Tensor, size: tuple) -> Tensor:
    return primitives.apply("broadcast_to", x, shape=tuple(size))


def expand(x: Tensor, *sizes: Any) -> Tensor:
    """broadcast_to where -1 keeps that dim's size (new dims go in front)."""
    sizes = _size(sizes)
    lead = len(sizes) - x.ndim
    return broadcast_to(x, tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes)))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    dim %= x.ndim + 1
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def squeeze(x: Tensor, dim: Dim = None) -> Tensor:
    """Drop the size-1 dims among `dim` (all of them when None); others stay, like torch."""
    dims = _dims(dim, x.ndim)
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1)))


def flip(x: Tensor, *dims: Any) -> Tensor:
    return primitives.apply("flip", x, dims=_dims(_size(dims), x.ndim))


def cat(tensors: Any, dim: int = 0) -> Tensor:
    tensors = [_lift(t) for t in tensors]
    return primitives.apply("cat", *tensors, dim=dim % tensors[0].ndim)


def stack(tensors: Any, dim: int = 0) -> Tensor:
    return cat([unsqueeze(_lift(t), dim) for t in tensors], dim)


# -- indexing ------------------------------------------------------------------------------
def _as_index(item: Any) -> Any:
    if isinstance(item, Tensor):
        return item.data
    return np.asarray(item) if isinstance(item, list) else item


def getitem(x: Tensor, index: Any) -> Tensor:
    """x[index], numpy/torch style: slices, ints, None, ..., int arrays, bool masks."""
    items = index if isinstance(index, tuple) else (index,)
    return primitives.apply("getitem", x, index=tuple(_as_index(i) for i in items))


def index_put(grad: Tensor, index: tuple, shape: tuple) -> Tensor:
    """zeros(shape) with grad added at [index]; repeats accumulate (getitem's adjoint)."""
    return primitives.apply("index_put", grad, index=index, shape=shape)


def gather(x: Tensor, dim: int, index: Any) -> Tensor:
    """out[i][j][k] = x[i][index[i][j][k]][k] (for dim=1): a getitem with index grids."""
    index = np.asarray(_as_index(index))
    grids = list(np.indices(index.shape, sparse=True))
    grids[dim % index.ndim] = index
    return getitem(x, tuple(grids))


def index_select(x: Tensor, dim: int, index: Any) -> Tensor:
    return getitem(x, (slice(None),) * (dim % x.ndim) + (np.asarray(_as_index(index)),))


# -- comparisons (not differentiable) ------------------------------------------------------
def _compare(numpy_op: Any) -> Any:
    return lambda x, y: Tensor(numpy_op(*(t.data for t in _pair(x, y))))


eq, ne, lt, le, gt, ge = map(
    _compare, (np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal)
)
logical_and, logical_or = _compare(np.logical_and), _compare(np.logical_or)


def logical_not(x: Tensor) -> Tensor:
    return Tensor(np.logical_not(x.data))


# -- Tensor methods and operators ----------------------------------------------------------
_METHODS = """neg exp log log1p expm1 sqrt rsqrt reciprocal abs sign sin cos tan tanh sigmoid
atan asin acos sinh cosh erf relu square clamp clip pow sum mean prod amax amin max min
logsumexp var std norm softmax log_softmax cumsum cumprod matmul reshape view permute
transpose expand broadcast_to unsqueeze squeeze flip gather index_select
eq ne lt le gt ge logical_and logical_or logical_not""".split()
for _name in _METHODS:
    setattr(Tensor, _name, globals()[_name])

Tensor.__neg__, Tensor.__abs__, Tensor.__getitem__ = neg, abs, getitem
Tensor.__add__, Tensor.__radd__ = add, lambda x, y: add(y, x)
Tensor.__sub__, Tensor.__rsub__ = sub, lambda x, y: sub(y, x)
Tensor.__mul__, Tensor.__rmul__ = mul, lambda x, y: mul(y, x)
Tensor.__truediv__, Tensor.__rtruediv__ = div, lambda x, y: div(y, x)
Tensor.__pow__, Tensor.__rpow__ = pow, lambda x, y: pow(_lift(y, x), x)
Tensor.__matmul__, Tensor.__rmatmul__ = matmul, lambda x, y: matmul(_lift(y, x), x)
Tensor.__eq__, Tensor.__ne__, Tensor.__lt__ = eq, ne, lt  # type: ignore[assignment]
Tensor.__le__, Tensor.__gt__, Tensor.__ge__ = le, gt, ge
Tensor.__and__, Tensor.__or__, Tensor.__invert__ = logical_and, logical_or, logical_not
Tensor.T = property(lambda x: permute(x, tuple(reversed(range(x.ndim)))))
