"""Leaf memory layouts and large leaves: the generator draws them at the rates it
promises, torch makes real non-contiguous leaves, and adapters without layouts ignore
them."""

from __future__ import annotations

import math
from collections import Counter

import hypothesis
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcheck.adapters import load_adapter
from gradcheck.adapters.base import as_adapter
from gradcheck.graph import LAYOUTS, Graph, Leaf, Node
from gradcheck.strategies import MAX_SIZE, graphs, noncontiguous_layouts, shapes

torch = pytest.importorskip("torch")

COUNT = settings(
    max_examples=300, derandomize=True, database=None, deadline=None,
    suppress_health_check=list(HealthCheck),
)  # fmt: skip


def census(strategy) -> Counter:
    """Graphs, leaves, non-contiguous and large leaves, and the graphs with either, over
    COUNT's derandomized draws."""
    seen: Counter = Counter()

    @COUNT
    @given(strategy)
    def count(graph: Graph) -> None:
        seen["graphs"] += 1
        large = [leaf for leaf in graph.leaves if leaf.values.size > MAX_SIZE]
        strided = [leaf for leaf in graph.leaves if leaf.layout != "contiguous"]
        seen["leaves"] += len(graph.leaves)
        seen["large leaves"] += len(large)
        seen["non-contiguous leaves"] += len(strided)
        seen["graphs with a large leaf"] += bool(large)
        seen["graphs with a non-contiguous leaf"] += bool(strided)
        seen.update(f"layout {leaf.layout}" for leaf in graph.leaves)
        for leaf in large:
            size, last = leaf.values.size, leaf.values.shape[-1]
            seen["large leaves of at most 4096"] += size <= 4096
            seen["large leaves of 257.., odd last side >= 9"] += (
                size >= 257 and last % 2 == 1 and last >= 9
            )

    count()
    return seen


@pytest.mark.parametrize("max_nodes", [1, 6])
def test_the_generator_draws_noncontiguous_and_large_leaves(max_nodes):
    seen = census(graphs(ops=["exp", "add", "sum", "transpose"], max_nodes=max_nodes))
    print(dict(seen))  # shown with -s
    graphs_ = seen["graphs"]
    # About 1 fresh leaf in 4 is non-contiguous where its shape allows it (scalars, single
    # elements and empty values do not).
    assert 0.05 <= seen["non-contiguous leaves"] / seen["leaves"] <= 0.4
    assert seen["layout transposed"] > 0 and seen["layout strided"] > 0
    # 1 one-op graph in 4 and 1 deeper graph in 12 have large fresh leaves.
    share = seen["graphs with a large leaf"] / graphs_
    assert 0.1 <= share <= 0.4 if max_nodes == 1 else 0.05 <= share <= 0.25
    assert seen["large leaves of at most 4096"] == seen["large leaves"]
    # Fresh ones are; a broadcasting partner of one may have sides set to 1.
    assert seen["large leaves of 257.., odd last side >= 9"] >= 0.8 * seen["large leaves"]


def default_profile_census(seed: int) -> Counter:
    """Examples with a large or a non-contiguous leaf among the 20 that gradcheck-dev
    draws for a single-op test of sigmoid at hypothesis seed `seed`."""
    seen: Counter = Counter()

    @hypothesis.seed(seed)
    @settings(COUNT, max_examples=20, derandomize=False)
    @given(graphs(ops=["sigmoid"], max_nodes=1))
    def count(graph: Graph) -> None:
        seen["large"] += any(leaf.values.size > MAX_SIZE for leaf in graph.leaves)
        seen["strided"] += any(leaf.layout != "contiguous" for leaf in graph.leaves)

    count()
    return seen


