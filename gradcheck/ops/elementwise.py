"""Elementwise ops: unary (x) and binary (x, y) with broadcasting."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from gradcheck.ops.spec import (
    LIMIT,
    REAL,
    Domain,
    Kink,
    OpSpec,
    broadcast,
    broadcast_fits,
    decreasing,
    distance_to,
    draw_broadcast_partner,
    element_arrays,
    even,
    fixed,
    hull,
    increasing,
    min_or_inf,
    products,
    same_shape,
    samples,
)

POSITIVE = Domain(0.1, LIMIT)
NONZERO = Domain(-LIMIT, LIMIT, gap=0.1)
SMALL = Domain(-3.0, 3.0)  # exp-like ops stay below e^3


def unary(name: str, bounds, domain: Domain = REAL, **fields) -> OpSpec:
    return OpSpec(name, "unary", same_shape, bounds, domains=(domain,), **fields)


# ---- kinks at zero -----------------------------------------------------------------------


def zero_gap(inputs, attrs) -> float:
    return min_or_inf(np.abs(inputs[0]))


def at_zero(attrs) -> tuple[float, ...]:
    return (0.0,)


AT_ZERO = samples(([[-1.5, 0.0, 0.0, 2.0]], {}))


def kinked_at_zero(name: str, bounds, convention: str, **fields) -> OpSpec:
    kink = Kink(zero_gap, convention, points=at_zero)
    return unary(name, bounds, kink=kink, samples=AT_ZERO, **fields)


# ---- clamp -------------------------------------------------------------------------------


def clamp_points(attrs) -> tuple[float, ...]:
    return tuple(b for b in (attrs["min"], attrs["max"]) if b is not None)


def clamp_gap(inputs, attrs) -> float:
    return min_or_inf(distance_to(inputs[0], clamp_points(attrs)))


def clamp_bounds(iv, shapes, attrs):
    low, high = attrs["min"], attrs["max"]
    return tuple(float(np.clip(v, low, high)) for v in iv[0])


def draw_clamp_attrs(draw, shapes, intervals) -> dict:
    # Bounds on a grid inside the input's interval, so that clamp clips something.
    lo, hi = intervals[0]
    grid = [lo + (hi - lo) * k / 8 for k in range(1, 8)]
    low, high = sorted(draw(st.lists(st.sampled_from(grid), min_size=2, max_size=2)))
    kind = draw(st.sampled_from(["both", "min", "max"]))
    return {"min": None if kind == "max" else low, "max": None if kind == "min" else high}


# ---- pow_scalar --------------------------------------------------------------------------


def draw_exponent(draw, shapes, intervals) -> dict:
    # Fractional powers need a positive base, negative ones a base away from zero.
    lo, hi = intervals[0]
    if lo >= 0.1:
        choices = [2.0, 3.0, 0.5, -1.0, 1.5, -2.0]
    elif hi <= -0.1:
        choices = [2.0, 3.0, -1.0, -2.0]
    elif lo >= 0.0:
        choices = [2.0, 3.0, 1.5]
    else:
        choices = [2.0, 3.0]
    return {"exponent": draw(st.sampled_from(choices))}


def pow_scalar_bounds(iv, shapes, attrs):
    # x ** p is monotone on each side of zero, so endpoints (and 0) bound it.
    lo, hi = iv[0]
    points = [lo, hi, *([0.0] if lo < 0.0 < hi else [])]
    values = [x ** attrs["exponent"] for x in points]
    return min(values), max(values)


def pow_scalar_second_derivative(inputs, attrs) -> float:
    """x ** p's second derivative p (p - 1) x ** (p - 2), unbounded near 0 for 0 < p < 2
    (1.5 is drawn for bases that may reach 0): float16 holds sigmoid(-91.8) = 1.2e-40 as
    0, where torch's Hessian is NaN (0 * inf) against the truth -1e-60. An exact 0 is 0
    in every engine: it stays checked."""
    p, x = attrs["exponent"], np.abs(inputs[0])
    if not 0.0 < p < 2.0:  # p = 1 gives 0 through its factor p - 1
        return 0.0
    return float(np.max(abs(p * (p - 1.0)) * x[x > 0] ** (p - 2.0), initial=0.0))


def quotient_terms(numerator: np.ndarray, divisor: np.ndarray, powers: tuple[int, ...]) -> float:
    """The largest |numerator| / |divisor|^k over `powers`: quotients torch's division
    backward forms before the cotangent scales them (its (x / y) / y), which overflow
    float16 however small the cotangent (div's gradient of 700 / 0.1 under a cotangent of
    0.01 is 700; torch's was -inf)."""
    n, d = np.broadcast_arrays(np.abs(numerator), np.abs(divisor))
    return float(max(np.max(n / d**k, initial=0.0) for k in powers))


def div_terms(inputs, attrs) -> float:
    """div's backward forms x / y^2, its double backward x / y^3."""
    return quotient_terms(inputs[0], inputs[1], (2, 3))


# ---- binary ------------------------------------------------------------------------------


def binary(name: str, bounds, domains=(REAL, REAL), **fields) -> OpSpec:
    fields.setdefault("signature", "(x, y)")
    return OpSpec(
        name,
        "binary",
        broadcast,
        bounds,
        arity=(2, 2),
        domains=domains,
        partner_fits=broadcast_fits,
        draw_partner=draw_broadcast_partner,
        **fields,
    )


def difference_gap(inputs, attrs) -> float:
    return min_or_inf(np.abs(inputs[0] - inputs[1]))


def extremum(name: str, pick) -> OpSpec:
    return binary(
        name,
        lambda iv, shapes, attrs: (pick(iv[0][0], iv[1][0]), pick(iv[0][1], iv[1][1])),
        kink=Kink(
            difference_gap,
            f"{name}: at x == y the gradient is split, 1/2 to each input (torch)",
            ties=True,
        ),
        samples=samples(([[1.0, 2.0, 3.0], [1.0, 0.0, 3.0]], {})),
    )


def pow_bounds(iv, shapes, attrs):
    log_base = (math.log(iv[0][0]), math.log(iv[0][1]))
    lo, hi = products(log_base, iv[1])
    return math.exp(lo), math.exp(hi)


def draw_condition(draw, shapes, intervals) -> dict:
    return {"condition": draw(element_arrays(broadcast(shapes, {}), (False, True)))}


def where_shape(shapes, attrs):
    return broadcast([*shapes, attrs["condition"].shape], attrs)


def softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


OPS = [
    unary("neg", decreasing(lambda x: -x)),
    unary("exp", increasing(math.exp), SMALL, inplace="exp_"),
    unary("log", increasing(math.log), POSITIVE),
    unary("log1p", increasing(math.log1p), Domain(-0.9, LIMIT)),
    unary("expm1", increasing(math.expm1), SMALL),
    unary("sqrt", increasing(math.sqrt), POSITIVE, samples=samples(([[0.0, 4.0]], {}))),
    unary("rsqrt", decreasing(lambda x: x**-0.5), POSITIVE),
    unary("reciprocal", decreasing(lambda x: 1.0 / x), NONZERO),
    unary("square", even(lambda x: x * x), Domain(-30.0, 30.0)),
    kinked_at_zero("abs", even(abs), "abs'(0) = 0 (torch: sign(0) = 0)"),
    kinked_at_zero("sign", fixed(-1.0, 1.0), "sign' = 0 everywhere; sign(0) = 0 (torch)"),
    unary("sin", fixed(-1.0, 1.0)),
    unary("cos", fixed(-1.0, 1.0)),
    unary("tan", increasing(math.tan), Domain(-1.3, 1.3)),
    unary("tanh", increasing(math.tanh), inplace="tanh_", derivative_rounding=True),
    unary(
        "sigmoid",
        increasing(lambda x: 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0),
        inplace="sigmoid_",
        derivative_rounding=True,
    ),
    unary("atan", increasing(math.atan)),
    unary("asin", increasing(math.asin), Domain(-0.9, 0.9)),
    unary("acos", decreasing(math.acos), Domain(-0.9, 0.9)),
    unary("sinh", increasing(math.sinh), SMALL),
    unary("cosh", even(math.cosh), SMALL),
    unary("erf", increasing(math.erf)),
    kinked_at_zero(
        "relu", increasing(lambda x: max(x, 0.0)), "relu'(0) = 0 (torch)", inplace="relu_"
    ),
    unary("softplus", increasing(softplus), derivative_rounding=True),
    unary("gelu", lambda iv, shapes, attrs: (-0.18, max(iv[0][1], 0.0)), absolute_rounding=True),
    unary(
        "clamp",
        clamp_bounds,
        draw_attrs=draw_clamp_attrs,
        signature="(x, min=float|None, max=float|None)",
        kink=Kink(
            clamp_gap,
            "clamp' = 1 for min <= x <= max (bounds inclusive), 0 outside (torch)",
            points=clamp_points,
        ),
        samples=samples(([[-1.0, -0.5, 0.0, 0.5, 1.0]], {"min": -0.5, "max": 0.5})),
        inplace="clamp_",
    ),
    unary(
        "pow_scalar",
        pow_scalar_bounds,
        Domain(-10.0, 10.0),
        draw_attrs=draw_exponent,
        signature="(x, exponent=float)",
        note="torch.pow(x, exponent)",
        internal_size=pow_scalar_second_derivative,
        samples=samples(([[0.0, 2.0]], {"exponent": 0.0}), ([[0.0, 2.0]], {"exponent": 2.0})),
    ),
    binary(
        "add", lambda iv, shapes, attrs: (iv[0][0] + iv[1][0], iv[0][1] + iv[1][1]), inplace="add_"
    ),
    binary(
        "sub", lambda iv, shapes, attrs: (iv[0][0] - iv[1][1], iv[0][1] - iv[1][0]), inplace="sub_"
    ),
    binary("mul", lambda iv, shapes, attrs: products(iv[0], iv[1]), inplace="mul_"),
    binary(
        "div",
        lambda iv, shapes, attrs: products(iv[0], (1.0 / iv[1][1], 1.0 / iv[1][0])),
        domains=(REAL, NONZERO),
        internal_size=div_terms,
        inplace="div_",
    ),
    extremum("maximum", max),
    extremum("minimum", min),
    # The exponent keeps away from 0: torch's pow_backward masks d/dx where y == 0, so
    # its mixed second derivative there is 0, not 1/x (first derivatives agree: the
    # `conventions` check covers y == 0).
    binary(
        "pow",
        pow_bounds,
        domains=(Domain(0.1, 10.0), Domain(-3.0, 3.0, 0.1)),
        samples=samples(([[0.0, 2.0], [2.0, 0.5]], {})),
        note="tensor exponent",
    ),
    OpSpec(
        "where",
        "binary",
        where_shape,
        lambda iv, shapes, attrs: hull(*iv),
        draw_attrs=draw_condition,
        signature="(x, y, condition=bool array)",
        note="torch.where(condition, x, y)",
        arity=(2, 2),
        domains=(REAL, REAL),
        partner_fits=broadcast_fits,
        draw_partner=draw_broadcast_partner,
    ),
]
