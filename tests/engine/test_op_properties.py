"""Every catalog op of the reference engine: self-consistency (finite differences, adjoint,
second order) and, with torch installed, forward values, VJPs and kink conventions equal
torch's in float64 (relative 1e-10, the float64 row of gradcheck.numerics.TOLERANCES)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import event, given

from gradcheck.adapters import load_adapter
from gradcheck.checks import CHECKS, run_check
from gradcheck.conventions import run_conventions
from gradcheck.errors import Inconclusive
from gradcheck.numerics import TOLERANCES
from gradcheck.ops import CATALOG
from gradcheck.strategies import graphs
from tests.engine.properties import PROPERTY_CHECKS, op_property

OPS = sorted(CATALOG)


@pytest.mark.parametrize("check", PROPERTY_CHECKS)
@pytest.mark.parametrize("op", OPS)
def test_op_property(op: str, check: str) -> None:
    needs = CHECKS[check].needs  # a declared limitation skips, with its reason
    declared = needs and load_adapter("reference").limitation(op, needs, "float64")
    if declared:
        pytest.skip(declared)
    op_property(op, check)()


def test_float64_tolerance_is_1e_10() -> None:
    assert TOLERANCES["float64"].rtol <= 1e-10


@pytest.mark.parametrize("check", ["forward", "vjp"])
@pytest.mark.parametrize("op", OPS)
def test_op_agrees_with_torch(op: str, check: str) -> None:
    pytest.importorskip("torch")
    torch_adapter = load_adapter("torch")

    @given(graphs(ops=[op], max_nodes=1))
    def agrees(graph) -> None:
        try:
            run_check(check, graph, torch_adapter, dtype="float64")
        except Inconclusive as why:  # at a kink: test_kink_convention_matches_torch
            event(f"inconclusive: {why}")

    agrees()


SAMPLED = sorted(op for op, spec in CATALOG.items() if spec.samples)


@pytest.mark.parametrize("op", SAMPLED)
def test_kink_convention_matches_torch(op: str) -> None:
    pytest.importorskip("torch")
    run_conventions(op, load_adapter("torch"))


def _aliases(adapter_name: str, out: object, inputs: list) -> bool:
    """Whether `out` shares memory with any input: numpy's view of it for the reference
    (a primitive that returns a numpy view without declaring one still counts), the
    storage for torch. Empty results hold no memory."""
    if adapter_name == "torch":
        if out.numel() == 0:
            return False
        ptr = out.untyped_storage().data_ptr()
        return any(x.untyped_storage().data_ptr() == ptr for x in inputs)
    return any(np.shares_memory(out.data, x.data) for x in inputs)


@pytest.mark.parametrize("op", OPS)
def test_op_returns_new_memory_where_torch_does(op: str) -> None:
    # Whether a result aliases its input decides what views of it accept and where an
    # in-place write to it lands; the reference's `repeat` of size-1 dims was once a view
    # of its input (seed 176 of the default profile). Leaves are contiguous: the reference
    # has no other layouts, and whether reshape can view depends on the layout.
    pytest.importorskip("torch")
    adapters = {name: load_adapter(name) for name in ("reference", "torch")}

    @given(graphs(ops=[op], max_nodes=1, max_outputs=1))
    def same_aliasing(graph) -> None:
        (node,) = graph.nodes
        aliasing = {}
        for name, adapter in adapters.items():
            leaves = [
                adapter.asarray(leaf.values, "float64", "cpu", False) for leaf in graph.leaves
            ]
            out = graph.evaluate_all(adapter, leaves)[-1]
            aliasing[name] = _aliases(name, out, [leaves[i] for i in node.inputs])
        assert aliasing["reference"] == aliasing["torch"], (node, aliasing)

    same_aliasing()
