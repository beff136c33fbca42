"""Point-wise ops of two inputs (family "binary", broadcasting as `binary` does) and of
three (family "ternary": lerp, addcmul, addcdiv).

Ternary partners broadcast *into* the first input's shape (some dims 1, leading dims
dropped): three shapes that each broadcast with the first need not broadcast with each
other, and the generator checks each partner against the first input only.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from gradcheck.ops.elementwise import NONZERO, binary, quotient_terms
from gradcheck.ops.spec import (
    LIMIT,
    REAL,
    Domain,
    Kink,
    OpSpec,
    fixed,
    min_or_inf,
    products,
    same_shape,
    samples,
)

# ---- binary --------------------------------------------------------------------------------


def pairs(inputs) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.broadcast_arrays(*inputs)
    return x, y


def atan2_gap(inputs, attrs) -> float:
    """Distance to the origin, or to the branch cut (x == 0, y < 0) where atan2 jumps from
    pi to -pi: |x| where y < 0, else the distance to the cut's end, the origin."""
    x, y = pairs(inputs)
    return min_or_inf(np.where(y < 0, np.abs(x), np.hypot(x, y)))


def atan2_reciprocal(inputs, attrs) -> float:
    """torch's atan2 backward forms 1 / (x^2 + y^2), and its second derivative the square
    of that: it overflows float16 for |(x, y)| < 0.06 (atan2(v, v) at v = -0.035: a NaN
    Hessian where the truth is 0; at v = 0.0024 a NaN gradient). The origin itself is
    the kink, whose convention torch keeps."""
    x, y = pairs(inputs)
    squared = x * x + y * y
    return float(np.max(1.0 / squared[squared > 0] ** 2, initial=0.0))


def hypot_bounds(iv, shapes, attrs):
    def smallest(lo, hi):
        return 0.0 if lo <= 0.0 <= hi else min(abs(lo), abs(hi))

    (a, b), (c, d) = iv
    return math.hypot(smallest(a, b), smallest(c, d)), math.hypot(
        max(abs(a), abs(b)), max(abs(c), abs(d))
    )


def hypot_cancelling_terms(inputs, tangents, attrs) -> float:
    """hypot's second derivative along (tx, ty) is (y tx - x ty)^2 / h^3: terms of about
    (|tx| + |ty|)^2 / h that cancel where x ty ~ y tx, to 0 for hypot(x, x), which is
    linear; engines keep eps times them (float16 hypot(x, x) at x = -0.11: 0.0078). Its
    VJP, x / h, cancels nothing."""
    if tangents is None:
        return 0.0
    (x, y), (tx, ty) = pairs(inputs), pairs(tangents)
    h, t = np.hypot(x, y), np.abs(tx) + np.abs(ty)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.max(np.where(h > 0, t * t / h, 0.0), initial=0.0))


def logaddexp_bounds(iv, shapes, attrs):
    (a, b), (c, d) = iv
    return max(a, c), max(b, d) + math.log(2.0)


def xlogy_bounds(iv, shapes, attrs):
    return products(iv[0], (math.log(iv[1][0]), math.log(iv[1][1])))


def xlogy_terms(inputs, attrs) -> float:
    """xlogy's d/dy is g (x / y), and its second derivative in y forms x / y^2: 77,600 at
    x = 27.4, y = 0.0188 overflowed the reference's float16 (its Hessian inf where the
    truth is 2777; the thorough profile)."""
    return quotient_terms(inputs[0], inputs[1], (1, 2))


AT_ZERO = lambda attrs: (0.0,)  # noqa: E731 - input 0 is drawn away from 0
# xlogy's y: log(y) and x / y stay well conditioned.
POSITIVE = Domain(0.01, LIMIT)

