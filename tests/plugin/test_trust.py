"""Verdicts users can trust: declared conventions, inconclusive cells, hangs, interrupted
runs, wildcard xfails with reasons, failures grouped by cause."""

from __future__ import annotations

import json
import time

import pytest
from plugin_helpers import FAST, assert_clean

OPS = ["--pyargs", "gradcheck.suite.test_ops", *FAST, "--gradcheck-dtypes=float64"]

# An inner conftest that makes the vjp check prove nothing on some examples.
INCONCLUSIVE = """
import itertools

import pytest

from gradcheck import checks
from gradcheck.errors import Inconclusive

calls = itertools.count()


def pytest_configure(config):
    real = checks.CHECKS["vjp"]

    def sometimes(graph, adapter, dtype, device):
        if next(calls) % {every} == 0:
            raise Inconclusive("the planted reason: proves nothing")
        real.run(graph, adapter, dtype, device)

    config._real_vjp = real
    checks.CHECKS["vjp"] = checks.Check("vjp", "vjp", sometimes)


def pytest_unconfigure(config):
    checks.CHECKS["vjp"] = config._real_vjp
"""


def test_a_declared_convention_passes_the_engine_that_follows_it(zoo):
    args = ["--pyargs", "gradcheck.suite", *FAST, "--gradcheck-ops=relu", "-p", "no:randomly"]
    honest = zoo.runpytest(*args, "--gradcheck-adapter=zoo:half_relu")
    assert honest.ret == 0, honest.stdout.str()
    liar = zoo.runpytest(*args, "--gradcheck-adapter=zoo:lies_about_relu")
    assert liar.ret == pytest.ExitCode.TESTS_FAILED
    liar.stdout.fnmatch_lines(["*[[]conventions[]] at op 'relu'*(declared relu: 0.5)*"])


def test_an_invalid_declared_convention_is_a_usage_error(zoo):
    zoo.makepyfile(bad="from zoo import Wrapped\nadapter = Wrapped()\nadapter.conventions = "
                   "{'relu': 2.0}\n")  # fmt: skip
    result = zoo.runpytest(*OPS, "--co", "--gradcheck-adapter=bad:adapter")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "relu: 2.0 is not a valid choice for relu'(0); valid: a float in [0, 1]" in (
        result.stderr.str()
    )


def test_a_cell_that_proved_nothing_is_not_a_pass(zoo):
    zoo.makeconftest(INCONCLUSIVE.format(every=1))
    result = zoo.runpytest(*OPS, "--gradcheck-ops=exp", "-k", "vjp", "--gradcheck-report=r.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*no example proved anything: all 2 were inconclusive*",
                                 "exp*I"])  # fmt: skip
    (row,) = json.loads((zoo.path / "r.json").read_text())["results"]
    assert row["outcome"] == "inconclusive" and row["examples"] == row["inconclusive"] == 2
    assert row["inconclusive_reasons"] == {"the planted reason": 2}


def test_a_weakly_conclusive_pass_is_marked(zoo):
    zoo.makeconftest(INCONCLUSIVE.format(every=2))
    result = zoo.runpytest(*OPS, "--gradcheck-ops=exp,add", "-k", "vjp")
    assert result.ret == 0
    text = result.stdout.str()
    assert "fewer than half the examples conclusive (p):" in text or "exp" in text
    matrix = text.split("gradcheck matrix")[1]
    assert any(line.split()[-1] in ("p", "P") for line in matrix.splitlines() if "exp" in line)


def test_a_hang_fails_naming_the_call_and_the_run_goes_on(zoo):
    started = time.monotonic()
    result = zoo.runpytest(*OPS, "--gradcheck-ops=exp,add", "-k", "vjp",
                           "--gradcheck-adapter=zoo:hangs", "--gradcheck-timeout=0.5")  # fmt: skip
    assert time.monotonic() - started < 60
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*the adapter's op 'exp' did not return within 0.5 s*"])
    assert_clean(result)


def test_an_interrupted_test_is_never_recorded_as_passed(zoo):
    # In a subprocess: pytester re-raises an inline run's KeyboardInterrupt.
    adapter = "--gradcheck-adapter=zoo:interrupts"
    smoke = ["-p", "no:randomly", "-p", "no:cacheprovider", "--hypothesis-profile=gradcheck-smoke"]
    result = zoo.runpytest_subprocess(
        "--pyargs", "gradcheck.suite.test_ops", *smoke, "--gradcheck-dtypes=float64",
        "--gradcheck-ops=neg,exp", "-k", "vjp", adapter, "--gradcheck-report=r.json",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.INTERRUPTED
    report = json.loads((zoo.path / "r.json").read_text())
    outcomes = {row["op"]: row["outcome"] for row in report["results"]}
    assert outcomes == {"neg": "passed", "exp": "interrupted"}  # neg ran first


def test_xfails_take_wildcards_and_show_their_reasons(zoo):
    zoo.path.joinpath("xfails.txt").write_text(
        "vjp::*::float64::*   # every float64 vjp is declared broken\n"
        "*::nosuchop::*::*    # matches nothing: stale\n"
        "forward::exp::float64::cuda  # another device: not stale\n"
    )
    result = zoo.runpytest(*OPS, "--gradcheck-ops=exp,add", "-k", "forward or vjp", "-rx",
                           "--gradcheck-adapter=zoo:raising", "--gradcheck-xfails-file=xfails.txt",
                           "--gradcheck-report=r.json")  # fmt: skip
    result.assert_outcomes(xfailed=1, xpassed=1, failed=1, passed=1)
    stale = "*warning: xfail id [*]::nosuchop::[*]::[*]*matched no test"
    result.stdout.fnmatch_lines([stale])
    result.stdout.fnmatch_lines(["*every float64 vjp is declared broken*"])
    report = json.loads((zoo.path / "r.json").read_text())
    assert report["unmatched_xfails"] == ["*::nosuchop::*::*"]
