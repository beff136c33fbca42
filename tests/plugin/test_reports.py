"""The results matrix (terminal, JSON, Markdown), xfails files and repro scripts."""

from __future__ import annotations

import json
import re

import pytest
from plugin_helpers import FAST

RUN = ["--pyargs", "gradcheck.suite.test_ops", *FAST, "--gradcheck-ops=exp,add",
       "--gradcheck-dtypes=float64", "-k", "forward or vjp"]  # fmt: skip
OUTCOMES = {"passed", "failed", "error", "skipped", "xfailed", "xpassed", "inconclusive"}


def test_terminal_matrix(zoo):
    result = zoo.runpytest(*RUN, "--gradcheck-adapter=zoo:raising")
    result.stdout.fnmatch_lines(
        [
            "*gradcheck matrix*",
            "adapter zoo 0.0, device cpu; one letter per dtype: float64",
            "op / family*fwd*vjp",
            "exp*F*F",
            "add*P*P",
        ]
    )


def test_json_report_schema(zoo):
    result = zoo.runpytest(*RUN, "--gradcheck-adapter=zoo:raising", "--gradcheck-report=out/r.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    report = json.loads((zoo.path / "out" / "r.json").read_text())
    assert report["adapter"] == "zoo" and report["version"] == "0.0"
    assert report["device"] == "cpu" and report["dtypes"] == ["float64"]
    assert report["hypothesis_profile"] == "plugin-tests"
    assert "precision_flags" in report and report["unmatched_xfails"] == []
    keys = {"id", "nodeid", "check", "op", "dtype", "device", "outcome", "message", "examples",
            "inconclusive", "inconclusive_reasons", "duration"}  # fmt: skip
    assert len(report["results"]) == 4
    for row in report["results"]:
        assert set(row) == keys and row["outcome"] in OUTCOMES
        assert row["examples"] >= 1 and row["inconclusive"] == 0
    failed = {r["id"]: r for r in report["results"] if r["outcome"] == "failed"}
    assert set(failed) == {"forward::exp::float64::cpu", "vjp::exp::float64::cpu"}
    assert "RuntimeError" in failed["vjp::exp::float64::cpu"]["message"]
    # Each message is its own failure only (an earlier failure's text once leaked in).
    assert "forward::exp" not in failed["vjp::exp::float64::cpu"]["message"]
    assert report["matrix"]["exp"]["vjp"] == {"float64": "failed"}
    assert report["matrix"]["add"]["forward"] == {"float64": "passed"}
    markdown = (zoo.path / "out" / "r.md").read_text()
    assert "| op / family | forward | vjp |" in markdown
    assert re.search(r"\| exp \| F[ \d/]* \| F[ \d/]* \|", markdown), markdown
    assert "`vjp::exp::float64::cpu`: [vjp] at op 'exp (node 0)' the adapter raised" in markdown
    groups = report["failure_groups"]
    assert [g["count"] for g in groups] == [1, 1]
    assert groups[0]["signature"].startswith("[forward] at op 'exp' the adapter raised Runtime")


def test_markdown_only_report(zoo):
    zoo.runpytest(*RUN, "--gradcheck-report=matrix.md")
    assert "| add | P 2/2 | P 2/2 |" in (zoo.path / "matrix.md").read_text()
    assert not (zoo.path / "matrix.json").exists()


def test_xfails_file_marks_matches_and_warns_about_stale_ids(zoo):
    zoo.path.joinpath("xfails.txt").write_text(
        "# torch differs here\n"
        "vjp::exp::float64::cpu  # exp's vjp is broken on purpose\n"
        "forward::exp::float64::cpu\n"
        "vjpp::exp::float64::cpu  # a typo: matches nothing\n"
        "vjp::exp::float64::cuda  # another device: not stale, just not selected\n"
    )
    result = zoo.runpytest(*RUN, "--gradcheck-adapter=zoo:raising", "--gradcheck-report=r.json",
                           "--gradcheck-xfails-file=xfails.txt")  # fmt: skip
    result.assert_outcomes(passed=2, xfailed=2)
    result.stdout.fnmatch_lines(["*warning: xfail id vjpp::exp::float64::cpu*matched no test"])
    assert "float64::cuda" not in result.stdout.str().split("gradcheck matrix")[1]
    report = json.loads((zoo.path / "r.json").read_text())
    assert report["matrix"]["exp"]["vjp"] == {"float64": "xfailed"}
    assert report["unmatched_xfails"] == ["vjpp::exp::float64::cpu"]
    xfail = next(r for r in report["results"] if r["id"] == "vjp::exp::float64::cpu")
    assert xfail["message"] == "exp's vjp is broken on purpose"


def test_passing_xfail_is_an_xpass(zoo):
    zoo.path.joinpath("xfails.txt").write_text("vjp::add::float64::cpu\n")
    result = zoo.runpytest(*RUN, "--gradcheck-xfails-file=xfails.txt")
    result.assert_outcomes(passed=3, xpassed=1)


def test_malformed_xfails_line_is_a_usage_error(zoo):
    zoo.path.joinpath("xfails.txt").write_text("vjp::exp::float64\n")
    result = zoo.runpytest(*RUN, "--gradcheck-xfails-file=xfails.txt")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "xfails.txt:1: bad xfail id 'vjp::exp::float64'" in result.stderr.str()


def test_repro_dir_gets_a_script_per_failure(zoo):
    result = zoo.runpytest(
        *RUN, "--gradcheck-adapter=zoo:returns_nan", "--gradcheck-repro-dir=repros"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    scripts = sorted(p.name for p in (zoo.path / "repros").glob("*.py"))
    assert "forward__exp__float64__cpu.py" in scripts
    assert "repro script written to" in result.stdout.str()
    compile((zoo.path / "repros" / scripts[0]).read_text(), scripts[0], "exec")
