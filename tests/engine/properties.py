"""The engine's own property tests, per op, on single-op graphs: the VJP agrees with
central differences, the JVP with the VJP (adjoint), and grad-of-grad with differences of
gradients. The bug zoo (test_bug_zoo.py) runs these same functions on broken primitives."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import event, given

from gradcheck.adapters import load_adapter
from gradcheck.checks import run_check
from gradcheck.errors import Inconclusive
from gradcheck.strategies import graphs

PROPERTY_CHECKS = ("finite_difference", "adjoint", "higher_order")


def op_property(op: str, check: str) -> Callable[[], None]:
    """A hypothesis test of `check` on graphs of one `op` node on the reference engine."""
    reference = load_adapter("reference")

    @given(graphs(ops=[op], max_nodes=1))
    def prop(graph) -> None:
        try:
            run_check(check, graph, reference, dtype="float64")
        except Inconclusive as why:
            event(f"inconclusive: {why}")

    return prop
