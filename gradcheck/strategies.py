"""Hypothesis strategies: `shapes`, `arrays`, and `graphs` of catalog and user ops.

`graphs` draws the structure first (ops, wiring, shapes, attrs), tracking each value's
shape and an interval bounding its elements, so that every op is only handed inputs it
can take: no `.filter`, and `assume` only when no drawn op fits at all. Values,
cotangents and tangents come last.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from gradcheck.graph import Graph, Leaf, Node
from gradcheck.ops import CATALOG, LIMIT, Interval, OpSpec, Shape, Structure, register, spec_of
from gradcheck.ops.registry import known
from gradcheck.ops.spec import TAIL_REACHES, integers
from gradcheck.values import (
    KINK_MARGIN,
    LARGE_MAX_SIZE,
    MAX_SIZE,
    TAIL_LANDMARKS,
    arrays,
    large_shapes,
    noise,
    noncontiguous_layouts,
    shapes,
)

__all__ = [  # the public strategies, and what tests read
    "MAX_SIZE",
    "GraphBuilder",
    "Value",
    "arrays",
    "graphs",
    "noncontiguous_layouts",
    "shapes",
]

# ... in 1 graph in LARGE_SHARE values may reach LARGE_MAX_SIZE (`large_shapes` leaves).
LARGE_SHARE = 12
NONCONTIGUOUS_SHARE = 4  # 1 fresh leaf in this many is drawn in a non-contiguous layout


@dataclass
class Value:
    shape: Shape
    interval: Interval
    contiguous: bool = True
    layout: str = "contiguous"  # a leaf's memory layout (`gradcheck.graph.LAYOUTS`)
    leaf: int | None = None  # index among the leaves, None for a node
    structure: Structure | None = None  # a leaf drawn with a matrix structure (Domain)
    avoid: list[float] = field(default_factory=list)  # kinks its consumers have
    distinct: bool = False  # feeds a tie kink (max, std): elements drawn apart
    edge: bool = False  # feeds a kinked op: draw zeros, ties and kink values on purpose


class GraphBuilder:
    """Grows a graph one op at a time, choosing inputs that fit each op."""

    def __init__(
        self, draw, max_leaves: int, edge_cases: bool, tails: bool = False, large: bool = False
    ):
        self.draw = draw
        self.max_leaves = max_leaves
        self.edge_cases = edge_cases
        self.tails = tails  # fresh leaves from the domain's tails and edges, not the box
        self.large = large  # fresh leaves of ops that take any shape are `large_shapes`
        self.max_size = LARGE_MAX_SIZE if large else MAX_SIZE
        self.values: list[Value] = []
        self.nodes: list[tuple[str, list[int], dict]] = []  # (op, input value ids, attrs)
        self.n_leaves = 0

    def try_add(self, spec: OpSpec) -> bool:
        """Add a node of `spec`, or change nothing and return False if nothing fits."""
        saved = (len(self.values), self.n_leaves)
        ids = self.choose_inputs(spec)
        if ids is not None and self.add_node(spec, ids):
            return True
        del self.values[saved[0] :]
        self.n_leaves = saved[1]
        return False

    def choose_inputs(self, spec: OpSpec) -> list[int] | None:
        def first_fits(v: Value) -> bool:
            return spec.accepts(v.shape) and (v.contiguous or not spec.needs_contiguous)

        def fresh_first() -> Shape:
            if spec.draw_first is not None:
                return spec.draw_first(self.draw)
            if self.large and self.takes_large(spec) and spec.max_ndim >= 1:
                return self.draw(large_shapes(spec.min_ndim, spec.max_ndim, spec.min_side))
            shape = self.draw(shapes(spec.min_ndim, spec.max_ndim, min_side=spec.min_side))
            return shape if spec.grow_first is None else spec.grow_first(shape)

        first = self.choose(spec, 0, first_fits, fresh_first)
        if first is None or not first_fits(self.values[first]):  # a fresh shape may not fit
            return None
        ids, shape = [first], self.values[first].shape
        low, high = spec.arity
        if spec.input_fits is None:  # partners like the first input (cat, stack): fewer if big
            high = min(high, self.max_size // max(1, math.prod(shape)))
        count = self.between(low, high)
        for slot in range(1, count):
            taken = [self.values[i] for i in ids] if spec.distinct_inputs else []
            partner = self.choose_partner(spec, slot, [self.values[i].shape for i in ids], taken)
            if partner is None:
                return None
            ids.append(partner)
        return ids

    def choose_partner(
        self, spec: OpSpec, slot: int, chosen: list[Shape], taken: list[Value]
    ) -> int | None:
        """Input `slot` (1..) of `spec`, given the shapes of the inputs chosen before it;
        none of the values `taken` (`OpSpec.distinct_inputs`)."""
        if spec.input_fits is not None:
            fits = lambda shape: spec.input_fits(chosen, shape)  # noqa: E731
            fresh = lambda: spec.draw_input(self.draw, chosen)  # noqa: E731
        else:
            fits = lambda shape: spec.partner_fits(chosen[0], shape)  # noqa: E731
            fresh = lambda: spec.draw_partner(self.draw, chosen[0])  # noqa: E731
        partner = self.choose(
            spec, slot, lambda v: fits(v.shape) and all(v is not t for t in taken), fresh
        )
        if partner is None or not fits(self.values[partner].shape):
            return None
        return partner

    def choose(self, spec: OpSpec, slot: int, fits, fresh_shape) -> int | None:
        """An existing value that fits input `slot`, or a fresh leaf (while leaves remain)."""
        domain = spec.domain(slot)
        big_ok = self.takes_large(spec)
        candidates = [
            i
            for i in reversed(range(len(self.values)))
            if fits(self.values[i])
            and domain.contains(self.values[i].interval)
            and domain.structure in (None, self.values[i].structure)
            and (big_ok or math.prod(self.values[i].shape) <= MAX_SIZE)
        ]
        ways = (["latest", "any"] if candidates else []) + (
            ["fresh"] if self.n_leaves < self.max_leaves else []
        )
        if not ways:
            return None
        way = self.pick(ways)
        if way == "latest":
            return candidates[0]
        if way == "any":
            return self.pick(candidates)
        reach = self.pick(TAIL_REACHES) if self.tails else "box"
        # A domain without edges draws the near tail instead.
        intervals = domain.leaf_intervals(reach) or domain.leaf_intervals("wide5")
        interval = self.pick(intervals)
        shape = tuple(fresh_shape())
        # `view` (needs_contiguous) gets contiguous leaves: a strided one could never fit.
        layout = "contiguous" if spec.needs_contiguous else self.leaf_layout(shape)
        self.values.append(
            Value(shape, interval, layout == "contiguous", layout, self.n_leaves,
                  domain.structure)
        )  # fmt: skip
        self.n_leaves += 1
        return len(self.values) - 1

    def leaf_layout(self, shape: Shape) -> str:
        """1 fresh leaf in NONCONTIGUOUS_SHARE is made non-contiguous, where its shape has
        such a layout (shrinking goes to contiguous)."""
        options = noncontiguous_layouts(shape)
        if not options or self.draw(integers(1, NONCONTIGUOUS_SHARE)) < NONCONTIGUOUS_SHARE:
            return "contiguous"
        return self.pick(options)

    @staticmethod
    def takes_large(spec: OpSpec) -> bool:
        """Whether `spec` may take values beyond MAX_SIZE: a catalog op of any shape (no
        drawn or grown first input, no inputs of their own roles: not linear algebra on
        square matrices, nor layers), whose cost is about linear in its input's size."""
        return (
            spec.large
            and spec.name in CATALOG
            and spec.draw_first is None
            and spec.grow_first is None
            and spec.input_fits is None
        )

    def pick(self, options: Sequence) -> Any:
        """One of `options`, shrinking towards the first: like sampled_from, but an index
        draw reuses one cached strategy instead of building one per call."""
        return options[self.between(0, len(options) - 1)]

    def between(self, low: int, high: int) -> int:
        """An integer of low..high (low when high < low). Without a draw where there is no
        choice: a third of a one-op graph's draws were of one value, and each costs
        hypothesis about 100 us."""
        return self.draw(integers(low, high)) if high > low else low

    def add_node(self, spec: OpSpec, ids: list[int]) -> bool:
        inputs = [self.values[i] for i in ids]
        in_shapes = [v.shape for v in inputs]
        intervals = [v.interval for v in inputs]
        attrs = spec.draw_attrs(self.draw, in_shapes, intervals)
        shape = tuple(spec.shape(in_shapes, attrs))
        lo, hi = self.fit_bounds(spec, inputs, in_shapes, attrs)
        if not (-LIMIT <= lo <= hi <= LIMIT) or math.prod(shape) > self.max_size or len(shape) > 4:
            return False
        self.values.append(Value(shape, (float(lo), float(hi)), self.layout_of(spec, inputs)))
        self.nodes.append((spec.name, ids, attrs))
        for slot, value in enumerate(inputs):
            if value.leaf is not None and spec.kink is not None:
                value.edge = self.edge_cases
                value.avoid += list(spec.kink.points(attrs)) if slot == 0 else []
                value.distinct |= spec.kink.ties
        return True

    def fit_bounds(
        self, spec: OpSpec, inputs: list[Value], shapes: list[Shape], attrs: dict
    ) -> Interval:
        """The op's result interval, narrowing its fresh wide leaves (a few times, by 4x)
        until the result stays inside [-LIMIT, LIMIT]: tails as far out as the op allows."""
        for _ in range(6):
            lo, hi = spec.bounds([v.interval for v in inputs], shapes, attrs)
            # Leaves no node takes yet are this node's fresh ones: their intervals are free.
            fresh = [(slot, v) for slot, v in enumerate(inputs) if v.leaf is not None
                     and not self.used(v)]  # fmt: skip
            if -LIMIT <= lo <= hi <= LIMIT or not fresh:
                return lo, hi
            for slot, value in fresh:
                value.interval = spec.domain(slot).narrowed(value.interval)
        return spec.bounds([v.interval for v in inputs], shapes, attrs)

    def used(self, value: Value) -> bool:
        """Whether a node already takes `value` (its interval is then fixed)."""
        index = self.values.index(value)
        return any(index in ids for _, ids, _ in self.nodes)

    @staticmethod
    def layout_of(spec: OpSpec, inputs: Sequence[Value]) -> bool:
        """Whether the op's result is surely contiguous (so that `view` may take it)."""
        return spec.layout != "strided" and all(v.contiguous for v in inputs)

    def build(self, outputs: Sequence[int]) -> Graph:
        """The Graph, leaves renumbered first, with values, cotangents and tangents drawn."""
        draw = self.draw
        leaf_ids = [i for i, v in enumerate(self.values) if v.leaf is not None]
        node_ids = [i for i, v in enumerate(self.values) if v.leaf is None]
        new_id = {old: new for new, old in enumerate(leaf_ids + node_ids)}
        leaves = [Leaf(self.leaf_values(self.values[i]), self.values[i].layout) for i in leaf_ids]
        nodes = [Node(op, [new_id[i] for i in ids], attrs) for op, ids, attrs in self.nodes]
        seed = draw(integers(0, 2**32 - 1))
        cotangents = [noise(self.values[i].shape, k, seed) for k, i in enumerate(outputs)]
        tangents = [noise(leaf.shape, 10 + k, seed) for k, leaf in enumerate(leaves)]
        return Graph(leaves, nodes, [new_id[i] for i in outputs], cotangents, tangents)

    def leaf_values(self, leaf: Value) -> np.ndarray:
        if leaf.structure is not None:  # its structure keeps it off the kinks it feeds
            return leaf.structure.make(self.draw(arrays(leaf.shape, -1.0, 1.0)))
        low, high = leaf.interval
        if leaf.edge:  # conventions: hit the kinks exactly
            return self.draw(
                arrays(leaf.shape, low, high, zeros=True, ties=True, special=leaf.avoid)
            )
        margin = min(KINK_MARGIN, (high - low) / 20)
        # In a graph exploring the tails, elements often sit on landmarks beyond the box,
        # between where ops change branch and where they saturate.
        special = [m for m in TAIL_LANDMARKS if low <= m <= high] if self.tails else []
        return self.draw(
            arrays(leaf.shape, low, high, special=special, avoid=leaf.avoid, margin=margin,
                   distinct=leaf.distinct)
        )  # fmt: skip


