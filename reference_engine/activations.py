"""Activations (torch.nn.functional's): silu, leaky_relu, elu, logsigmoid, hardtanh,
softsign, mish, hardswish. Top-level functions, as the engine's other activations are.

Each forward is the textbook formula in numpy; each VJP is its derivative in engine ops
(so create_graph differentiates it again). At kinks the VJPs take torch's side, listed in
conventions.CONVENTIONS: leaky_relu'(0) = negative_slope, elu'(0) = alpha, hardtanh' = 0
on its bounds, hardswish'(-3) = 0 and hardswish'(3) = 1.

A branch that where() does not select still runs, and its VJP receives a zero cotangent:
0 * inf = nan there. So no branch may overflow on inputs it does not serve (elu's exp
only sees x <= 0).
"""

from __future__ import annotations

import numpy as np

from .elementwise import abs, exp, sigmoid, softplus, tanh, where
from .rules import elementwise
from .tensor import Tensor

__all__ = "silu leaky_relu elu logsigmoid hardtanh softsign mish hardswish".split()


def _silu_vjp(g: Tensor, out: Tensor, x: Tensor) -> Tensor:
    # silu' = s + x s (1 - s), with 1 - s as sigmoid(-x): no float16 cancellation
    return g * (sigmoid(x) * (1 + x * sigmoid(-x)))


def _elu_vjp(g: Tensor, out: Tensor, x: Tensor, alpha: float) -> Tensor:
    negative = where(x > 0, 0, x)  # exp only of x <= 0: no overflow in the unused branch
    return where(x > 0, g, g * (alpha * exp(negative)))


def _hardtanh_vjp(g: Tensor, out: Tensor, x: Tensor, min_val: float, max_val: float) -> Tensor:
    return where((x > min_val) & (x < max_val), g, 0)  # 0 on the bounds, like torch


def _mish_vjp(g: Tensor, out: Tensor, x: Tensor) -> Tensor:
    t = tanh(softplus(x))
    return g * (t + x * sigmoid(x) * (1 - t * t))  # d/dx x tanh(sp(x)), sp' = sigmoid


def _hardswish_vjp(g: Tensor, out: Tensor, x: Tensor) -> Tensor:
    # hardswish = x (x + 3) / 6 on (-3, 3): derivative x / 3 + 1/2; torch takes the outer
    # sides at -3 (0) and 3 (1).
    return where(x <= -3, 0, where(x < 3, g * (x / 3 + 0.5), g))


silu = elementwise("silu", lambda x: x / (1 + np.exp(-x)), _silu_vjp)
leaky_relu_p = elementwise(
    "leaky_relu",
    lambda x, negative_slope: np.where(x > 0, x, x * negative_slope),
    lambda g, out, x, negative_slope: where(x > 0, g, g * negative_slope),
)
elu_p = elementwise("elu", lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(x)), _elu_vjp)
# log(sigmoid(x)) = -log(1 + e^-x); logaddexp keeps it finite for large |x|.
logsigmoid = elementwise(
    "logsigmoid", lambda x: -np.logaddexp(0, -x), lambda g, out, x: g * sigmoid(-x)
)
hardtanh_p = elementwise(
    "hardtanh", lambda x, min_val, max_val: np.clip(x, min_val, max_val), _hardtanh_vjp
)
mish = elementwise("mish", lambda x: x * np.tanh(np.logaddexp(0, x)), _mish_vjp)
hardswish = elementwise("hardswish", lambda x: x * np.clip(x + 3, 0, 6) / 6, _hardswish_vjp)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu_p(input, negative_slope=negative_slope)


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu_p(input, alpha=alpha)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh_p(input, min_val=min_val, max_val=max_val)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|), as torch composes it (abs'(0) = 0 drops out: softsign'(0) = 1)."""
    return input / (abs(input) + 1)
