"""Shared by the plugin tests: the adapter zoo, fast-run flags, output assertions, and
bugs planted into torch itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import Phase, settings

# Adapters for the inner runs, importable there as `zoo:<name>`. Each wraps the
# reference adapter and breaks one thing, the way real adapters break.
ZOO = """
import numpy as np
from gradcheck.adapters import load_adapter

REF = load_adapter("reference")


class Wrapped:
    name = "zoo"
    version = "0.0"
    devices = ("cpu",)
    dtypes = ("float64", "float32")
    capabilities = REF.capabilities

    def __init__(self, **ops):
        self.ops = {**REF.ops, **ops}

    def asarray(self, array, dtype, device, requires_grad):
        return REF.asarray(array, dtype, device, requires_grad)

    def to_numpy(self, x):
        return REF.to_numpy(x)

    def vjp(self, fn, primals, cotangents):
        return REF.vjp(fn, primals, cotangents)

    def jvp(self, fn, primals, tangents):
        return REF.jvp(fn, primals, tangents)


def _raise(x):
    raise RuntimeError("exp kernel exploded")


def _nan(x):  # log of a negative number: NaN, and still differentiable
    return REF.ops["log"](REF.ops["neg"](REF.ops["exp"](x)))


def _wrong_shape(x):
    return REF.ops["unsqueeze"](REF.ops["exp"](x), dim=0)


good = Wrapped()
raising = Wrapped(exp=_raise)
returns_none = Wrapped(exp=lambda x: None)
returns_nan = Wrapped(exp=_nan)
wrong_shape = Wrapped(exp=_wrong_shape)
no_exp = Wrapped()
del no_exp.ops["exp"]


class MissingVjp:
    name, version, devices, dtypes = "missing", "0", ("cpu",), ("float64",)
    capabilities, ops = frozenset(), {}

    def asarray(self, array, dtype, device, requires_grad):
        return array

    def to_numpy(self, x):
        return x


missing_vjp = MissingVjp()


class FailsToPrepare(Wrapped):
    def prepare(self):
        raise RuntimeError("no GPU context")


fails_to_prepare = FailsToPrepare()


class WithFlags(Wrapped):
    def prepare(self):
        return self.precision_flags()

    def precision_flags(self):
        return {"tf32": False}


with_flags = WithFlags()


def _sleep(x):
    import time

    time.sleep(3600)


def _interrupt(x):
    raise KeyboardInterrupt  # what Ctrl-C looks like from inside an op


hangs = Wrapped(exp=_sleep)
interrupts = Wrapped(exp=_interrupt)


def _relu_with(share):
    from reference_engine import conventions

    def relu(x):
        with conventions.using({"relu": share}):
            return REF.ops["relu"](x)

    return relu


class DeclaresHalfRelu(Wrapped):
    conventions = {"relu": 0.5}  # relu'(0) = 0.5, a valid subgradient


half_relu = DeclaresHalfRelu(relu=_relu_with(0.5))  # does what it declares
lies_about_relu = DeclaresHalfRelu(relu=_relu_with(1.0))  # declares 0.5, returns 1
"""

# Fast inner runs: 2 examples, no shrinking, no database, fixed order. Inline runs share
# this process's hypothesis registry, so the profile registered here is known there.
settings.register_profile(
    "plugin-tests",
    max_examples=2,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
)
FAST = ["-p", "no:randomly", "-p", "no:cacheprovider", "--hypothesis-profile=plugin-tests"]


def assert_clean(result: pytest.RunResult) -> None:
    """No INTERNALERROR and no traceback into gradcheck's internals."""
    text = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in text
    assert "Traceback" not in text


def usage_error(result: pytest.RunResult) -> str:
    """The one-line usage error of a run that must have stopped at configure time."""
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    assert_clean(result)
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1, result.stderr.str()
    return errors[0]


# ---- bugs planted into torch ----------------------------------------------------------------


def plant_in_torch(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, source: str) -> str:
    """Puts `source` in a sitecustomize.py on PYTHONPATH, so that every Python process
    started from here on (the inner pytest run, repro scripts) runs it first: a bug
    planted into torch. Returns that PYTHONPATH."""
    plant = pytester.mkdir("plant")
    (plant / "sitecustomize.py").write_text(source)
    planted_path = os.pathsep.join([str(plant), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", planted_path)
    return planted_path


def run_script(path: Path, pythonpath: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": pythonpath}
    return subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, env=env, timeout=300
    )


def assert_torch_only_repro(script: Path, planted_path: str) -> None:
    """The repro imports only torch and numpy (and warnings), fails on its own with the
    plant, and passes on the real torch: it fails because of the bug, nothing else."""
    source = script.read_text()
    imports = {line.split()[1] for line in source.splitlines() if line.startswith("import ")}
    assert "gradcheck" not in source.replace("# gradcheck repro", "")
    assert imports <= {"numpy", "torch", "warnings"}, imports
    planted = run_script(script, planted_path)
    assert planted.returncode != 0 and "AssertionError" in planted.stderr, planted.stderr
    plant = planted_path.split(os.pathsep)[0]
    real = run_script(script, planted_path.replace(plant, ""))
    assert real.returncode == 0, real.stderr
