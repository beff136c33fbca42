"""Shape and indexing ops (all linear: each JVP is the op itself) and their Tensor methods.

reshape_p and broadcast_to_p are in rules.py, which the VJP helpers are written in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import dispatch
from .dispatch import Dim, defview, lift_all
from .rules import broadcast_to_p, linear, reshape_p
from .tensor import Tensor, sizes

__all__ = """reshape view permute transpose broadcast_to expand unsqueeze squeeze flip cat stack
getitem gather index_select""".split()


def _cat_vjp(g: Tensor, out: Tensor, *xs: Tensor, dim: int) -> tuple:
    ends = np.cumsum([x.shape[dim] for x in xs])
    before = (slice(None),) * (dim % g.ndim)
    return tuple(
        getitem_p(g, index=before + (slice(end - x.shape[dim], end),))
        for x, end in zip(xs, ends, strict=True)
    )


def _index_put(grad: np.ndarray, index: tuple, shape: tuple) -> np.ndarray:
    """zeros(shape) with grad added at x[index]; repeated positions accumulate."""
    positions = np.arange(math.prod(shape)).reshape(shape)[index]
    flat = np.zeros(math.prod(shape), dtype=grad.dtype)
    np.add.at(flat, positions.ravel(), np.broadcast_to(grad, positions.shape).ravel())
    return flat.reshape(shape)


def _getitem(x: np.ndarray, index: tuple) -> np.ndarray:
    """x[index]; a trailing ... keeps x[0, 1] a 0-d view (numpy would return a scalar copy)."""
    return x[index] if any(i is Ellipsis for i in index) else x[index + (Ellipsis,)]


permute_p = linear(
    "permute",
    lambda x, axes: np.transpose(x, axes),
    lambda g, out, x, axes: (permute_p(g, axes=tuple(np.argsort(axes))),),
)
# A copy, as torch's flip (numpy's is a view with negative strides, which `view` refuses
# and an in-place write to x would change), in x's memory order as torch keeps it.
flip_p = linear(
    "flip",
    lambda x, dims: np.flip(x, dims).copy(order="K"),
    lambda g, out, x, dims: (flip_p(g, dims=dims),),
)
cat_p = linear("cat", lambda *xs, dim: np.concatenate(xs, axis=dim), _cat_vjp, params=None)
getitem_p = linear(
    "getitem",
    _getitem,
    lambda g, out, x, index: (index_put_p(g, index=index, shape=x.shape),),
)
defview(permute_p)
defview(getitem_p)  # a view for basic indices (ints, slices, None, ...), as torch's
index_put_p = linear(
    "index_put", _index_put, lambda g, out, grad, index, shape: (getitem_p(g, index=index),)
)


def reshape(input: Tensor, *args: Any, shape: Sequence[int] | None = None) -> Tensor:
    """reshape(x, 2, 3), reshape(x, (2, 3)) or reshape(x, shape=(2, 3)), as torch."""
    return reshape_p(input, shape=sizes(args, shape, "shape"))


def view(input: Tensor, *args: Any, size: Sequence[int] | None = None) -> Tensor:
    """Tensor.view(*shape), or view(size=...): torch's keyword is `size` here. Always a
    view: a shape that would need a copy is refused, as torch does."""
    out = reshape_p(input, shape=sizes(args, size, "size"))
    if out._storage is not input._storage and input.numel() > 0:
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride. "
            "Use .reshape(...) instead."
        )
    return out


def permute(input: Tensor, *args: Any, dims: Sequence[int] | None = None) -> Tensor:
    axes = sizes(args, dims, "dims")
    return permute_p(input, axes=tuple(d % input.ndim for d in axes))


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    axes = list(range(input.ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return permute_p(input, axes=tuple(axes))


def broadcast_to(input: Tensor, size: Sequence[int]) -> Tensor:
    return broadcast_to_p(input, shape=tuple(size))


def expand(input: Tensor, *args: Any, size: Sequence[int] | None = None) -> Tensor:
    """broadcast_to where -1 keeps that dim's size (new dims go in front)."""
    shape = sizes(args, size, "size")
    lead = len(shape) - input.ndim
    return broadcast_to(
        input, tuple(input.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    )


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    dim %= input.ndim + 1
    return reshape_p(input, shape=input.shape[:dim] + (1,) + input.shape[dim:])


def squeeze(input: Tensor, dim: Dim = None) -> Tensor:
    """Drop the size-1 dims among `dim` (all of them when None); others stay, like torch."""
    axes = dispatch.dims(dim, input.ndim)
    shape = tuple(n for i, n in enumerate(input.shape) if not (i in axes and n == 1))
    return reshape_p(input, shape=shape)


def flip(input: Tensor, *args: Any, dims: Sequence[int] | None = None) -> Tensor:
    return flip_p(input, dims=dispatch.dims(sizes(args, dims, "dims"), input.ndim))


def cat(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    tensors = lift_all(tensors)
    return cat_p(*tensors, dim=dim % tensors[0].ndim)


def stack(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    return cat([unsqueeze(t, dim) for t in lift_all(tensors)], dim)


# -- indexing ------------------------------------------------------------------------------
def _as_index(item: Any) -> Any:
    if isinstance(item, Tensor):
        return item.data
    return np.asarray(item) if isinstance(item, list) else item


def getitem(input: Tensor, index: Any) -> Tensor:
    """x[index], numpy/torch style: slices, ints, None, ..., int arrays, bool masks."""
    items = index if isinstance(index, tuple) else (index,)
    return getitem_p(input, index=tuple(_as_index(i) for i in items))


def gather(input: Tensor, dim: int, index: Any) -> Tensor:
    """out[i][j][k] = x[i][index[i][j][k]][k] (for dim=1): a getitem with index grids."""
    index = np.asarray(_as_index(index))
    grids = list(np.indices(index.shape, sparse=True))
    grids[dim % index.ndim] = index
    return getitem(input, tuple(grids))


def index_select(input: Tensor, dim: int, index: Any) -> Tensor:
    return getitem(input, (slice(None),) * (dim % input.ndim) + (np.asarray(_as_index(index)),))


# -- Tensor methods and operators ------------------------------------------------------------
Tensor.reshape, Tensor.view, Tensor.permute, Tensor.transpose = reshape, view, permute, transpose
Tensor.broadcast_to, Tensor.expand, Tensor.flip = broadcast_to, expand, flip
Tensor.unsqueeze, Tensor.squeeze = unsqueeze, squeeze
Tensor.gather, Tensor.index_select = gather, index_select
Tensor.__getitem__ = getitem
Tensor.T = property(lambda x: permute(x, tuple(reversed(range(x.ndim)))))
