"""A bug planted in torch itself is caught by the suite's default profile, and the repro
script it writes uses only torch and numpy and fails on its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def run_script(path: Path, pythonpath: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": pythonpath}
    return subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, env=env, timeout=300
    )


def test_planted_tanh_bug_is_caught_with_a_torch_only_repro(pytester, monkeypatch):
    pytest.importorskip("torch")
    plant = pytester.mkdir("plant")
    (plant / "sitecustomize.py").write_text(PLANT)
    planted_path = os.pathsep.join([str(plant), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", planted_path)
    repros = pytester.path / "repros"
    result = pytester.runpytest_subprocess(
        "--pyargs", "gradcheck.suite.test_ops", "--gradcheck-adapter=torch",
        "--gradcheck-ops=tanh", "--gradcheck-dtypes=float64", f"--gradcheck-repro-dir={repros}",
        "-p", "no:cacheprovider", "-k", "vjp or finite_difference",
    )  # fmt: skip
    result.stdout.fnmatch_lines(["*[[]vjp[]] at op 'tanh (node 0)'*"])
    assert result.ret == 1
    script = repros / "vjp__tanh__float64__cpu.py"
    source = script.read_text()
    imports = {line.split()[1] for line in source.splitlines() if line.startswith("import ")}
    assert "gradcheck" not in source.replace("# gradcheck repro", "")
    assert imports <= {"numpy", "torch", "warnings"}, imports
    planted = run_script(script, planted_path)
    assert planted.returncode != 0 and "AssertionError" in planted.stderr, planted.stderr
    # The same script passes on the real torch: it fails because of the bug, nothing else.
    real = run_script(script, os.environ.get("PYTHONPATH", "").replace(str(plant), ""))
    assert real.returncode == 0, real.stderr
