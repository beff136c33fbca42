"""Kink and tie conventions: the table users see, and the choices an engine may declare.

At a kink (relu at 0) or a tie (two equal maxima) several subgradients are valid. torch
picks one per op (`CONVENTIONS`, checked against torch by tests/engine/test_conventions.py);
another engine may pick another. `CHOICES` lists, per gradcheck catalog op, what may be
chosen, and `using(choices)` makes the engine's VJPs, JVPs and second derivatives follow
a declared choice, so that comparisons against such an engine stay exact:

    with conventions.using({"relu": 1.0, "amax": "first"}):
        grads = reference_engine.grad(relu(x).sum(), x)

A graph keeps the choices in effect when it was recorded: its backward follows them even
outside the block. "any" (the engine may distribute the gradient any valid way) cannot
be computed: under "any" the reference uses torch's choice (DEFAULTS), and comparisons at
exact ties of that op are inconclusive.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

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
    "leaky_relu": "leaky_relu'(0) = negative_slope; torch: x > 0 ? grad : grad * negative_slope",
    "elu": "elu'(0) = alpha; torch elu_backward: x <= 0 ? grad * alpha * exp(x) : grad",
    "hardtanh": "hardtanh' = 0 on both bounds; torch: (x <= min_val) | (x >= max_val) ? 0 : grad",
    "hardswish": "hardswish'(-3) = 0, hardswish'(3) = 1; torch: x <= -3 ? 0 : x < 3 ? "
    "grad * (x / 3 + 1/2) : grad",
    "l1_loss": "l1_loss at x == y: gradient 0 (abs'(0)); torch composes abs(x - y)",
    "atan2": "atan2 at (0, 0): gradient 0 for both inputs, like torch",
    "hypot": "hypot at (0, 0): gradient nan (0 / 0); torch: grad * x / hypot(x, y)",
    "xlogy": "xlogy(0, y) = 0 for every y; d/dx = 0 where x == 0 and y <= 0, d/dy = x / y "
    "(nan at x == y == 0); torch: xlogy(grad, y) masked, grad * x / y",
    "max_pool2d": "max_pool2d: ties in a window, all gradient to the first in row-major order "
    "within the window (torch CPU's index); overlapping windows accumulate",
    "cdist": "cdist (p=2) at zero distance: gradient 0; torch _cdist_backward skips dist == 0",
    "sort": "sort: ties keep their input order (a stable sort), each tied value taking the "
    "gradient of the place it lands in; torch with stable=True (with stable=False torch "
    "leaves their order open, and its CPU sort is stable only up to 16 elements)",
    "topk": "topk: ties taken in input order; torch's order of ties is unspecified (it varies "
    "with k), so only ties that leave the gradient unchanged are compared with it",
}


@dataclass(frozen=True)
class Choice:
    """What an engine may choose at one op's kink: a float in [low, high], or a name."""

    kink: str
    default: float | str  # torch's choice
    low: float = math.nan  # for a float choice: its range
    high: float = math.nan
    options: tuple[str, ...] = ()  # for a named choice

    def describe(self) -> str:
        if self.options:
            return " | ".join(repr(o) for o in self.options)
        return f"a float in [{self.low:g}, {self.high:g}]"


_TIES = ("split", "first", "last", "any")  # split: evenly, like torch
_INDEX = ("first", "last", "any")  # the one index max(x, dim) returns
_SPREAD = ("zero", "nan")
CHOICES: dict[str, Choice] = {
    "relu": Choice("relu'(0)", 0.0, 0.0, 1.0),
    "abs": Choice("abs'(0)", 0.0, -1.0, 1.0),
    "clamp": Choice("the gradient share of x exactly on a bound", 1.0, 0.0, 1.0),
    "maximum": Choice("the share of x at x == y (y gets 1 - share)", 0.5, 0.0, 1.0),
    "minimum": Choice("the share of x at x == y (y gets 1 - share)", 0.5, 0.0, 1.0),
    "amax": Choice("ties in amax(x, dim)", "split", options=_TIES),
    "amin": Choice("ties in amin(x, dim)", "split", options=_TIES),
    "max": Choice("ties in the full max(x)", "split", options=_TIES),
    "min": Choice("ties in the full min(x)", "split", options=_TIES),
    "max_dim": Choice("ties in max(x, dim).values", "first", options=_INDEX),
    "min_dim": Choice("ties in min(x, dim).values", "first", options=_INDEX),
    "std": Choice("the gradient at zero spread", "zero", options=_SPREAD),
    "norm": Choice("the gradient at the zero vector", "zero", options=_SPREAD),
    "max_pool2d": Choice("ties in a max_pool2d window", "first", options=("first", "last")),
}
DEFAULTS: dict[str, float | str] = {op: c.default for op, c in CHOICES.items()}


