"""Directional comparisons for `check_function`: a kink-aware verdict on one line
x + t*d through the inputs, and bisection over subsets of the inputs' elements to find
the one where the gradient is wrong.

A line's objective is phi(t) = <w, y(x + t d) - y(x)>: y is fn's outputs (first order)
or fn's gradient (second order), w a random weight. Subtracting y(x) element-wise first
leaves no rounding from outputs the step does not move.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from gradcheck import numerics
from gradcheck.numerics import EPS, STEP_FACTOR, STEP_ROUNDING

# Rounding of one evaluation of phi: NOISE_ULPS eps times the root-sum-square of the
# weighted outputs' sizes (w is random and independent of fn, so the outputs' rounding
# errors add up like a random walk in <w, y>). 64: outputs may carry 8 ulps at 8 sigma.
NOISE_ULPS = 64.0
KINK_MULTIPLE = 4.0  # one-sided estimates count as agreeing within this many error estimates
ONE_SIDE_CLEAN = 0.25  # a side is "clean" where its error estimate is <= this x the other's


@dataclass(frozen=True)
class Subset:
    """Elements [lo, hi) (flat, C order) of differentiated input `index`; None: all."""

    index: int | None
    lo: int = 0
    hi: int = 0

    @property
    def size(self) -> int:
        return self.hi - self.lo

    def halves(self) -> tuple[Subset, Subset]:
        mid = (self.lo + self.hi) // 2
        return Subset(self.index, self.lo, mid), Subset(self.index, mid, self.hi)

    def restrict(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """`arrays` with zeros outside this subset."""
        if self.index is None:
            return list(arrays)
        out = [np.zeros_like(a) for a in arrays]
        out[self.index].reshape(-1)[self.lo : self.hi] = arrays[self.index].reshape(-1)[
            self.lo : self.hi
        ]
        return out

    def values(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        if self.index is None:
            if len(arrays) == 1:
                return arrays[0].reshape(-1)  # no copy: these are read only
            return np.concatenate([a.reshape(-1) for a in arrays])
        return arrays[self.index].reshape(-1)[self.lo : self.hi]


@dataclass(frozen=True)
class Verdict:
    """One line's outcome. status: "pass", "kink" (at a kink, the analytic value lies
    within the one-sided derivatives), "fail" or "inconclusive". `sides` are the (left,
    right) one-sided derivatives where the line is not smooth at t = 0."""

    status: str
    analytic: float
    numerical: float
    error: float
    tolerance: float
    sides: tuple[float, float] | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "kink")


@dataclass
class Line:
    """Everything a verdict on subsets of one (x, d, w) needs. `evaluate(points)` returns
    y at `points` (float64 arrays); `y0` is y(x); `gradient` is the analytic gradient of
    <w, y> (the VJP), so the analytic derivative along d_S is <gradient, d_S>."""

    evaluate: Callable[[list[np.ndarray]], list[np.ndarray]]
    xs: list[np.ndarray]
    tangent: list[np.ndarray]
    weight: list[np.ndarray]
    y0: list[np.ndarray]
    gradient: list[np.ndarray]
    eps: float | None = None  # user step per element (torch's eps); None: ours
    band: Callable[[float, float], float] | None = None  # user tolerance(|w| |d|, numerical)
    gradient_jitter: float = 0.0  # how much `gradient` varies between runs (nondet_tol)
    # y at x + t d on the whole line, by t, evaluated before the weight was drawn
    prefetched: dict[float, list[np.ndarray]] = dataclasses.field(default_factory=dict)
    rms: float = -1.0  # rms(xs), when the caller has it already

    def __post_init__(self) -> None:
        self.rms = self.rms if self.rms >= 0 else rms(self.xs)
        wy = [np.multiply(w, y) for w, y in zip(self.weight, self.y0, strict=True)]
        with np.errstate(over="ignore"):  # values near float64's max: inf noise, inconclusive
            self.noise = NOISE_ULPS * EPS * math.sqrt(sum(float(np.square(a).sum()) for a in wy))
            self.f0 = sum(float(a.sum()) for a in wy)
        self.analytic_noise_rate = NOISE_ULPS * EPS
        self.weight_norm = numerics.norm(self.weight) if self.band is not None else 0.0

    def phi(self, subset: Subset, direction: list[np.ndarray], t: float) -> float:
        ys = self.prefetched.get(t) if subset.index is None else None
        if ys is None:
            ys = self.evaluate(numerics.shifted(self.xs, direction, t))
        total = 0.0
        for w, y, y0 in zip(self.weight, ys, self.y0, strict=True):
            # <w, y - y0> in one temporary. Not np.dot: BLAS threads can spin for
            # milliseconds on a busy machine, and numpy's pairwise sum is more accurate.
            delta = np.subtract(y, y0, dtype=np.float64)
            delta *= w
            total += float(delta.sum())
        return total

    def judge(self, subset: Subset) -> Verdict:
        """The verdict on the line x + t d_S: 4 evaluations of y."""
        direction = subset.restrict(self.tangent)
        g, d = subset.values(self.gradient), subset.values(self.tangent)
        gd = np.multiply(g, d)
        analytic = float(gd.sum())
        d_norm = length(d)
        with np.errstate(over="ignore"):  # a gradient near float64's max: an inf size
            size = length(g) * d_norm
        h = step(subset, self.xs, self.tangent, self.rms, self.eps, d_norm)
        scale = h * (d_norm or 1.0) / STEP_FACTOR
        natural = abs(self.f0) * d_norm / scale
        values: dict[float, float] = {}

        def objective(points: list[np.ndarray]) -> float:
            t = float(points[0][0])
            values[t] = self.phi(subset, direction, t)
            return values[t]

        # `noise` is added after: phi's rounding is known only once y(x) is.
        est = numerics.directional_derivative(objective, *_parametrised(h))
        est = dataclasses.replace(est, error=est.error + 3 * self.noise / est.h)
        analytic_noise = self.analytic_noise_rate * float(np.abs(gd, out=gd).sum())
        if self.gradient_jitter:
            analytic_noise += self.gradient_jitter * float(np.abs(d).sum())
        tolerance = est.tolerance(size) + analytic_noise
        if self.band is not None:
            tolerance = max(tolerance, self.band(self.weight_norm * d_norm, est.value))
        inconclusive = est.is_inconclusive(max(size, natural))
        if not inconclusive and abs(analytic - est.value) <= tolerance:
            return Verdict("pass", analytic, est.value, est.error, tolerance)
        kink = _one_sided(
            [values[t] for t in est.offsets], est.h, est.error, self.noise, size, analytic_noise
        )
        if kink is None:
            status = "inconclusive" if inconclusive else "fail"
            return Verdict(status, analytic, est.value, est.error, tolerance)
        lo, hi, sides, may_reject = kink
        if lo <= analytic <= hi:
            return Verdict("kink", analytic, est.value, est.error, tolerance, sides)
        if not may_reject:
            status = "inconclusive" if inconclusive else "fail"
            return Verdict(status, analytic, est.value, est.error, tolerance)
        return Verdict("fail", analytic, est.value, est.error, tolerance, sides)


def rms(xs: Sequence[np.ndarray]) -> float:
    """The typical size of an element of `xs`."""
    return math.sqrt(sum(float(np.square(x).sum()) for x in xs) / sum(x.size for x in xs))


def step(
    subset: Subset,
    xs: list[np.ndarray],
    tangent: list[np.ndarray],
    rms: float,
    eps: float | None,
    d_norm: float | None = None,
) -> float:
    """t-step h for the tangent restricted to `subset`: h*|d_S| is eps^(1/3) times the
    subset's size (|x_S|, at least rms(x) sqrt(m); 1 per element if x is all 0), or
    eps sqrt(m) for a given eps (torch's meaning: each element moves by about eps)."""
    d = subset.values(tangent)
    d_norm = (length(d) if d_norm is None else d_norm) or 1.0
    m = d.size
    if eps is not None:
        return eps * math.sqrt(m) / d_norm
    # The whole line: |x| is rms sqrt(m) already.
    x_norm = length(subset.values(xs)) if subset.index is not None else 0.0
    scale = max(x_norm, rms * math.sqrt(m)) or math.sqrt(m)
    return STEP_FACTOR * scale / d_norm


def _parametrised(h: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    # A 1-d parametrisation (t itself, |x| = h / STEP_FACTOR) gives numerics' estimate
    # exactly this step.
    return [np.zeros(1), np.array([h / STEP_FACTOR])], [np.ones(1), np.zeros(1)]


def line_offsets(
    xs: list[np.ndarray], tangent: list[np.ndarray], eps: float | None, size: float
) -> list[float]:
    """The t values `Line.judge` evaluates the whole line at (to prefetch them); `size`
    is rms(xs)."""
    points, directions = _parametrised(step(Subset(None), xs, tangent, size, eps))
    h = STEP_FACTOR * numerics.norm(points) / numerics.norm(directions)  # as numerics does
    return [-h, -h / 2, h / 2, h]


def _one_sided(
    values: list[float], h: float, error: float, noise: float, size: float, analytic_noise: float
) -> tuple[float, float, tuple[float, float], bool] | None:
    """Where phi is not smooth at t = 0: (lo, hi, sides, may_reject): the interval a valid
    subgradient's directional derivative lies in, the one-sided derivatives it comes from,
    and whether a value outside it is a failure; None where phi looks smooth (then the
    central estimate's verdict stands).

    From phi(0) = 0 and the four points already evaluated, no extra calls: the one-sided
    Richardson derivatives R+- = +-(4 phi(+-h/2) - phi(+-h)) / h, with error estimates
    e+- = |2 phi(+-h/2) - phi(+-h)| / h. For a smooth phi, R+ - R- = O(h^3) while at a
    kink it is the jump in slope. Three signatures count: (a) R+ and R- differ beyond
    their errors: a kink at t = 0, the interval spans both; (b) one side is clean and the
    other is not: a kink or jump crossed inside the stencil on that side, the clean
    side's derivative is the one at x; (c) both outer slopes agree and the inner slope is
    far steeper: a jump of phi with phi(0) in between (sign, or abs's derivative, at 0),
    accepted when the outer slopes agree with the analytic value, never a failure.
    Each interval is widened by the central estimate's error too, so that a smooth but
    strongly curved phi that mimics a signature is never failed by it.
    """
    f_minus, f_half_minus, f_half_plus, f_plus = values
    rho = EPS * max(abs(v) for v in values) + noise  # rounding of one evaluation
    right = (4 * f_half_plus - f_plus) / h
    left = -(4 * f_half_minus - f_minus) / h
    e_right = abs(2 * f_half_plus - f_plus) / h
    e_left = abs(2 * f_half_minus - f_minus) / h
    rounding = 8 * rho / h
    floor = 8 * STEP_ROUNDING * size + analytic_noise + error
    if abs(right - left) > KINK_MULTIPLE * (e_right + e_left) + 2 * rounding + floor:
        sides = [(left, e_left), (right, e_right)]
    elif (
        min(e_left, e_right) <= ONE_SIDE_CLEAN * max(e_left, e_right)
        and max(e_left, e_right) > KINK_MULTIPLE * rounding + floor
    ):
        sides = [(left, e_left)] if e_left < e_right else [(right, e_right)]
    else:
        outer_right = 2 * (f_plus - f_half_plus) / h
        outer_left = 2 * (f_half_minus - f_minus) / h
        spread = abs(outer_right - outer_left) + 4 * rho / h
        inner = (f_half_plus - f_half_minus) / h
        # Not widened by the central error here: a jump is what inflates it.
        base = floor - error
        if abs(inner - (outer_left + outer_right) / 2) <= 16 * spread + base + error:
            return None
        lo = min(outer_left, outer_right) - KINK_MULTIPLE * spread - base
        hi = max(outer_left, outer_right) + KINK_MULTIPLE * spread + base
        return lo, hi, (outer_left, outer_right), False
    lo = min(d - KINK_MULTIPLE * e for d, e in sides) - rounding - floor
    hi = max(d + KINK_MULTIPLE * e for d, e in sides) + rounding + floor
    return lo, hi, (sides[0][0], sides[-1][0]), True


@dataclass(frozen=True)
class Located:
    """Where bisection ended: the failing single element's subset and verdict, or
    subset None when no element fails alone. `kinks`: a kink was met on the way."""

    subset: Subset | None
    verdict: Verdict | None
    kinks: bool
    evaluations: int


def localize(judge: Callable[[Subset], Verdict], sizes: Sequence[int]) -> Located:
    """Find one element whose own verdict fails. Inputs are judged one by one (when
    there are several), then the failing input is bisected: the first half is judged;
    if it fails, go there; if it passes on a smooth line, the disagreement is in the other
    half (differences are additive there); otherwise the second half is judged too.
    Each `judge` call costs the caller's evaluations per line (4 for differences)."""
    calls = 0
    kinks = False

    def run(subset: Subset) -> Verdict:
        nonlocal calls, kinks
        calls += 1
        verdict = judge(subset)
        kinks = kinks or verdict.status == "kink"
        return verdict

    candidate: Subset | None = None
    verdict: Verdict | None = None
    if len(sizes) == 1:
        candidate = Subset(0, 0, sizes[0])
    else:
        for i, n in enumerate(sizes):
            verdict = run(Subset(i, 0, n))
            if verdict.status == "fail":
                candidate = Subset(i, 0, n)
                break
        if candidate is None:
            return Located(None, None, kinks, calls)
    while candidate.size > 1:
        first, second = candidate.halves()
        verdict = run(first)
        if verdict.status == "fail":
            candidate = first
            continue
        if verdict.status == "pass":
            candidate, verdict = second, None
            continue
        verdict = run(second)
        if verdict.status != "fail":
            return Located(None, None, kinks, calls)
        candidate = second
    if verdict is None:
        verdict = run(candidate)
    if verdict.status != "fail":
        return Located(None, verdict, kinks, calls)
    return Located(candidate, verdict, kinks, calls)


def localization_bound(sizes: Sequence[int], per_line: int) -> int:
    """Most lines' evaluations `localize` spends: per_line * (k + 2 ceil(log2 n) + 1)
    for k > 1 inputs (k = 0 for one input), n the largest input's size."""
    k = len(sizes) if len(sizes) > 1 else 0
    levels = math.ceil(math.log2(max(sizes))) if max(sizes) > 1 else 0
    return per_line * (k + 2 * levels + 1)


def length(a: np.ndarray) -> float:
    return math.sqrt(float(np.square(a).sum()))


def element(shape: tuple[int, ...], flat: int) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


def num(value: float) -> str:
    """A plain float for messages (no numpy repr)."""
    return f"{float(value) + 0.0:.10g}"  # + 0.0: no "-0"
