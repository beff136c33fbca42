"""`OpSpec`, value domains, and the small interval/shape helpers the op tables share.

Intervals are `(lo, hi)` float pairs that bound every element of a value; the graph
generator tracks one per value so that it only feeds an op inputs inside its domain and
keeps every intermediate value within `[-LIMIT, LIMIT]`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Shape = tuple[int, ...]
Interval = tuple[float, float]
Draw = Callable[[Any], Any]  # hypothesis' `draw` inside @st.composite

LIMIT = 1e3  # every tracked interval stays inside [-LIMIT, LIMIT]
LEAF_BOX = (-2.0, 2.0)  # fresh leaves are drawn inside their domain intersected with this


@dataclass(frozen=True)
class Structure:
    """A property of matrices (an input's last two dims) that no interval describes:
    symmetric positive definite, well-conditioned, a spread-out spectrum.

    make(raw) maps any float64 array `raw` with elements in [-1, 1], of any shape the op's
    input takes, to a value of that shape with the property; every element of the result
    lies in `interval`. The generator draws a fresh leaf for such an input that way (see
    `Domain.structure`)."""

    name: str
    make: Callable[[np.ndarray], np.ndarray]
    interval: Interval

    def __repr__(self) -> str:
        return f"Structure({self.name!r})"


@dataclass(frozen=True)
class Domain:
    """Values an input may take: inside [lo, hi] and, when gap > 0, with |value| >= gap.

    structure: the input also needs a matrix property (`Structure`): it takes only a leaf
    drawn with that structure (a fresh one, or an earlier leaf drawn with the same one),
    never a computed value, which no interval could vouch for."""

    lo: float = -LIMIT
    hi: float = LIMIT
    gap: float = 0.0
    structure: Structure | None = None

    def contains(self, interval: Interval) -> bool:
        lo, hi = interval
        if lo < self.lo or hi > self.hi:
            return False
        return self.gap == 0.0 or lo >= self.gap or hi <= -self.gap

    def leaf_intervals(self, reach: str = "box") -> list[Interval]:
        """Intervals a fresh leaf may be drawn in (one per sign when zero is excluded).

        "box": the domain inside [-2, 2], where most values are drawn; "wide5" ...
        "wide": the domain up to |x| <= 5, 10, 100 or LIMIT (tails, asymptotic branches,
        saturation, overflow guards); "edge": a sliver just inside each boundary of a
        domain that has one (log near 0.1, asin near 0.9). Empty when the domain has no
        such part."""
        if self.structure is not None:
            return [self.structure.interval]
        if reach == "edge":
            return self._edges()
        radius = {"box": 2.0, "wide5": 5.0, "wide10": 10.0, "wide100": 100.0, "wide": LIMIT}[reach]
        lo, hi = max(self.lo, -radius), min(self.hi, radius)
        if lo > hi:  # a domain outside the box: use it as is
            lo, hi = self.lo, self.hi
        if self.gap == 0.0:
            return [(lo, hi)]
        sides = [(max(lo, self.gap), hi), (lo, min(hi, -self.gap))]
        return [(a, b) for a, b in sides if a <= b]

    def _edges(self) -> list[Interval]:
        width = min(0.05 * (self.hi - self.lo), 0.1)
        edges = []
        if self.lo > -LIMIT:
            edges.append((self.lo, self.lo + width))
        if self.hi < LIMIT:
            edges.append((self.hi - width, self.hi))
        if self.gap > 0.0:  # the excluded band around 0 is an edge on each side too
            edges += [(self.gap, self.gap + width), (-self.gap - width, -self.gap)]
        return [(a, b) for a, b in edges if self.contains((a, b))]

    def narrowed(self, interval: Interval, factor: float = 4.0) -> Interval:
        """`interval` shrunk towards the box by `factor` (kept inside the domain): for a
        wide leaf whose op's result would leave [-LIMIT, LIMIT]."""
        lo, hi = interval
        radius = max(abs(lo), abs(hi)) / factor
        if radius < LEAF_BOX[1]:
            return interval
        new_lo, new_hi = max(lo, -radius), min(hi, radius)
        if self.gap and new_lo < self.gap and new_hi > -self.gap:  # keep the interval's side
            new_lo, new_hi = (self.gap, new_hi) if lo >= self.gap else (new_lo, -self.gap)
        return (new_lo, new_hi) if new_lo <= new_hi else interval


# Where the fresh leaves of a graph that explores the tails come from (the others stay in
# the box, where intervals compose): far enough, often enough, that a backward wrong only
# for x > 2 is caught in a default run of 20 examples.
TAIL_REACHES = ("wide5", "wide10", "wide100", "wide", "edge")


REAL = Domain()


def samples(*cases: tuple) -> tuple[Sample, ...]:
    """Samples from (inputs, attrs) pairs, inputs as lists or arrays."""
    return tuple(Sample(tuple(np.asarray(x, np.float64) for x in xs), a) for xs, a in cases)


def no_attrs(draw: Draw, shapes: Sequence[Shape], intervals: Sequence[Interval]) -> dict:
    return {}


@dataclass(frozen=True)
class Sample:
    """Hand-picked inputs that every run checks, exactly: values on a kink or a tie, zeros
    of a product, a domain edge. The `conventions` oracle compares the engine's output and
    gradients there with the reference's (following the engine's declared conventions)."""

    inputs: tuple[np.ndarray, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Kink:
    """Where an op is not differentiable, and what torch's gradient is there.

    gap(inputs, attrs): distance (in input values) from the inputs to the nearest kink,
    inf when there is none; 0 on it. points(attrs): fixed kink values of input 0 (relu's
    0, clamp's bounds), which leaves are drawn away from (or onto, for edge cases).
    ties: the kink is a tie between elements (max, maximum, std's zero spread), so
    leaves feeding it are drawn with distinct elements. defined: False when the gradient
    at a tie is up to the engine (max_dim: whichever index it returns). curved: the
    curvature grows as 1 / distance near the kink (std, norm). near(inputs, attrs): where
    gap is 0, the distance of the parts not exactly on the kink (std's other rows: one row
    of equal values beside one of nearly equal values); None: those parts are not checked.
    twice_on_kink: one value fed twice (maximum(x, x)) is on the kink whatever the value, a
    tie that never breaks; False where gap leaves those pairs out (cdist(x, x)'s diagonal),
    so a tie it finds is an ordinary one.
    """

    gap: Callable[[Sequence[np.ndarray], dict], float]
    convention: str
    points: Callable[[dict], tuple[float, ...]] = lambda attrs: ()
    ties: bool = False
    defined: bool = True
    curved: bool = False
    near: Callable[[Sequence[np.ndarray], dict], float] | None = None
    twice_on_kink: bool = True


@dataclass(frozen=True)
class OpSpec:
    """Everything the generator and the oracles need to know about one op: a catalog op,
    or a user op (`gradcheck.Op`, which validates its arguments).

    Callables take plain data: shapes are tuples, intervals `(lo, hi)`, inputs numpy arrays.
    """

    name: str
    family: str  # unary, binary, reduction, along_dim, linalg, shape, indexing, ...
    shape: Callable[[Sequence[Shape], dict], Shape]  # input shapes, attrs -> output shape
    bounds: Callable[[Sequence[Interval], Sequence[Shape], dict], Interval]
    draw_attrs: Callable[[Draw, Sequence[Shape], Sequence[Interval]], dict] = no_attrs
    arity: tuple[int, int] = (1, 1)  # (min, max) number of tensor inputs
    domains: tuple[Domain, ...] = (REAL,)  # per input; the last one repeats (cat, stack)
    min_ndim: int = 0  # shapes the first input may have: min_ndim..max_ndim dims ...
    min_side: int = 0  # ... every dim at least this long (1: non-empty)
    max_ndim: int = 4
    # Input 0's shapes beyond min_ndim/min_side (square matrices, a dim of size 3): which
    # fit, and how to get a fresh one: drawn whole, or a drawn shape grown to fit (None:
    # any shape of min_ndim..max_ndim dims, every side >= min_side).
    first_fits: Callable[[Shape], bool] | None = None
    draw_first: Callable[[Draw], Shape] | None = None
    grow_first: Callable[[Shape], Shape] | None = None
    # Shapes of inputs 1.. given input 0's shape: which fit, and how to draw a fresh one.
    partner_fits: Callable[[Shape, Shape], bool] | None = None
    draw_partner: Callable[[Draw, Shape], Shape] | None = None
    # Inputs with different roles (a conv's weight and bias, attention's key and value):
    # given the shapes of inputs 0..k-1, whether a shape fits input k, and a fresh one for
    # it. When set, they replace partner_fits and draw_partner.
    input_fits: Callable[[Sequence[Shape], Shape], bool] | None = None
    draw_input: Callable[[Draw, Sequence[Shape]], Shape] | None = None
    # No value as two of its inputs: cross(x, x) and solve(A, A) are constants that an
    # engine computes as rounding noise of its products' size, which the oracles' noise
    # estimates (from the reference's values, exactly 0 and I) cannot see.
    distinct_inputs: bool = False
    kink: Kink | None = None  # None: differentiable everywhere in its domains
    samples: tuple[Sample, ...] = ()  # checked exactly every run (see Sample)
    # The call as docs/architecture.md shows it: inputs, then attrs with their types.
    signature: str = "(x)"
    note: str = ""  # e.g. the torch function it is, where the name differs
    # Per-dtype factor on the comparison tolerance, for ops whose kernels legitimately
    # round more (long reductions, iterative linear algebra); 1 where absent.
    tolerance: Mapping[str, float] = field(default_factory=dict)
    requires: frozenset[str] = frozenset()  # adapter capabilities needed to test it at all
    needs_contiguous: bool = False  # torch's `view` refuses some strided inputs
    # Output memory: "follows" is contiguous when every input is (torch's elementwise ops,
    # flip and reshape keep a transposed input's strides); "strided" may never be.
    layout: str = "follows"
    # Engines compute it as a difference of terms as large as its inputs (gelu's
    # 1 + erf(x / sqrt 2), log_softmax's x - logsumexp(x)), so where its result is small
    # it rounds by eps |input|, not eps |result|: the oracles' noise bounds use the larger.
    absolute_rounding: bool = False
    # Its derivative is a saturating difference, 1 - sigmoid(x) or 1 - tanh(x)^2 (times x
    # in silu and mish): engines that round sigmoid or tanh to the dtype first keep eps
    # max(|input|, 1) of it absolute however small the derivative is, so a low-precision
    # second derivative at |x| > 4 may have no correct digit (tanh''(4) in float16: 27%).
    # The second-order noise bound uses that size (checks._cancelling_scale).
    derivative_rounding: bool = False
    # cancelling_terms(inputs, tangents, attrs): the size of the terms its derivatives sum,
    # per unit of its output's adjoint, where they cancel far below what its inputs and
    # result show (a saturated softmax in attention). tangents None: its VJP's, with how
    # far the VJP moves as the inputs move by their rounding; else its second
    # derivative's along the tangents. Engines keep eps times them (checks.py's
    # _conditioning_scale and _cancelling_scale).
    cancelling_terms: (
        Callable[[list[np.ndarray], list[np.ndarray] | None, Mapping[str, Any]], float] | None
    ) = None
    # Its cancelling_terms are a sum that engines accumulate in float32 at least (torch and
    # XLA do for float16 and bfloat16): at those dtypes they round by float32's eps.
    accumulated_terms: bool = False
    # internal_size(inputs, attrs): the largest value its kernels form that is neither an
    # input nor its result (cross_entropy's label smoothing sums -log p over the classes).
    # Examples where that is within checks.RANGE_HEADROOM of the dtype's largest number
    # are inconclusive: engines may overflow there, as they may for large results.
    internal_size: Callable[[list[np.ndarray], Mapping[str, Any]], float] | None = None
    # False where the reference's derivatives cost n^2 in a slice's length n, so that large
    # graphs (up to 4096 elements) leave the op out: cumprod's VJP forms (n, n) partials
    # per slice, and a thorough run's float16 second derivative took 24 GB and was killed.
    large: bool = True
    # The in-place form's name (torch's method: "add_"), an op name adapters implement
    # like any other (x.add_(y) writes x + y into x and returns x); `spec_of` finds this
    # record by it. Only imperative engines have in-place forms.
    inplace: str | None = None
    # User ops only (`gradcheck.Op`; None/empty for catalog ops, which run as adapter.ops):
    # fn(*adapter tensors, **attrs) -> tensor, used where the adapter lacks the op;
    # reference(*float64 arrays, **attrs) -> array, the reference engine's numpy forward;
    # source, fn's import path "module:qualname" for repros (None: not importable);
    # lacks, the capabilities fn has not ("jvp", "higher_order"): those checks skip it.
    fn: Callable[..., Any] | None = None
    reference: Callable[..., np.ndarray] | None = None
    source: str | None = None
    lacks: frozenset[str] = frozenset()

    def domain(self, i: int) -> Domain:
        return self.domains[min(i, len(self.domains) - 1)]

    @property
    def kinked(self) -> bool:
        return self.kink is not None

    def accepts(self, shape: Shape) -> bool:
        """Whether `shape` may be this op's first input."""
        return (
            self.min_ndim <= len(shape) <= self.max_ndim
            and all(s >= self.min_side for s in shape)
            and (self.first_fits is None or self.first_fits(shape))
        )


# ---- intervals ---------------------------------------------------------------------------


def hull(*intervals: Interval) -> Interval:
    return min(i[0] for i in intervals), max(i[1] for i in intervals)


def magnitude(interval: Interval) -> float:
    return max(abs(interval[0]), abs(interval[1]))


def increasing(f: Callable[[float], float]) -> Callable:
    return lambda iv, shapes, attrs: (f(iv[0][0]), f(iv[0][1]))


def decreasing(f: Callable[[float], float]) -> Callable:
    return lambda iv, shapes, attrs: (f(iv[0][1]), f(iv[0][0]))


def even(f: Callable[[float], float]) -> Callable:
    """Bounds of f(x) = g(|x|) with g increasing (abs, square, cosh)."""

    def bounds(iv, shapes, attrs):
        lo, hi = iv[0]
        low = 0.0 if lo <= 0.0 <= hi else min(abs(lo), abs(hi))
        return f(low), f(max(abs(lo), abs(hi)))

    return bounds


def fixed(lo: float, hi: float) -> Callable:
    return lambda iv, shapes, attrs: (lo, hi)


def same_bounds(iv, shapes, attrs) -> Interval:
    return hull(*iv)


def products(a: Interval, b: Interval) -> Interval:
    corners = [x * y for x in a for y in b]
    return min(corners), max(corners)


# ---- shapes ------------------------------------------------------------------------------


def size(shape: Shape) -> int:
    return math.prod(shape)


def dims_of(dim: int | tuple | None, ndim: int) -> tuple[int, ...]:
    """The non-negative dims a `dim` attr names (None: all of them)."""
    if dim is None:
        return tuple(range(ndim))
    dims = dim if isinstance(dim, tuple) else (dim,)
    return tuple(sorted(d % max(ndim, 1) for d in dims))


def reduced_size(shape: Shape, dim: int | tuple | None) -> int:
    return math.prod(shape[d] for d in dims_of(dim, len(shape))) if shape else 1


def reduced_shape(shape: Shape, dim: int | tuple | None, keepdim: bool) -> Shape:
    dims = dims_of(dim, len(shape))
    if keepdim:
        return tuple(1 if d in dims else s for d, s in enumerate(shape))
    return tuple(s for d, s in enumerate(shape) if d not in dims)


def same_shape(shapes: Sequence[Shape], attrs: dict) -> Shape:
    return tuple(shapes[0])


def broadcast(shapes: Sequence[Shape], attrs: dict) -> Shape:
    return tuple(np.broadcast_shapes(*shapes))


def broadcast_fits(first: Shape, other: Shape) -> bool:
    try:
        out = np.broadcast_shapes(first, other)
    except ValueError:
        return False
    # At most 64 elements, or no more than a larger input has (a graph drawn large).
    return len(out) <= 4 and size(out) <= max(64, size(first), size(other))


@functools.cache
def integers(low: int, high: int) -> Any:
    """st.integers(low, high), built once per bounds: hypothesis' own strategy cache costs
    about 15 us a call, and drawing one graph makes dozens of such draws."""
    from hypothesis import strategies as st

    return st.integers(low, high)


def element_arrays(shape: Shape, options: Sequence) -> Any:
    """Arrays of `shape` whose elements are `options` (bools, indices, a grid): one drawn
    seed instead of a draw per element, which cost hypothesis more than the rest of the
    graph. The seed's shrink target, 0, makes every element options[0]."""
    pool = np.asarray(options) if len(options) else np.zeros(0, np.int64)
    # The dtype is part of the key: (0, 1) == (False, True) to a cache.
    return _element_arrays(tuple(shape), tuple(options), pool.dtype.str)


@functools.lru_cache(maxsize=4096)
def _element_arrays(shape: Shape, options: tuple, dtype: str) -> Any:
    from hypothesis import strategies as st

    pool = np.asarray(options, dtype=dtype)

    def make(seed: int) -> np.ndarray:
        if seed == 0 or pool.size < 2:
            return np.full(shape, pool[0] if pool.size else 0, dtype=pool.dtype)
        return np.asarray(pool[np.random.default_rng(seed).integers(0, pool.size, size=shape)])

    return st.integers(0, 2**32 - 1).map(make)


def int_array(draw: Draw, shape: Shape, low: int, high: int) -> np.ndarray:
    """int64 indices in [low, high] (`element_arrays`: repeats come from a small range)."""
    return draw(element_arrays(tuple(shape), tuple(range(low, high + 1))))


def draw_broadcast_partner(draw: Draw, shape: Shape) -> Shape:
    """A shape that broadcasts with `shape`: some dims set to 1, leading dims dropped or added."""
    dims = [1 if draw(integers(0, 1)) else s for s in shape]
    dims = dims[draw(integers(0, len(dims))) :]
    if len(shape) < 4 and draw(integers(0, 1)):
        extra = draw(integers(1, 3))
        if size(shape) * extra <= 64:
            dims = [extra, *([1] * (len(shape) - len(dims))), *dims]
    return tuple(dims)


def draw_dim(draw: Draw, ndim: int, extra: int = 0) -> int:
    """An int dim in [-(ndim + extra), ndim + extra), negative ones included on purpose."""
    return draw(integers(-(ndim + extra), ndim + extra - 1))


def distance_to(values: np.ndarray, points: Sequence[float]) -> np.ndarray:
    """Distance from each element to the nearest of `points` (inf when there are none)."""
    gap = np.full(values.shape, math.inf)
    for p in points:
        gap = np.minimum(gap, np.abs(values - p))
    return gap


def min_or_inf(values: np.ndarray) -> float:
    return float(np.min(values)) if values.size else math.inf
