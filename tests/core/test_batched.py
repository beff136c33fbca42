"""The `batched` oracle: it catches a wrong batched_vjp and a wrong vmap_vjp by name,
passes correct batched members (a loop over the reference, torch), and reports an
adapter without capability "batched" as Unsupported, never as a pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from gradcheck.adapters import load_adapter
from gradcheck.checks import run_check
from gradcheck.errors import GradcheckFailure, Inconclusive, Unsupported
from gradcheck.strategies import graphs

ROOT = Path(__file__).resolve().parents[2]
OPS = ["tanh", "mul", "sum", "matmul", "exp", "reshape"]
EXAMPLES = settings(
    max_examples=15, derandomize=True, database=None, deadline=None,
    suppress_health_check=list(HealthCheck), print_blob=False, report_multiple_bugs=False,
)  # fmt: skip


def first_failure(adapter, dtype: str = "float64") -> GradcheckFailure:
    seen: list[GradcheckFailure] = []

    @EXAMPLES
    @given(graphs(ops=OPS, max_nodes=3))
    def probe(graph):
        try:
            run_check("batched", graph, adapter, dtype=dtype)
        except Inconclusive:
            return
        except GradcheckFailure as failure:
            seen.append(failure)
            raise

    with pytest.raises(GradcheckFailure):
        probe()
    return seen[-1]


def passes(adapter, dtype: str) -> int:
    """How many examples the check compared (none may fail)."""
    compared = []

    @EXAMPLES
    @given(graphs(ops=OPS, max_nodes=3))
    def probe(graph):
        try:
            run_check("batched", graph, adapter, dtype=dtype)
        except Inconclusive:
            return
        compared.append(graph)

    probe()
    return len(compared)


@pytest.mark.parametrize(
    ("bug", "member"),
    [("first_cotangent_only", "batched_vjp"), ("first_sample_only", "vmap_vjp")],
)
def test_wrong_batched_member_is_caught_by_name_with_a_failing_repro(bug, member, tmp_path):
    failure = first_failure(load_adapter(f"tests.bug_zoo_batched:{bug}"))
    assert failure.check == "batched"
    assert failure.summary.startswith(f"{member} entry "), failure.summary
    assert "entry 0," not in failure.summary  # entry 0 is the graph's own values: right
    path = tmp_path / "repro.py"
    path.write_text(failure.repro)
    run = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=300,
    )  # fmt: skip
    assert run.returncode != 0 and "AssertionError" in run.stderr, run.stderr
    assert f"{member} entry" in run.stderr


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_correct_batched_members_pass(dtype):
    assert passes(load_adapter("tests.bug_zoo_batched:looped"), dtype) > 0


def test_reference_without_batched_is_unsupported_with_its_reason():
    @EXAMPLES
    @given(graphs(ops=OPS, max_nodes=3))
    def probe(graph):
        with pytest.raises(Unsupported, match="lacks capability 'batched'"):
            run_check("batched", graph, load_adapter("reference"))

    probe()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_passes(dtype):
    pytest.importorskip("torch")
    assert passes(load_adapter("torch"), dtype) > 0


@pytest.mark.parametrize("op", ["group_norm", "roll"])
def test_torch_declares_its_wrong_batched_ops_only(op):
    pytest.importorskip("torch")
    torch_adapter = load_adapter("torch")
    reason = torch_adapter.limitation(op, "batched", "float64")
    assert reason is not None and "docs/findings.md" in reason
    assert torch_adapter.limitation(op, "jvp", "float64") is None
    assert torch_adapter.limitation("tanh", "batched", "float64") is None


def test_torch_reports_what_vmap_cannot_batch_as_unsupported():
    torch = pytest.importorskip("torch")
    adapter = load_adapter("torch")
    x = torch.tensor([[1.0, -2.0, 3.0], [2.0, 1.0, -1.0]], dtype=torch.float64)

    def positive_sum(v):  # a boolean mask: an output shape that depends on the values
        return (v[v > 0].sum(),)

    with pytest.raises(Unsupported, match="vmap_vjp here: vmap: .*dynamic shape"):
        adapter.vmap_vjp(positive_sum, [x], [torch.ones(2, dtype=torch.float64)])
