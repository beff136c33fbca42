"""Fixtures and per-test hooks of the shipped suite; parametrization lives in each module.

These hooks see only the suite's own tests: any exception a test raises (a check's
`GradcheckFailure`, or anything an adapter or hypothesis raised) becomes a one-block
failure naming the case and the adapter, never a traceback into gradcheck's internals;
a test whose examples all proved nothing fails; what every test did is attached to its
report for the results matrix.
"""

from __future__ import annotations

from typing import Any

import pytest

from gradcheck.cases import Case
from gradcheck.config import RunConfig, get_run
from gradcheck.errors import Hung, last_resort
from gradcheck.results import PROPERTY
from gradcheck.suite.support import Tally, describe, failure_record, flatten, tallying, write_repros

TALLY = pytest.StashKey[Tally]()


@pytest.fixture(scope="session")  # session scope: hypothesis re-runs the body per example
def gradcheck_run(pytestconfig: pytest.Config) -> RunConfig:
    """The validated run configuration: adapter, device, dtypes, ops."""
    return get_run(pytestconfig)


def _case(item: pytest.Item) -> Case | None:
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("gradcheck_case") if callspec else None
    return case if isinstance(case, Case) else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    case = _case(item)
    if case is None:
        return (yield)
    tally = item.stash.setdefault(TALLY, Tally())
    run = get_run(item.config)
    # Every example has its own SIGALRM limit; a test's examples all together get this
    # much before a hang in C code ends the process (with a stack dump).
    budget = 100 * run.timeout + 300
    try:
        with tallying(tally), last_resort(budget):
            result = yield
    except (Exception, Hung) as error:  # adapter, check or hypothesis alike: no trace
        message = _failure_text(get_run(item.config), case, error, tally)
    else:
        if not tally.proved_nothing:
            return result
        reasons = ", ".join(f"{why} ({n})" for why, n in tally.reasons.most_common())
        message = (
            f"{case.id}: no example proved anything: all {tally.examples} were inconclusive "
            f"({reasons}); a cell that checked nothing is not a pass"
        )
    pytest.fail(message, pytrace=False)  # outside `except`: no chained traceback


def _failure_text(run: RunConfig, case: Case, error: BaseException, tally: Tally) -> str:
    errors = flatten(error)
    repros = write_repros(run.repro_dir, case, errors)
    tally.failures = [failure_record(case, e, p) for e, p in zip(errors, repros, strict=True)]
    adapter = run.adapter
    lines = [f"{case.id} failed for adapter {adapter.name!r} {adapter.version}"]
    for e, path in zip(errors, repros, strict=True):
        lines.append(describe(e))
        if path:
            lines.append(f"repro script written to {path}")
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: sees the final xfail outcome
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    case = _case(item)
    if case is not None:
        tally = item.stash.get(TALLY, Tally())
        report.user_properties.append((PROPERTY, tally.as_property(case)))
    return report
