"""Cases, results and the matrix of a suite run (terminal, JSON, Markdown); xfails files.

Each suite test is one `Case`: a check, a subject (a catalog op, an op family, or
``all`` for checks that cover the whole engine), a dtype (``any`` for checks without
one) and a device. Its id, ``check::subject::dtype::device``, is what an xfails file
lists: one id per line, ``#`` comments, a reason after the id as ``id  # reason``.

JSON schema (written by ``--gradcheck-report PATH``)::

    {
      "adapter": str,                 # adapter name
      "version": str,                 # adapter (engine) version
      "device": str,
      "dtypes": [str, ...],
      "precision_flags": {str: any} | null,
      "hypothesis_profile": str,
      "results": [
        {"id": "vjp::tanh::float32::cpu", "nodeid": str, "check": str, "op": str,
         "dtype": str, "device": str,
         "outcome": "passed" | "failed" | "error" | "skipped" | "xfailed" | "xpassed",
         "message": str,              # failure text, skip reason or xfail reason; "" on pass
         "inconclusive": int}         # examples that proved nothing (kink crossed, noise)
      ],
      "matrix": {subject: {check: {dtype: outcome}}},
      "unmatched_xfails": [str, ...]  # ids in the xfails file that matched no test
    }

``op`` in a result is the subject: an op name, an op family, or ``all``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ALL_DTYPES = ("float64", "float32", "float16", "bfloat16")
NO_DTYPE = "any"  # dtype of checks that take none (semantics, conventions)
WHOLE_ENGINE = "all"  # subject of checks that cover the whole engine (analytic, parity)

LETTERS = {
    "passed": "P",
    "failed": "F",
    "error": "E",
    "skipped": "S",
    "xfailed": "x",
    "xpassed": "X",
}
LEGEND = "P pass  F fail  E error  S skip  x xfail  X xpass  . not run"
# Terminal columns are narrow; Markdown uses the full check names.
SHORT_NAMES = {
    "forward": "fwd",
    "vjp": "vjp",
    "finite_difference": "fd",
    "adjoint": "adj",
    "higher_order": "2nd",
    "invariants": "inv",
    "analytic": "analytic",
    "semantics": "sem",
    "conventions": "conv",
    "device_parity": "parity",
}
# Worse outcomes win when one test reports several phases (call passed, teardown failed).
SEVERITY = ("passed", "xpassed", "skipped", "xfailed", "failed", "error")


@dataclass(frozen=True)
class Case:
    """One suite test: what it checks, on what, at which dtype and device."""

    check: str
    subject: str
    dtype: str
    device: str

    @property
    def id(self) -> str:
        """The xfail id: ``check::op-or-family::dtype::device``."""
        return f"{self.check}::{self.subject}::{self.dtype}::{self.device}"

    @property
    def param_id(self) -> str:
        """The pytest parameter id: the parts that vary within one test function."""
        parts = [self.check, self.subject, self.dtype]
        return "-".join(p for p in parts if p not in (NO_DTYPE, WHOLE_ENGINE))


@dataclass
class Result:
    case: Case
    nodeid: str
    outcome: str
    message: str = ""
    inconclusive: int = 0

    def merge(self, outcome: str, message: str) -> None:
        """Keep the worst outcome of a test's phases (setup, call, teardown)."""
        if SEVERITY.index(outcome) > SEVERITY.index(self.outcome):
            self.outcome, self.message = outcome, message


def build_report(
    meta: dict[str, Any],
    results: Iterable[Result],
    unmatched: Sequence[str] = (),
    order: Sequence[str] = (),
) -> dict:
    """The JSON-able report (schema in the module docstring); matrix rows follow `order`,
    then the order results came in."""
    rows = [
        {
            "id": r.case.id,
            "nodeid": r.nodeid,
            "check": r.case.check,
            "op": r.case.subject,
            "dtype": r.case.dtype,
            "device": r.case.device,
            "outcome": r.outcome,
            "message": r.message,
            "inconclusive": r.inconclusive,
        }
        for r in results
    ]
    rank = {subject: i for i, subject in enumerate(order)}
    matrix: dict[str, dict[str, dict[str, str]]] = {}
    for row in sorted(rows, key=lambda row: rank.get(row["op"], len(rank))):
        matrix.setdefault(row["op"], {}).setdefault(row["check"], {})[row["dtype"]] = row["outcome"]
    return {**meta, "results": rows, "matrix": matrix, "unmatched_xfails": list(unmatched)}


def _columns(report: dict) -> list[str]:
    seen = {row["check"] for row in report["results"]}
    order = list(SHORT_NAMES) + sorted(seen - set(SHORT_NAMES))
    return [check for check in order if check in seen]