def test_the_default_profile_draws_a_few_of_each_per_test():
    """Large and non-contiguous leaves in most seeds (the planted bugs of
    tests/plugin/test_planted_layout_bugs.py need them), several over the seeds together."""
    totals: Counter = Counter()
    for seed in range(1, 11):
        seen = default_profile_census(seed)
        totals.update({f"seeds with {k}": 1 for k, n in seen.items() if n}, **seen)
    assert totals["seeds with large"] >= 7 and totals["seeds with strided"] >= 7, totals
    assert totals["large"] >= 20 and totals["strided"] >= 10, totals


def test_view_never_takes_a_noncontiguous_value():
    """Checked against torch's own strides: each `view` input, computed from leaves in
    their layouts, is contiguous (a generator that lost track would offer one that is not)."""
    adapter = load_adapter("torch")
    views = Counter()

    @COUNT
    @given(graphs(ops=["transpose", "flip", "view", "exp", "permute"], max_nodes=4))
    def check(graph: Graph) -> None:
        leaves = [
            adapter.asarray_with_layout(leaf.values, "float64", "cpu", False, leaf.layout)
            for leaf in graph.leaves
        ]
        values = graph.evaluate_all(adapter, leaves)
        for node in graph.nodes:
            if node.op == "view":
                views["view"] += 1
                views["of a non-contiguous leaf's graph"] += any(
                    leaf.layout != "contiguous" for leaf in graph.leaves
                )
                assert values[node.inputs[0]].is_contiguous(), graph

    check()
    assert views["view"] >= 20 and views["of a non-contiguous leaf's graph"] >= 5, views


@settings(COUNT, max_examples=100)
@given(shapes(max_side=5), st.sampled_from(["float64", "float32", "float16"]))
def test_torch_leaves_in_a_layout_are_real_noncontiguous_leaves(shape, dtype):
    adapter = load_adapter("torch")
    values = np.arange(math.prod(shape), dtype=np.float64).reshape(shape) / 8
    for layout in noncontiguous_layouts(shape):
        x = adapter.asarray_with_layout(values, dtype, "cpu", True, layout)
        assert not x.is_contiguous() and x.is_leaf and x._base is None, (shape, layout)
        assert x.requires_grad and str(x.dtype) == f"torch.{dtype}"
        np.testing.assert_array_equal(adapter.to_numpy(x), values)
        (grad,) = torch.autograd.grad((x * x).sum(), x)
        np.testing.assert_allclose(adapter.to_numpy(grad), 2 * values, rtol=1e-3)
        (x * 3).sum().backward()
        np.testing.assert_array_equal(adapter.to_numpy(x.grad), np.full(shape, 3.0))


def test_an_adapter_without_layouts_ignores_them():
    """The protocol's default: a user adapter written before layouts makes its leaves with
    `asarray`, whatever the layout."""
    made = []

    class Plain:  # the required members only
        name, version, ops = "plain", "0", {}

        def asarray(self, array, dtype, device, requires_grad):
            made.append((array.shape, dtype, requires_grad))
            return np.array(array)

        def to_numpy(self, x):
            return np.array(x)

        def vjp(self, fn, primals, cotangents):
            raise NotImplementedError

    adapter = as_adapter(Plain())
    x = adapter.asarray_with_layout(np.ones((2, 3)), "float64", "cpu", True, "transposed")
    assert made == [((2, 3), "float64", True)] and x.shape == (2, 3)


def test_a_leaf_layout_is_part_of_the_graph():
    values = np.arange(6.0).reshape(2, 3)
    graphs_ = [
        Graph([Leaf(values, layout)], [Node("exp", [0])], [1], [np.ones((2, 3))])
        for layout in LAYOUTS
    ]
    assert graphs_[0] != graphs_[1] != graphs_[2] != graphs_[0]
    for graph in graphs_:
        rebuilt = eval(repr(graph), {"np": np, "Graph": Graph, "Leaf": Leaf, "Node": Node})
        assert rebuilt == graph and rebuilt.layouts == graph.layouts
        assert graph.with_values(leaves=[values + 1]).layouts == graph.layouts
    with pytest.raises(ValueError, match="layout 'diagonal' is not one of"):
        Leaf(values, "diagonal")
