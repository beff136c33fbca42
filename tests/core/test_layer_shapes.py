"""The layer family's records draw consistent inputs: each input's shape fits its role
given the inputs before it (OpSpec.input_fits), the first input is accepted, and the
record's shape rule is the shape the reference computes, within the generator's limits."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings

from gradcheck.adapters import load_adapter
from gradcheck.ops import CATALOG
from gradcheck.runs import Run
from gradcheck.strategies import MAX_SIZE, graphs

LAYERS = [name for name, spec in CATALOG.items() if spec.family == "layer"]


@pytest.mark.parametrize("op", LAYERS)
def test_drawn_layer_inputs_fit_their_roles(op: str) -> None:
    spec, reference = CATALOG[op], load_adapter("reference")

    @settings(max_examples=40, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(graphs(ops=[op], max_nodes=1))
    def fits(graph):
        node = graph.nodes[0]
        shapes = [graph.leaves[i].values.shape for i in node.inputs]
        assert spec.accepts(shapes[0]) and spec.arity[0] <= len(shapes) <= spec.arity[1]
        for k in range(1, len(shapes)):
            fits_input = spec.input_fits or (lambda chosen, s: spec.partner_fits(chosen[0], s))
            assert fits_input(shapes[:k], shapes[k]), (op, shapes)
        run = Run("forward", graph, reference, "float64", "cpu")
        (out,) = run.forward([leaf.values for leaf in graph.leaves])
        assert out.shape == spec.shape(shapes, dict(node.attrs))
        # Small, or no larger than its largest input (embedding's table may be drawn large)
        largest = max(math.prod(s) for s in shapes)
        assert math.prod(out.shape) <= max(MAX_SIZE, largest) and out.ndim <= 4
        leaves = [graph.leaves[i].values for i in node.inputs]  # some reach the tails
        intervals = [(x.min(initial=0.0), x.max(initial=0.0)) for x in leaves]
        lo, hi = spec.bounds(intervals, shapes, dict(node.attrs))
        assert lo <= out.min(initial=lo) and out.max(initial=hi) <= hi

    fits()
