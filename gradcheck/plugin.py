"""The suite's pytest hooks: report header, xfails, results, the matrix and reports.

`SuitePlugin` is registered by the thin entry point `pytest_gradcheck` once a run uses
the suite. Results
come from test reports (`pytest_runtest_logreport`), which pytest-xdist sends from its
workers to the controller: the controller alone writes the matrix and the reports.
"""

from __future__ import annotations

from typing import Any

import pytest

from gradcheck.cases import Case, stale_xfails
from gradcheck.config import RESULTS_KEY, RUN_KEY, SUITE_DIR, RunConfig, deactivate
from gradcheck.profiles import EXAMPLE_SHARE, examples_of_shares, without_local_constants
from gradcheck.report import build_report, terminal_lines, write_reports


def known_subjects() -> set[str]:
    """Every subject a suite test may have: ops, families, closed forms, behaviours."""
    from gradcheck.analytic import CLOSED_FORMS
    from gradcheck.cases import WHOLE_ENGINE
    from gradcheck.ops import CATALOG, user_ops
    from gradcheck.semantics import SEMANTICS_CASES

    ops = {**CATALOG, **user_ops()}
    families = {spec.family for spec in ops.values()}
    return {*ops, *families, *CLOSED_FORMS, *SEMANTICS_CASES, WHOLE_ENGINE}


class SuitePlugin:
    """The hooks of one run that uses the suite (pytest_gradcheck registers it)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.matched: set[str] = set()  # xfail patterns that matched a collected test
        self.written: list = []

    @property
    def run(self) -> RunConfig:
        return self.config.stash[RUN_KEY]

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")  # a pytest-xdist worker

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        deactivate(config)

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        from gradcheck.checks import CHECKS
        from gradcheck.ops.registry import is_user_op

        run, adapter = self.run, self.run.adapter
        users = sum(is_user_op(op) for op in run.ops)
        ops = f"{len(run.ops)} ops" + (f" ({users} user ops)" if users else "")
        runnable = [c for c in EXAMPLE_SHARE if CHECKS[c].needs in (None, *adapter.capabilities)]
        shares = examples_of_shares(runnable)
        lines = [
            f"gradcheck: adapter {adapter.name} {adapter.version}, device {run.device}, "
            f"dtypes {','.join(run.dtypes)}, {ops}, "
            f"hypothesis profile {run.profile}"
            + (
                f" capped at {run.max_examples} examples per test (the adapter's max_examples)"
                if run.max_examples
                else ""
            )
            + (f" ({shares})" if shares else "")
            + f", timeout {run.timeout:g} s per example"
            + (f", example database {run.example_db}" if run.example_db else "")
        ]
        if run.precision_flags:
            flags = ", ".join(f"{k}={v}" for k, v in run.precision_flags.items())
            lines.append(f"gradcheck: precision flags: {flags}")
        if run.xfails.path:
            lines.append(f"gradcheck: xfails: {run.xfails.path} ({len(run.xfails)} entries)")
        return lines

    @pytest.hookimpl(tryfirst=True)  # see every collected test, before -k/-m deselect some
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            callspec = getattr(item, "callspec", None)
            case = callspec.params.get("gradcheck_case") if callspec else None
            entry = self.run.xfails.match(case.id) if isinstance(case, Case) else None
            if entry is not None:
                self.matched.add(entry.pattern)
                item.add_marker(pytest.mark.xfail(reason=entry.reason, strict=False))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        """The suite's tests draw the same examples in every process (see
        `without_local_constants`); the user's own tests are left as they are."""
        if not item.path.is_relative_to(SUITE_DIR):
            yield
            return
        with without_local_constants():
            yield

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.config.stash[RESULTS_KEY].record(report)

    def unmatched_xfails(self) -> list[str]:
        from gradcheck.checks import CHECKS
        from gradcheck.ops import spec_of

        run, results = self.run, self.config.stash[RESULTS_KEY]
        matched = set(self.matched)
        for entry in run.xfails.entries:  # under pytest-xdist, collection ran in the workers
            if any(entry.matches(r.case.id) for r in results):
                matched.add(entry.pattern)
        unmatched = [e for e in run.xfails.entries if e.pattern not in matched]
        chosen = {*run.ops, *(spec_of(op).family for op in run.ops)} if run.ops_chosen else None
        stale = stale_xfails(
            unmatched, list(CHECKS), known_subjects(), chosen, run.dtypes, run.device
        )
        return [e.pattern for e in stale]

    def report(self) -> dict[str, Any]:
        from gradcheck.ops import spec_of

        run = self.run
        # Rows: ops in catalog order (user ops last), then families, then the rest.
        families = [spec_of(op).family for op in run.ops]
        order = [*run.ops, *dict.fromkeys(families)]
        meta = {
            "adapter": run.adapter.name,
            "version": str(run.adapter.version),
            "device": run.device,
            "dtypes": list(run.dtypes),
            "precision_flags": run.precision_flags,
            "hypothesis_profile": run.profile,
        }
        results = self.config.stash[RESULTS_KEY]
        return build_report(meta, results, self.unmatched_xfails(), order)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.run.report_path is not None and not self.is_worker:
            self.written = write_reports(self.report(), self.run.report_path)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.config.stash[RESULTS_KEY] or self.is_worker:
            return
        report = self.report()
        terminalreporter.section("gradcheck matrix")
        for line in terminal_lines(report):
            terminalreporter.write_line(line)
        for path in self.written:
            terminalreporter.write_line(f"gradcheck: report written to {path}")
        for pattern in report["unmatched_xfails"]:
            terminalreporter.write_line(
                f"gradcheck: warning: xfail id {pattern} ({self.run.xfails.path}) matched no test",
                yellow=True,
            )
