"""Reductions (over dims, or the whole tensor) and ops along one dim."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from gradcheck.ops.spec import (
    Domain,
    Kink,
    OpSpec,
    dims_of,
    draw_dim,
    magnitude,
    min_or_inf,
    reduced_shape,
    reduced_size,
    same_shape,
    samples,
)

# prod/cumprod multiply up to 64 elements: 1.1 ** 64 stays below LIMIT.
NEAR_ONE = Domain(-1.1, 1.1)


def draw_dims(draw, ndim: int, allow_none: bool = True) -> int | tuple | None:
    """None (all dims), one int dim, or a tuple of distinct dims; negative dims on purpose."""
    kinds = ["none", "int", "tuple"] if allow_none else ["int", "tuple"]
    kind = draw(st.sampled_from(kinds)) if ndim else "none"
    if kind == "none":
        return None
    if kind == "int":
        return draw_dim(draw, ndim)
    dims = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(d - ndim if draw(st.booleans()) else d for d in dims)


def draw_reduce_attrs(draw, shapes, intervals) -> dict:
    return {"dim": draw_dims(draw, len(shapes[0])), "keepdim": draw(st.booleans())}


def draw_required_dims(draw, shapes, intervals) -> dict:
    return {"dim": draw_dims(draw, len(shapes[0]), False), "keepdim": draw(st.booleans())}


def draw_one_dim(draw, shapes, intervals) -> dict:
    return {"dim": draw_dim(draw, len(shapes[0])), "keepdim": draw(st.booleans())}


def draw_spread_attrs(draw, shapes, intervals) -> dict:
    attrs = draw_reduce_attrs(draw, shapes, intervals)
    # correction 1 divides by n - 1: keep n >= 2 for it.
    many = reduced_size(shapes[0], attrs["dim"]) >= 2
    return {**attrs, "correction": draw(st.sampled_from([0, 1])) if many else 0}


def draw_along_dim(draw, shapes, intervals) -> dict:
    return {"dim": draw_dim(draw, len(shapes[0]))}


def reduce_shape(shapes, attrs) -> tuple[int, ...]:
    return reduced_shape(shapes[0], attrs.get("dim"), attrs.get("keepdim", False))


def rows(x: np.ndarray, dim) -> np.ndarray:
    """x as a 2-D array, one row per output element, the reduced elements along each row."""
    dims = dims_of(dim, x.ndim)
    kept = [d for d in range(x.ndim) if d not in dims]
    n = math.prod(x.shape[d] for d in dims)
    m = math.prod(x.shape[d] for d in kept)  # not -1: an empty x has no row length to infer
    return np.transpose(x, kept + list(dims)).reshape(m, n)


# ---- kinks -------------------------------------------------------------------------------


def tie_gap(inputs, attrs) -> float:
    """Smallest distance between the two top (or bottom) elements of a reduced slice."""
    r = np.sort(rows(inputs[0], attrs.get("dim")), axis=1)
    if r.shape[1] < 2:
        return math.inf
    return min(min_or_inf(r[:, -1] - r[:, -2]), min_or_inf(r[:, 1] - r[:, 0]))


def zero_row_gap(measure, nonzero: bool = False):
    """The smallest measure of a reduced slice; `nonzero`: of a slice not exactly at 0."""

    def gap(inputs, attrs) -> float:
        gaps = measure(rows(inputs[0], attrs.get("dim")))
        return min_or_inf(gaps[gaps != 0] if nonzero else gaps)

    return gap


def row_norm(r):
    return np.sqrt(np.sum(r * r, axis=1))


def row_std(r):
    return np.std(r, axis=1)


def std_double_backward_terms(inputs, attrs) -> float:
    """The largest |x - mean| / std^3 of a slice off zero spread: torch's double backward of
    std divides by std^2 terms of size |x - mean| / std. A float16 std of 0.0072 (two
    values, correction 1) gave an inf Hessian where the truth is 0."""
    r = rows(inputs[0], attrs.get("dim"))
    dof = r.shape[1] - attrs["correction"]
    if r.size == 0 or dof <= 0:
        return 0.0
    centred = np.abs(r - r.mean(axis=1, keepdims=True))
    std = np.sqrt(np.sum(centred**2, axis=1) / dof)
    spread = std > 0
    return float(np.max(centred.max(axis=1)[spread] / std[spread] ** 3, initial=0.0))


# ---- bounds ------------------------------------------------------------------------------


def n_reduced(shapes, attrs) -> int:
    return reduced_size(shapes[0], attrs.get("dim"))


def sum_bounds(iv, shapes, attrs):
    n = n_reduced(shapes, attrs)
    return n * iv[0][0], n * iv[0][1]


def prod_bounds(iv, shapes, attrs):
    n, m = n_reduced(shapes, attrs), magnitude(iv[0])
    if iv[0][0] >= 0.0:
        return iv[0][0] ** n, iv[0][1] ** n
    return -(m**n), m**n


def var_bounds(iv, shapes, attrs):
    # Popoviciu: the population variance is at most (hi - lo)^2 / 4.
    n = n_reduced(shapes, attrs)
    spread = (iv[0][1] - iv[0][0]) ** 2 / 4
    return 0.0, spread * n / max(n - attrs["correction"], 1)


def std_bounds(iv, shapes, attrs):
    return 0.0, math.sqrt(var_bounds(iv, shapes, attrs)[1])


def norm_bounds(iv, shapes, attrs):
    return 0.0, magnitude(iv[0]) * math.sqrt(n_reduced(shapes, attrs))


def logsumexp_bounds(iv, shapes, attrs):
    return iv[0][0], iv[0][1] + math.log(n_reduced(shapes, attrs))


def input_bounds(iv, shapes, attrs):
    return iv[0]


def along(shapes, attrs) -> int:
    return shapes[0][attrs["dim"]]


def cumsum_bounds(iv, shapes, attrs):
    n, (lo, hi) = along(shapes, attrs), iv[0]
    return min(lo, n * lo), max(hi, n * hi)


def cumprod_bounds(iv, shapes, attrs):
    m = magnitude(iv[0])
    top = max(m, m ** along(shapes, attrs))
    return (0.0 if iv[0][0] >= 0.0 else -top), top


def log_softmax_bounds(iv, shapes, attrs):
    return iv[0][0] - iv[0][1] - math.log(max(along(shapes, attrs), 1)), 0.0


def log_softmax_cancelling_terms(inputs, tangents, attrs) -> float:
    """log_softmax's VJP is g - softmax(x) sum(g) along dim: where softmax saturates, a sum
    of n cotangents cancels against one. Engines sum in vector lanes, each a run of n /
    lanes terms; with the generator's alternating cotangents every lane holds one sign and
    the lanes cancel, which keeps up to about eps n^1.5 / 40 |g| (torch float32, 40
    cotangents each at n = 683, 2049, 4095): n^1.5 / 8 per unit of adjoint, and twice
    that times the tangent in the second derivative (softmax moves by 2 |tangent|)."""
    terms = along([inputs[0].shape], attrs) ** 1.5 / 8
    return terms if tangents is None else 2 * terms * float(np.max(np.abs(tangents[0]), initial=0))


def softmax_cancelling_terms(inputs, tangents, attrs) -> float:
    """softmax's derivative along t of its VJP p (g - <p, g>) is dp (g - <p, g>) - p <dp, g>,
    dp = p (t - <p, t>): terms up to 2 |t| per unit of adjoint whatever the inputs' size,
    which cancel (to 0 for two equal inputs); an engine that computes them in float16 keeps
    eps of them. Its VJP's terms are the adjoint's own size, which the tolerance has."""
    return 0.0 if tangents is None else 2 * float(np.max(np.abs(tangents[0]), initial=0))


def prod_cancelling_terms(inputs, tangents, attrs) -> float:
    """prod's VJP is g prod(x) / x_i (as engines compute it without zeros); its derivative
    along t sums terms g prod(x) t_j / (x_i x_j), the j = i one negative, which cancel (to
    0 for one element, whose Hessian is 0): |prod| sum_j |t_j / x_j| / min |x| per unit of
    adjoint, per reduced slice. Slices holding a zero take a product path that divides by
    nothing. The VJP itself cancels nothing."""
    if tangents is None:
        return 0.0
    x, t = rows(inputs[0], attrs.get("dim")), rows(tangents[0], attrs.get("dim"))
    nonzero = np.all(x != 0, axis=1)
    x, t = np.abs(x[nonzero]), np.abs(t[nonzero])
    terms = np.prod(x, axis=1) * np.sum(t / x, axis=1) / np.min(x, axis=1, initial=np.inf)
    return float(np.max(terms, initial=0.0))


def cumprod_cancelling_terms(inputs, tangents, attrs) -> float:
    """cumprod's second derivative is prod's at each output k (`prod_cancelling_terms`),
    summed over the outputs: sum_k |out_k| sum_{j<=k} |t_j / x_j| / min_{i<=k} |x_i|, over
    the elements before a slice's first zero (past it, the outputs are 0)."""
    if tangents is None:
        return 0.0
    x, t = np.abs(rows(inputs[0], attrs["dim"])), np.abs(rows(tangents[0], attrs["dim"]))
    before_zero = np.cumprod(x != 0, axis=1).astype(bool)
    x, t = np.where(before_zero, x, 1.0), np.where(before_zero, t, 0.0)
    out = np.cumprod(x, axis=1) * before_zero
    terms = out * np.cumsum(t / x, axis=1) / np.minimum.accumulate(x, axis=1)
    return float(np.max(np.sum(terms, axis=1), initial=0.0))


