"""Activations (torch.nn.functional's): unary, element-wise, most with an attr.

Domains are the whole real line: silu, mish, logsigmoid and elu saturate or grow
linearly, so large |x| (reached through other ops) is where an asymptotic branch of a
backward would be wrong. Kinks are declared where the derivative jumps (leaky_relu, elu
with alpha != 1, hardtanh, hardswish) and where only the second derivative does (softsign
at 0, elu at 0 with alpha = 1): second-order checks and difference stencils must keep off
those too.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from gradcheck.ops.elementwise import softplus, unary
from gradcheck.ops.spec import Kink, distance_to, increasing, min_or_inf, samples


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def dipping(f, argmin: float, minimum: float):
    """Bounds of a function decreasing up to `argmin` and increasing after it; `minimum`
    is a lower bound of f(argmin) (silu, mish and hardswish dip below zero once)."""

    def bounds(iv, shapes, attrs):
        lo, hi = iv[0]
        near = lo <= argmin + 0.01 and hi >= argmin - 0.01  # argmin is rounded
        low = minimum if near else min(f(lo), f(hi))
        return low, max(f(lo), f(hi))

    return bounds


def silu(x: float) -> float:
    return x * sigmoid(x)


def mish(x: float) -> float:
    return x * math.tanh(softplus(x))


def hardswish(x: float) -> float:
    return x * min(max(x + 3.0, 0.0), 6.0) / 6.0


# ---- kinks ---------------------------------------------------------------------------------


def fixed_points(*points: float):
    return lambda attrs: points


def points_gap(points):
    def gap(inputs, attrs) -> float:
        return min_or_inf(distance_to(inputs[0], points(attrs)))

    return gap


def kink(points, convention: str) -> Kink:
    return Kink(points_gap(points), convention, points=points)


AT_ZERO = fixed_points(0.0)
ZERO_SAMPLE = [[-1.5, 0.0, 0.0, 2.0]]


def hardtanh_points(attrs) -> tuple[float, ...]:
    return (attrs["min_val"], attrs["max_val"])


def draw_hardtanh_attrs(draw, shapes, intervals) -> dict:
    # Bounds on a grid inside the input's interval, so that hardtanh clips something.
    lo, hi = intervals[0]
    grid = [lo + (hi - lo) * k / 8 for k in range(1, 8)]
    low, high = sorted(draw(st.lists(st.sampled_from(grid), min_size=2, max_size=2, unique=True)))
    return {"min_val": low, "max_val": high}


def hardtanh_bounds(iv, shapes, attrs):
    low, high = attrs["min_val"], attrs["max_val"]
    return tuple(float(np.clip(v, low, high)) for v in iv[0])


def slope_bounds(name: str):
    """leaky_relu and elu: increasing (their attrs are positive), x itself for x > 0."""

    def f(x: float, attrs: dict) -> float:
        if x > 0:
            return x
        if name == "leaky_relu":
            return x * attrs["negative_slope"]
        return attrs["alpha"] * math.expm1(x)

    return lambda iv, shapes, attrs: (f(iv[0][0], attrs), f(iv[0][1], attrs))


OPS = [
    unary("silu", dipping(silu, -1.2785, -0.27847), derivative_rounding=True),
    unary(
        "leaky_relu",
        slope_bounds("leaky_relu"),
        draw_attrs=lambda draw, shapes, iv: {
            "negative_slope": draw(st.sampled_from([0.01, 0.2, 0.5]))
        },
        signature="(x, negative_slope=float)",
        kink=kink(AT_ZERO, "leaky_relu'(0) = negative_slope (torch: the x <= 0 side)"),
        samples=samples((ZERO_SAMPLE, {"negative_slope": 0.2})),
    ),
    unary(
        "elu",
        slope_bounds("elu"),
        draw_attrs=lambda draw, shapes, iv: {"alpha": draw(st.sampled_from([1.0, 0.5, 2.0]))},
        signature="(x, alpha=float)",
        kink=kink(
            AT_ZERO,
            "elu'(0) = alpha (torch: the x <= 0 side); with alpha = 1 elu is C1 at 0 but its "
            "second derivative jumps there (1 to 0)",
        ),
        samples=samples((ZERO_SAMPLE, {"alpha": 2.0}), (ZERO_SAMPLE, {"alpha": 1.0})),
    ),
    unary("logsigmoid", increasing(lambda x: -softplus(-x)), derivative_rounding=True),
    unary(
        "hardtanh",
        hardtanh_bounds,
        draw_attrs=draw_hardtanh_attrs,
        signature="(x, min_val=float, max_val=float)",
        kink=kink(
            hardtanh_points,
            "hardtanh' = 0 at min_val and at max_val (torch: bounds exclusive, unlike clamp)",
        ),
        samples=samples(([[-1.0, -0.5, 0.0, 0.5, 1.0]], {"min_val": -0.5, "max_val": 0.5})),
    ),
    unary(
        "softsign",
        increasing(lambda x: x / (1.0 + abs(x))),
        kink=kink(
            AT_ZERO,
            "softsign is C1 at 0 (softsign'(0) = 1); its second derivative jumps there (2 to -2)",
        ),
        samples=samples((ZERO_SAMPLE, {})),
    ),
    unary("mish", dipping(mish, -1.1924, -0.30885), derivative_rounding=True),
    unary(
        "hardswish",
        dipping(hardswish, -1.5, -0.375),
        kink=kink(
            fixed_points(-3.0, 3.0),
            "hardswish'(-3) = 0 and hardswish'(3) = 1 (torch: the outer sides)",
        ),
        samples=samples(([[-4.0, -3.0, -1.5, 0.0, 3.0, 4.0]], {})),
    ),
]
