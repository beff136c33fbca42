"""Batching bugs planted in torch itself, wrong ONLY under vmap (eager stays right): the
`batched` check catches each at the default profile (one pinned seed), names the member
and the op, and writes a repro that uses only torch and numpy, fails on the planted torch
and passes on the real one. The eager checks (vjp, finite differences) see nothing."""

from __future__ import annotations

import pytest
from plugin_helpers import assert_torch_only_repro, plant_in_torch

# Imported here, once: pytester drops modules first imported inside a test, and torch
# cannot be imported twice in one process.
pytest.importorskip("torch")

# A backward op's batching rule replaced by a wrong formula: tanh' is 1 - y^2, the plant
# uses 1 - y. "FuncTorchBatched" is the kernel torch.func.vmap dispatches to (vmap_vjp);
# eager autograd and is_grads_batched (torch's legacy "Batched" vmap) are unaffected.
TANH_VMAP_RULE = """
import torch

_lib = torch.library.Library("aten", "IMPL")


def _tanh_backward(grad, y):
    return grad * (1 - y)


_lib.impl("tanh_backward", _tanh_backward, "FuncTorchBatched")
"""

# sigmoid' is y (1 - y); the plant's rule gives y, for the legacy "Batched" key only: the
# vmap that autograd.grad(..., is_grads_batched=True) uses (batched_vjp).
SIGMOID_BATCHED_GRAD_RULE = """
import torch

_lib = torch.library.Library("aten", "IMPL")


def _sigmoid_backward(grad, y):
    return grad * y


_lib.impl("sigmoid_backward", _sigmoid_backward, "Batched")
"""

PLANTS = {
    # plant: (its source, --gradcheck-ops, the member that catches it)
    "tanh_vmap_rule": (TANH_VMAP_RULE, "tanh", "vmap_vjp"),
    "sigmoid_batched_grad_rule": (SIGMOID_BATCHED_GRAD_RULE, "sigmoid", "batched_vjp"),
}
SUITE = (
    *("--pyargs", "gradcheck.suite.test_ops", "--gradcheck-adapter=torch"),
    *("--gradcheck-dtypes=float64", "--hypothesis-profile=gradcheck-dev"),
    *("--hypothesis-seed=1", "--gradcheck-example-db=none", "-p", "no:cacheprovider"),
)


@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_planted_batching_bug_is_caught_only_by_batched(plant, pytester, monkeypatch):
    source, op, member = PLANTS[plant]
    planted_path = plant_in_torch(pytester, monkeypatch, source)
    repros = pytester.path / "repros"
    result = pytester.runpytest_subprocess(
        *SUITE, f"--gradcheck-ops={op}", f"--gradcheck-repro-dir={repros}", "-k", "batched"
    )
    result.stdout.fnmatch_lines([f"*[[]batched[]] at op '{op} (node 0)' {member} entry *"])
    assert result.ret == 1
    assert_torch_only_repro(repros / f"batched__{op}__float64__cpu.py", planted_path)
    eager = pytester.runpytest_subprocess(
        *SUITE, f"--gradcheck-ops={op}", "-k", "vjp or finite_difference or adjoint"
    )
    eager.assert_outcomes(passed=3)
