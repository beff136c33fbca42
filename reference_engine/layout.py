"""Layout ops: pieces of a tensor (narrow, split, chunk, unbind), roll, repeat and tile,
and the sorting ops (sort, topk); their Tensor methods.

Pieces are basic indexing (getitem), repeat is reshape + broadcast_to + reshape, and
sort/topk gather the input at the order numpy's stable argsort gives: their gradient
follows that order, so tied values keep their input order (torch's with stable=True).
roll is the one new primitive (linear: its VJP rolls back).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .reductions import ValuesIndices
from .rules import broadcast_to_p, clone_p, linear, reshape_p
from .shape import gather, getitem
from .tensor import Tensor, sizes

__all__ = "narrow split chunk unbind roll repeat tile sort topk".split()


def wrap_dim(dim: int, ndim: int) -> int:
    """dim as a non-negative axis; IndexError outside [-ndim, ndim), like torch (a 0-d
    tensor takes dim 0 or -1)."""
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(f"Dimension out of range (expected in [{-size}, {size - 1}], got {dim})")
    return dim % size


def _along(dim: int, item: Any) -> tuple:
    """An index that applies `item` (an int or a slice) to dim and keeps the others."""
    return (slice(None),) * dim + (item,)


# -- pieces ----------------------------------------------------------------------------------
def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """torch.narrow: elements start .. start + length - 1 along dim (start < 0 counts from
    the end)."""
    dim = wrap_dim(dim, input.ndim)
    n = input.shape[dim]
    start = start + n if start < 0 else start
    if not (0 <= start <= n and 0 <= length <= n - start):
        raise IndexError(f"narrow({start}, {length}) out of range for a dim of size {n}")
    return getitem(input, _along(dim, slice(start, start + length)))


def split(tensor: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple:
    """torch.split: pieces of split_size (the last one shorter) or of the given sizes."""
    dim = wrap_dim(dim, tensor.ndim)
    n = tensor.shape[dim]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        lengths = [min(size, n - start) for start in range(0, n, size)] or [0]
    else:
        lengths = [int(s) for s in split_size_or_sections]
        if sum(lengths) != n:
            raise ValueError(f"split sizes {lengths} do not sum to the dim's size {n}")
    starts = np.cumsum([0, *lengths[:-1]])
    return tuple(narrow(tensor, dim, int(s), k) for s, k in zip(starts, lengths, strict=True))


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """torch.chunk: pieces of ceil(n / chunks) elements, so maybe fewer than `chunks`
    (and `chunks` empty pieces of an empty dim, as torch)."""
    n = input.shape[wrap_dim(dim, input.ndim)]
    if n == 0:
        return split(input, [0] * chunks, dim)
    return split(input, math.ceil(n / chunks), dim)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """torch.unbind: the slices along dim, that dim removed."""
    dim = wrap_dim(dim, input.ndim)
    return tuple(getitem(input, _along(dim, i)) for i in range(input.shape[dim]))


# -- roll, repeat, tile ----------------------------------------------------------------------
roll_p = linear(
    "roll",
    lambda x, shifts, dims: np.roll(x, shifts, dims),
    lambda g, out, x, shifts, dims: (roll_p(g, shifts=_negated(shifts), dims=dims),),
)


def _negated(shifts: int | tuple) -> int | tuple:
    return -shifts if isinstance(shifts, int) else tuple(-s for s in shifts)


def roll(input: Tensor, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None):
    """torch.roll: elements shifted along dims, wrapping around; dims=None rolls the
    flattened tensor (one shift)."""
    shifts = (int(shifts),) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError("roll without dims takes one shift")
        return roll_p(input, shifts=shifts[0], dims=None)
    dims = (int(dims),) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(dims) != len(shifts):
        raise RuntimeError(f"roll: {len(shifts)} shifts for {len(dims)} dims")
    return roll_p(input, shifts=shifts, dims=tuple(wrap_dim(d, input.ndim) for d in dims))


def repeat(input: Tensor, *args: Any, repeats: Sequence[int] | None = None) -> Tensor:
    """Tensor.repeat: the tensor tiled `repeats[d]` times along each dim (new dims in
    front): out[r * n + i] = x[i] along each dim, i.e. x broadcast over a repeat axis
    placed before each dim, then those pairs merged."""
    reps = sizes(args, repeats, "repeats")
    if len(reps) < input.ndim:
        raise RuntimeError("repeat needs at least as many repeats as the tensor has dims")
    shape = (1,) * (len(reps) - input.ndim) + input.shape
    paired = tuple(v for n in shape for v in (1, n))
    spread = tuple(v for r, n in zip(reps, shape, strict=True) for v in (r, n))
    out = broadcast_to_p(reshape_p(input, shape=paired), shape=spread)
    # New memory, as torch's: the reshape of a broadcast may be a view of the input (where
    # only size-1 dims repeat), which `view` and in-place ops would then see through.
    return clone_p(reshape_p(out, shape=tuple(r * n for r, n in zip(reps, shape, strict=True))))


def tile(input: Tensor, dims: Sequence[int]) -> Tensor:
    """torch.tile: repeat, with missing leading repeats taken as 1."""
    dims = tuple(dims)
    return repeat(input, (1,) * (input.ndim - len(dims)) + dims)


# -- sorting ---------------------------------------------------------------------------------
def _order(x: np.ndarray, dim: int, descending: bool) -> np.ndarray:
    """The indices that sort x along dim, ties in input order (a stable sort)."""
    return np.argsort(-x if descending else x, axis=dim, kind="stable")


def sort(
    input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False
) -> ValuesIndices:
    """torch.sort -> (values, indices). Always stable: ties keep their input order, which
    torch guarantees with stable=True (stable=False leaves their order unspecified)."""
    if input.ndim == 0:
        return ValuesIndices(input, Tensor(np.zeros((), np.int64)))
    order = _order(input.data, wrap_dim(dim, input.ndim), descending)
    return ValuesIndices(gather(input, dim, order), Tensor(order))


def topk(
    input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True
) -> ValuesIndices:
    """torch.topk -> (values, indices): the k largest (smallest) along dim, in order (also
    for sorted=False, whose order torch leaves unspecified); ties in input order."""
    dim = wrap_dim(dim, input.ndim)
    if input.ndim == 0:
        return sort(input)
    if not 0 <= k <= input.shape[dim]:
        raise RuntimeError(f"topk: k={k} out of range for a dim of size {input.shape[dim]}")
    order = np.take(_order(input.data, dim, largest), np.arange(k), axis=dim)
    return ValuesIndices(gather(input, dim, order), Tensor(order))


# -- Tensor methods --------------------------------------------------------------------------
Tensor.narrow, Tensor.split, Tensor.chunk, Tensor.unbind = narrow, split, chunk, unbind
Tensor.roll, Tensor.repeat, Tensor.tile, Tensor.sort, Tensor.topk = roll, repeat, tile, sort, topk
