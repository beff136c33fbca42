"""Numerics shared by the oracles: central differences with error estimates, the adjoint
test, and the per-dtype tolerance table for comparing an engine against the float64
reference. Pure numpy; docs/architecture.md ("Numerics") says how tolerances are set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

EPS = float(np.finfo(np.float64).eps)
# Step factor eps^(1/3): balances truncation (h^2) against rounding (eps / h).
STEP_FACTOR = EPS ** (1.0 / 3.0)
# Relative error of the actual step x + h*v - x, which is rounded: eps * |x| / (h * |v|).
STEP_ROUNDING = EPS ** (2.0 / 3.0)

Arrays = Sequence[np.ndarray]


def norm(arrays: Arrays) -> float:
    return float(np.sqrt(sum(float(np.sum(np.square(a))) for a in arrays)))


def shifted(xs: Arrays, vs: Arrays, t: float) -> list[np.ndarray]:
    """The point x + t*v, computed exactly as `directional_derivative` computes it."""
    points = []
    for x, v in zip(xs, vs, strict=True):
        point = np.multiply(v, t, dtype=np.float64)  # one array, then x added in place:
        point += x  # x + t*v exactly (+ commutes), in half the allocations
        points.append(point)
    return points


@dataclass(frozen=True)
class DirectionalEstimate:
    """A Richardson-combined central difference of t -> f(x + t*v) at t = 0.

    `offsets` are the t values f was evaluated at (see `shifted`). `error` covers truncation
    and the rounding of f (inf when an evaluation was not finite); the rounding of the
    step x + t*v itself (<= 1.5 eps^(2/3) |grad f| |v|) needs the gradient's size, so it is
    in `tolerance`'s floor: pass `scale` there.
    """

    value: float
    error: float
    evaluations: int
    h: float
    offsets: tuple[float, ...]

    def tolerance(self, scale: float = 0.0, multiple: float = 4.0) -> float:
        """Allowed |analytic - value|: `multiple` estimates plus a floor for step rounding.

        `scale` is the natural size of the derivative, ideally |J^T u| * |v| from the
        analytic gradient (the Cauchy-Schwarz bound); it defaults to |value|.
        """
        return multiple * self.error + 8.0 * STEP_ROUNDING * max(abs(self.value), scale)

    def is_inconclusive(self, scale: float = 0.0, max_relative_error: float = 1e-5) -> bool:
        """True when the estimate cannot resolve `max_relative_error` of the derivative's
        size (a kink crossed, a domain edge, too much curvature): neither pass nor fail."""
        if not np.isfinite(self.value) or not np.isfinite(self.error):
            return True
        return self.error > max_relative_error * max(abs(self.value), scale)


def directional_derivative(
    f: Callable[[list[np.ndarray]], float], xs: Arrays, vs: Arrays, noise: float = 0.0
) -> DirectionalEstimate:
    """Estimate d/dt f(x + t*v) at t = 0 with exactly 4 evaluations of f.

    h = eps^(1/3) * |x| / |v| (norms over all arrays; |x| = 0 or |v| = 0 count as 1).
    value = (4 D(h/2) - D(h)) / 3 and error = |D(h/2) - D(h)| + (eps sum|f| + 3 noise) / h,
    where D(s) = (f(x + s v) - f(x - s v)) / (2 s). `noise` bounds the rounding of one
    evaluation of f beyond eps |f|: where f sums terms that cancel (u1 x + u2 x with
    u1 ~ -u2), its rounding is eps times those terms, not eps |f| (see `rounding_noise`).
    """
    x_norm = norm(xs) or 1.0
    v_norm = norm(vs) or 1.0
    h = STEP_FACTOR * x_norm / v_norm
    offsets = (-h, -h / 2, h / 2, h)
    f_minus, f_half_minus, f_half_plus, f_plus = (float(f(shifted(xs, vs, t))) for t in offsets)
    values = np.array([f_minus, f_half_minus, f_half_plus, f_plus])
    if not np.all(np.isfinite(values)):
        return DirectionalEstimate(float("nan"), float("inf"), 4, h, offsets)
    d_full = (f_plus - f_minus) / (2 * h)
    d_half = (f_half_plus - f_half_minus) / h
    value = (4 * d_half - d_full) / 3
    # (4 D(h/2) - D(h)) / 3 carries at most 3 (rounding of one f) / h.
    rounding = (EPS * float(np.sum(np.abs(values))) + 3 * noise) / h
    return DirectionalEstimate(value, abs(d_half - d_full) + rounding, 4, h, offsets)


def judge(
    est: DirectionalEstimate,
    gradient: Arrays,
    xs: Arrays,
    vs: Arrays,
    f_at_x: float,
    analytic_noise: float = 0.0,
) -> tuple[bool | None, float, float]:
    """(verdict, <gradient, v>, tolerance) for an analytic gradient against `est`.

    verdict is None (inconclusive) when the estimate cannot resolve the derivative's
    size: |gradient| |v| (which also bounds the rounding of the shifted points) or
    |f(x)| |v| / |x|, the derivative that would change f by O(f) over the distance |x|
    (an f linear along v has a zero second derivative, and an estimate near 0).
    `analytic_noise` bounds the rounding of <gradient, v> itself: a gradient whose terms
    cancel (pow(x, x) - pow(x, x)) is rounding noise of those terms' size."""
    scale = norm(gradient) * norm(vs)
    natural = abs(f_at_x) * norm(vs) / (norm(xs) or 1.0)
    analytic = float(sum(np.vdot(g, v) for g, v in zip(gradient, vs, strict=True)))
    tolerance = est.tolerance(scale) + analytic_noise
    if est.is_inconclusive(max(scale, natural)):
        return None, analytic, tolerance
    return abs(analytic - est.value) <= tolerance, analytic, tolerance


