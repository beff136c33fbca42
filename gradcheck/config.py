"""A suite run's configuration: options (command line > env > ini > default), the
hypothesis profiles, and the validated `State` the suite's tests read.

Every error here is a one-line `pytest.UsageError` saying what is wrong and how to fix it.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gradcheck.report import ALL_DTYPES, Case, Result, message_of, outcome_of, read_xfails

SUITE_DIR = (Path(__file__).parent / "suite").resolve()
SHIPPED_XFAILS = Path(__file__).parent / "xfails"
DEFAULT_DTYPES = ("float64", "float32")
DEVICE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(:\d+)?$")

# (option name, help text stating the default)
OPTIONS = (
    ("adapter", "engine adapter to test: a registered name or 'module:attr' (default: reference)"),
    ("device", "device to run on, e.g. cpu, cuda, cuda:1 (default: cpu)"),
    ("dtypes", "comma list of dtypes (default: float64,float32, those the adapter supports)"),
    ("ops", "comma list of catalog ops to check (default: all)"),
    ("skip-ops", "comma list of catalog ops not to check (default: none)"),
    (
        "xfails-file",
        "file of expected-failure ids check::op-or-family::dtype::device, one per line "
        "(default: gradcheck/xfails/<adapter>.txt if shipped)",
    ),
    ("report", "write the results matrix as JSON to PATH, and Markdown beside it (default: off)"),
    ("repro-dir", "write each failure's repro script into DIR as a .py file (default: off)"),
)

PROFILES: dict[str, dict[str, Any]] = {
    "gradcheck-dev": {"max_examples": 20},
    "gradcheck-ci": {"max_examples": 50, "derandomize": True, "database": None},
    "gradcheck-thorough": {"max_examples": 1000},
    # Seconds, not minutes: is the adapter wired up at all?
    "gradcheck-smoke": {"max_examples": 3, "derandomize": True, "database": None},
}

STATE_KEY = pytest.StashKey["State"]()


@dataclass
class State:
    """The validated configuration of a suite run, and what it collected."""

    adapter: Any
    device: str
    dtypes: tuple[str, ...]
    ops: tuple[str, ...]
    ops_chosen: bool  # --gradcheck-ops or --gradcheck-skip-ops narrowed the catalog
    xfails: dict[str, str]
    xfails_path: Path | None
    report_path: Path | None
    repro_dir: Path | None
    precision_flags: dict[str, Any] | None
    previous_profile: str | None = None
    matched_xfails: set[str] = field(default_factory=set)
    results: dict[str, Result] = field(default_factory=dict)
    inconclusive: dict[str, int] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)

    def __repr__(self) -> str:  # short: hypothesis prints it in every falsifying example
        adapter = self.adapter
        return f"<gradcheck run: {adapter.name} {adapter.version} on {self.device}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis' printer
        printer.text(repr(self))

    def record(self, case: Case, report: pytest.TestReport) -> None:
        """Fold one phase's report (setup, call, teardown) into the case's result."""
        outcome = outcome_of(report)
        result = self.results.get(report.nodeid)
        if result is None:
            result = self.results[report.nodeid] = Result(case, report.nodeid, "passed")
        result.merge(outcome, message_of(report, outcome))
        result.inconclusive = self.inconclusive.get(case.id, 0)


def option(config: pytest.Config, name: str) -> tuple[str | None, Path]:
    """The value of option `name` (command line > env > ini) and the directory that a
    relative path in it is relative to; None when unset."""
    key = name.replace("-", "_")
    value = config.getoption(f"gradcheck_{key}")
    if value is None:
        value = os.environ.get(f"GRADCHECK_{key.upper()}") or None
    if value is not None:
        return value.strip(), config.invocation_params.dir
    ini_value = str(config.getini(f"gradcheck_{key}") or "").strip()
    base = config.inipath.parent if config.inipath else config.rootpath
    return ini_value or None, base


# -- hypothesis profiles -------------------------------------------------------------------


def register_profiles() -> None:
    """Register the gradcheck-* hypothesis profiles (deadline off in all)."""
    from hypothesis import HealthCheck, settings

    for name, values in PROFILES.items():
        settings.register_profile(
            name,
            deadline=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            **values,
        )


def default_profile() -> str:
    return "gradcheck-ci" if os.environ.get("CI") else "gradcheck-dev"


def current_profile() -> str:
    from hypothesis import settings

    return settings.get_current_profile_name()


def load_default_profile(config: pytest.Config) -> str | None:
    """Load gradcheck-ci (CI set) or gradcheck-dev unless --hypothesis-profile was given;
    returns the profile that was current before, for restoring it."""
    from hypothesis import settings

    register_profiles()
    previous = settings.get_current_profile_name()
    if not config.getoption("hypothesis_profile", None):
        settings.load_profile(default_profile())
    return previous


# -- configuration -------------------------------------------------------------------------


def _names(value: str | None) -> list[str]:
    return [n.strip() for n in (value or "").split(",") if n.strip()]


def _unknown(kind: str, names: list[str], known: list[str], option_name: str) -> str | None:
    bad = [n for n in names if n not in known]
    if not bad:
        return None
    hints = []
    for name in bad:
        close = difflib.get_close_matches(name, known, n=3)
        hints.append(f"{name!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
    return f"gradcheck: unknown {kind} {', '.join(hints)} in --gradcheck-{option_name}"


def _load_adapter(spec: str) -> Any:
    from gradcheck.adapters import AdapterError, load_adapter

    try:
        return load_adapter(spec)
    except AdapterError as error:
        raise pytest.UsageError(f"gradcheck: {error}") from None
    except Exception as error:  # a broken adapter module can raise anything
        raise pytest.UsageError(
            f"gradcheck: loading adapter {spec!r} failed with {type(error).__name__}: {error}"
        ) from None


def _check_device(device: str, adapter: Any) -> str:
    available = [str(d) for d in adapter.devices]
    if device in available or (DEVICE_PATTERN.match(device) and device.split(":")[0] in available):
        return device
    reason = "is not a device name" if not DEVICE_PATTERN.match(device) else "is not available"
    raise pytest.UsageError(
        f"gradcheck: device {device!r} {reason} for adapter {adapter.name!r}; "
        f"use --gradcheck-device with one of: {', '.join(available)}"
    )


def _check_dtypes(value: str | None, adapter: Any) -> tuple[str, ...]:
    supported = [d for d in ALL_DTYPES if d in adapter.dtypes]
    if value is None:
        return tuple(d for d in DEFAULT_DTYPES if d in supported)
    names = _names(value)
    problem = _unknown("dtype", names, list(ALL_DTYPES), "dtypes")
    if problem:
        raise pytest.UsageError(problem)
    lacking = [d for d in names if d not in supported]
    if lacking or not names:
        raise pytest.UsageError(
            f"gradcheck: adapter {adapter.name!r} does not support dtype "
            f"{', '.join(lacking) or '(none given)'}; it supports: {', '.join(supported)}"
        )
    return tuple(dict.fromkeys(names))


def _select_ops(only: str | None, skip: str | None, adapter: Any) -> tuple[str, ...]:
    from gradcheck.ops import CATALOG

    catalog = list(CATALOG)
    for value, name in ((only, "ops"), (skip, "skip-ops")):
        problem = _unknown("op", _names(value), catalog, name)
        if problem:
            raise pytest.UsageError(problem)
    chosen = _names(only) or catalog
    lacking = [op for op in _names(only) if op not in adapter.ops]
    if lacking:
        raise pytest.UsageError(
            f"gradcheck: adapter {adapter.name!r} does not implement {', '.join(lacking)}; "
            "drop them from --gradcheck-ops or add them to the adapter's ops"
        )
    skipped = set(_names(skip))
    return tuple(op for op in catalog if op in chosen and op not in skipped)


def _path(config: pytest.Config, name: str) -> Path | None:
    value, base = option(config, name)
    return (base / value).resolve() if value else None


def _prepare(adapter: Any) -> dict[str, Any] | None:
    """Let the adapter set its documented precision defaults; return its flags."""
    try:
        flags = adapter.prepare()
    except Exception as error:  # adapter code under test
        raise pytest.UsageError(
            f"gradcheck: adapter {adapter.name!r} failed to prepare: "
            f"{type(error).__name__}: {error}"
        ) from None
    return dict(flags) if flags else None


def activate(config: pytest.Config) -> State:
    """Validate the options, load the adapter and the hypothesis profile (once)."""
    if STATE_KEY in config.stash:
        return config.stash[STATE_KEY]
    adapter_spec, _ = option(config, "adapter")
    adapter = _load_adapter(adapter_spec or "reference")
    device = _check_device(option(config, "device")[0] or "cpu", adapter)
    dtypes = _check_dtypes(option(config, "dtypes")[0], adapter)
    only, skip = option(config, "ops")[0], option(config, "skip-ops")[0]
    ops = _select_ops(only, skip, adapter)
    xfails_path = _path(config, "xfails-file")
    if xfails_path is None and (SHIPPED_XFAILS / f"{adapter.name}.txt").is_file():
        xfails_path = SHIPPED_XFAILS / f"{adapter.name}.txt"
    state = State(
        adapter=adapter,
        device=device,
        dtypes=dtypes,
        ops=ops,
        ops_chosen=bool(only or skip),
        xfails=read_xfails(xfails_path) if xfails_path else {},
        xfails_path=xfails_path,
        report_path=_path(config, "report"),
        repro_dir=_path(config, "repro-dir"),
        precision_flags=_prepare(adapter),
    )
    state.previous_profile = load_default_profile(config)
    config.stash[STATE_KEY] = state
    return state


def get_state(config: pytest.Config) -> State:
    """The run's State; activates now if the suite is collected without being targeted
    (``pytest .`` in a checkout)."""
    try:
        return activate(config)
    except pytest.UsageError as error:  # too late for a usage error: stop cleanly
        pytest.exit(str(error), returncode=pytest.ExitCode.USAGE_ERROR)
