"""The results of a suite run, collected from pytest's test reports.

Each suite test attaches what it did to its report (`user_properties["gradcheck"]`: the
case, how many examples ran and how many proved nothing, its failures); `Results.record`
folds reports into one `Result` per test. Reports are what pytest-xdist sends from its
workers to the controller, so a run on many processes is collected in one place.

A test counts as passed only when its call phase reports a pass: one interrupted or
crashed mid-call stays "interrupted", never passed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from gradcheck.cases import Case

PROPERTY = "gradcheck"  # the user_properties key of a suite test's data
# Worse outcomes win when one test reports several phases (call passed, teardown failed).
SEVERITY = (
    "interrupted", "passed", "xpassed", "skipped", "xfailed", "inconclusive", "failed", "error",
)  # fmt: skip


@dataclass
class Result:
    """One suite test's outcome and what its examples showed."""

    case: Case
    nodeid: str
    outcome: str = "interrupted"  # until a phase says otherwise
    message: str = ""
    examples: int = 0  # hypothesis examples (1 for tests without hypothesis)
    inconclusive: int = 0  # examples that proved nothing (a kink, a noisy estimate)
    reasons: dict[str, int] = field(default_factory=dict)  # inconclusive reason -> count
    failures: list[dict[str, Any]] = field(default_factory=list)  # see suite.support
    duration: float = 0.0  # seconds of the call phase

    @property
    def conclusive(self) -> int:
        return self.examples - self.inconclusive

    def merge(self, outcome: str, message: str) -> None:
        if SEVERITY.index(outcome) > SEVERITY.index(self.outcome):
            self.outcome, self.message = outcome, message


class Results:
    """Every suite test's Result, keyed by node id, in the order they were reported."""

    def __init__(self) -> None:
        self.by_nodeid: dict[str, Result] = {}

    def __bool__(self) -> bool:
        return bool(self.by_nodeid)

    def __iter__(self):
        return iter(self.by_nodeid.values())

    def record(self, report: pytest.TestReport) -> None:
        data = dict(report.user_properties).get(PROPERTY)
        if data is None:
            return  # not a suite test
        result = self.by_nodeid.get(report.nodeid)
        if result is None:
            case = Case(data["check"], data["subject"], data["dtype"], data["device"])
            result = self.by_nodeid[report.nodeid] = Result(case, report.nodeid)
        outcome = outcome_of(report)
        if report.when == "call":
            result.duration = report.duration
            result.examples = data["examples"]
            result.inconclusive = data["inconclusive"]
            result.reasons = dict(data["reasons"])
            result.failures = list(data["failures"])
            if data["proved_nothing"] and outcome == "failed":
                outcome = "inconclusive"
        elif outcome == "passed":
            return  # a passed setup or teardown says nothing about the test itself
        result.merge(outcome, message_of(report, outcome))


def outcome_of(report: pytest.TestReport) -> str:
    xfail = hasattr(report, "wasxfail")
    if report.passed:
        return "xpassed" if xfail else "passed"
    if report.skipped:
        return "xfailed" if xfail else "skipped"
    return "failed" if report.when == "call" else "error"


def message_of(report: pytest.TestReport, outcome: str) -> str:
    if outcome in ("xfailed", "xpassed"):
        return str(report.wasxfail)
    if outcome == "skipped" and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    if outcome not in ("failed", "error", "inconclusive"):
        return ""
    # An xdist worker's report starts with "[gw0] linux -- Python ...": not the message.
    return re.sub(r"\A\[gw\d+\] .*\n", "", report.longreprtext)


# -- triage ---------------------------------------------------------------------------------

NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?|\bnan\b|\binf\b", re.IGNORECASE)


def signature(failure: dict[str, Any]) -> str:
    """What makes two failures the same cause: the check, the op nearest the
    disagreement (without its node number) and the message with its numbers blanked."""
    op = re.sub(r" \(node \d+\)", "", failure.get("op") or "")
    text = NUMBER.sub("#", (failure.get("summary") or "").splitlines()[0] if failure else "")
    return f"[{failure.get('check', '?')}]" + (f" at op {op!r}" if op else "") + f" {text}"


@dataclass
class FailureGroup:
    """Failures of one cause: how many, which tests, and one representative repro."""

    signature: str
    tests: list[str] = field(default_factory=list)
    repro: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "signature": self.signature,
            "count": len(self.tests),
            "tests": self.tests,
            "repro": self.repro,
        }


def failure_groups(results: Iterable[Result]) -> list[FailureGroup]:
    """Failed tests grouped by cause, largest group first (then by signature)."""
    groups: dict[str, FailureGroup] = {}
    for result in results:
        if result.outcome not in ("failed", "error", "inconclusive"):
            continue
        failures = result.failures or [
            {"check": result.case.check, "summary": _first_line(result.message)}
        ]
        for failure in failures:
            group = groups.setdefault(signature(failure), FailureGroup(signature(failure)))
            if result.case.id not in group.tests:
                group.tests.append(result.case.id)
            group.repro = group.repro or failure.get("repro")
    return sorted(groups.values(), key=lambda g: (-len(g.tests), g.signature))


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""
