"""The reference adapter passes every oracle on random graphs, at each of its dtypes:
the "passes on a correct engine" half of each oracle's bug-zoo test (tests/core)."""

from __future__ import annotations

import pytest
from hypothesis import event, given, reject

from gradcheck.adapters import load_adapter
from gradcheck.analytic import CLOSED_FORMS, run_analytic
from gradcheck.checks import CHECKS, GRAPH_CHECKS, run_check
from gradcheck.conventions import run_conventions
from gradcheck.errors import Inconclusive, Unsupported
from gradcheck.ops import CATALOG
from gradcheck.semantics import SEMANTICS_CASES, run_semantics
from gradcheck.strategies import graphs

REFERENCE = load_adapter("reference")


# Central differences run in float64 only; the reference has no batched members (its
# `batched` check is Unsupported: tests/core/test_batched.py).
CASES = [
    (check, dtype)
    for check in GRAPH_CHECKS
    for dtype in ("float64", "float32", "float16")
    if (check != "finite_difference" or dtype == "float64")
    and CHECKS[check].needs in (None, *REFERENCE.capabilities)
]


# inplace: graphs where some op has an in-place form, among ops that have none.
IN_PLACE_GRAPHS = graphs(
    ops=[*(op for op, spec in CATALOG.items() if spec.inplace), "sum", "transpose", "setitem"]
)


@pytest.mark.parametrize(("check", "dtype"), CASES)
def test_reference_passes_graph_oracle(check: str, dtype: str) -> None:
    @given(IN_PLACE_GRAPHS if check == "inplace" else graphs())
    def passes(graph) -> None:
        try:
            run_check(check, graph, REFERENCE, dtype=dtype)
        except Inconclusive as why:
            event(f"inconclusive: {why}")
        except Unsupported as why:  # inplace: nothing to run in place; adjoint: setitem
            event(f"unsupported: {why}")
            reject()

    passes()


@pytest.mark.parametrize("dtype", REFERENCE.dtypes)
@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_reference_passes_closed_form(name: str, dtype: str) -> None:
    run_analytic(name, REFERENCE, dtype=dtype)


@pytest.mark.parametrize("name", sorted(SEMANTICS_CASES))
def test_reference_passes_semantics(name: str) -> None:
    run_semantics(name, REFERENCE)


SAMPLED = sorted(op for op, spec in CATALOG.items() if spec.samples)


@pytest.mark.parametrize("op", SAMPLED)
def test_reference_passes_conventions(op: str) -> None:
    run_conventions(op, REFERENCE)
