"""Element-wise ops: unary and binary (broadcasting) primitives, composites, comparisons,
and the Tensor methods and arithmetic operators they provide.

Kink rules follow conventions.py: a VJP reads the declared choice (conventions.choice)
when it runs, and the torch default reproduces torch's formula exactly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import conventions
from .dispatch import Scalar, lift, lift_all
from .rules import broadcasting, elementwise
from .tensor import Tensor, zeros_like

__all__ = """neg exp log log1p expm1 sqrt rsqrt reciprocal abs sign sin cos tan tanh sigmoid atan
asin acos sinh cosh erf erfc relu square softplus gelu clamp clip add sub mul div maximum minimum
pow where eq ne lt le gt ge logical_and logical_or logical_not""".split()


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[x.dtype])(x)


def _erfc(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erfc, otypes=[x.dtype])(x)


def _relu_vjp(g: Tensor, out: Tensor, x: Tensor) -> Tensor:
    passed = where(x > 0, g, 0)
    at_zero = conventions.choice("relu")  # relu'(0)
    return passed if at_zero == 0 else where(x == 0, g * at_zero, passed)


def _abs_vjp(g: Tensor, out: Tensor, x: Tensor) -> Tensor:
    at_zero = conventions.choice("abs")  # abs'(0); sign(0) is 0
    return g * (sign(x) if at_zero == 0 else where(x == 0, at_zero, sign(x)))


# -- unary: (name, numpy forward, the VJP of one element; the JVP is the same map) ------
neg = elementwise("neg", np.negative, lambda g, out, x: -g)
exp = elementwise("exp", np.exp, lambda g, out, x: g * out)
log = elementwise("log", np.log, lambda g, out, x: g / x)
log1p = elementwise("log1p", np.log1p, lambda g, out, x: g / (1 + x))
expm1 = elementwise("expm1", np.expm1, lambda g, out, x: g * (out + 1))
sqrt = elementwise("sqrt", np.sqrt, lambda g, out, x: g / (2 * out))
rsqrt = elementwise("rsqrt", lambda x: 1 / np.sqrt(x), lambda g, out, x: -0.5 * g * out**3)
reciprocal = elementwise("reciprocal", lambda x: 1 / x, lambda g, out, x: -g * (out * out))
abs = elementwise("abs", np.abs, _abs_vjp)
sign = elementwise("sign", np.sign, lambda g, out, x: zeros_like(g))
sin = elementwise("sin", np.sin, lambda g, out, x: g * cos(x))
cos = elementwise("cos", np.cos, lambda g, out, x: -g * sin(x))
tan = elementwise("tan", np.tan, lambda g, out, x: g * (1 + out * out))
tanh = elementwise("tanh", np.tanh, lambda g, out, x: g * (1 - out * out))
# From the output alone, as torch (it saves no input: writing to x afterwards is allowed).
sigmoid = elementwise(
    "sigmoid", lambda x: 1 / (1 + np.exp(-x)), lambda g, out, x: g * out * (1 - out)
)
atan = elementwise("atan", np.arctan, lambda g, out, x: g / (1 + x * x))
asin = elementwise("asin", np.arcsin, lambda g, out, x: g * rsqrt(1 - x * x))
acos = elementwise("acos", np.arccos, lambda g, out, x: -g * rsqrt(1 - x * x))
sinh = elementwise("sinh", np.sinh, lambda g, out, x: g * cosh(x))
cosh = elementwise("cosh", np.cosh, lambda g, out, x: g * sinh(x))
erf = elementwise("erf", _erf, lambda g, out, x: g * (2 / math.sqrt(math.pi)) * exp(-x * x))
erfc = elementwise("erfc", _erfc, lambda g, out, x: g * (-2 / math.sqrt(math.pi)) * exp(-x * x))
relu = elementwise("relu", lambda x: np.maximum(x, 0), _relu_vjp)


def _softplus(x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
    return np.where(x * beta > threshold, x, np.logaddexp(0, x * beta) / beta)


def _softplus_vjp(g: Tensor, out: Tensor, x: Tensor, beta: float, threshold: float) -> Tensor:
    return where(x * beta > threshold, g, g * sigmoid(x * beta))


def _clamp_vjp(g: Tensor, out: Tensor, x: Tensor, min: float | None, max: float | None) -> Tensor:
    low, high = -math.inf if min is None else min, math.inf if max is None else max
    inside = (x >= low) & (x <= high)
    passed = where(inside, g, 0)
    on_bound = conventions.choice("clamp")  # the share of the gradient exactly on a bound
    if on_bound == 1:
        return passed
    return where(inside & ((x == low) | (x == high)), g * on_bound, passed)


def _pow_scalar_vjp(g: Tensor, out: Tensor, x: Tensor, exponent: float) -> Tensor:
    return zeros_like(g) if exponent == 0 else g * exponent * x ** (exponent - 1)


softplus_p = elementwise("softplus", _softplus, _softplus_vjp)
clamp_p = elementwise("clamp", lambda x, min, max: np.clip(x, min, max), _clamp_vjp)
pow_scalar = elementwise("pow_scalar", lambda x, exponent: np.power(x, exponent), _pow_scalar_vjp)


def square(input: Tensor) -> Tensor:
    return pow(input, 2)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """torch.nn.functional.softplus."""
    return softplus_p(input, beta=beta, threshold=threshold)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Exact gelu, x * Phi(x); the product rule gives torch's Phi(x) + x * phi(x).
    Phi(x) = erfc(-x / sqrt 2) / 2, not (1 + erf(x / sqrt 2)) / 2: for x << 0 the latter
    cancels to a few digits and the oracle would blame the engine under test."""
    if approximate != "none":
        raise NotImplementedError("only the exact (erf) gelu is implemented")
    return input * 0.5 * erfc(input * (-1 / math.sqrt(2)))