# ---- the table ---------------------------------------------------------------------------

TIES = "ties split the gradient evenly among the tied elements (torch)"
TIED = [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]
NEG_TIED = [[-1.0, -3.0, -3.0], [-2.0, -2.0, -2.0]]
# Equal values whose float32 mean is not exact: torch's float32 std is 1.5e-8 there, not 0.
INEXACT_TIE = [0.20747164436678878] * 3


def reduction(name, bounds, draw_attrs=draw_reduce_attrs, **fields) -> OpSpec:
    fields.setdefault("signature", "(x, dim=int|tuple|None, keepdim=bool)")
    return OpSpec(name, "reduction", reduce_shape, bounds, draw_attrs=draw_attrs, **fields)


def extremum(name, convention, defined=True, **fields) -> OpSpec:
    kink = Kink(tie_gap, convention, ties=True, defined=defined)
    return reduction(name, input_bounds, min_side=1, kink=kink, **fields)


def along_dim(name, bounds, **fields) -> OpSpec:
    fields.setdefault("signature", "(x, dim=int)")
    return OpSpec(
        name, "along_dim", same_shape, bounds, draw_attrs=draw_along_dim, min_ndim=1, **fields
    )


OPS = [
    reduction("sum", sum_bounds),
    reduction("mean", input_bounds, min_side=1),
    reduction(
        "prod",
        prod_bounds,
        domains=(NEAR_ONE,),
        cancelling_terms=prod_cancelling_terms,
        samples=samples(
            ([[2.0, 0.0, 3.0]], {"dim": None, "keepdim": False}),
            ([[0.0, 0.0, 3.0]], {"dim": None, "keepdim": False}),
        ),
    ),
    extremum(
        "amax",
        f"amax: {TIES}",
        samples=samples(
            ([TIED], {"dim": 1, "keepdim": False}), ([TIED], {"dim": None, "keepdim": True})
        ),
    ),
    extremum(
        "amin",
        f"amin: {TIES}",
        samples=samples(
            ([NEG_TIED], {"dim": 0, "keepdim": True}),
            ([NEG_TIED], {"dim": (0, 1), "keepdim": False}),
        ),
    ),
    reduction(
        "logsumexp",
        logsumexp_bounds,
        draw_attrs=draw_required_dims,
        min_ndim=1,
        min_side=1,
        signature="(x, dim=int|tuple, keepdim=bool)",
        absolute_rounding=True,
    ),
    extremum(
        "max",
        f"max (full): {TIES}",
        draw_attrs=lambda d, s, i: {},
        samples=samples(([TIED], {})),
        signature="(x)",
        note="full reduction, ties split evenly",
    ),
    extremum(
        "min",
        f"min (full): {TIES}",
        draw_attrs=lambda d, s, i: {},
        samples=samples(([NEG_TIED], {})),
        signature="(x)",
        note="full reduction, ties split evenly",
    ),
    extremum(
        "max_dim",
        "max_dim: the whole gradient goes to the index torch.max returns",
        defined=False,
        signature="(x, dim=int, keepdim=bool)",
        note="torch.max(x, dim, keepdim).values",
        draw_attrs=draw_one_dim,
        min_ndim=1,
        samples=samples(
            ([TIED], {"dim": 1, "keepdim": False}), ([TIED], {"dim": 0, "keepdim": True})
        ),
    ),
    extremum(
        "min_dim",
        "min_dim: the whole gradient goes to the index torch.min returns",
        defined=False,
        signature="(x, dim=int, keepdim=bool)",
        note="torch.min(x, dim, keepdim).values",
        draw_attrs=draw_one_dim,
        min_ndim=1,
        samples=samples(([NEG_TIED], {"dim": -1, "keepdim": True})),
    ),
    reduction(
        "var",
        var_bounds,
        draw_attrs=draw_spread_attrs,
        min_side=1,
        signature="(x, dim=int|tuple|None, correction=int, keepdim=bool)",
    ),
    reduction(
        "std",
        std_bounds,
        draw_attrs=draw_spread_attrs,
        signature="(x, dim=int|tuple|None, correction=int, keepdim=bool)",
        min_ndim=1,
        min_side=2,
        kink=Kink(
            zero_row_gap(row_std),
            "std: the gradient is 0 where the spread is 0 (torch)",
            ties=True,
            curved=True,
            near=zero_row_gap(row_std, nonzero=True),
        ),
        internal_size=std_double_backward_terms,
        samples=samples(
            ([[1.5] * 4], {"dim": None, "correction": 1, "keepdim": False}),
            ([INEXACT_TIE], {"dim": None, "correction": 0, "keepdim": False}),
        ),
    ),
    reduction(
        "norm",
        norm_bounds,
        note="2-norm: torch.linalg.vector_norm(x, 2, dim, keepdim)",
        kink=Kink(
            zero_row_gap(row_norm),
            "norm: the gradient at the zero vector is 0 (torch)",
            points=lambda attrs: (0.0,),
            curved=True,
            near=zero_row_gap(row_norm, nonzero=True),
        ),
        samples=samples(([[0.0, 0.0, 0.0]], {"dim": None, "keepdim": False})),
    ),
    along_dim(
        "softmax",
        lambda iv, shapes, attrs: (0.0, 1.0),
        cancelling_terms=softmax_cancelling_terms,
    ),
    along_dim(
        "log_softmax",
        log_softmax_bounds,
        absolute_rounding=True,
        cancelling_terms=log_softmax_cancelling_terms,
        accumulated_terms=True,
    ),
    along_dim("cumsum", cumsum_bounds),
    along_dim(
        "cumprod",
        cumprod_bounds,
        domains=(NEAR_ONE,),
        cancelling_terms=cumprod_cancelling_terms,
        large=False,  # the reference's VJP: (n, n) partials per slice
        samples=samples(([[2.0, 0.0, 3.0, 0.5]], {"dim": 0}), ([[0.0, 0.0, 3.0]], {"dim": 0})),
    ),
]
