"""Binary and ternary point-wise ops, broadcasting: atan2, hypot, logaddexp, xlogy, lerp,
addcmul, addcdiv (torch's names, keywords and Tensor methods).

VJPs keep float16 in range: a ratio first, then the division (atan2's y / r / r, not
y / (x^2 + y^2), whose square overflows float16 for |x| > 256).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .dispatch import Primitive
from .elementwise import sigmoid, where
from .rules import broadcast_to_p, broadcasting, unbroadcast
from .tensor import Tensor

__all__ = "atan2 arctan2 hypot logaddexp xlogy lerp addcmul addcdiv".split()


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.where(x == 0, 0, x * np.log(y))  # 0 where x == 0, even at y == 0


def _xlogy_dx(g: Tensor, out: Tensor, x: Tensor, y: Tensor) -> Tensor:
    # torch: xlogy(grad, y), masked to 0 where x == 0 and y <= 0 (its value is 0 there).
    # xlogy itself, not where(g == 0, 0, g * log(y)): its derivative in g is log(y) also
    # where g == 0 (at x == 0 the cotangent of xlogy(x, y)^2 is 0, its second derivative
    # is not).
    return where((x == 0) & (y <= 0), 0, xlogy(g, y))


def _atan2_dx(g: Tensor, out: Tensor, x: Tensor, y: Tensor) -> Tensor:
    r = hypot(x, y)  # d atan2(x, y) / dx = y / r^2; 0 at the origin, like torch
    return where(r == 0, 0, g * (y / r) / r)


def _atan2_dy(g: Tensor, out: Tensor, x: Tensor, y: Tensor) -> Tensor:
    r = hypot(x, y)
    return where(r == 0, 0, -g * (x / r) / r)


hypot = broadcasting(
    "hypot", np.hypot, lambda g, out, x, y: g * (x / out), lambda g, out, x, y: g * (y / out)
)
atan2 = broadcasting("atan2", np.arctan2, _atan2_dx, _atan2_dy)
arctan2 = atan2
logaddexp = broadcasting(
    "logaddexp",
    np.logaddexp,
    lambda g, out, x, y: g * sigmoid(x - y),  # e^x / (e^x + e^y)
    lambda g, out, x, y: g * sigmoid(y - x),
)
xlogy = broadcasting("xlogy", _xlogy, _xlogy_dx, lambda g, out, x, y: g * (x / y))


def ternary(name: str, forward: Callable, vjps: tuple[Callable, ...], params: tuple) -> Primitive:
    """A three-input element-wise op; vjps[i](g, out, *inputs, **attrs) is the VJP of
    input i in the broadcast shape, linear in g (so the JVP sums the same maps)."""

    def vjp(g, out, *xs, **a):
        return tuple(
            unbroadcast(f(g, out, *xs, **a), x.shape) for f, x in zip(vjps, xs, strict=True)
        )

    def jvp(ts, out, *xs, **a):
        total = vjps[0](ts[0], out, *xs, **a)
        for f, t in zip(vjps[1:], ts[1:], strict=True):
            total = total + f(t, out, *xs, **a)
        return broadcast_to_p(total, shape=out.shape)

    return Primitive(name, forward, params=params, vjp=vjp, jvp=jvp)


lerp = ternary(
    "lerp",
    lambda start, end, weight: start + weight * (end - start),
    (
        lambda g, out, start, end, weight: g * (1 - weight),
        lambda g, out, start, end, weight: g * weight,
        lambda g, out, start, end, weight: g * (end - start),
    ),
    ("input", "end", "weight"),
)
_addcmul = ternary(
    "addcmul",
    lambda x, t1, t2, value: x + value * t1 * t2,
    (
        lambda g, out, x, t1, t2, value: g,
        lambda g, out, x, t1, t2, value: g * value * t2,
        lambda g, out, x, t1, t2, value: g * value * t1,
    ),
    ("input", "tensor1", "tensor2"),
)
_addcdiv = ternary(
    "addcdiv",
    lambda x, t1, t2, value: x + value * t1 / t2,
    (
        lambda g, out, x, t1, t2, value: g,
        lambda g, out, x, t1, t2, value: g * value / t2,
        lambda g, out, x, t1, t2, value: -g * value * (t1 / t2) / t2,
    ),
    ("input", "tensor1", "tensor2"),
)


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:
    return _addcmul(input, tensor1, tensor2, value=value)


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:
    return _addcdiv(input, tensor1, tensor2, value=value)


Tensor.atan2, Tensor.arctan2, Tensor.hypot, Tensor.logaddexp = atan2, atan2, hypot, logaddexp
Tensor.xlogy, Tensor.lerp, Tensor.addcmul, Tensor.addcdiv = xlogy, lerp, addcmul, addcdiv
