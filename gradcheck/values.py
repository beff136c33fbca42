"""Hypothesis strategies for what a graph holds: `shapes` (and `large_shapes`) and leaf
`arrays`; and the `noise` of cotangents and tangents, made from one drawn seed.
`gradcheck.strategies` draws graphs with them (and re-exports `shapes` and `arrays`, the
public ones).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import numpy as np
from hypothesis import strategies as st

from gradcheck.ops import Shape
from gradcheck.ops.spec import integers

MAX_SIZE = 64  # elements per value: keeps examples fast and readable
# ... except in graphs drawn large (strategies.LARGE_SHARE): values up to this size, whose
# fresh leaves have hundreds to thousands of elements (`large_shapes`).
LARGE_MAX_SIZE = 4096
KINK_MARGIN = 0.01  # leaves feeding a kinked op stay this far from the kink


@functools.lru_cache(maxsize=4096)
def shapes(
    min_dims: int = 0,
    max_dims: int = 4,
    min_side: int = 0,
    max_side: int = 4,
    max_size: int = MAX_SIZE,
) -> st.SearchStrategy[Shape]:
    """A shape of min_dims..max_dims dims, sides min_side..max_side, at most max_size elements.

    When min_side is 0, about one shape in eight has an empty dim (more would make many
    examples vacuous); the other sides are at least 1.
    """
    return _shapes(min_dims, max_dims, min_side, max_side, max_size)


@st.composite
def _shapes(
    draw,
    min_dims: int = 0,
    max_dims: int = 4,
    min_side: int = 0,
    max_side: int = 4,
    max_size: int = MAX_SIZE,
) -> Shape:
    shape: list[int] = []
    for _ in range(draw(integers(min_dims, max_dims))):
        room = max_size // max(math.prod(shape), 1)
        low = max(min_side, 1)
        shape.append(draw(integers(low, max(low, min(max_side, room)))))
    if shape and min_side == 0 and draw(integers(0, 7)) == 7:
        shape[draw(integers(0, len(shape) - 1))] = 0
    return tuple(shape)


@st.composite
def large_shapes(draw, min_dims: int = 1, max_dims: int = 4, min_side: int = 0) -> Shape:
    """A shape of 257..LARGE_MAX_SIZE elements whose last side is odd and >= 9 (257,
    1031, 3x337...): the sizes where engines run vectorized or blocked kernels, with a
    tail past their last full block. Leading sides are 2..12 (at most 128 in all)."""
    ndim = draw(integers(max(min_dims, 1), max(max_dims, 1)))
    lead: list[int] = []
    for _ in range(ndim - 1):
        room = 128 // max(math.prod(lead), 1)
        low = max(min_side, 2)
        lead.append(draw(integers(low, max(low, min(12, room)))))
    rows = math.prod(lead)
    shortest = max(9, min_side, -(-257 // rows))
    longest = max(shortest, LARGE_MAX_SIZE // rows)
    last = draw(integers(shortest // 2, (longest - 1) // 2)) * 2 + 1
    return (*lead, last)


TINY = 1e-3  # smallest nonzero magnitude of a drawn element
TAIL_LANDMARKS = tuple(sign * m for m in (2.5, 4.0, 8.0, 16.0, 40.0, 300.0) for sign in (1, -1))


def arrays(
    shape: Shape,
    low: float = -2.0,
    high: float = 2.0,
    *,
    zeros: bool = False,
    ties: bool = False,
    special: Iterable[float] = (),
    avoid: Iterable[float] = (),
    margin: float = KINK_MARGIN,
    distinct: bool = False,
) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays with elements in [low, high].

    zeros/ties/special: draw exact zeros, repeated values, or the given values on purpose
    (for conventions at kinks). avoid: keep elements `margin` away from these points.
    distinct: keep elements about `margin` apart from each other (inputs of max, std...).
    """
    return _arrays(
        tuple(shape), low, high, zeros, ties, tuple(special), tuple(avoid), margin, distinct
    )


