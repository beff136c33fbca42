"""The results of a suite run as a matrix (terminal, JSON, Markdown), with failures grouped
by cause.

JSON schema (written by ``--gradcheck-report PATH``)::

    {
      "adapter": str, "version": str, "device": str, "dtypes": [str, ...],
      "precision_flags": {str: any} | null, "hypothesis_profile": str,
      "results": [
        {"id": "vjp::tanh::float32::cpu", "nodeid": str, "check": str, "op": str,
         "dtype": str, "device": str,
         "outcome": "passed" | "failed" | "error" | "skipped" | "xfailed" | "xpassed"
                    | "inconclusive" | "interrupted",
         "message": str,              # failure text, skip reason or xfail reason; "" on pass
         "examples": int,             # examples run (hypothesis examples; 1 without)
         "inconclusive": int,         # of them, examples that proved nothing
         "inconclusive_reasons": {str: int},
         "duration": float}           # seconds the test's call took
      ],
      "matrix": {subject: {check: {dtype: outcome}}},
      "failure_groups": [            # failed tests grouped by cause, largest first
        {"signature": str, "count": int, "tests": [id, ...], "repro": path | null}
      ],
      "unmatched_xfails": [str, ...] # xfails lines that matched no test of this run
    }

``op`` in a result is the subject: an op name, an op family, a closed form or behaviour
name, or ``all``. An "inconclusive" test ran examples of which none proved anything; an
"interrupted" one never finished its call (Ctrl-C, a crash).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from gradcheck.cases import NO_DTYPE
from gradcheck.checks import CHECKS
from gradcheck.results import SEVERITY, Result, failure_groups

LETTERS = {
    "passed": "P",
    "failed": "F",
    "error": "E",
    "skipped": "S",
    "xfailed": "x",
    "xpassed": "X",
    "inconclusive": "I",
    "interrupted": "!",
}
LEGEND = (
    "P pass  p pass, fewer than half its examples conclusive  F fail  "
    "I nothing proved  E error  S skip  x xfail  X xpass  ! interrupted  . not run"
)
SHORT_NAMES = {name: check.short for name, check in CHECKS.items()}


def _row(r: Result) -> dict[str, Any]:
    return {
        "id": r.case.id,
        "nodeid": r.nodeid,
        "check": r.case.check,
        "op": r.case.subject,
        "dtype": r.case.dtype,
        "device": r.case.device,
        "outcome": r.outcome,
        "message": r.message,
        "examples": r.examples,
        "inconclusive": r.inconclusive,
        "inconclusive_reasons": r.reasons,
        "duration": round(r.duration, 4),
    }


def build_report(
    meta: dict[str, Any],
    results: Iterable[Result],
    unmatched: Sequence[str] = (),
    order: Sequence[str] = (),
) -> dict:
    """The JSON-able report (schema in the module docstring); matrix rows follow `order`,
    then test ids. Results are sorted by test id: pytest-xdist's workers report in any
    order, and a run on many processes must give the report of one."""
    results = sorted(results, key=lambda r: r.nodeid)
    rows = [_row(r) for r in results]
    rank = {subject: i for i, subject in enumerate(order)}
    matrix: dict[str, dict[str, dict[str, str]]] = {}
    for row in sorted(rows, key=lambda row: rank.get(row["op"], len(rank))):
        matrix.setdefault(row["op"], {}).setdefault(row["check"], {})[row["dtype"]] = row["outcome"]
    groups = [g.as_dict() for g in failure_groups(results)]
    return {
        **meta,
        "results": rows,
        "matrix": matrix,
        "failure_groups": groups,
        "unmatched_xfails": list(unmatched),
    }


def _columns(report: dict) -> list[str]:
    seen = {row["check"] for row in report["results"]}
    order = list(SHORT_NAMES) + sorted(seen - set(SHORT_NAMES))
    return [check for check in order if check in seen]


def _letter(row: dict[str, Any]) -> str:
    letter = LETTERS[row["outcome"]]
    weak = row["examples"] > 0 and 2 * (row["examples"] - row["inconclusive"]) < row["examples"]
    return "p" if letter == "P" and weak else letter


def _cells(report: dict, counts: bool) -> dict[tuple[str, str], str]:
    """(subject, check) -> one letter per dtype (and conclusive/examples with `counts`)."""
    by_key: dict[tuple[str, str], dict[str, dict]] = {}
    for row in report["results"]:
        by_key.setdefault((row["op"], row["check"]), {})[row["dtype"]] = row
    cells = {}
    for key, rows in by_key.items():
        dtypes = [NO_DTYPE] if NO_DTYPE in rows else report["dtypes"]
        parts = []
        for dtype in dtypes:
            row = rows.get(dtype)
            if row is None:
                parts.append(".")
            elif counts and row["examples"] > 1:
                conclusive = row["examples"] - row["inconclusive"]
                parts.append(f"{_letter(row)} {conclusive}/{row['examples']}")
            else:
                parts.append(_letter(row))
        cells[key] = (", " if counts else "").join(parts)
    return cells


def _table(report: dict, names: dict[str, str], counts: bool) -> tuple[list[str], list[list]]:
    columns = _columns(report)
    cells = _cells(report, counts)
    header = ["op / family"] + [names.get(c, c) for c in columns]
    body = [
        [subject] + [cells.get((subject, c), "") for c in columns] for subject in report["matrix"]
    ]
    return header, body


def _counts(report: dict) -> str:
    counts: dict[str, int] = {}
    for row in report["results"]:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    examples = sum(row["examples"] for row in report["results"])
    inconclusive = sum(row["inconclusive"] for row in report["results"])
    tally = ", ".join(f"{counts[o]} {o}" for o in reversed(SEVERITY) if o in counts)
    if examples:
        tally += f"; {examples} examples, {inconclusive} inconclusive"
    return tally or "no tests"


def _title(report: dict) -> str:
    return (
        f"adapter {report['adapter']} {report['version']}, device {report['device']}; "
        f"one letter per dtype: {' '.join(report['dtypes'])}"
    )


def _weak_cells(report: dict) -> list[str]:
    """Tests that passed with fewer than half their examples conclusive."""
    return [
        f"{row['id']}: {row['examples'] - row['inconclusive']} of {row['examples']} conclusive"
        for row in report["results"]
        if _letter(row) == "p"
    ]


def terminal_lines(report: dict) -> list[str]:
    """The matrix as aligned text, rows = ops and families, columns = checks, then the
    failures grouped by cause and the weakly conclusive cells."""
    header, body = _table(report, SHORT_NAMES, counts=False)
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = [_title(report), LEGEND]
    for row in [header, *body]:
        lines.append("  ".join(text.ljust(w) for text, w in zip(row, widths, strict=True)).rstrip())
    lines.append(_counts(report))
    groups = report["failure_groups"]
    if groups:
        total = sum(g["count"] for g in groups)
        lines.append(f"{total} failed tests from {len(groups)} causes:")
        for group in groups:
            more = f" (+{group['count'] - 1} more)" if group["count"] > 1 else ""
            lines.append(f"  {group['count']:>3} x {group['signature']}")
            lines.append(f"        e.g. {group['tests'][0]}{more}")
            if group["repro"]:
                lines.append(f"        repro: {group['repro']}")
    weak = _weak_cells(report)
    if weak:
        lines.append("fewer than half the examples conclusive (p):")
        lines += [f"  {line}" for line in weak]
    return lines


def to_markdown(report: dict) -> str:
    """The matrix as a Markdown page (conclusive/examples per dtype), then the failures
    grouped by cause and listed one by one."""
    header, body = _table(report, {}, counts=True)
    lines = [f"# gradcheck: {report['adapter']} {report['version']}", "", _title(report), ""]
    lines.append(f"Legend: {LEGEND}. Result: {_counts(report)}.")
    lines += ["", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    groups = report["failure_groups"]
    if groups:
        lines += ["", "## Failures by cause", ""]
        for group in groups:
            repro = f" Repro: `{group['repro']}`." if group["repro"] else ""
            tests = ", ".join(f"`{t}`" for t in group["tests"])
            lines.append(f"- **{group['count']} x** `{group['signature']}`: {tests}.{repro}")
    failures = [r for r in report["results"] if r["outcome"] in ("failed", "error", "inconclusive")]
    if failures:
        lines += ["", "## Failures", ""]
        for row in failures:
            lines.append(f"- `{row['id']}`: {_cause(row['message'])}")
    return "\n".join(lines) + "\n"


def _cause(message: str) -> str:
    """The line of a failure message that says what went wrong (not the header line)."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if len(lines) > 1 and " failed for adapter " in lines[0]:
        return lines[1]
    return lines[0] if lines else ""


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
