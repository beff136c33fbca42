"""Scatter and masking ops: values added (or written) at integer positions, or picked by
a boolean mask; their Tensor methods.

scatter_add, index_add and index_put are primitives whose forwards are plain loops over
the index (a repeated position simply receives several additions), so that they do not
lean on numpy's fancy-indexing rules; their VJPs gather the gradient back with engine
ops (gather, index_select, getitem), and all three are linear in their two tensor inputs
together, so each JVP is the op itself applied to the tangents. The primitives are the
public `*_p` names, for in-place variants to reuse. take_along_dim, masked_select and
masked_fill are compositions of getitem, broadcast_to and where.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .dispatch import lift
from .elementwise import where
from .layout import wrap_dim
from .rules import broadcast_to_p, linear, unbroadcast
from .shape import _as_index, gather, getitem, getitem_p, index_put_p, index_select, reshape
from .tensor import Tensor

__all__ = "masked_fill index_add scatter_add index_put take_along_dim masked_select".split()


def _int_array(index: Any) -> np.ndarray:
    return np.asarray(_as_index(index)).astype(np.int64)


def _crop_or_pad(grad: Tensor, shape: tuple) -> Tensor:
    """`grad` in the leading block of zeros(shape) (scatter_add's src may exceed index)."""
    if grad.shape == shape:
        return grad
    block = tuple(slice(0, n) for n in grad.shape)
    return index_put_p(grad, index=block, shape=shape)


# -- scatter_add: out = input; out[..., index[p], ...] += src[p] along dim ------------------
def _scatter_add(x: np.ndarray, src: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
    out = x.copy()
    for pos in np.ndindex(*index.shape):
        target = list(pos)
        target[dim] = index[pos]
        out[tuple(target)] += src[pos]
    return out


scatter_add_p = linear(
    "scatter_add",
    _scatter_add,
    lambda g, out, x, src, dim, index: (g, _crop_or_pad(gather(g, dim, index), src.shape)),
    params=("input", "src"),
)


def scatter_add(input: Tensor, dim: int, index: Any, src: Tensor) -> Tensor:
    """torch.scatter_add: out[i][index[i][j]] += src[i][j] (dim=1); repeats accumulate.
    index has input's number of dims, fits in src, and in input except along dim."""
    index, src, dim = _int_array(index), lift(src, input), wrap_dim(dim, input.ndim)
    fits = index.ndim == input.ndim == src.ndim and all(
        i <= s and (d == dim or i <= n)
        for d, (i, s, n) in enumerate(zip(index.shape, src.shape, input.shape, strict=True))
    )
    if not fits:
        raise RuntimeError(f"scatter_add: index {index.shape} does not fit src {src.shape} "
                           f"and input {input.shape} along dim {dim}")  # fmt: skip
    if np.any((index < 0) | (index >= input.shape[dim])):
        raise IndexError(f"index out of range for dim {dim} of size {input.shape[dim]}")
    return scatter_add_p(input, src, dim=dim, index=index)


# -- index_add: out = input; out[..., index[i], ...] += alpha * source[..., i, ...] -----------
def _index_add(
    x: np.ndarray, source: np.ndarray, dim: int, index: np.ndarray, alpha: float
) -> np.ndarray:
    out = x.copy()
    before = (slice(None),) * dim
    for i, position in enumerate(index):
        out[before + (position,)] += alpha * source[before + (i,)]
    return out


def _index_add_vjp(g: Tensor, out: Tensor, x: Tensor, source: Tensor, dim: int,
                   index: np.ndarray, alpha: float) -> tuple:  # fmt: skip
    picked = index_select(g, dim, index)
    return g, picked if alpha == 1 else picked * alpha


index_add_p = linear("index_add", _index_add, _index_add_vjp, params=("input", "source"))


def index_add(input: Tensor, dim: int, index: Any, source: Tensor, *, alpha: float = 1) -> Tensor:
    """torch.index_add: out.select(dim, index[i]) += alpha * source.select(dim, i)."""
    index = _int_array(index).reshape(-1)
    dim = wrap_dim(dim, input.ndim)
    if np.any((index < 0) | (index >= input.shape[dim])):
        raise IndexError(f"index out of range for dim {dim} of size {input.shape[dim]}")
    return index_add_p(input, lift(source, input), dim=dim, index=index, alpha=alpha)


# -- index_put: out = input; out[indices] += values (accumulate) or = values -----------------
def _positions(indices: tuple, shape: tuple) -> tuple[tuple, tuple]:
    """The index arrays broadcast together, and the shape values broadcast to."""
    arrays = np.broadcast_arrays(*indices) if indices else []
    common = arrays[0].shape if arrays else ()
    return tuple(arrays), common + tuple(shape[len(indices) :])


def _index_put(x: np.ndarray, values: np.ndarray, indices: tuple, accumulate: bool) -> np.ndarray:
    arrays, target = _positions(indices, x.shape)
    spread = np.broadcast_to(values, target)
    out = x.copy()
    for pos in np.ndindex(*(arrays[0].shape if arrays else ())):
        where_to = tuple(int(a[pos]) for a in arrays)
        if accumulate:
            out[where_to] += spread[pos]
        else:
            out[where_to] = spread[pos]
    return out


def _covered(indices: tuple, shape: tuple) -> np.ndarray:
    """True where index_put writes (the elements x[indices] selects)."""
    mask = np.zeros(shape, dtype=bool)
    mask[indices] = True
    return mask


def _index_put_vjp(g: Tensor, out: Tensor, x: Tensor, values: Tensor, indices: tuple,
                   accumulate: bool) -> tuple:  # fmt: skip
    grad_x = g if accumulate else where(_covered(indices, x.shape), 0, g)
    return grad_x, unbroadcast(getitem_p(g, index=indices), values.shape)


index_put_values_p = linear("index_put", _index_put, _index_put_vjp, params=("input", "values"))


def index_put(
    input: Tensor, indices: Sequence[Any], values: Any, accumulate: bool = False
) -> Tensor:
    """torch.index_put: input[indices] += values (accumulate=True: repeats accumulate) or
    input[indices] = values (accumulate=False: a repeated position is refused here, as
    torch leaves its result undefined). indices: a tuple of int arrays, one per leading dim."""
    indices = tuple(_int_array(i) for i in indices)
    arrays, target = _positions(indices, input.shape)
    for d, a in enumerate(arrays):
        if np.any((a < -input.shape[d]) | (a >= input.shape[d])):
            raise IndexError(f"index out of range for dim {d} of size {input.shape[d]}")
    values = lift(values, input)
    if not accumulate:
        written = np.arange(math.prod(input.shape)).reshape(input.shape)[indices]
        if len(np.unique(written)) < written.size:
            raise ValueError("index_put(accumulate=False) with repeated indices is undefined")
    np.broadcast_shapes(values.shape, target)  # values must broadcast to input[indices]
    return index_put_values_p(input, values, indices=indices, accumulate=accumulate)


# -- compositions --------------------------------------------------------------------------
def take_along_dim(input: Tensor, indices: Any, dim: int | None = None) -> Tensor:
    """torch.take_along_dim: gather along dim after broadcasting input and indices in the
    other dims; dim=None: along the flattened input with flattened indices."""
    indices = _int_array(indices)
    if dim is None:
        return gather(reshape(input, (-1,)), 0, indices.reshape(-1))
    dim = wrap_dim(dim, input.ndim)
    common = list(np.broadcast_shapes(
        tuple(1 if d == dim else n for d, n in enumerate(input.shape)),
        tuple(1 if d == dim else n for d, n in enumerate(indices.shape)),
    ))  # fmt: skip
    x_shape = tuple(input.shape[dim] if d == dim else n for d, n in enumerate(common))
    i_shape = tuple(indices.shape[dim] if d == dim else n for d, n in enumerate(common))
    spread = broadcast_to_p(input, shape=x_shape) if x_shape != input.shape else input
    return gather(spread, dim, np.broadcast_to(indices, i_shape))


def masked_select(input: Tensor, mask: Any) -> Tensor:
    """torch.masked_select: the elements where mask is True (both broadcast), as 1-d."""
    mask = np.asarray(_as_index(mask), dtype=bool)
    shape = np.broadcast_shapes(input.shape, mask.shape)
    spread = broadcast_to_p(input, shape=shape) if shape != input.shape else input
    return getitem(spread, np.broadcast_to(mask, shape))


def masked_fill(input: Tensor, mask: Any, value: Any) -> Tensor:
    """torch.masked_fill: value where mask is True (mask broadcasts), input elsewhere."""
    mask = np.asarray(_as_index(mask), dtype=bool)
    return where(mask, value, input)


# -- Tensor methods --------------------------------------------------------------------------
Tensor.masked_fill, Tensor.index_add, Tensor.scatter_add = masked_fill, index_add, scatter_add
Tensor.index_put, Tensor.take_along_dim, Tensor.masked_select = (
    index_put,
    take_along_dim,
    masked_select,
)
