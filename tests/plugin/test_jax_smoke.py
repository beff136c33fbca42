"""CI's smoke run of the jax adapter: the shipped suite under the gradcheck-smoke profile
(3 derandomized examples per test), which must pass with only the declared conventions
and xfails (gradcheck/xfails/jax.txt). Skipped, saying so, without jax.

Cost: jax compiles each op for every new shape, about a second per suite test on one
free core. By default this runs one op per catalog family and the kinked ops whose
declarations it exercises (about 330 tests, some minutes); GRADCHECK_JAX_SMOKE=all runs
every op (about 2000 tests: half an hour on one free core, hours on a busy one).
"""

from __future__ import annotations

import os

import pytest

from gradcheck.ops import CATALOG

pytest.importorskip("jax", reason="the jax adapter needs jax, which is not installed")

# One op per family (the last of each in the catalog), then every op with a declaration.
DECLARED = ("abs", "clamp", "std", "norm", "leaky_relu", "hardtanh", "pow_scalar", "atan2",
            "xlogy", "sort", "max_pool2d")  # fmt: skip
OPS = sorted({*{spec.family: op for op, spec in CATALOG.items()}.values(), *DECLARED})


def test_jax_smoke_run_of_the_suite_passes(pytester):
    ops = (
        []
        if os.environ.get("GRADCHECK_JAX_SMOKE") == "all"
        else [f"--gradcheck-ops={','.join(OPS)}"]
    )
    result = pytester.runpytest_subprocess(
        "--pyargs", "gradcheck.suite", "--gradcheck-adapter=jax", "--gradcheck-device=cpu",
        "--hypothesis-profile=gradcheck-smoke", "-p", "no:cacheprovider", "-q", *ops,
    )  # fmt: skip
    text = result.stdout.str()
    assert result.ret == 0, text[-6000:]
    result.stdout.fnmatch_lines(["gradcheck: adapter jax *", "*gradcheck matrix*"])
    assert " failed" not in text.splitlines()[-1], text[-3000:]