def jacobian(
    F: Callable[[list[np.ndarray]], Sequence[np.ndarray]], xs: Arrays, step: float = STEP_FACTOR
) -> tuple[np.ndarray, np.ndarray]:
    """Full Jacobian of F by central differences, for small inputs (4 evaluations/input).

    Returns (J, error), both (total output size, total input size), inputs and outputs
    flattened in order and concatenated. Each coordinate steps by step*max(|x_i|, 1)
    (step: eps^(1/3)) and is Richardson-combined like `directional_derivative`; error
    bounds each entry (inf where an evaluation was not finite, where J is nan).
    """
    point = [np.array(x, dtype=np.float64) for x in xs]
    flat = np.concatenate([x.ravel() for x in point]) if point else np.zeros(0)

    def evaluate(values: np.ndarray) -> np.ndarray:
        arrays, start = [], 0
        for x in point:
            arrays.append(values[start : start + x.size].reshape(x.shape))
            start += x.size
        return np.concatenate([np.ravel(np.asarray(y, dtype=np.float64)) for y in F(arrays)])

    columns, errors = [], []
    for i in range(flat.size):
        h = step * max(abs(flat[i]), 1.0)

        def at(step: float, i: int = i) -> tuple[np.ndarray, float]:
            # Return the actual (representable) coordinate too, so steps are exact.
            moved = flat.copy()
            moved[i] = flat[i] + step
            return evaluate(moved), moved[i]

        (f_minus, x_minus), (f_plus, x_plus) = at(-h), at(h)
        (f_half_minus, x_half_minus), (f_half_plus, x_half_plus) = at(-h / 2), at(h / 2)
        d_full = (f_plus - f_minus) / (x_plus - x_minus)
        d_half = (f_half_plus - f_half_minus) / (x_half_plus - x_half_minus)
        total = np.abs(f_minus) + np.abs(f_half_minus) + np.abs(f_half_plus) + np.abs(f_plus)
        error = np.abs(d_half - d_full) + EPS * total / h
        finite = np.isfinite(error)
        columns.append(np.where(finite, (4 * d_half - d_full) / 3, np.nan))
        errors.append(np.where(finite, error, np.inf))
    if not columns:
        return np.zeros((evaluate(flat).size, 0)), np.zeros((evaluate(flat).size, 0))
    return np.stack(columns, axis=1), np.stack(errors, axis=1)