BINARY = [
    binary(
        "atan2",
        fixed(-math.pi, math.pi),
        kink=Kink(
            atan2_gap,
            "atan2(x, y): the gradient at (0, 0) is 0 (torch); the value jumps by 2 pi across "
            "x == 0 for y < 0 (atan2(+-0, y) = +-pi)",
            points=AT_ZERO,
            curved=True,
        ),
        samples=samples(([[0.0, 0.0, -0.0, 1.0, 0.0], [0.0, -1.0, -1.0, 0.0, 2.0]], {})),
        internal_size=atan2_reciprocal,
        note="torch.atan2(x, y) = angle of (y, x)",
    ),
    # At (0, 0) torch's gradient is nan (grad * x / hypot), even for a zero cotangent: x
    # keeps away from 0 so that graphs never reach the origin (the samples sit on x == 0).
    binary(
        "hypot",
        hypot_bounds,
        domains=(NONZERO, REAL),
        samples=samples(([[0.0, 3.0, -1.0], [2.0, 4.0, 0.0]], {})),
        cancelling_terms=hypot_cancelling_terms,
        note="x kept off 0: at (0, 0) torch's gradient is nan",
    ),
    binary("logaddexp", logaddexp_bounds),
    binary(
        "xlogy",
        xlogy_bounds,
        domains=(REAL, POSITIVE),
        internal_size=xlogy_terms,
        samples=samples(([[0.0, 0.0, 2.0, 1.5], [0.0, 3.0, 0.5, 0.0]], {})),
        note="x * log(y), 0 where x == 0 (torch: also at y == 0, d/dx = 0 there)",
    ),
]

# ---- ternary -------------------------------------------------------------------------------


def fits_into(first, other) -> bool:
    try:
        return np.broadcast_shapes(first, other) == tuple(first)
    except ValueError:
        return False


def draw_sub_partner(draw, shape):
    """A shape that broadcasts to `shape`: some dims set to 1, some leading dims dropped."""
    dims = [1 if draw(st.booleans()) else s for s in shape]
    return tuple(dims[draw(st.integers(0, len(dims))) :])


def add(a, b):
    return a[0] + b[0], a[1] + b[1]


def scaled(value: float, iv):
    return products((value, value), iv)


def lerp_bounds(iv, shapes, attrs):
    start, end, weight = iv
    return add(products((1.0 - weight[1], 1.0 - weight[0]), start), products(weight, end))


def addcmul_bounds(iv, shapes, attrs):
    return add(iv[0], scaled(attrs["value"], products(iv[1], iv[2])))


def addcdiv_bounds(iv, shapes, attrs):
    inverse = (1.0 / iv[2][1], 1.0 / iv[2][0])  # the divisor's interval excludes 0
    return add(iv[0], scaled(attrs["value"], products(iv[1], inverse)))


def addcdiv_terms(inputs, attrs) -> float:
    """addcdiv's backward forms value t1 / (t2 t2), and its double backward divides that
    by t2 t2 again: value t1 / t2^4 overflowed float16 at t1 = 90, t2 = 0.149 (torch's
    Hessian inf where the truth is 1641; the thorough profile)."""
    return quotient_terms(attrs["value"] * inputs[1], inputs[2], (2, 4))


def draw_value(draw, shapes, intervals) -> dict:
    return {"value": draw(st.sampled_from([1.0, 0.5, -2.0]))}


def ternary(name, bounds, domains=(REAL,), **fields) -> OpSpec:
    return OpSpec(
        name,
        "ternary",
        same_shape,  # the partners broadcast into input 0
        bounds,
        arity=(3, 3),
        domains=domains,
        partner_fits=fits_into,
        draw_partner=draw_sub_partner,
        **fields,
    )


TERNARY = [
    ternary("lerp", lerp_bounds, signature="(x, end, weight)", note="torch.lerp, tensor weight"),
    ternary(
        "addcmul",
        addcmul_bounds,
        draw_attrs=draw_value,
        signature="(x, tensor1, tensor2, value=float)",
    ),
    ternary(
        "addcdiv",
        addcdiv_bounds,
        domains=(REAL, REAL, NONZERO),
        draw_attrs=draw_value,
        internal_size=addcdiv_terms,
        signature="(x, tensor1, tensor2, value=float)",
    ),
]

OPS = [*BINARY, *TERNARY]
