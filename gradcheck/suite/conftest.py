"""Fixtures and per-test hooks of the shipped suite; parametrization lives in each module.

These hooks see only the suite's own tests: any exception a test raises (a check's
`GradcheckFailure`, or anything an adapter or hypothesis raised) becomes a one-block
failure naming the case and the adapter, never a traceback into gradcheck's internals.
"""

from __future__ import annotations

from typing import Any

import pytest

from gradcheck.config import State, get_state
from gradcheck.report import Case
from gradcheck.suite.support import describe, flatten, write_repro


@pytest.fixture(scope="session")  # session scope: hypothesis re-runs the body per example
def gradcheck_state(pytestconfig: pytest.Config) -> State:
    """The validated run configuration: adapter, device, dtypes, ops."""
    return get_state(pytestconfig)


def _case(item: pytest.Item) -> Case | None:
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("gradcheck_case") if callspec else None
    return case if isinstance(case, Case) else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    case = _case(item)
    try:
        return (yield)
    except Exception as error:  # from adapter, check or hypothesis alike: report, no trace
        if case is None:
            raise
        message = _failure_text(get_state(item.config), case, error)
    pytest.fail(message, pytrace=False)  # outside `except`: no chained traceback


def _failure_text(state: State, case: Case, error: Exception) -> str:
    errors = flatten(error)
    adapter = state.adapter
    lines = [f"{case.id} failed for adapter {adapter.name!r} {adapter.version}"]
    lines += [describe(e) for e in errors]
    repro = write_repro(state.repro_dir, case, errors)
    if repro:
        lines.append(f"repro script written to {repro}")
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: sees the final xfail outcome
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    case = _case(item)
    if case is not None:
        get_state(item.config).record(case, report)
    return report