@dataclass(frozen=True)
class AdjointResult:
    """<u, J v> against <J^T u, v>; ok when |lhs - rhs| <= tolerance."""

    lhs: float
    rhs: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return bool(abs(self.lhs - self.rhs) <= self.tolerance)


def adjoint_mismatch(
    u: Arrays, jv: Arrays, jtu: Arrays, v: Arrays, dtype: str = "float64", scale: float = 0.0
) -> AdjointResult:
    """The adjoint test. The tolerance is the dtype's rtol times the summed magnitudes
    sum|u * Jv| + sum|J^T u * v| (+ `scale`, the size of intermediate terms that cancelled
    out of Jv or J^T u), so summation order and the rounding inside Jv and J^T u (graphs
    within the table's depth) are absorbed."""

    def dot(a: Arrays, b: Arrays) -> tuple[float, float]:
        products = [
            np.asarray(p, np.float64) * np.asarray(q, np.float64) for p, q in zip(a, b, strict=True)
        ]
        return (
            float(sum(np.sum(p) for p in products)),
            float(sum(np.sum(np.abs(p)) for p in products)),
        )

    lhs, lhs_size = dot(u, jv)
    rhs, rhs_size = dot(jtu, v)
    return AdjointResult(lhs, rhs, TOLERANCES[dtype].rtol * (lhs_size + rhs_size + scale))


@dataclass(frozen=True)
class DtypeTolerance:
    """|actual - expected| <= rtol * |expected| + atol_rel * max|expected| element-wise."""

    eps: float
    max: float  # largest finite value: a reference beyond it overflows in this dtype
    rtol: float
    atol_rel: float


def _eps_multiple(eps: float, largest: float, k: float) -> DtypeTolerance:
    return DtypeTolerance(eps, largest, k * eps, k * eps)


# The table assumes graphs of depth <= ~8 with reductions/matmuls of a few hundred terms,
# compared against float64 on the same (already rounded) inputs; callers may scale it.
# Measured (torch CPU, matmul+tanh+softmax+log1p graphs, n <= 256, outputs and VJPs):
# float32 errors reach ~45 eps of max|expected|, float16/bfloat16 ~14 eps (their ops
# compute in float32 and round once per op). k = 256 and 32 leave 5x and 2x margin.
# float64: rtol 1e-10 (~4.5e5 eps) absorbs conditioning through the graph and different
# libm/summation orders, and still catches a silent float32 computation (>= ~1e-8).
TOLERANCES: dict[str, DtypeTolerance] = {
    "float64": DtypeTolerance(EPS, float(np.finfo(np.float64).max), 1e-10, 1e-12),
    "float32": _eps_multiple(2.0**-23, float(np.finfo(np.float32).max), 256),
    "float16": _eps_multiple(2.0**-10, 65504.0, 32),
    "bfloat16": _eps_multiple(2.0**-7, 3.3895313892515355e38, 32),
}


@dataclass(frozen=True)
class Comparison:
    """Outcome of `compare`; the worst element is the one furthest over (or nearest to)
    its tolerance. `reason` says what failed ("" when ok)."""

    ok: bool
    reason: str
    worst_index: tuple[int, ...] | None = None
    actual: float = float("nan")
    expected: float = float("nan")
    tolerance: float = 0.0
    max_error: float = 0.0

    def describe(self) -> str:
        """One line for a failure message: the reason, then the worst element."""
        if self.worst_index is None:
            return self.reason
        return (
            f"{self.reason}: worst element {self.worst_index} is {self.actual!r}, "
            f"expected {self.expected!r} (tolerance {self.tolerance:.3e})"
        )