def clamp(input: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    return clamp_p(input, min=min, max=max)


clip = clamp


# -- binary, broadcasting: (name, numpy forward, VJP of x, VJP of y; broadcast shape) ----
def _share(op: str, sign: int, of_x: bool) -> Any:
    """The weight of x (of_x) or y in maximum/minimum: 1 if it wins, the declared share
    at a tie (y gets 1 - share). A constant: the choice of branch is not differentiated."""

    def weight(x: Tensor, y: Tensor) -> Tensor:
        share = conventions.choice(op)
        mine, theirs = (x, y) if of_x else (y, x)
        ties = share if of_x else 1 - share
        return Tensor(conventions.share_at_ties(mine.data, theirs.data, sign, ties))

    return weight


_x_max, _y_max = _share("maximum", 1, True), _share("maximum", 1, False)
_x_min, _y_min = _share("minimum", -1, True), _share("minimum", -1, False)

add = broadcasting("add", np.add, lambda g, out, x, y: g, lambda g, out, x, y: g)
sub = broadcasting("sub", np.subtract, lambda g, out, x, y: g, lambda g, out, x, y: -g)
mul = broadcasting("mul", np.multiply, lambda g, out, x, y: g * y, lambda g, out, x, y: g * x)
div = broadcasting(
    "div", np.divide, lambda g, out, x, y: g / y, lambda g, out, x, y: -g * ((x / y) / y)
)
maximum = broadcasting(
    "maximum",
    np.maximum,
    lambda g, out, x, y: g * _x_max(x, y),
    lambda g, out, x, y: g * _y_max(x, y),
)
minimum = broadcasting(
    "minimum",
    np.minimum,
    lambda g, out, x, y: g * _x_min(x, y),
    lambda g, out, x, y: g * _y_min(x, y),
)
pow_p = broadcasting(
    "pow",
    np.power,
    lambda g, out, x, y: where((y == 0) & (x == 0), 0, g * y * x ** (y - 1)),
    lambda g, out, x, y: where((x == 0) & (y >= 0), 0, g * out * log(x)),
)
where_p = broadcasting(
    "where",
    lambda x, y, condition: np.where(condition, x, y),
    lambda g, out, x, y, condition: where(condition, g, 0),
    lambda g, out, x, y, condition: where(condition, 0, g),
)


def pow(input: Any, exponent: Any) -> Tensor:
    """input ** exponent: a python-number exponent is an attribute, a tensor one an input."""
    if isinstance(input, Tensor) and isinstance(exponent, Scalar):
        return pow_scalar(input, exponent=exponent)
    return pow_p(input, exponent)


def where(condition: Any, input: Any, other: Any) -> Tensor:
    condition = np.asarray(condition.data if isinstance(condition, Tensor) else condition)
    return where_p(input, other, condition=condition.astype(bool))


# -- comparisons and logic (not differentiable: bool results) ------------------------------
def _comparison(name: str, numpy_op: Any) -> Any:
    def compare(input: Any, other: Any) -> Tensor:
        return Tensor(numpy_op(*(t.data for t in lift_all((input, other)))))

    compare.__name__ = compare.__qualname__ = name
    return compare


eq, ne = _comparison("eq", np.equal), _comparison("ne", np.not_equal)
lt, le = _comparison("lt", np.less), _comparison("le", np.less_equal)
gt, ge = _comparison("gt", np.greater), _comparison("ge", np.greater_equal)
logical_and = _comparison("logical_and", np.logical_and)
logical_or = _comparison("logical_or", np.logical_or)


def logical_not(input: Tensor) -> Tensor:
    return Tensor(np.logical_not(input.data))


# -- Tensor methods and operators ------------------------------------------------------------
Tensor.neg, Tensor.exp, Tensor.log, Tensor.log1p, Tensor.expm1 = neg, exp, log, log1p, expm1
Tensor.sqrt, Tensor.rsqrt, Tensor.reciprocal, Tensor.abs = sqrt, rsqrt, reciprocal, abs
Tensor.sign, Tensor.sin, Tensor.cos, Tensor.tan, Tensor.tanh = sign, sin, cos, tan, tanh
Tensor.sigmoid, Tensor.atan, Tensor.asin, Tensor.acos = sigmoid, atan, asin, acos
Tensor.sinh, Tensor.cosh, Tensor.erf, Tensor.relu = sinh, cosh, erf, relu
Tensor.square, Tensor.clamp, Tensor.clip, Tensor.pow = square, clamp, clip, pow
Tensor.add, Tensor.sub, Tensor.mul, Tensor.div = add, sub, mul, div
Tensor.maximum, Tensor.minimum = maximum, minimum
Tensor.eq, Tensor.ne, Tensor.lt, Tensor.le, Tensor.gt, Tensor.ge = eq, ne, lt, le, gt, ge
Tensor.logical_and, Tensor.logical_or, Tensor.logical_not = logical_and, logical_or, logical_not

Tensor.__neg__, Tensor.__abs__ = neg, abs
Tensor.__add__, Tensor.__radd__ = add, lambda x, y: add(y, x)
Tensor.__sub__, Tensor.__rsub__ = sub, lambda x, y: sub(y, x)
Tensor.__mul__, Tensor.__rmul__ = mul, lambda x, y: mul(y, x)
Tensor.__truediv__, Tensor.__rtruediv__ = div, lambda x, y: div(y, x)
Tensor.__pow__, Tensor.__rpow__ = pow, lambda x, y: pow(lift(y, x), x)
Tensor.__eq__, Tensor.__ne__, Tensor.__lt__ = eq, ne, lt  # type: ignore[assignment]
Tensor.__le__, Tensor.__gt__, Tensor.__ge__ = le, gt, ge
Tensor.__and__, Tensor.__or__, Tensor.__invert__ = logical_and, logical_or, logical_not
