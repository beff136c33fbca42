"""In-place bugs planted in torch itself are caught by the suite's default profile (one
pinned seed; measured: each caught on 10 of 10 seeds, 0-9), under the check that owns
them, with a repro script that uses only torch and numpy and fails on its own."""

from __future__ import annotations

import pytest
from plugin_helpers import assert_torch_only_repro, plant_in_torch

# Imported here, once: pytester drops modules first imported inside a test, and torch
# cannot be imported twice in one process.
pytest.importorskip("torch")

# x.mul_(y) as an autograd.Function that writes into x (mark_dirty), with y's gradient
# 1.5 times too large: wrong only in place, torch.mul stays right.
WRONG_GRADIENT = """
import torch

_mul_ = torch.Tensor.mul_


class PlantedMul_(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, other):
        ctx.x = x.detach().clone()  # x before the write, as the backward needs it
        ctx.save_for_backward(other)
        ctx.mark_dirty(x)
        _mul_(x, other)
        return x

    @staticmethod
    def backward(ctx, grad):
        (other,) = ctx.saved_tensors
        return grad * other, (1.5 * grad * ctx.x).sum_to_size(other.shape)


torch.Tensor.mul_ = lambda self, other: PlantedMul_.apply(self, other)
"""

# x.mul_(y) that saves x after writing the product into it: y's gradient is
# grad * (x * y) instead of grad * x (a saved input overwritten, unnoticed).
OVERWRITTEN_SAVED_INPUT = """
import torch

_mul_ = torch.Tensor.mul_


class PlantedMul_(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, other):
        ctx.mark_dirty(x)
        _mul_(x, other)
        ctx.save_for_backward(x, other)  # too late: x holds the product now
        return x

    @staticmethod
    def backward(ctx, grad):
        x, other = ctx.saved_tensors
        return grad * other, (grad * x).sum_to_size(other.shape)


torch.Tensor.mul_ = lambda self, other: PlantedMul_.apply(self, other)
"""

# x[index] = value written unrecorded: the values land, but the base keeps its history
# (the region's gradient still flows to the old x, none to value).
WRITE_THROUGH_VIEW_LOST = """
import torch

_setitem = torch.Tensor.__setitem__


def planted_setitem(self, index, value):
    with torch.no_grad():
        _setitem(self, index, value)


torch.Tensor.__setitem__ = planted_setitem
"""

PLANTS = {
    # plant: (its source, --gradcheck-ops, the check that catches it, the op it names)
    "wrong_gradient": (WRONG_GRADIENT, "mul", "inplace", "mul_ (node 1)"),
    "overwritten_saved_input": (OVERWRITTEN_SAVED_INPUT, "mul", "inplace", "mul_ (node 1)"),
    "write_through_view_lost": (WRITE_THROUGH_VIEW_LOST, "setitem", "vjp", "setitem (node 0)"),
}


@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_planted_in_place_bug_is_caught_with_a_torch_only_repro(plant, pytester, monkeypatch):
    source, op, check, node = PLANTS[plant]
    planted_path = plant_in_torch(pytester, monkeypatch, source)
    repros = pytester.path / "repros"
    result = pytester.runpytest_subprocess(
        "--pyargs", "gradcheck.suite.test_ops", "--gradcheck-adapter=torch",
        f"--gradcheck-ops={op}", "--gradcheck-dtypes=float64", f"--gradcheck-repro-dir={repros}",
        "--hypothesis-profile=gradcheck-dev", "--hypothesis-seed=1",
        "--gradcheck-example-db=none", "-p", "no:cacheprovider", "-k", check,
    )  # fmt: skip
    result.stdout.fnmatch_lines([f"*[[]{check}[]] at op '{node}'*"])
    assert result.ret == 1
    assert_torch_only_repro(repros / f"{check}__{op}__float64__cpu.py", planted_path)
