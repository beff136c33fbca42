"""Linear algebra without decompositions: products (einsum, bmm, baddbmm, outer), parts of
matrices (trace, diagonal, tril, triu), cross and cdist. matmul is in shape.py;
decompositions.py has det, inv, solve and the factorizations."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from gradcheck.ops.spec import (
    Draw,
    Interval,
    Kink,
    OpSpec,
    Shape,
    draw_dim,
    hull,
    magnitude,
    min_or_inf,
    products,
    same_bounds,
    samples,
    size,
)

SIDE = 4  # matrix sides are drawn in 1..SIDE


def batched(draw: Draw, core: Shape, max_batch_dims: int = 2) -> Shape:
    """`core` behind 0..max_batch_dims batch dims of 1..3, at most 64 elements in all."""
    batch = draw(st.lists(st.integers(1, 3), max_size=max_batch_dims))
    while batch and size(batch) * size(core) > 64:
        batch.pop()
    return (*batch, *core)


def side(draw: Draw, low: int = 1) -> int:
    return draw(st.integers(low, SIDE))


def scaled(interval: Interval, factor: float) -> Interval:
    return min(interval[0] * factor, interval[1] * factor), max(
        interval[0] * factor, interval[1] * factor
    )


def summed(a: Interval, b: Interval) -> Interval:
    return a[0] + b[0], a[1] + b[1]


# ---- einsum ------------------------------------------------------------------------------
# A handful of equations, by what they do: each first-input rank 1..4 has a unary and a
# binary one, so that any such first input (and any count of inputs) fits one.
UNARY = (
    "i->",  # sum
    "ij->ji",  # transpose
    "ii->",  # trace
    "ii->i",  # diagonal
    "ij->j",  # column sums
    "bij->bji",  # batched transpose
    "bii->b",  # batched trace
    "abij->abji",
)
BINARY = (
    "i,j->ij",  # outer
    "i,i->",  # dot
    "ij,j->i",  # matrix-vector
    "ij,jk->ik",  # matrix product
    "ij,kj->ik",  # A B^T
    "bij,bjk->bik",  # batched
    "abij,abjk->abik",
)


def terms(equation: str) -> tuple[list[str], str]:
    inputs, result = equation.split("->")
    return inputs.split(","), result


def letter_sizes(equation: str, shapes) -> dict[str, int] | None:
    """Each letter's size, or None when the shapes do not fit the equation."""
    subscripts, _ = terms(equation)
    if len(subscripts) != len(shapes):
        return None
    sizes: dict[str, int] = {}
    for term, shape in zip(subscripts, shapes, strict=True):
        if len(term) != len(shape):
            return None
        for letter, n in zip(term, shape, strict=True):
            if sizes.setdefault(letter, n) != n:
                return None
    return sizes


def fitting(shapes) -> list[str]:
    return [eq for eq in (UNARY if len(shapes) == 1 else BINARY) if letter_sizes(eq, shapes)]


def draw_einsum_partner(draw: Draw, first: Shape) -> Shape:
    equations = [eq for eq in BINARY if len(terms(eq)[0][0]) == len(first)]
    subscripts, _ = terms(draw(st.sampled_from(equations)))
    sizes = dict(zip(subscripts[0], first, strict=True))
    return tuple(sizes.get(letter) or side(draw) for letter in subscripts[1])


def einsum_shape(shapes, attrs) -> Shape:
    sizes = letter_sizes(attrs["equation"], shapes)
    return tuple(sizes[letter] for letter in terms(attrs["equation"])[1])


def einsum_bounds(iv, shapes, attrs) -> Interval:
    sizes = letter_sizes(attrs["equation"], shapes)
    subscripts, result = terms(attrs["equation"])
    count = math.prod(sizes[c] for c in set("".join(subscripts)) - set(result))
    term = iv[0] if len(iv) == 1 else products(iv[0], iv[1])
    return term if count == 1 else scaled(term, count)


# ---- products of matrices ------------------------------------------------------------------
def draw_bmm_first(draw: Draw) -> Shape:
    return (draw(st.integers(1, 3)), side(draw), side(draw))


def bmm_bounds(iv, shapes, attrs) -> Interval:
    return scaled(products(iv[0], iv[1]), shapes[0][-1])


def draw_square_batch(draw: Draw) -> Shape:
    n = side(draw)
    return (draw(st.integers(1, 3)), n, n)