def validate(choices: Mapping[str, object]) -> dict[str, float | str]:
    """The declared choices, checked and normalized (ints become floats); ValueError names
    the op, the bad value and the valid choices."""
    valid: dict[str, float | str] = {}
    for op, value in choices.items():
        if op not in CHOICES:
            raise ValueError(f"no convention to choose for op {op!r}; ops: {', '.join(CHOICES)}")
        spec = CHOICES[op]
        if spec.options and isinstance(value, str) and value in spec.options:
            valid[op] = value
        elif (
            not spec.options
            and isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_))
            and spec.low <= value <= spec.high
        ):
            valid[op] = float(value)
        else:
            raise ValueError(
                f"{op}: {value!r} is not a valid choice for {spec.kink}; "
                f"valid: {spec.describe()} (torch: {spec.default!r})"
            )
    return valid


_active: dict[str, float | str] = dict(DEFAULTS)  # never mutated: replaced as a whole


def active() -> dict[str, float | str]:
    """The choices in effect (every op); a graph's nodes keep the one they were made under."""
    return _active


def choice(op: str) -> float | str:
    """The choice in effect for `op`; "any" falls back to torch's, which is one valid way."""
    value = _active[op]
    return DEFAULTS[op] if value == "any" else value


@contextlib.contextmanager
def restored(choices: dict[str, float | str]) -> Iterator[None]:
    """Put a complete, already validated table in effect (backward replays a node's)."""
    global _active
    previous, _active = _active, choices
    try:
        yield
    finally:
        _active = previous


def using(choices: Mapping[str, object]) -> contextlib.AbstractContextManager:
    """Inside this block the engine's derivatives follow `choices` (validated, layered
    over the choices already in effect); restored on exit, also on exceptions."""
    return restored({**_active, **validate(choices)})


# -- weights at kinks and ties, in numpy: constants of the VJPs in reductions.py and
# elementwise.py (the gradient's path through a tie is not itself differentiated)
def tie_weights(x: np.ndarray, reduced: np.ndarray, dims: tuple, rule: str) -> np.ndarray:
    """Gradient weight of each element of x in amax/amin/max/min over `dims`.

    `reduced` is the result with keepdim=True. "split": 1/count at every tie; "first" /
    "last": 1 at the first / last tie in row-major order within the reduced slice.
    """
    ties = x == reduced
    if rule == "split":
        return (ties / ties.sum(axis=dims, keepdims=True)).astype(x.dtype)
    last = tuple(range(x.ndim - len(dims), x.ndim))
    moved = np.moveaxis(ties, dims, last)  # the reduced slice last, in row-major order
    flat = moved.reshape(
        moved.shape[: x.ndim - len(dims)]
        + (math.prod(moved.shape[len(moved.shape) - len(dims) :]),)
    )
    pick = (
        np.argmax(flat, axis=-1)
        if rule == "first"
        else flat.shape[-1] - 1 - np.argmax(flat[..., ::-1], axis=-1)
    )
    one_hot = np.arange(flat.shape[-1]) == pick[..., None]
    return np.moveaxis(one_hot.reshape(moved.shape), last, dims).astype(x.dtype)


def share_at_ties(x: np.ndarray, y: np.ndarray, sign: int, share: float) -> np.ndarray:
    """Weight of x in maximum (sign=1) or minimum (sign=-1): 1 if it wins, `share` at a tie."""
    wins = x > y if sign > 0 else x < y
    return np.where(x == y, share, wins).astype(np.result_type(x, y))


def extreme_index(x: np.ndarray, dim: int, largest: bool, rule: str) -> np.ndarray:
    """The index max(x, dim) / min(x, dim) returns (keepdim=True): the first or last tie."""
    pick = np.argmax if largest else np.argmin
    if rule == "first":
        return pick(x, axis=dim, keepdims=True)
    return x.shape[dim] - 1 - pick(np.flip(x, dim), axis=dim, keepdims=True)
