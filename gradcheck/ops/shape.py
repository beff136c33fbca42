"""Shape ops, indexing, and matmul: they move values around (matmul aside) unchanged."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from gradcheck.ops.spec import (
    OpSpec,
    draw_dim,
    int_array,
    magnitude,
    same_bounds,
    same_shape,
    size,
)

# ---- matmul ------------------------------------------------------------------------------


def matmul_shape(shapes, attrs) -> tuple[int, ...]:
    a, b = shapes
    a2, b2 = ((1, *a) if len(a) == 1 else a), ((*b, 1) if len(b) == 1 else b)
    batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    out = (*batch, a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return tuple(out)


def matmul_fits(first, other) -> bool:
    inner = first[-1]
    if len(other) == 1:
        return other[0] == inner
    if len(other) < 1 or other[-2] != inner:
        return False
    try:
        out = matmul_shape((first, other), {})
    except ValueError:
        return False
    return len(out) <= 4 and size(out) <= 64


def draw_matmul_partner(draw, first) -> tuple[int, ...]:
    inner = first[-1]
    kind = draw(st.sampled_from(["matrix", "vector", "batched"]))
    if kind == "vector":
        return (inner,)
    cols = draw(st.integers(0, 4))
    if kind == "matrix" or len(first) >= 3:
        return (inner, cols)
    return (draw(st.integers(1, 2)), inner, cols)


def matmul_bounds(iv, shapes, attrs):
    inner = shapes[0][-1]
    m = inner * magnitude(iv[0]) * magnitude(iv[1])
    return -m, m


# ---- shape ops ---------------------------------------------------------------------------


def resolve(target, total: int) -> tuple[int, ...]:
    """A reshape target with its -1 filled in."""
    known = math.prod(s for s in target if s != -1)
    return tuple(total // known if s == -1 else s for s in target)


def draw_reshape(draw, shapes, intervals) -> dict:
    total = size(shapes[0])
    if total == 0:
        return {"shape": draw(st.sampled_from([(0,), (0, 2), (2, 0, 1)]))}
    target, left = [], total
    for _ in range(draw(st.integers(0, 3))):
        divisors = [d for d in range(1, left + 1) if left % d == 0]
        target.append(draw(st.sampled_from(divisors)))
        left //= target[-1]
    if left != 1 or not target or draw(st.booleans()):
        target.append(left)
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return {"shape": tuple(target)}


def expand_size(draw, shape, allow_minus_one: bool) -> tuple[int, ...]:
    """A size `shape` broadcasts to: size-1 dims grown, new leading dims, -1 to keep one."""
    out = []
    for s in shape:
        if s == 1 and draw(st.booleans()):
            out.append(draw(st.integers(0, 3)))
        else:
            out.append(-1 if allow_minus_one and draw(st.booleans()) else s)
    lead = draw(st.integers(0, max(0, 4 - len(shape))))
    out = [draw(st.integers(1, 3)) for _ in range(lead)] + out
    if size(resolve_expand(out, shape)) > 64:
        return tuple(shape)
    return tuple(out)


def resolve_expand(size_attr, shape) -> tuple[int, ...]:
    lead = len(size_attr) - len(shape)
    return tuple(shape[i - lead] if s == -1 else s for i, s in enumerate(size_attr))


def draw_expand(draw, shapes, intervals) -> dict:
    return {"size": expand_size(draw, shapes[0], allow_minus_one=True)}


def draw_broadcast_to(draw, shapes, intervals) -> dict:
    return {"size": expand_size(draw, shapes[0], allow_minus_one=False)}


def transpose_shape(shapes, attrs):
    out = list(shapes[0])
    a, b = attrs["dim0"], attrs["dim1"]
    out[a], out[b] = out[b], out[a]
    return tuple(out)


def draw_transpose(draw, shapes, intervals) -> dict:
    ndim = len(shapes[0])
    return {"dim0": draw_dim(draw, ndim), "dim1": draw_dim(draw, ndim)}


def unsqueeze_shape(shapes, attrs):
    out = list(shapes[0])
    out.insert(attrs["dim"] % (len(out) + 1), 1)
    return tuple(out)


def squeeze_shape(shapes, attrs):
    shape, dim = shapes[0], attrs["dim"]
    if dim is None:
        return tuple(s for s in shape if s != 1)
    dim %= len(shape)
    return tuple(s for d, s in enumerate(shape) if d != dim or s != 1)


def draw_squeeze(draw, shapes, intervals) -> dict:
    ndim = len(shapes[0])
    return {"dim": draw(st.none() | st.integers(-ndim, ndim - 1)) if ndim else None}


def draw_flip(draw, shapes, intervals) -> dict:
    ndim = len(shapes[0])
    dims = draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim))
    return {"dims": tuple(dict.fromkeys(d % ndim for d in dims))}


def cat_shape(shapes, attrs):
    dim = attrs["dim"] % len(shapes[0])
    out = list(shapes[0])
    out[dim] = sum(s[dim] for s in shapes)
    return tuple(out)


def cat_fits(first, other) -> bool:
    return len(first) == len(other) and first[1:] == other[1:] and size(first) + size(other) <= 32


def draw_cat_partner(draw, first) -> tuple[int, ...]:
    return (draw(st.integers(0, 3)), *first[1:])


def draw_cat(draw, shapes, intervals) -> dict:
    ndim = len(shapes[0])
    # Partners differ from the first input in dim 0 only (see draw_cat_partner).
    same = all(s == shapes[0] for s in shapes)
    dim = draw(st.sampled_from(range(ndim))) if same else 0
    return {"dim": dim - ndim if draw(st.booleans()) else dim}


def stack_shape(shapes, attrs):
    out = list(shapes[0])
    out.insert(attrs["dim"] % (len(out) + 1), len(shapes))
    return tuple(out)


# ---- indexing ----------------------------------------------------------------------------


def draw_basic_index(draw, shapes, intervals) -> dict:
    index = []
    for n in shapes[0][: draw(st.integers(1, len(shapes[0])))]:
        if n and draw(st.booleans()):
            index.append(draw(st.integers(-n, n - 1)))
        else:
            bound = st.none() | st.integers(-n, n)
            index.append(slice(draw(bound), draw(bound), draw(st.sampled_from([None, 1, 2]))))
    return {"index": tuple(index)}


def draw_index(draw, shapes, intervals) -> dict:
    n = shapes[0][0]
    shape = draw(st.sampled_from([(2,), (3,), (4,), (1,), (0,), (2, 2)]))
    return {"indices": int_array(draw, shape, -n, n - 1)}


def draw_gather(draw, shapes, intervals) -> dict:
    shape = shapes[0]
    dim = draw_dim(draw, len(shape))
    index_shape = tuple(
        draw(st.integers(1, 4)) if d == dim % len(shape) else draw(st.integers(min(s, 1), s))
        for d, s in enumerate(shape)
    )
    return {"dim": dim, "index": int_array(draw, index_shape, 0, shape[dim] - 1)}


def draw_index_select(draw, shapes, intervals) -> dict:
    dim = draw_dim(draw, len(shapes[0]))
    length = draw(st.integers(0, 4))
    return {"dim": dim, "index": int_array(draw, (length,), 0, shapes[0][dim] - 1)}


def index_select_shape(shapes, attrs):
    out = list(shapes[0])
    out[attrs["dim"]] = len(attrs["index"])
    return tuple(out)


# ---- the table ---------------------------------------------------------------------------


def shape_op(name, shape, draw_attrs, **fields) -> OpSpec:
    return OpSpec(name, "shape", shape, same_bounds, draw_attrs=draw_attrs, **fields)


def indexing(name, shape, draw_attrs, **fields) -> OpSpec:
    return OpSpec(name, "indexing", shape, same_bounds, draw_attrs=draw_attrs, min_ndim=1, **fields)


OPS = [
    OpSpec(
        "matmul",
        "linalg",
        matmul_shape,
        matmul_bounds,
        arity=(2, 2),
        min_ndim=1,
        signature="(x, y)",
        partner_fits=matmul_fits,
        draw_partner=draw_matmul_partner,
    ),
    shape_op(
        "reshape",
        lambda shapes, a: resolve(a["shape"], size(shapes[0])),
        draw_reshape,
        signature="(x, shape=tuple)",
    ),
    shape_op(
        "view",
        lambda shapes, a: resolve(a["shape"], size(shapes[0])),
        draw_reshape,
        signature="(x, shape=tuple)",
        note="x.view(shape): contiguous inputs only",
        needs_contiguous=True,
    ),
    shape_op(
        "transpose",
        transpose_shape,
        draw_transpose,
        min_ndim=1,
        layout="strided",
        signature="(x, dim0=int, dim1=int)",
    ),
    shape_op(
        "permute",
        lambda shapes, a: tuple(shapes[0][d] for d in a["dims"]),
        lambda draw, shapes, iv: {"dims": tuple(draw(st.permutations(range(len(shapes[0])))))},
        layout="strided",
        signature="(x, dims=tuple)",
    ),
    shape_op(
        "expand",
        lambda shapes, a: resolve_expand(a["size"], shapes[0]),
        draw_expand,
        layout="strided",
        signature="(x, size=tuple)",
        note="x.expand(size)",
    ),
    shape_op(
        "broadcast_to",
        lambda shapes, a: tuple(a["size"]),
        draw_broadcast_to,
        layout="strided",
        signature="(x, size=tuple)",
    ),
    shape_op(
        "unsqueeze",
        unsqueeze_shape,
        lambda draw, shapes, iv: {"dim": draw_dim(draw, len(shapes[0]) + 1)},
        signature="(x, dim=int)",
    ),
    shape_op("squeeze", squeeze_shape, draw_squeeze, signature="(x, dim=int|None)"),
    shape_op("flip", same_shape, draw_flip, min_ndim=1, signature="(x, dims=tuple)"),
    OpSpec(
        "cat",
        "shape",
        cat_shape,
        same_bounds,
        draw_attrs=draw_cat,
        arity=(1, 3),
        signature="(*xs, dim=int)",
        min_ndim=1,
        partner_fits=cat_fits,
        draw_partner=draw_cat_partner,
    ),
    OpSpec(
        "stack",
        "shape",
        stack_shape,
        same_bounds,
        draw_attrs=lambda draw, shapes, iv: {"dim": draw_dim(draw, len(shapes[0]) + 1)},
        arity=(1, 3),
        signature="(*xs, dim=int)",
        partner_fits=lambda first, other: first == other and size(first) <= 16,
        draw_partner=lambda draw, first: first,
    ),
    indexing(
        "getitem",
        lambda shapes, a: np.empty(shapes[0])[a["index"]].shape,
        draw_basic_index,
        layout="strided",
        signature="(x, index=tuple of slice|int)",
        note="x[index], basic indexing",
    ),
    indexing(
        "index",
        lambda shapes, a: a["indices"].shape + tuple(shapes[0][1:]),
        draw_index,
        min_side=1,
        signature="(x, indices=int64 array)",
        note="x[indices], repeated indices accumulate",
    ),
    indexing(
        "gather",
        lambda shapes, a: a["index"].shape,
        draw_gather,
        min_side=1,
        signature="(x, dim=int, index=int64 array)",
    ),
    indexing(
        "index_select",
        index_select_shape,
        draw_index_select,
        min_side=1,
        signature="(x, dim=int, index=int64 array)",
    ),
]
