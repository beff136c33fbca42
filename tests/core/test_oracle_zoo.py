"""Each oracle catches its planted bugs (tests/bug_zoo.py) under its own check name,
hypothesis shrinks the failing graph to a few nodes, and the repro script fails alone."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed

from gradcheck.analytic import run_analytic
from gradcheck.checks import run_check, run_device_parity
from gradcheck.conventions import run_conventions
from gradcheck.errors import GradcheckFailure, Inconclusive, deadline
from gradcheck.graph import Graph, Node
from gradcheck.semantics import run_semantics
from gradcheck.strategies import graphs
from tests import bug_zoo

ROOT = Path(__file__).resolve().parents[2]
# Graphs around the buggy op: enough company to need shrinking, few enough ops to hit it.
COMPANY = ["add", "sum", "exp", "reshape", "index"]
GRAPH_BUGS = {
    name: bug for name, bug in bug_zoo.BROKEN_PRIMITIVES.items()
    if bug.caught_by in ("vjp", "forward", "higher_order", "adjoint", "invariants")
    and name not in bug_zoo.TAIL_ONLY
}  # fmt: skip
SEARCH = settings(
    max_examples=300, derandomize=True, database=None, deadline=None,
    suppress_health_check=list(HealthCheck), print_blob=False, report_multiple_bugs=False,
)  # fmt: skip


def shrunk_failure(check: str, adapter, ops: list[str], dtype: str = "float64", **kw):
    """Hypothesis's minimal failing graph for `check` on `adapter`, and its failure."""
    seen: list[tuple] = []

    @SEARCH
    @given(graphs(ops=ops, max_nodes=5, **kw))
    def probe(graph):
        try:
            run_check(check, graph, adapter, dtype=dtype)
        except Inconclusive:
            return
        except GradcheckFailure as failure:
            seen.append((graph, failure))
            raise

    with pytest.raises(GradcheckFailure):
        probe()
    return seen[-1]  # hypothesis replays the shrunk example last


def run_repro(script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "repro.py"
    path.write_text(script)
    return subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(GRAPH_BUGS))
def test_graph_oracle_catches_planted_bug(name: str, tmp_path: Path) -> None:
    bug = GRAPH_BUGS[name]
    adapter = getattr(bug_zoo, name)
    graph, failure = shrunk_failure(bug.caught_by, adapter, [bug.op, *COMPANY])
    assert failure.check == bug.caught_by
    # Shrinking is heuristic: a few nodes, not always the single op (readable all the same).
    assert len(graph.nodes) <= 5, repr(graph)
    assert bug.op in {node.op for node in graph.nodes}
    assert failure.op is None or bug.op in failure.op
    result = run_repro(failure.repro, tmp_path)
    assert result.returncode != 0, result.stdout
    raised = re.search(r"the adapter raised (\w+)", failure.summary)
    assert (raised.group(1) if raised else "AssertionError") in result.stderr, result.stderr


@pytest.mark.parametrize("name", sorted(n for n, b in GRAPH_BUGS.items() if b.caught_by == "vjp"))
def test_finite_differences_catch_wrong_gradients(name: str) -> None:
    """The self-contained oracle (no reference) catches every wrong first derivative."""
    bug = GRAPH_BUGS[name]
    _, failure = shrunk_failure("finite_difference", getattr(bug_zoo, name), [bug.op])
    assert failure.check == "finite_difference"


def test_invariants_catch_float64_gradients_for_float32_inputs() -> None:
    _, failure = shrunk_failure("invariants", bug_zoo.float64_grads, ["exp"], dtype="float32")
    assert failure.check == "invariants" and "dtype" in str(failure)


def test_analytic_catches_wrong_power_rule() -> None:
    with pytest.raises(GradcheckFailure) as info:
        run_analytic("seed_cube", bug_zoo.pow_scalar_vjp_off_by_one)
    assert info.value.check == "analytic"


def test_conventions_catch_relu_gradient_at_zero() -> None:
    with pytest.raises(GradcheckFailure) as info:
        run_conventions("relu", bug_zoo.relu_vjp_one_at_zero)
    assert info.value.check == "conventions"


def test_semantics_catch_ignored_no_grad() -> None:
    with pytest.raises(GradcheckFailure) as info:
        run_semantics("no_grad", bug_zoo.ignores_no_grad)
    assert info.value.check == "semantics"


def test_device_parity_catches_a_wrong_device() -> None:
    seen = []

    @SEARCH
    @given(graphs(ops=["tanh"], max_nodes=1))
    def probe(graph):
        try:
            run_device_parity(
                graph, bug_zoo.wrong_on_twin, dtype="float64", devices=("cpu", "twin")
            )
        except GradcheckFailure as failure:
            seen.append(failure)
            raise

    with pytest.raises(GradcheckFailure):
        probe()
    assert seen[-1].check == "device_parity"


def test_an_adapter_that_ignores_the_dtype_is_told_so():
    graph = Graph([np.array([0.5, -1.0])], [Node("exp", [0])], [1], [np.array([1.0, 2.0])],
                  [np.array([0.3, 0.7])])  # fmt: skip
    for check in ("forward", "vjp"):
        with pytest.raises(GradcheckFailure) as info:
            run_check(check, graph, bug_zoo.ignores_dtype, dtype="float32")
        assert "returned output 0 as float64 when asked for float32" in info.value.summary


def test_a_hanging_adapter_fails_naming_the_call_that_hung():
    graph = Graph([np.array([0.5])], [Node("exp", [0])], [1], [np.array([1.0])], [np.ones(1)])
    started = time.monotonic()
    with pytest.raises(GradcheckFailure) as info, deadline(0.5):
        run_check("vjp", graph, bug_zoo.hangs)
    assert time.monotonic() - started < 30
    assert "op 'exp' did not return within 0.5 s" in info.value.summary


def test_an_adapter_that_changes_the_callers_array_is_told_so():
    graph = Graph([np.array([0.5, -1.0])], [Node("exp", [0])], [1], [np.array([1.0, 2.0])],
                  [np.array([0.3, 0.7])])  # fmt: skip
    with pytest.raises(GradcheckFailure) as info:
        run_check("vjp", graph, bug_zoo.mutates_inputs)
    assert "modified the numpy array it was given: asarray must copy" in info.value.summary


def test_a_max_dim_that_splits_ties_is_caught_by_conventions():
    with pytest.raises(GradcheckFailure) as info:
        run_conventions("max_dim", bug_zoo.splits_max_dim)
    assert "max_dim splits the gradient among tied elements" in info.value.summary
    assert info.value.repro  # a script that shows it, standalone


def test_a_backward_wrong_only_in_the_tail_is_caught_by_the_default_profile():
    """Leaves reach far beyond [-2, 2]: 20 random examples (gradcheck-dev's budget) find a
    tanh whose backward is wrong only for x > 2 on nearly every seed (measured: 50 of 50
    seeds with benchmarks-style runs); a rate, since each seed is one random run."""
    adapter = bug_zoo.tanh_vjp_wrong_above_2
    caught = 0
    for seed in range(10):
        # derandomize off (the CI profile sets it): each seed is its own random run.
        @settings(max_examples=20, derandomize=False, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @hypothesis_seed(seed)
        @given(graphs(ops=["tanh"], max_nodes=1))
        def default_profile(graph):
            try:
                run_check("vjp", graph, adapter)
            except Inconclusive:
                pass

        try:
            default_profile()
        except GradcheckFailure as failure:
            caught += failure.check == "vjp"
    assert caught >= 9, f"caught on {caught} of 10 seeds"
