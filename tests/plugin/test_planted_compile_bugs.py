"""A bug planted in a torch.compile decomposition (eager torch right, compiled graphs
wrong) is caught by the default profile on the torch-compile adapter, and not on the
eager torch adapter, with a repro script that uses only torch and numpy, compiles the
same way, and fails on its own. Costs about a minute per inner run (torch import and
aot_eager compiles)."""

from __future__ import annotations

import pytest
from plugin_helpers import assert_torch_only_repro, plant_in_torch

# Imported here, once: pytester drops modules first imported inside a test, and torch
# cannot be imported twice in one process.
pytest.importorskip("torch")

# aot_eager traces the backward with AOTAutograd's own decomposition table (empty in a
# real torch); this entry rewrites tanh's backward as grad * (1 - y), not grad * (1 - y^2).
# Eager torch never reads that table.
WRONG_TANH_BACKWARD = """
import torch
from torch._functorch import aot_autograd


def wrong_tanh_backward(grad_output, output):
    return grad_output * (1 - output)


aot_autograd.aot_autograd_decompositions[torch.ops.aten.tanh_backward.default] = (
    wrong_tanh_backward
)
"""


def _run(pytester: pytest.Pytester, adapter: str, repros: object) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "--pyargs", "gradcheck.suite.test_ops", f"--gradcheck-adapter={adapter}",
        "--gradcheck-ops=tanh", "--gradcheck-dtypes=float64", f"--gradcheck-repro-dir={repros}",
        "--hypothesis-seed=1", "--gradcheck-example-db=none", "-p", "no:cacheprovider",
        "-k", "vjp",
    )  # fmt: skip


def test_planted_decomposition_bug_is_caught_only_when_compiled(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)  # the default profile: gradcheck-dev, capped
    planted_path = plant_in_torch(pytester, monkeypatch, WRONG_TANH_BACKWARD)
    repros = pytester.path / "repros"
    compiled = _run(pytester, "torch-compile", repros)
    compiled.stdout.fnmatch_lines(["*capped at 5 examples per test*"])
    compiled.stdout.fnmatch_lines(["*[[]vjp[]] at op 'tanh (node 0)'*"])
    assert compiled.ret == 1
    script = repros / "vjp__tanh__float64__cpu.py"
    assert "torch.compile(fn, backend=BACKEND, fullgraph=True, dynamic=False)" in script.read_text()
    assert_torch_only_repro(script, planted_path)

    eager = _run(pytester, "torch", pytester.path / "eager-repros")
    eager.assert_outcomes(passed=1)
