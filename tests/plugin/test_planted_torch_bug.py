"""A bug planted in torch itself is caught by the suite's default profile, and the repro
script it writes uses only torch and numpy and fails on its own."""

from __future__ import annotations

import pytest
from plugin_helpers import assert_torch_only_repro, plant_in_torch

# Imported here, once: pytester drops modules first imported inside a test, and torch
# cannot be imported twice in one process.
pytest.importorskip("torch")

# Started by every Python process whose path holds it (sitecustomize): torch.tanh's
# backward uses 1 - y where the truth is 1 - y^2, the way a real engine bug looks.
PLANT = """
import torch

_tanh = torch.tanh


class PlantedTanh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = _tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (1 - y)


torch.tanh = PlantedTanh.apply
"""


def test_planted_tanh_bug_is_caught_with_a_torch_only_repro(pytester, monkeypatch):
    planted_path = plant_in_torch(pytester, monkeypatch, PLANT)
    repros = pytester.path / "repros"
    result = pytester.runpytest_subprocess(
        "--pyargs", "gradcheck.suite.test_ops", "--gradcheck-adapter=torch",
        "--gradcheck-ops=tanh", "--gradcheck-dtypes=float64", f"--gradcheck-repro-dir={repros}",
        "-p", "no:cacheprovider", "-k", "vjp or finite_difference",
    )  # fmt: skip
    result.stdout.fnmatch_lines(["*[[]vjp[]] at op 'tanh (node 0)'*"])
    assert result.ret == 1
    assert_torch_only_repro(repros / "vjp__tanh__float64__cpu.py", planted_path)
