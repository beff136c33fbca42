"""Kink and tie conventions: one table, each entry matching torch's backward formula.

The VJPs in primitives.py implement these rules (the weight helpers below are used
there); tests/engine/test_conventions.py checks every entry against torch in float64.
"""

from __future__ import annotations

import numpy as np

CONVENTIONS: dict[str, str] = {
    "relu": "relu'(0) = 0; torch threshold_backward: where(x <= 0, 0, grad)",
    "abs": "abs'(0) = 0; torch: grad * x.sgn()",
    "sign": "sign' = 0 everywhere (also at 0); torch: zeros_like(grad)",
    "max": "full max(x): ties share the gradient evenly; torch evenly_distribute_backward",
    "min": "full min(x): as max",
    "amax": "amax(x, dim): ties share evenly; torch: grad * (x == result) / count",
    "amin": "amin(x, dim): as amax",
    "max_dim": "max(x, dim): all gradient to the returned (first) index; torch value_selecting",
    "min_dim": "min(x, dim): as max_dim",
    "maximum": "maximum(x, y) at x == y: grad / 2 to each; torch max/min_backward masks",
    "minimum": "minimum(x, y) at x == y: grad / 2 to each",
    "clamp": "clamp at a bound passes grad; torch: where((x >= min) & (x <= max), grad, 0)",
    "sqrt": "sqrt'(0) = inf; torch: grad / (2 * result)",
    "norm": "2-norm at 0: subgradient 0; torch norm_backward masks norm == 0",
    "std": "std at zero spread: gradient 0; torch std_backward masks result == 0",
    "pow_scalar": "x ** 0 has gradient 0 (also at x = 0); torch pow_backward: exponent == 0",
    "pow": "x ** y: d/dx = 0 where y == 0 and d/dy = 0 where x == 0 and y >= 0, as torch "
    "pow_backward_self / _exponent; d/dx is masked only at x == y == 0 (0 * inf), so that "
    "second derivatives at y == 0 stay true (torch masks every y == 0 and gives 0 there)",
    "prod": "prod with zeros: product of the other elements, never grad * out / x",
    "cumprod": "cumprod with zeros: products of the other elements, never division",
    "softplus": "softplus(x) = x where beta * x > threshold (20), gradient 1 there; like torch",
}


def tie_weights(x: np.ndarray, reduced: np.ndarray, dims: tuple) -> np.ndarray:
    """Gradient weight of each element of x in amax/amin: 1/count at the ties, else 0.

    `reduced` is the result with keepdim=True, so that it broadcasts against x.
    """
    ties = x == reduced
    return (ties / ties.sum(axis=dims, keepdims=True)).astype(x.dtype)


def split_at_ties(x: np.ndarray, y: np.ndarray, sign: int) -> np.ndarray:
    """Weight of x in maximum (sign=1) or minimum (sign=-1): 1 if it wins, 0.5 at a tie."""
    wins = x > y if sign > 0 else x < y
    return np.where(x == y, 0.5, wins).astype(np.result_type(x, y))


def first_index(x: np.ndarray, dim: int, largest: bool) -> np.ndarray:
    """The index max(x, dim) / min(x, dim) returns (the first one at ties), keepdim=True."""
    return (np.argmax if largest else np.argmin)(x, axis=dim, keepdims=True)