SMALLEST_NORMAL = {
    "float64": float(np.finfo(np.float64).tiny),
    "float32": float(np.finfo(np.float32).tiny),
    "float16": float(np.finfo(np.float16).tiny),
    "bfloat16": float(np.finfo(np.float32).tiny),  # bfloat16 keeps float32's exponent range
}


def tolerance_terms(
    expected: np.ndarray,
    dtype: str,
    *,
    scale: float = 0.0,
    factor: float = 1.0,
) -> tuple[float, float]:
    """(rtol, atol) that `compare` allows for `expected`: atol is relative to the largest
    finite magnitude of `expected`, or to `scale` when that is larger."""
    table = TOLERANCES[dtype]
    finite = np.abs(np.asarray(expected, np.float64)[np.isfinite(expected)])
    largest = max(float(np.max(finite, initial=0.0)), scale)
    # Below the dtype's smallest normal number an engine may flush to zero or keep
    # subnormals with few significant bits: such magnitudes are noise, never a failure.
    return factor * table.rtol, factor * max(table.atol_rel * largest, SMALLEST_NORMAL[dtype])


def compare(
    actual: np.ndarray,
    expected: np.ndarray,
    dtype: str = "float64",
    *,
    scale: float = 0.0,
    factor: float = 1.0,
) -> Comparison:
    """Compare an engine's array with the float64 reference using the dtype's tolerance.

    NaN must match NaN position by position and inf must match inf of the same sign (a
    reference value beyond the dtype's range counts as that inf). `scale` raises the
    magnitude atol is taken relative to (e.g. the summed terms' size); `factor` scales
    the table.
    """
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        return Comparison(
            False,
            f"shape mismatch: actual {actual.shape}, expected {expected.shape}",
            max_error=float("inf"),
        )
    table = TOLERANCES[dtype]
    overflows = np.isfinite(expected) & (np.abs(expected) > table.max)
    expected = np.where(overflows, np.copysign(np.inf, expected), expected)
    finite = np.isfinite(actual) & np.isfinite(expected)
    same_special = (np.isnan(actual) & np.isnan(expected)) | (
        np.isinf(actual) & (actual == expected)
    )
    bad_special = ~finite & ~same_special
    if np.any(bad_special):
        index = tuple(int(i) for i in np.argwhere(bad_special)[0])
        return Comparison(
            False,
            "NaN/inf positions differ",
            index,
            float(actual[index]),
            float(expected[index]),
            0.0,
            float("inf"),
        )
    if not np.any(finite):
        return Comparison(True, "")
    rtol, atol = tolerance_terms(expected, dtype, scale=scale, factor=factor)
    tolerance = rtol * np.abs(expected) + atol
    error = np.abs(np.where(finite, actual, 0.0) - np.where(finite, expected, 0.0))
    # Rank elements by how far over their tolerance they are (tolerance may be 0).
    excess = np.where(finite, error - tolerance, -np.inf)
    index = np.unravel_index(int(np.argmax(excess)), expected.shape)
    index = tuple(int(i) for i in index)
    ok = bool(excess[index] <= 0)
    return Comparison(
        ok,
        "" if ok else "values differ beyond tolerance",
        index,
        float(actual[index]),
        float(expected[index]),
        float(tolerance[index]),
        float(np.max(error)),
    )


def round_to(array: np.ndarray, dtype: str) -> np.ndarray:
    """`array` rounded to `dtype` and back to float64 (round to nearest, ties to even)."""
    if dtype == "bfloat16":  # numpy has no bfloat16: keep the top 16 bits of a float32
        bits = np.asarray(array, np.float32).view(np.uint32).astype(np.uint64)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
        return bits.astype(np.uint32).view(np.float32).astype(np.float64)
    return np.asarray(array).astype(dtype).astype(np.float64)
