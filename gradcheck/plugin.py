"""The gradcheck pytest plugin: options, report header, hypothesis profiles, xfails, matrix.

Run the conformance suite against an engine::

    pytest --pyargs gradcheck.suite --gradcheck-adapter=torch --gradcheck-device=cpu

pytest loads this module in every run where gradcheck is installed, so it stays inert
(no engine import, no hypothesis profile change) unless the run targets the suite
(``--pyargs gradcheck.suite`` or a path inside it), a ``--gradcheck-*`` option is on
the command line, or suite tests are collected anyway (``pytest .`` in a checkout).
Every option also reads ``GRADCHECK_<NAME>`` and the ini key ``gradcheck_<name>``;
precedence: command line > environment > ini file > default.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from gradcheck.config import (
    OPTIONS,
    STATE_KEY,
    SUITE_DIR,
    State,
    activate,
    current_profile,
    get_state,
    register_profiles,
)
from gradcheck.report import Case, build_report, stale_xfails, terminal_lines, write_reports


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradcheck", "gradcheck conformance suite")
    for name, help_text in OPTIONS:
        key = name.replace("-", "_")
        group.addoption(
            f"--gradcheck-{name}",
            dest=f"gradcheck_{key}",
            default=None,
            help=f"{help_text}. Env: GRADCHECK_{key.upper()}; ini: gradcheck_{key}",
        )
        parser.addini(f"gradcheck_{key}", help_text, default="")


def _in_suite(path: Path) -> bool:
    path = path.resolve()
    return path == SUITE_DIR or SUITE_DIR in path.parents


def _targets_suite(config: pytest.Config) -> bool:
    for arg in config.args:
        target = arg.split("::")[0]
        if config.option.pyargs and re.fullmatch(r"gradcheck\.suite(\..+)?", target):
            return True
        if _in_suite(config.invocation_params.dir / target):
            return True
    return False


def _cli_option_given(config: pytest.Config) -> bool:
    return any(config.getoption(f"gradcheck_{n.replace('-', '_')}") for n, _ in OPTIONS)


def pytest_collectstart(collector: pytest.Collector) -> None:
    # Here, outside any test or collector, pytest.exit stops the run without a traceback.
    if STATE_KEY not in collector.config.stash and _in_suite(collector.path):
        get_state(collector.config)


# -- hooks ---------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)  # before hypothesis loads a --hypothesis-profile=gradcheck-*
def pytest_configure(config: pytest.Config) -> None:
    if str(config.getoption("hypothesis_profile", None) or "").startswith("gradcheck-"):
        register_profiles()
    if _targets_suite(config) or _cli_option_given(config):
        activate(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    # Inline runs (pytester) share hypothesis' global profile with the outer session.
    state = config.stash.get(STATE_KEY, None)
    if state is not None and state.previous_profile:
        from hypothesis import settings

        settings.load_profile(state.previous_profile)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        return None
    adapter = state.adapter
    lines = [
        f"gradcheck: adapter {adapter.name} {adapter.version}, device {state.device}, "
        f"dtypes {','.join(state.dtypes)}, {len(state.ops)} ops, "
        f"hypothesis profile {current_profile()}"
    ]
    if state.precision_flags:
        flags = ", ".join(f"{k}={v}" for k, v in state.precision_flags.items())
        lines.append(f"gradcheck: precision flags: {flags}")
    if state.xfails_path:
        lines.append(f"gradcheck: xfails: {state.xfails_path} ({len(state.xfails)} ids)")
    return lines


@pytest.hookimpl(tryfirst=True)  # see every collected test, before -k/-m deselect some
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        return
    for item in items:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("gradcheck_case") if callspec else None
        if not isinstance(case, Case):
            continue
        if case.id in state.xfails:
            state.matched_xfails.add(case.id)
            item.add_marker(pytest.mark.xfail(reason=state.xfails[case.id], strict=False))


def unmatched_xfails(state: State) -> list[str]:
    from gradcheck.checks import CHECKS
    from gradcheck.ops import CATALOG

    unmatched = [i for i in state.xfails if i not in state.matched_xfails]
    chosen = {*state.ops, *(CATALOG[op].family for op in state.ops)} if state.ops_chosen else None
    return stale_xfails(unmatched, CHECKS, chosen, state.dtypes, state.device)


def _report(state: State) -> dict[str, Any]:
    from gradcheck.ops import CATALOG

    # Rows: ops in catalog order, then op families, then the rest as they ran.
    families = [CATALOG[op].family for op in state.ops]
    order = [*state.ops, *dict.fromkeys(families)]
    return build_report(_meta(state), state.results.values(), unmatched_xfails(state), order)


def _meta(state: State) -> dict[str, Any]:
    return {
        "adapter": state.adapter.name,
        "version": str(state.adapter.version),
        "device": state.device,
        "dtypes": list(state.dtypes),
        "precision_flags": state.precision_flags,
        "hypothesis_profile": current_profile(),
    }


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(STATE_KEY, None)
    if state is None or state.report_path is None:
        return
    report = _report(state)
    state.written = write_reports(report, state.report_path)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is None or not state.results:
        return
    report = _report(state)
    terminalreporter.section("gradcheck matrix")
    for line in terminal_lines(report):
        terminalreporter.write_line(line)
    for path in state.written:
        terminalreporter.write_line(f"gradcheck: report written to {path}")
    for xfail_id in report["unmatched_xfails"]:
        terminalreporter.write_line(
            f"gradcheck: warning: xfail id {xfail_id} ({state.xfails_path}) matched no test",
            yellow=True,
        )
