"""Scatter and masking ops: values added at integer positions (repeated positions
accumulate, and are drawn on purpose), or picked and filled by boolean masks.

Index arrays and masks are attrs (numpy int64 / bool arrays), drawn after the tensor
inputs' shapes: a second tensor input (src, source, values) is a partner whose shape
leaves the index to fit it.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from gradcheck.ops.spec import (
    OpSpec,
    draw_dim,
    element_arrays,
    hull,
    int_array,
    same_bounds,
    same_shape,
    size,
)

TINY = 1e-3  # as strategies.TINY: a fill value is a leaf-like constant

# ---- shared ------------------------------------------------------------------------------


def with_repeats(draw, index: np.ndarray) -> np.ndarray:
    """`index` (int64, 1-d) with one entry copied onto another half the time: repeated
    positions must accumulate, and a small pool alone repeats too rarely for large sides."""
    if index.size >= 2 and draw(st.booleans()):
        index = index.copy()
        src, dst = draw(st.integers(0, index.size - 1)), draw(st.integers(0, index.size - 1))
        index[dst] = index[src]
    return index


def accumulated(iv, count: int):
    """Bounds of x plus the sum of up to `count` elements of the second input."""
    (xlo, xhi), (lo, hi) = iv[0], iv[1]
    return xlo + min(0.0, count * lo), xhi + max(0.0, count * hi)


def most_repeats(positions: np.ndarray) -> int:
    """The largest number of times one target position occurs (0 when there are none)."""
    if positions.size == 0:
        return 0
    return int(np.max(np.unique(positions.reshape(positions.shape[0], -1), axis=0,
                                 return_counts=True)[1]))  # fmt: skip


def draw_mask(draw, shape) -> np.ndarray:
    """A bool mask that broadcasts to `shape`: leading dims dropped, some dims set to 1."""
    dims = [1 if draw(st.booleans()) else s for s in shape]
    dims = dims[draw(st.integers(0, len(dims))) :]
    return draw(element_arrays(tuple(dims), (False, True)))


def differing(first, other) -> list[int]:
    return [d for d, (a, b) in enumerate(zip(first, other, strict=True)) if a != b]


# ---- masked_fill, masked_select ---------------------------------------------------------


def draw_masked_fill(draw, shapes, intervals) -> dict:
    floats = st.floats(-2.0, 2.0).map(lambda v: 0.0 if abs(v) < TINY else v)
    value = draw(st.sampled_from([0.0, -1.0]) | floats)
    return {"mask": draw_mask(draw, shapes[0]), "value": value}


def masked_fill_bounds(iv, shapes, attrs):
    if not attrs["mask"].any() or size(shapes[0]) == 0:
        return iv[0]
    return hull(iv[0], (attrs["value"], attrs["value"]))


def masked_select_shape(shapes, attrs):
    return (int(np.broadcast_to(attrs["mask"], shapes[0]).sum()),)


# ---- index_add: source differs from x in the dim it is added along -----------------------


def along_fits(first, other) -> bool:
    return len(first) == len(other) and len(differing(first, other)) <= 1 and size(other) <= 64


def draw_along_partner(draw, first):
    dim = draw(st.integers(0, len(first) - 1))
    other = list(first)
    other[dim] = draw(st.integers(0, 4))
    return tuple(other) if size(other) <= 64 else tuple(first)


def draw_index_add(draw, shapes, intervals) -> dict:
    x, source = shapes
    moved = differing(x, source)
    dim = moved[0] if moved else draw(st.integers(0, len(x) - 1))
    index = with_repeats(draw, int_array(draw, (source[dim],), 0, x[dim] - 1))
    alpha = draw(st.sampled_from([1.0, -0.5, 2.0]))
    return {"dim": dim - len(x) if draw(st.booleans()) else dim, "index": index, "alpha": alpha}


def index_add_bounds(iv, shapes, attrs):
    alpha, count = attrs["alpha"], most_repeats(attrs["index"][:, None])
    scaled = sorted((alpha * iv[1][0], alpha * iv[1][1]))
    return accumulated([iv[0], scaled], count)


# ---- scatter_add: src no larger than x except along dim; index has src's shape -----------


def scatter_fits(first, other) -> bool:
    if len(first) != len(other) or size(other) > 64:
        return False
    return sum(b > a for a, b in zip(first, other, strict=True)) <= 1


def draw_scatter_partner(draw, first):
    dim = draw(st.integers(0, len(first) - 1))
    other = [draw(st.integers(min(1, s), s)) for s in first]
    other[dim] = draw(st.integers(1, 4))
    return tuple(other) if size(other) <= 64 else tuple(first)


def draw_scatter_add(draw, shapes, intervals) -> dict:
    x, src = shapes
    larger = [d for d, (a, b) in enumerate(zip(x, src, strict=True)) if b > a]
    dim = larger[0] if larger else draw(st.integers(0, len(x) - 1))
    index = int_array(draw, src, 0, x[dim] - 1)
    if index.size >= 2 and draw(st.booleans()):  # two sources onto one target on purpose
        flat = index.reshape(-1).copy()
        flat[draw(st.integers(0, flat.size - 1))] = flat[draw(st.integers(0, flat.size - 1))]
        index = flat.reshape(index.shape)
    return {"dim": dim - len(x) if draw(st.booleans()) else dim, "index": index}


def scatter_targets(index: np.ndarray, dim: int) -> np.ndarray:
    """The target position of each src element, one row each."""
    grids = list(np.indices(index.shape))
    grids[dim % index.ndim] = index
    return np.stack([g.reshape(-1) for g in grids], axis=1)


def scatter_add_bounds(iv, shapes, attrs):
    return accumulated(iv, most_repeats(scatter_targets(attrs["index"], attrs["dim"])))


# ---- index_put(accumulate=True): values (L, *x.shape[m:]) for m index arrays -------------


def put_depths(first, other) -> list[int]:
    """How many leading dims of x the index arrays may address, given values' shape."""
    return [m for m in (1, 2) if m <= len(first) and tuple(other[1:]) == tuple(first[m:])]