def graphs(
    ops: Sequence[str | OpSpec] | None = None,
    max_nodes: int = 6,
    max_leaves: int = 3,
    max_outputs: int = 2,
    edge_cases: bool = False,
) -> st.SearchStrategy[Graph]:
    """Random DAGs of catalog ops (all of them by default), with values and cotangents.

    ops: names of catalog or registered user ops, or `OpSpec`s (user ops made with
    `gradcheck.Op` are registered here). Shrinks towards fewer nodes and towards ops
    earlier in the catalog (simpler ones), user ops last. edge_cases: leaves feeding
    kinked ops hold exact kink values and ties on purpose.
    """
    given = [register(op).name if isinstance(op, OpSpec) else op for op in ops or ()]
    unknown = sorted({n for n in given if not known(n)})
    if unknown or (ops is not None and not ops) or max_leaves < 1 or max_nodes < 1:
        raise ValueError(
            f"graphs() needs catalog or registered user ops, a node and a leaf; unknown: {unknown}"
        )
    names = [n for n in CATALOG if ops is None or n in set(given)]
    names += [n for n in dict.fromkeys(given) if n not in CATALOG]
    return _graphs(tuple(names), max_nodes, max_leaves, max_outputs, edge_cases)


@functools.lru_cache(maxsize=1024)
def _graphs(names: tuple[str, ...], *args: Any) -> st.SearchStrategy[Graph]:
    return build_graph(names, *args)