def _cell(outcomes: dict[str, str] | None, dtypes: Sequence[str]) -> str:
    if not outcomes:
        return ""
    if NO_DTYPE in outcomes:
        return LETTERS[outcomes[NO_DTYPE]]
    return "".join(LETTERS[outcomes[d]] if d in outcomes else "." for d in dtypes)


def _table(report: dict, names: dict[str, str]) -> tuple[list[str], list[list[str]]]:
    columns = _columns(report)
    header = ["op / family"] + [names.get(c, c) for c in columns]
    body = [
        [subject] + [_cell(checks.get(c), report["dtypes"]) for c in columns]
        for subject, checks in report["matrix"].items()
    ]
    return header, body


def _counts(report: dict) -> str:
    counts: dict[str, int] = {}
    for row in report["results"]:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    return ", ".join(f"{counts[o]} {o}" for o in SEVERITY if o in counts) or "no tests"


def _title(report: dict) -> str:
    return (
        f"adapter {report['adapter']} {report['version']}, device {report['device']}; "
        f"one letter per dtype: {' '.join(report['dtypes'])}"
    )


def terminal_lines(report: dict) -> list[str]:
    """The matrix as aligned text, rows = ops and families, columns = checks."""
    header, body = _table(report, SHORT_NAMES)
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = [_title(report), LEGEND]
    for row in [header, *body]:
        lines.append("  ".join(text.ljust(w) for text, w in zip(row, widths, strict=True)).rstrip())
    lines.append(_counts(report))
    return lines


def to_markdown(report: dict) -> str:
    """The matrix as a Markdown page, failures listed below it."""
    header, body = _table(report, {})
    lines = [f"# gradcheck: {report['adapter']} {report['version']}", "", _title(report), ""]
    lines.append(f"Legend: {LEGEND}. Result: {_counts(report)}.")
    lines += ["", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    failures = [r for r in report["results"] if r["outcome"] in ("failed", "error")]
    if failures:
        lines += ["", "## Failures", ""]
        for row in failures:
            first_line = row["message"].strip().splitlines()[0] if row["message"].strip() else ""
            lines.append(f"- `{row['id']}`: {first_line}")
    return "\n".join(lines) + "\n"


def write_reports(report: dict, path: Path) -> list[Path]:
    """Write JSON to `path` and Markdown beside it (or only Markdown for a `.md` path)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".md":
        path.write_text(to_markdown(report), encoding="utf-8")
        return [path]
    markdown = path.with_suffix(".md")
    path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    markdown.write_text(to_markdown(report), encoding="utf-8")
    return [path, markdown]


class XfailsFileError(pytest.UsageError):
    """The xfails file cannot be read or has a malformed line (a one-line message)."""


XFAIL_PART = re.compile(r"[\w.+-]+(:\d+)?")  # "cuda:1" is one part


def read_xfails(path: Path) -> dict[str, str]:
    """{id: reason} from an xfails file: one id per line, ``# comment``, ``id  # reason``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise XfailsFileError(
            f"gradcheck: cannot read xfails file {str(path)!r} ({error.strerror}); "
            "fix --gradcheck-xfails-file"
        ) from None
    entries = {}
    for number, line in enumerate(lines, 1):
        xfail_id, _, reason = line.partition("#")
        xfail_id = xfail_id.strip()
        if not xfail_id:
            continue
        parts = xfail_id.split("::")
        if len(parts) != 4 or not all(XFAIL_PART.fullmatch(p) for p in parts):
            raise XfailsFileError(
                f"gradcheck: {path}:{number}: bad xfail id {xfail_id!r}; "
                "write check::op-or-family::dtype::device, e.g. vjp::cumprod::float16::cuda"
            )
        entries[xfail_id] = reason.strip() or "declared in the xfails file"
    return entries


def stale_xfails(
    unmatched: Iterable[str],
    checks: Sequence[str],
    subjects: set[str] | None,
    dtypes: Sequence[str],
    device: str,
) -> list[str]:
    """The unmatched ids that could have matched a test of this run: ids for another
    device or dtype, or (when ops were chosen, `subjects` given) another op or family,
    are just not selected; an unknown check is a typo, so always stale."""
    stale = []
    for xfail_id in unmatched:
        check, subject, dtype, dev = xfail_id.split("::")
        selected = (
            (subjects is None or subject in subjects)
            and (dtype not in ALL_DTYPES or dtype in dtypes)
            and (dev == device or check == "device_parity")
        )
        if check not in checks or selected:
            stale.append(xfail_id)
    return stale


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
    return report.longreprtext if outcome in ("failed", "error") else ""
