"""Layout ops (pieces of a tensor, roll, repeat, tile) and the sorting ops (sort, topk).

Pieces (narrow, split, chunk, unbind) are views of their input, strided in general, so
`view` is never fed them. Ops that return several tensors are tested through one of them,
chosen by an `index` attr (split, chunk, unbind) or `.values` (sort, topk).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from gradcheck.ops.spec import (
    Kink,
    OpSpec,
    draw_dim,
    min_or_inf,
    same_bounds,
    same_shape,
    samples,
    size,
)

# ---- pieces ------------------------------------------------------------------------------


def with_length(shape, dim: int, length: int) -> tuple[int, ...]:
    out = list(shape)
    out[dim] = length
    return tuple(out)


def signed(draw, dim: int, ndim: int) -> int:
    """dim, or the same dim counted from the end (negative dims on purpose)."""
    return dim - ndim if draw(st.booleans()) else dim


def count(draw, low: int, high: int) -> int:
    """An int in [low, high], rarely `low` itself when low == 0 (an empty result proves
    little, as shapes() makes empty dims rare)."""
    if low == 0 and high >= 1 and draw(st.integers(0, 7)):
        low = 1
    return draw(st.integers(low, high))


def draw_narrow(draw, shapes, intervals) -> dict:
    shape = shapes[0]
    dim = draw_dim(draw, len(shape))
    n = shape[dim]
    length = count(draw, 0, n)
    start = draw(st.integers(0, n - length))
    if n and draw(st.booleans()):
        start -= n  # counted from the end
    return {"dim": dim, "start": start, "length": length}


def narrow_shape(shapes, attrs):
    return with_length(shapes[0], attrs["dim"], attrs["length"])


def split_lengths(n: int, split_size_or_sections) -> list[int]:
    """The lengths of torch.split's pieces."""
    if isinstance(split_size_or_sections, int):
        s = split_size_or_sections
        return [min(s, n - start) for start in range(0, n, s)] or [0]
    return list(split_size_or_sections)


