"""`-n 2` (pytest-xdist) gives the verdicts of one process: the same outcomes and example
counts per test, one merged JSON/Markdown report and matrix, and every repro script."""

from __future__ import annotations

import json
import os

import pytest

pytest.importorskip("xdist")

# Derandomized (gradcheck-smoke: 3 examples), so both runs draw the same examples.
RUN = ["--pyargs", "gradcheck.suite.test_ops", "-p", "no:cacheprovider",
       "--hypothesis-profile=gradcheck-smoke", "--gradcheck-ops=exp,add,relu",
       "--gradcheck-dtypes=float64,float32", "-k", "forward or vjp or adjoint",
       "--gradcheck-adapter=zoo:returns_nan"]  # fmt: skip


def run(zoo: pytest.Pytester, name: str, *extra: str) -> tuple[pytest.RunResult, dict, list]:
    out = zoo.path / name
    result = zoo.runpytest_subprocess(
        *RUN, f"--gradcheck-report={out}/r.json", f"--gradcheck-repro-dir={out}/repros", *extra
    )
    report = json.loads((out / "r.json").read_text())
    scripts = sorted(p.name for p in (out / "repros").glob("*.py"))
    return result, report, scripts


def verdicts(report: dict) -> dict:
    return {
        r["id"]: (r["outcome"], r["examples"], r["inconclusive"], r["message"].split("\n")[0])
        for r in report["results"]
    }


def groups(report: dict) -> list:
    """Failure groups, repro paths by file name (the two runs write to two directories)."""
    return [{**g, "repro": os.path.basename(g["repro"] or "")} for g in report["failure_groups"]]


def test_two_workers_give_one_process_verdicts_and_one_report(zoo, monkeypatch):
    # The workers are subprocesses: they import the zoo adapters through PYTHONPATH.
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(zoo.path), os.environ.get("PYTHONPATH", "")])
    )
    single, one, one_scripts = run(zoo, "single")
    double, two, two_scripts = run(zoo, "double", "-n", "2")
    assert single.ret == double.ret == pytest.ExitCode.TESTS_FAILED
    assert "2 workers" in double.stdout.str()  # the run really was distributed
    assert verdicts(one) == verdicts(two)
    assert len(one["results"]) == 18 and any(o == "failed" for o, *_ in verdicts(one).values())
    assert one["matrix"] == two["matrix"] and groups(one) == groups(two)
    assert one_scripts == two_scripts and one_scripts  # every failure's repro, once
    assert (zoo.path / "double" / "r.md").read_text().count("| op / family |") == 1
    assert double.stdout.str().count("gradcheck matrix") == 1
