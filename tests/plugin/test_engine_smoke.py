"""A smoke run of the torch-compile adapter: the shipped suite under gradcheck-smoke
(3 derandomized examples per test) on a few ops, which must pass with only the declared
limitations and xfails. torch-compile compiles every new graph, so it runs 5 ops (their
op tests and their families' graph tests: 130 tests, 79 passing and 51 skipped with the
adapter's reasons, 2.5 minutes on a busy 2-core machine), not the catalog."""

from __future__ import annotations

import pytest

# A kinked op, a reduction with ties, a binary op with an in-place form, a write through
# a view and a smooth op: one per family that these families' graphs then mix.
COMPILE_OPS = "relu,amax,mul,setitem,tanh"


def test_torch_compile_smoke_run_passes(pytester):
    pytest.importorskip("torch", reason="the torch-compile adapter needs torch")
    result = pytester.runpytest_subprocess(
        "--pyargs", "gradcheck.suite", "--gradcheck-adapter=torch-compile",
        "--gradcheck-device=cpu", f"--gradcheck-ops={COMPILE_OPS}",
        "--hypothesis-profile=gradcheck-smoke", "-p", "no:cacheprovider",
    )  # fmt: skip
    text = result.stdout.str()
    assert result.ret == 0, text[-6000:]
    result.stdout.fnmatch_lines(
        [
            "gradcheck: adapter torch-compile *, hypothesis profile gradcheck-smoke, *",
            "*precision flags: backend=aot_eager, fullgraph=True, dynamic=False*",
        ]
    )
    assert "capped at" not in text  # an explicit profile is never capped
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) > 0 and "failed" not in outcomes, outcomes