def draw_split(draw, shapes, intervals) -> dict:
    shape = shapes[0]
    dim = draw(st.integers(0, len(shape) - 1))
    n = shape[dim]
    if draw(st.booleans()):
        sections = draw(st.integers(1, n + 1))
    else:
        cuts = sorted(draw(st.lists(st.integers(0, n), min_size=0, max_size=3)))
        sections = [b - a for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
    index = draw(st.integers(0, len(split_lengths(n, sections)) - 1))
    return {"split_size_or_sections": sections, "dim": signed(draw, dim, len(shape)),
            "index": index}  # fmt: skip


def split_shape(shapes, attrs):
    dim = attrs["dim"] % len(shapes[0])
    lengths = split_lengths(shapes[0][dim], attrs["split_size_or_sections"])
    return with_length(shapes[0], dim, lengths[attrs["index"]])


def chunk_lengths(n: int, chunks: int) -> list[int]:
    """The lengths of torch.chunk's pieces: ceil(n / chunks) each, fewer pieces if need be."""
    return [0] * chunks if n == 0 else split_lengths(n, math.ceil(n / chunks))


def draw_chunk(draw, shapes, intervals) -> dict:
    shape = shapes[0]
    dim = draw(st.integers(0, len(shape) - 1))
    chunks = draw(st.integers(1, shape[dim] + 1))
    index = draw(st.integers(0, len(chunk_lengths(shape[dim], chunks)) - 1))
    return {"chunks": chunks, "dim": signed(draw, dim, len(shape)), "index": index}


def chunk_shape(shapes, attrs):
    dim = attrs["dim"] % len(shapes[0])
    lengths = chunk_lengths(shapes[0][dim], attrs["chunks"])
    return with_length(shapes[0], dim, lengths[attrs["index"]])


def draw_unbind(draw, shapes, intervals) -> dict:
    shape = shapes[0]
    dim = draw(st.integers(0, len(shape) - 1))
    return {"dim": signed(draw, dim, len(shape)), "index": draw(st.integers(0, shape[dim] - 1))}


def unbind_shape(shapes, attrs):
    dim = attrs["dim"] % len(shapes[0])
    return tuple(s for d, s in enumerate(shapes[0]) if d != dim)


# ---- roll, repeat, tile ------------------------------------------------------------------


def draw_roll(draw, shapes, intervals) -> dict:
    ndim = len(shapes[0])
    kind = draw(st.sampled_from(["flat", "one", "several"])) if ndim else "flat"
    shift = st.integers(-5, 5)
    if kind == "flat":
        return {"shifts": draw(shift), "dims": None}
    if kind == "one":
        return {"shifts": draw(shift), "dims": draw_dim(draw, ndim)}
    dims = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return {"shifts": tuple(draw(shift) for _ in dims),
            "dims": tuple(signed(draw, d, ndim) for d in dims)}  # fmt: skip


def draw_repeats(draw, shape, least: int) -> tuple[int, ...]:
    """`least`..4 repeat counts (0..3 each, 0 rarely) that keep the result within 64
    elements."""
    room = 64 // max(size(shape), 1)
    reps = []
    for _ in range(draw(st.integers(least, max(least, 4)))):
        reps.append(count(draw, 0, min(3, room)))
        room //= max(reps[-1], 1)
    return tuple(reps)


def repeat_shape(shapes, attrs):
    reps = attrs["repeats"]
    shape = (1,) * (len(reps) - len(shapes[0])) + tuple(shapes[0])
    return tuple(r * n for r, n in zip(reps, shape, strict=True))


def tile_shape(shapes, attrs):
    dims = attrs["dims"]
    reps = (1,) * (len(shapes[0]) - len(dims)) + tuple(dims)
    return repeat_shape(shapes, {"repeats": reps})


# ---- sort, topk --------------------------------------------------------------------------


def lines(x: np.ndarray, dim: int) -> np.ndarray:
    """x's 1-d slices along dim, one row each."""
    moved = np.moveaxis(x, dim, -1)
    return moved.reshape(-1, moved.shape[-1]) if moved.size else moved.reshape(0, 0)


def adjacent_gap(r: np.ndarray) -> float:
    """Smallest difference between neighbours of rows sorted in order."""
    return min_or_inf(np.abs(np.diff(r, axis=1))) if r.shape[1] >= 2 else math.inf


def sort_gap(inputs, attrs) -> float:
    return adjacent_gap(np.sort(lines(inputs[0], attrs["dim"]), axis=1))


def topk_gap(inputs, attrs) -> float:
    """Ties matter among the k selected and the first one left out."""
    r = np.sort(lines(inputs[0], attrs["dim"]), axis=1)
    r = r[:, ::-1] if attrs["largest"] else r
    return adjacent_gap(r[:, : attrs["k"] + 1]) if attrs["k"] else math.inf


def draw_sort(draw, shapes, intervals) -> dict:
    return {"dim": draw_dim(draw, len(shapes[0])), "descending": draw(st.booleans()),
            "stable": draw(st.booleans())}  # fmt: skip


def draw_topk(draw, shapes, intervals) -> dict:
    dim = draw_dim(draw, len(shapes[0]))
    return {"k": count(draw, 0, shapes[0][dim]), "dim": dim,
            "largest": draw(st.booleans()), "sorted": draw(st.booleans())}  # fmt: skip


def topk_shape(shapes, attrs):
    return with_length(shapes[0], attrs["dim"] % len(shapes[0]), attrs["k"])


TIED = [[1.0, 3.0, 3.0, 2.0], [2.0, 2.0, 1.0, 2.0]]


# ---- the table ---------------------------------------------------------------------------


def layout(name, shape, draw_attrs, **fields) -> OpSpec:
    return OpSpec(name, "shape", shape, same_bounds, draw_attrs=draw_attrs, **fields)


def piece(name, shape, draw_attrs, **fields) -> OpSpec:
    return layout(name, shape, draw_attrs, min_ndim=1, layout="strided", **fields)


OPS = [
    piece("narrow", narrow_shape, draw_narrow, signature="(x, dim=int, start=int, length=int)"),
    piece(
        "split",
        split_shape,
        draw_split,
        signature="(x, split_size_or_sections=int|list, dim=int, index=int)",
        note="torch.split(x, split_size_or_sections, dim)[index]",
    ),
    piece(
        "chunk",
        chunk_shape,
        draw_chunk,
        signature="(x, chunks=int, dim=int, index=int)",
        note="torch.chunk(x, chunks, dim)[index]",
    ),
    piece(
        "unbind",
        unbind_shape,
        draw_unbind,
        min_side=1,
        signature="(x, dim=int, index=int)",
        note="torch.unbind(x, dim)[index]",
    ),
    layout("roll", same_shape, draw_roll, signature="(x, shifts=int|tuple, dims=int|tuple|None)"),
    layout(
        "repeat",
        repeat_shape,
        lambda draw, shapes, iv: {"repeats": draw_repeats(draw, shapes[0], len(shapes[0]))},
        signature="(x, repeats=tuple)",
        note="x.repeat(repeats)",
    ),
    layout(
        "tile",
        tile_shape,
        lambda draw, shapes, iv: {"dims": draw_repeats(draw, shapes[0], 0)},
        signature="(x, dims=tuple)",
    ),
    OpSpec(
        "sort",
        "along_dim",
        same_shape,
        same_bounds,
        draw_attrs=draw_sort,
        min_ndim=1,
        kink=Kink(
            sort_gap,
            "sort: tied values keep their input order, each taking the gradient of the "
            "place it lands in (torch with stable=True; stable=False leaves that order open)",
            ties=True,
            defined=False,
        ),
        samples=samples(
            ([TIED], {"dim": 1, "descending": False, "stable": True}),
            ([TIED], {"dim": -1, "descending": True, "stable": True}),
            ([TIED], {"dim": 0, "descending": True, "stable": True}),
        ),
        signature="(x, dim=int, descending=bool, stable=bool)",
        note="torch.sort(x, dim=dim, descending=descending, stable=stable).values",
    ),
    OpSpec(
        "topk",
        "along_dim",
        topk_shape,
        same_bounds,
        draw_attrs=draw_topk,
        min_ndim=1,
        kink=Kink(
            topk_gap,
            "topk: the order of tied values is left to the engine (torch's varies with k), "
            "so only ties that leave the gradient unchanged are compared",
            ties=True,
            defined=False,
        ),
        samples=samples(
            ([[[3.0, 1.0, 1.0, 2.0]]], {"k": 2, "dim": 1, "largest": True, "sorted": True}),
            (
                [[[3.0, 1.0, 3.0, 2.0], [0.0, 4.0, 4.0, 1.0]]],
                {"k": 1, "dim": -1, "largest": False, "sorted": True},
            ),
            ([[[0.0, 2.0, 0.0, 1.0, 5.0]]], {"k": 3, "dim": 1, "largest": True, "sorted": False}),
        ),
        signature="(x, k=int, dim=int, largest=bool, sorted=bool)",
        note="torch.topk(x, k, dim, largest, sorted).values, sorted afterwards when "
        "sorted=False (torch leaves that order unspecified)",
    ),
]