@st.composite
def build_graph(draw, names, max_nodes, max_leaves, max_outputs, edge_cases) -> Graph:
    # Some graphs explore the tails (shrinking goes to the box): most one-op graphs, where
    # a tail-only bug of that op must show; fewer deep ones, whose wide intervals would
    # leave fewer ops able to follow.
    share = 3 if max_nodes == 1 else 1
    tails = draw(integers(0, 4)) >= 5 - share
    # Some graphs have large fresh leaves (shrinking goes to small ones): 1 one-op graph
    # in 4, where an op's vectorized kernels must show, 1 deeper graph in LARGE_SHARE.
    large_share = 4 if max_nodes == 1 else LARGE_SHARE
    large = draw(integers(1, large_share)) == large_share
    builder = GraphBuilder(draw, max_leaves, edge_cases, tails=tails, large=large)
    user = tuple(n for n in names if n not in CATALOG)

    def pick() -> OpSpec:
        # Among catalog ops, user ops are drawn half the time: most graphs then hold one.
        mixed = user and len(user) < len(names) and draw(st.booleans())
        return spec_of(builder.pick(user if mixed else names))

    for _ in range(builder.between(1, max_nodes)):
        # An op may fit nothing once the leaves are used up: try a few others.
        for _attempt in range(4):
            if builder.try_add(pick()):
                break
    # Only when no drawn op fitted (e.g. a single leaf and only binary ops): rare.
    assume(builder.nodes)
    node_ids = [i for i, v in enumerate(builder.values) if v.leaf is None]
    others = node_ids[-2::-1]  # most recent first
    extra = (
        draw(st.lists(st.sampled_from(tuple(others)), max_size=max_outputs - 1, unique=True))
        if others
        else []
    )
    return builder.build([node_ids[-1], *extra])