def baddbmm_bounds(iv, shapes, attrs) -> Interval:
    product = scaled(products(iv[1], iv[2]), shapes[1][-1])
    return summed(scaled(iv[0], attrs["beta"]), scaled(product, attrs["alpha"]))


def draw_baddbmm(draw, shapes, intervals) -> dict:
    return {
        "beta": draw(st.sampled_from([1.0, 0.5, -1.5, 0.0])),
        "alpha": draw(st.sampled_from([1.0, -0.5, 2.0])),
    }


# ---- parts of matrices --------------------------------------------------------------------
def draw_diagonal(draw, shapes, intervals) -> dict:
    ndim = len(shapes[0])
    dim1 = draw_dim(draw, ndim)
    others = [d for d in range(-ndim, ndim) if d % ndim != dim1 % ndim]
    return {"offset": draw(st.integers(-2, 2)), "dim1": dim1, "dim2": draw(st.sampled_from(others))}


def diagonal_shape(shapes, attrs) -> Shape:
    return np.diagonal(np.empty(shapes[0]), attrs["offset"], attrs["dim1"], attrs["dim2"]).shape


def trace_bounds(iv, shapes, attrs) -> Interval:
    return scaled(iv[0], min(shapes[0]))


def triangle_bounds(iv, shapes, attrs) -> Interval:
    return hull(iv[0], (0.0, 0.0))  # the other triangle is zeros


# ---- cross ---------------------------------------------------------------------------------
def draw_cross_first(draw: Draw) -> Shape:
    shape = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2)))]
    shape.insert(draw(st.integers(0, len(shape))), 3)
    return tuple(shape)


def cross_fits(first: Shape, other: Shape) -> bool:
    return (
        len(first) == len(other)
        and all(a == b or 1 in (a, b) for a, b in zip(first, other, strict=True))
        and any(a == b == 3 for a, b in zip(first, other, strict=True))
    )


def draw_cross_partner(draw: Draw, first: Shape) -> Shape:
    """first, some dims (not a 3 that must stay) broadcast from 1."""
    keep = draw(st.sampled_from([d for d, n in enumerate(first) if n == 3]))
    return tuple(n if d == keep or not draw(st.booleans()) else 1 for d, n in enumerate(first))


def draw_cross(draw, shapes, intervals) -> dict:
    a, b = shapes
    both = [d for d, (m, n) in enumerate(zip(a, b, strict=True)) if m == n == 3]
    dim = draw(st.sampled_from(both))
    return {"dim": dim - len(a) if draw(st.booleans()) else dim}


def cross_bounds(iv, shapes, attrs) -> Interval:
    m = 2 * magnitude(iv[0]) * magnitude(iv[1])
    return -m, m


# ---- cdist ---------------------------------------------------------------------------------
def draw_cdist_first(draw: Draw) -> Shape:
    return batched(draw, (side(draw), side(draw)), max_batch_dims=1)


def cdist_fits(first: Shape, other: Shape) -> bool:
    return len(other) == len(first) and other[:-2] == first[:-2] and other[-1] == first[-1]


def cdist_bounds(iv, shapes, attrs) -> Interval:
    (lo0, hi0), (lo1, hi1) = iv
    return 0.0, math.sqrt(shapes[0][-1]) * max(hi0 - lo1, hi1 - lo0, 0.0)


def cdist_gap(inputs, attrs) -> float:
    """The smallest distance between a row of x1 and a row of x2 (0: the kink). For
    cdist(x, x) (one array passed twice) the diagonal is left out: |x_i - x_i| is 0
    whatever x, a constant, differentiable (like maximum(x, x))."""
    x1, x2 = inputs
    distances = np.sqrt(np.sum((x1[..., :, None, :] - x2[..., None, :, :]) ** 2, axis=-1))
    if x1 is x2:
        distances = distances[..., ~np.eye(x1.shape[-2], dtype=bool)]
    return min_or_inf(distances)


# ---- the table -------------------------------------------------------------------------------


def linalg(name, shape, bounds, **fields) -> OpSpec:
    return OpSpec(name, "linalg", shape, bounds, **fields)


