"""A zoo of broken adapters: each gives a one-line usage error or classified test failures
naming the adapter and the op, never an INTERNALERROR or a traceback into gradcheck."""

from __future__ import annotations

import pytest
from plugin_helpers import FAST, assert_clean, usage_error

import tests.bug_zoo  # noqa: F401 (imported here, once: inline runs load adapters from it)
from gradcheck.semantics import SEMANTICS_CASES

EXP_VJP = ["--pyargs", "gradcheck.suite.test_ops", *FAST, "--gradcheck-ops=exp",
           "--gradcheck-dtypes=float64", "-k", "forward or vjp"]  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nonesuch", "unknown adapter 'nonesuch'; registered adapters: jax, reference, torch"),
        ("no_such_module:adapter", "cannot import module 'no_such_module'"),
        ("zoo:nothing_here", "module 'zoo' has no attribute 'nothing_here'"),
        ("zoo:missing_vjp", "is missing protocol members vjp"),
        ("zoo:fails_to_prepare", "failed to prepare: RuntimeError: no GPU context"),
        ("zoo:", "bad adapter spec 'zoo:'"),
    ],
)
def test_unusable_adapter_is_a_usage_error(zoo, spec, message):
    result = zoo.runpytest(*EXP_VJP, f"--gradcheck-adapter={spec}")
    assert message in usage_error(result)


def test_adapter_module_that_fails_to_import(zoo):
    zoo.makepyfile(broken_engine="import not_installed_engine\nadapter = None\n")
    result = zoo.runpytest(*EXP_VJP, "--gradcheck-adapter=broken_engine:adapter")
    line = usage_error(result)
    assert "cannot import module 'broken_engine'" in line
    assert "not_installed_engine" in line


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("raising", "RuntimeError"),
        ("returns_none", "None"),
        ("returns_nan", "nan"),
        ("wrong_shape", "shape"),
    ],
)
def test_bad_op_output_fails_the_tests_cleanly(zoo, spec, says):
    result = zoo.runpytest(*EXP_VJP, f"--gradcheck-adapter=zoo:{spec}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert_clean(result)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1 and "error" not in outcomes
    text = result.stdout.str()
    assert "forward::exp::float64::cpu failed for adapter 'zoo' 0.0" in text
    assert says.lower() in text.lower()


def test_good_wrapper_passes(zoo):
    result = zoo.runpytest(*EXP_VJP, "--gradcheck-adapter=zoo:good")
    result.assert_outcomes(passed=2)


def test_adapter_by_entry_point_name(zoo):
    result = zoo.runpytest(*EXP_VJP, "--gradcheck-adapter=reference")
    result.assert_outcomes(passed=2)


def test_shipped_semantics_suite_names_the_case_a_broken_engine_fails(zoo):
    """Views that keep their old history after their base's in-place write: the shipped
    suite fails that one case, by name, and passes the others."""
    result = zoo.runpytest("--pyargs", "gradcheck.suite.test_semantics", *FAST,
                           "--gradcheck-adapter=tests.bug_zoo:stale_views")  # fmt: skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert_clean(result)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1 and outcomes.get("passed") == len(SEMANTICS_CASES) - 1
    text = result.stdout.str()
    assert "test_semantics[base_write_after_view]" in text
    assert "base_write_after_view: x (through v and b).grad is" in text