@functools.lru_cache(maxsize=4096)
def _arrays(
    shape: Shape,
    low: float,
    high: float,
    zeros: bool,
    ties: bool,
    special: tuple[float, ...],
    avoid: tuple[float, ...],
    margin: float,
    distinct: bool,
) -> st.SearchStrategy[np.ndarray]:
    # Built once per argument set: constructing and validating strategies is most of
    # hypothesis' cost per example.
    pool = [*special, *([0.0] if zeros else [])]
    if ties:
        pool += [low + (high - low) * k / 4 for k in (1, 2, 3)]
    pool = np.array(sorted({v for v in pool if low <= v <= high}))

    def make(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        values = spread(rng, low, high, math.prod(shape))
        if pool.size:  # about half the elements from the pool, as one_of(pool, floats)
            chosen = pool[rng.integers(0, pool.size, values.size)]
            values = np.where(rng.random(values.size) < 0.5, chosen, values)
        values = values.reshape(shape)
        if distinct:
            values = separate(values, margin, low, high)
        return push_away(values, avoid, margin, low, high)

    # One drawn seed per array, not one draw per element: per-element draws were half of
    # the suite's time (hypothesis' cost per draw, and its mutations scale with draws).
    # Seeds replay and shrink like any draw; the values do not shrink to round numbers.
    return st.integers(0, 2**32 - 1).map(make)


def spread(rng: np.random.Generator, low: float, high: float, size: int) -> np.ndarray:
    """`size` elements of [low, high]: half uniform, half log-uniform in magnitude (as
    hypothesis' floats, which reach every scale: small values near a kink at 0 even in
    a tail interval like [-300, 300]). Tiny magnitudes become 0: they underflow through
    a few products (1e-83 ** 4 == 0.0), which breaks differences of a correct engine."""
    if not high > low:
        return np.full(size, float(low))
    uniform, exponent, sign, mix = rng.random((4, size))  # one call: numpy's is per call
    straddles = low <= 0.0 <= high
    top = math.log(max(abs(low), abs(high), TINY))
    bottom = math.log(TINY if straddles else max(min(abs(low), abs(high)), TINY))
    magnitude = np.exp(bottom + (top - bottom) * exponent)
    if straddles:
        magnitude[sign < 0.5] *= -1.0
    elif high <= 0.0:
        magnitude = -magnitude
    values = np.where(mix < 0.5, low + (high - low) * uniform, np.clip(magnitude, low, high))
    if straddles:
        values[np.abs(values) < TINY] = 0.0
    return values


def noncontiguous_layouts(shape: Shape) -> tuple[str, ...]:
    """The layouts (`gradcheck.graph.LAYOUTS`) in which a tensor of `shape` is really not
    contiguous: transposed needs two sides > 1, strided a last side > 1 (and elements)."""
    if math.prod(shape) == 0:
        return ()
    transposed = ("transposed",) if sum(s > 1 for s in shape) >= 2 else ()
    strided = ("strided",) if shape and shape[-1] > 1 else ()
    return transposed + strided


def separate(values: np.ndarray, margin: float, low: float, high: float) -> np.ndarray:
    """The same elements in the same order, moved up just enough to be `margin` apart
    (less when [low, high] is too narrow for that), and back inside [low, high]."""
    flat = values.ravel()
    if flat.size < 2:
        return values
    gap = min(margin, (high - low) / (2 * flat.size))
    order = np.argsort(flat, kind="stable")
    spaced = flat[order] + gap * np.arange(flat.size)  # strictly increasing by >= gap
    spaced = np.maximum.accumulate(spaced - gap * np.arange(flat.size)) + gap * np.arange(flat.size)
    overflow = spaced[-1] - high
    if overflow > 0:  # slide down, then squeeze against low if that is not enough
        spaced = np.maximum(spaced - overflow, low + gap * np.arange(flat.size))
    out = np.empty_like(flat)
    out[order] = spaced
    return out.reshape(values.shape)


def push_away(values, points, margin, low, high) -> np.ndarray:
    """Move elements closer than `margin` to a point onto its side at distance `margin`."""
    for p in points:
        side = np.where(values >= p, 1.0, -1.0)
        moved = p + side * margin
        moved = np.where((moved < low) | (moved > high), p - side * margin, moved)
        values = np.where(np.abs(values - p) < margin, moved, values)
    return values


def noise(shape: Shape, salt: int, seed: int) -> np.ndarray:
    """A cotangent or tangent: a fixed non-constant pattern (unique per salt) plus noise
    from a generator seeded by (seed, salt).

    The pattern keeps them away from all-ones and all-zeros even once shrunk. One drawn
    seed serves all of a graph's cotangents and tangents: replayable and shrinkable like
    any draw, and far cheaper than drawing each element, or each array.
    """
    k = np.arange(math.prod(shape))
    pattern = np.where(k % 2, -1.0, 1.0) * (0.5 + (k * 0.6180339887 + 0.37 * salt) % 1.0)
    return (pattern + np.random.default_rng([seed, salt]).uniform(-1.0, 1.0, k.size)).reshape(shape)


# ---- graphs --------------------------------------------------------------------------------
