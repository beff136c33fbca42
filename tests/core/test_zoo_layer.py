"""The layer family's planted bugs (tests/bug_zoo.py) are caught by a check run like the
suite's default profile (20 derandomized one-op graphs), under the right check name,
and the real ops pass the same search."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from gradcheck.adapters import load_adapter
from gradcheck.checks import run_check
from gradcheck.conventions import run_conventions
from gradcheck.errors import GradcheckFailure, Inconclusive
from gradcheck.strategies import graphs
from tests import bug_zoo

LAYER_BUGS = ["conv2d_weight_grad_ignores_dilation", "layer_norm_vjp_no_mean_term"]
DEFAULT_PROFILE = settings(
    max_examples=20, derandomize=True, database=None, deadline=None,
    suppress_health_check=list(HealthCheck), print_blob=False, report_multiple_bugs=False,
)  # fmt: skip


def search(check: str, adapter, op: str) -> GradcheckFailure | None:
    """The first failure of `check` on 20 one-`op` graphs, or None."""
    seen: list[GradcheckFailure] = []

    @DEFAULT_PROFILE
    @given(graphs(ops=[op], max_nodes=1))
    def probe(graph):
        try:
            run_check(check, graph, adapter, dtype="float64")
        except Inconclusive:
            return
        except GradcheckFailure as failure:
            seen.append(failure)
            raise

    try:
        probe()
    except GradcheckFailure:
        return seen[-1]
    return None


@pytest.mark.parametrize("name", LAYER_BUGS)
@pytest.mark.parametrize("check", ["vjp", "finite_difference"])
def test_layer_bug_is_caught(name: str, check: str) -> None:
    bug = bug_zoo.BROKEN_PRIMITIVES[name]
    assert bug.caught_by == "vjp"
    failure = search(check, getattr(bug_zoo, name), bug.op)
    assert failure is not None, f"{check} missed {name} in 20 examples"
    assert failure.check == check
    assert failure.op is None or bug.op in failure.op


@pytest.mark.parametrize("op", sorted({bug_zoo.BROKEN_PRIMITIVES[n].op for n in LAYER_BUGS}))
@pytest.mark.parametrize("check", ["vjp", "finite_difference"])
def test_the_correct_op_passes_the_same_search(op: str, check: str) -> None:
    assert search(check, load_adapter("reference"), op) is None


def test_conventions_catch_max_pool_gradient_to_the_last_tie() -> None:
    run_conventions("max_pool2d", load_adapter("reference"))  # the real one passes
    with pytest.raises(GradcheckFailure) as info:
        run_conventions("max_pool2d", bug_zoo.max_pool_last_tie)
    assert info.value.check == "conventions" and "max_pool2d" in info.value.summary