def put_fits(first, other) -> bool:
    return len(other) >= 1 and bool(put_depths(first, other)) and size(other) <= 64


def draw_put_partner(draw, first):
    m = draw(st.sampled_from([m for m in (1, 2) if m <= len(first)]))
    rest = tuple(first[m:])
    length = draw(st.integers(0, 4))
    return (length, *rest) if size((length, *rest)) <= 64 else (1, *rest)


def draw_index_put(draw, shapes, intervals) -> dict:
    x, values = shapes
    m = draw(st.sampled_from(put_depths(x, values)))
    # values of length 1 broadcast over the positions; any other length is theirs
    length = values[0] if values[0] != 1 else draw(st.integers(1, 4))
    rows = np.stack([int_array(draw, (length,), -x[d], x[d] - 1) for d in range(m)], axis=1)
    if length >= 2 and draw(st.booleans()):  # one position twice, on purpose
        rows[draw(st.integers(0, length - 1))] = rows[draw(st.integers(0, length - 1))]
    return {"indices": tuple(np.ascontiguousarray(rows[:, d]) for d in range(m))}


def index_put_bounds(iv, shapes, attrs):
    x = shapes[0]
    rows = np.stack([i % x[d] for d, i in enumerate(attrs["indices"])], axis=1)
    return accumulated(iv, most_repeats(rows))


# ---- take_along_dim ----------------------------------------------------------------------


def draw_take_along_dim(draw, shapes, intervals) -> dict:
    x = shapes[0]
    if draw(st.integers(0, 3)) == 0:  # dim=None: the flattened input
        length = draw(st.integers(0, 4))
        return {"indices": int_array(draw, (length,), 0, size(x) - 1), "dim": None}
    dim = draw_dim(draw, len(x))
    shape = tuple(
        draw(st.integers(1, 4)) if d == dim % len(x) else draw(st.sampled_from([1, s]))
        for d, s in enumerate(x)
    )
    return {"indices": int_array(draw, shape, 0, x[dim] - 1), "dim": dim}


def take_along_dim_shape(shapes, attrs):
    x, indices, dim = shapes[0], attrs["indices"], attrs["dim"]
    if dim is None:
        return (indices.size,)
    dim %= len(x)
    return tuple(indices.shape[d] if d == dim else max(s, indices.shape[d]) for d, s in
                 enumerate(x))  # fmt: skip


# ---- the table ---------------------------------------------------------------------------


def indexing(name, shape, bounds, draw_attrs, **fields) -> OpSpec:
    return OpSpec(name, "indexing", shape, bounds, draw_attrs=draw_attrs, **fields)


OPS = [
    indexing(
        "masked_fill",
        same_shape,
        masked_fill_bounds,
        draw_masked_fill,
        inplace="masked_fill_",
        signature="(x, mask=bool array, value=float)",
        note="torch.masked_fill(x, mask, value); mask broadcasts to x",
    ),
    indexing(
        "masked_select",
        masked_select_shape,
        same_bounds,
        lambda draw, shapes, iv: {"mask": draw_mask(draw, shapes[0])},
        signature="(x, mask=bool array)",
        note="1-d: the elements where the mask (broadcast to x) is True",
    ),
    indexing(
        "take_along_dim",
        take_along_dim_shape,
        same_bounds,
        draw_take_along_dim,
        min_ndim=1,
        min_side=1,
        signature="(x, indices=int64 array, dim=int|None)",
        note="indices broadcast against x except along dim; repeats accumulate",
    ),
    indexing(
        "index_add",
        same_shape,
        index_add_bounds,
        draw_index_add,
        arity=(2, 2),
        min_ndim=1,
        min_side=1,
        partner_fits=along_fits,
        draw_partner=draw_along_partner,
        inplace="index_add_",
        signature="(x, y, dim=int, index=int64 array, alpha=float)",
        note="torch.index_add(x, dim, index, y, alpha=alpha); repeated indices accumulate",
    ),
    indexing(
        "scatter_add",
        same_shape,
        scatter_add_bounds,
        draw_scatter_add,
        arity=(2, 2),
        min_ndim=1,
        min_side=1,
        partner_fits=scatter_fits,
        draw_partner=draw_scatter_partner,
        inplace="scatter_add_",
        signature="(x, y, dim=int, index=int64 array)",
        note="torch.scatter_add(x, dim, index, y); index has y's shape (torch's backward "
        "needs it); repeated targets accumulate",
    ),
    indexing(
        "index_put",
        same_shape,
        index_put_bounds,
        draw_index_put,
        arity=(2, 2),
        min_ndim=1,
        min_side=1,
        partner_fits=put_fits,
        draw_partner=draw_put_partner,
        signature="(x, y, indices=tuple of int64 arrays)",
        note="torch.index_put(x, indices, y, accumulate=True); repeated indices accumulate",
    ),
]
