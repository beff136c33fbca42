"""An adapter's `max_examples` caps the examples per suite test under the default
profiles (gradcheck-dev, gradcheck-ci), says so in the header, and never caps an explicit
--hypothesis-profile."""

from __future__ import annotations

import json

import pytest

# The reference adapter with a cap of 2 examples per test (a copy: load_adapter's own).
CAPPED = """
from gradcheck.adapters import load_adapter

capped = load_adapter("reference")
capped.max_examples = 2
"""
EXP_VJP = ["--pyargs", "gradcheck.suite.test_ops", "--gradcheck-adapter=capped:capped",
           "--gradcheck-ops=exp", "--gradcheck-dtypes=float64", "-k", "vjp",
           "--gradcheck-example-db=none", "-p", "no:randomly",
           "-p", "no:cacheprovider"]  # fmt: skip


def examples_run(pytester: pytest.Pytester, *args: str) -> tuple[int, str]:
    """(examples the vjp test of exp ran, the run's header lines)."""
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess(*EXP_VJP, f"--gradcheck-report={report}", *args)
    assert result.ret == 0, result.stdout.str()[-3000:]
    (row,) = json.loads(report.read_text())["results"]
    header = "\n".join(line for line in result.stdout.lines if line.startswith("gradcheck:"))
    return row["examples"], header


@pytest.mark.parametrize("ci", ["", "1"])  # gradcheck-dev (20), gradcheck-ci (50)
def test_the_default_profiles_are_capped_and_the_header_says_so(pytester, monkeypatch, ci):
    pytester.makepyfile(capped=CAPPED)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path), prepend=":")
    monkeypatch.setenv("CI", ci)
    examples, header = examples_run(pytester)
    assert examples == 2
    assert "capped at 2 examples per test (the adapter's max_examples)" in header


def test_an_explicit_profile_is_never_capped(pytester, monkeypatch):
    pytester.makepyfile(capped=CAPPED)
    monkeypatch.setenv("PYTHONPATH", str(pytester.path), prepend=":")
    monkeypatch.delenv("CI", raising=False)
    examples, header = examples_run(pytester, "--hypothesis-profile=gradcheck-smoke")
    assert examples == 3  # gradcheck-smoke's own count, above the cap
    assert "capped at" not in header