OPS = [
    linalg(
        "einsum",
        einsum_shape,
        einsum_bounds,
        draw_attrs=lambda draw, shapes, iv: {"equation": draw(st.sampled_from(fitting(shapes)))},
        arity=(1, 2),
        min_ndim=1,
        partner_fits=lambda first, other: bool(fitting((first, other))),
        draw_partner=draw_einsum_partner,
        layout="strided",  # "ij->ji" is a view
        signature="(*xs, equation=str)",
        note="torch.einsum(equation, *xs); equations: " + ", ".join(UNARY + BINARY),
    ),
    linalg(
        "bmm",
        lambda shapes, a: (*shapes[0][:-1], shapes[1][-1]),
        bmm_bounds,
        arity=(2, 2),
        first_fits=lambda shape: len(shape) == 3,
        draw_first=draw_bmm_first,
        partner_fits=lambda a, b: len(b) == 3 and b[:2] == (a[0], a[2]),
        draw_partner=lambda draw, a: (a[0], a[2], side(draw)),
        signature="(x, y)",
    ),
    linalg(
        "baddbmm",
        lambda shapes, a: shapes[0],
        baddbmm_bounds,
        draw_attrs=draw_baddbmm,
        arity=(3, 3),
        first_fits=lambda shape: len(shape) == 3 and shape[1] == shape[2],
        draw_first=draw_square_batch,
        partner_fits=lambda first, other: other == first,
        draw_partner=lambda draw, first: first,
        signature="(*xs, beta=float, alpha=float)",
        note="torch.baddbmm(input, batch1, batch2, beta=, alpha=), square batches only",
    ),
    linalg(
        "outer",
        lambda shapes, a: (shapes[0][0], shapes[1][0]),
        lambda iv, shapes, attrs: products(iv[0], iv[1]),
        arity=(2, 2),
        first_fits=lambda shape: len(shape) == 1,
        draw_first=lambda draw: (side(draw),),
        partner_fits=lambda first, other: len(other) == 1 and first[0] * other[0] <= 64,
        draw_partner=lambda draw, first: (side(draw),),
        signature="(x, y)",
    ),
    linalg(
        "trace",
        lambda shapes, a: (),
        trace_bounds,
        first_fits=lambda shape: len(shape) == 2,
        draw_first=lambda draw: (side(draw, 0), side(draw, 0)),
        note="2-d input",
    ),
    linalg(
        "diagonal",
        diagonal_shape,
        same_bounds,
        draw_attrs=draw_diagonal,
        min_ndim=2,
        layout="strided",
        signature="(x, offset=int, dim1=int, dim2=int)",
    ),
    linalg(
        "tril",
        lambda shapes, a: shapes[0],
        triangle_bounds,
        draw_attrs=lambda draw, shapes, iv: {"diagonal": draw(st.integers(-2, 2))},
        min_ndim=2,
        signature="(x, diagonal=int)",
    ),
    linalg(
        "triu",
        lambda shapes, a: shapes[0],
        triangle_bounds,
        draw_attrs=lambda draw, shapes, iv: {"diagonal": draw(st.integers(-2, 2))},
        min_ndim=2,
        signature="(x, diagonal=int)",
    ),
    linalg(
        "cross",
        lambda shapes, a: tuple(np.broadcast_shapes(*shapes)),
        cross_bounds,
        draw_attrs=draw_cross,
        arity=(2, 2),
        first_fits=lambda shape: 3 in shape,
        draw_first=draw_cross_first,
        partner_fits=cross_fits,
        draw_partner=draw_cross_partner,
        distinct_inputs=True,  # cross(x, x) = 0: see OpSpec.distinct_inputs
        signature="(x, y, dim=int)",
        note="torch.linalg.cross(x, y, dim=dim): size 3 along dim, other dims broadcast",
    ),
    linalg(
        "cdist",
        lambda shapes, a: (*shapes[0][:-1], shapes[1][-2]),
        cdist_bounds,
        arity=(2, 2),
        first_fits=lambda shape: len(shape) in (2, 3) and shape[-1] >= 1,
        draw_first=draw_cdist_first,
        partner_fits=cdist_fits,
        draw_partner=lambda draw, first: (*first[:-2], side(draw), first[-1]),
        kink=Kink(
            cdist_gap,
            "cdist: the gradient at zero distance is 0 (torch)",
            ties=True,
            curved=True,
            twice_on_kink=False,
        ),
        samples=samples(  # a row of x equal to a row of y: distance 0
            (([[0.0, 0.0], [1.0, 2.0]], [[1.0, 2.0], [3.0, -1.0], [0.0, 0.0]]), {}),
            (([[[0.5, -1.0, 2.0]]], [[[0.5, -1.0, 2.0], [0.5, -1.0, 2.5]]]), {}),
        ),
        signature="(x, y)",
        note="torch.cdist(x, y), p=2",
    ),
]
