"""Bugs planted in torch that only non-contiguous or large inputs show are caught by the
suite's default profile (gradcheck-dev, a pinned seed), and the repro script recreates
the layout and size: it uses only torch and numpy, fails on the planted torch and passes
on the real one."""

from __future__ import annotations

import pytest
from plugin_helpers import assert_torch_only_repro, plant_in_torch

# Imported once, before pytester's per-test snapshot of sys.modules: torch's C extension
# cannot be imported a second time in one process.
pytest.importorskip("torch")

# torch.sigmoid's backward reads its saved input as if it were contiguous (the raw
# memory in row-major order), the way a kernel that ignores strides does: right for
# contiguous inputs, wrong for transposed ones, NaN for strided ones (it reads the gaps).
NONCONTIGUOUS_PLANT = """
import torch

_sigmoid = torch.sigmoid


class PlantedSigmoid(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _sigmoid(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        row_major = torch.empty(x.shape, device="meta").stride()
        raw = torch.as_strided(x, x.shape, row_major, x.storage_offset())
        y = _sigmoid(raw)
        return grad * y * (1 - y)


torch.sigmoid = PlantedSigmoid.apply
"""

# torch.exp's backward as a vectorized kernel with a scalar tail loop: past the last full
# block of 8 elements of a tensor of more than 256, the tail multiplies by x, not exp(x).
TAIL_PLANT = """
import torch

_exp = torch.exp


class PlantedExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = _exp(x)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        out = (grad * y).reshape(-1).clone()
        n = out.numel()
        if n > 256:
            tail = n - n % 8
            out[tail:] = (grad * x).reshape(-1)[tail:]
        return out.reshape(grad.shape)


torch.exp = PlantedExp.apply
"""

# The seeds the tests pin. Over seeds 1..10 the vjp test caught the sigmoid plant in 10
# and the exp plant in 8 (docs/architecture.md, "Generated graphs").
SEED = {"sigmoid": 1, "exp": 1}


def caught_with_a_torch_only_repro(pytester, monkeypatch, plant_source: str, op: str) -> str:
    """Run the single-op suite on the planted torch at the default profile; assert the
    vjp failure is reported and its repro fails standalone with the plant and passes
    without it. Returns the repro's source."""
    planted_path = plant_in_torch(pytester, monkeypatch, plant_source)
    monkeypatch.delenv("CI", raising=False)
    repros = pytester.path / "repros"
    result = pytester.runpytest_subprocess(
        "--pyargs", "gradcheck.suite.test_ops", "--gradcheck-adapter=torch",
        f"--gradcheck-ops={op}", "--gradcheck-dtypes=float64", f"--gradcheck-repro-dir={repros}",
        "--hypothesis-profile=gradcheck-dev", f"--hypothesis-seed={SEED[op]}",
        "-p", "no:cacheprovider", "-k", "vjp",
    )  # fmt: skip
    result.stdout.fnmatch_lines(["*[[]vjp[]]*leaf 0*"])
    assert result.ret == 1
    script = repros / f"vjp__{op}__float64__cpu.py"
    assert_torch_only_repro(script, planted_path)
    return script.read_text()


def test_a_backward_wrong_for_noncontiguous_inputs_is_caught(pytester, monkeypatch):
    source = caught_with_a_torch_only_repro(pytester, monkeypatch, NONCONTIGUOUS_PLANT, "sigmoid")
    # The repro makes the leaf in the layout the suite drew: contiguous, it would pass.
    assert "layouts = ['transposed']" in source or "layouts = ['strided']" in source


def test_a_backward_wrong_past_the_last_block_of_large_inputs_is_caught(pytester, monkeypatch):
    source = caught_with_a_torch_only_repro(pytester, monkeypatch, TAIL_PLANT, "exp")
    leaves = next(line for line in source.splitlines() if line.startswith("leaves = "))
    assert leaves.count(",") > 256  # the leaf itself is large
