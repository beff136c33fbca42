"""The bug zoo of the indexing, scatter and layout ops (tests/bug_zoo.py): each planted
backward bug is caught by the checks the suite runs, in a search like its default
profile (20 derandomized examples of one-op graphs), under the right check name; the
correct op passes the same search."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from gradcheck.adapters import load_adapter
from gradcheck.checks import run_check
from gradcheck.errors import GradcheckFailure, Inconclusive
from gradcheck.strategies import graphs
from tests import bug_zoo

BUGS = [
    "scatter_add_vjp_wrong_dim",
    "index_put_vjp_last_write_wins",
    "roll_vjp_same_direction",
    "index_add_vjp_no_alpha",
]
DEFAULT_SEARCH = settings(
    max_examples=20, derandomize=True, database=None, deadline=None,
    suppress_health_check=list(HealthCheck), print_blob=False, report_multiple_bugs=False,
    phases=[Phase.explicit, Phase.generate],  # finding is the point here, not shrinking
)  # fmt: skip


def search(check: str, adapter, op: str) -> list[GradcheckFailure]:
    """The failures `check` finds among the default search's one-op graphs of `op`."""
    failures: list[GradcheckFailure] = []

    @DEFAULT_SEARCH
    @given(graphs(ops=[op], max_nodes=1))
    def probe(graph):
        try:
            run_check(check, graph, adapter, dtype="float64")
        except Inconclusive:
            return
        except GradcheckFailure as failure:
            failures.append(failure)
            raise

    try:
        probe()
    except GradcheckFailure:
        pass
    return failures


@pytest.mark.parametrize("check", ["vjp", "finite_difference"])
@pytest.mark.parametrize("name", BUGS)
def test_planted_backward_bug_is_caught(name: str, check: str) -> None:
    bug = bug_zoo.BROKEN_PRIMITIVES[name]
    assert bug.caught_by == "vjp"
    failures = search(check, getattr(bug_zoo, name), bug.op)
    assert failures, f"{check} missed {name} in the default search"
    assert failures[-1].check == check
    assert failures[-1].op is None or bug.op in failures[-1].op


@pytest.mark.parametrize("check", ["vjp", "finite_difference"])
@pytest.mark.parametrize("op", sorted({bug_zoo.BROKEN_PRIMITIVES[n].op for n in BUGS}))
def test_the_correct_op_passes_the_same_search(op: str, check: str) -> None:
    assert not search(check, load_adapter("reference"), op)
