"""CI's smoke run of the jax adapter: the whole shipped suite under the gradcheck-smoke
profile (3 derandomized examples per test), which must pass with only the declared
conventions and xfails (gradcheck/xfails/jax.txt). Skipped, saying so, without jax.

Cost: one subprocess running every suite test for jax at float64 and float32 (about
2000 tests; jax compiles each op for every new shape, so this is minutes, not seconds).
"""

from __future__ import annotations

import pytest

pytest.importorskip("jax", reason="the jax adapter needs jax, which is not installed")


def test_jax_smoke_run_of_the_whole_suite_passes(pytester):
    result = pytester.runpytest_subprocess(
        "--pyargs", "gradcheck.suite", "--gradcheck-adapter=jax", "--gradcheck-device=cpu",
        "--hypothesis-profile=gradcheck-smoke", "-p", "no:cacheprovider", "-q",
    )  # fmt: skip
    text = result.stdout.str()
    assert result.ret == 0, text[-6000:]
    result.stdout.fnmatch_lines(["gradcheck: adapter jax *", "*gradcheck matrix*"])
    assert " failed" not in text.splitlines()[-1], text[-3000:]
