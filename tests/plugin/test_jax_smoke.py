"""The smoke run of the jax adapter: the shipped suite under the gradcheck-smoke profile
(3 derandomized examples per test), which must pass with only the declared conventions
and xfails (gradcheck/xfails/jax.txt). The README's test command (CI) installs jax;
skipped, saying so, without it.

Cost: jax compiles each op for every new shape, about a second per suite test on one
free core. By default this runs a few ops (a kink with a declared convention, a smooth
unary op, a broadcasting binary op, a reduction, matmul, attention: about 100 tests, a
few minutes); GRADCHECK_JAX_SMOKE=families runs one op per catalog family and the
ops with declarations (about 330 tests), GRADCHECK_JAX_SMOKE=all every op (about 2000
tests: half an hour on one free core, hours on a busy one).
"""

from __future__ import annotations

import os

import pytest

from gradcheck.ops import CATALOG

pytest.importorskip("jax", reason="the jax adapter needs jax, which is not installed")

FEW = ("clamp", "tanh", "mul", "sum", "matmul", "scaled_dot_product_attention")
# One op per family (the last of each in the catalog), then every op with a declaration.
DECLARED = ("abs", "clamp", "std", "norm", "leaky_relu", "hardtanh", "pow_scalar", "atan2",
            "xlogy", "sort", "max_pool2d")  # fmt: skip
FAMILIES = sorted({*{spec.family: op for op, spec in CATALOG.items()}.values(), *DECLARED})


def test_jax_smoke_run_of_the_suite_passes(pytester):
    scopes = {"few": FEW, "families": FAMILIES, "all": ()}
    scope = os.environ.get("GRADCHECK_JAX_SMOKE", "few")
    if scope not in scopes:
        pytest.fail(f"GRADCHECK_JAX_SMOKE must be one of {', '.join(scopes)}, not {scope!r}")
    chosen = scopes[scope]
    ops = [f"--gradcheck-ops={','.join(chosen)}"] if chosen else []
    result = pytester.runpytest_subprocess(
        "--pyargs", "gradcheck.suite", "--gradcheck-adapter=jax", "--gradcheck-device=cpu",
        "--hypothesis-profile=gradcheck-smoke", "-p", "no:cacheprovider", *ops,
    )  # fmt: skip
    text = result.stdout.str()
    assert result.ret == 0, text[-6000:]
    result.stdout.fnmatch_lines(["gradcheck: adapter jax *", "*gradcheck matrix*"])
    assert " failed" not in text.splitlines()[-1], text[-3000:]
