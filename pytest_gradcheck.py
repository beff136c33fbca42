"""gradcheck's pytest entry point (pytest11): the --gradcheck-* options, and nothing heavy.

pytest loads this module in every run where gradcheck is installed, so it imports neither
the gradcheck package nor numpy nor hypothesis. The suite's machinery
(`gradcheck.plugin`) is loaded only when a run uses it: ``--pyargs gradcheck.suite`` or
a path inside the suite, a ``--gradcheck-*`` option on the command line, or the suite's
tests collected by ``pytest .`` in a checkout. Other runs, including projects with a
``gradcheck.py`` of their own, are untouched.

Every option also reads ``GRADCHECK_<NAME>`` and the ini key ``gradcheck_<name>``;
precedence: command line > environment > ini file > default.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

import pytest

# (option name, help text stating the default)
OPTIONS = (
    ("adapter", "engine adapter to test: a registered name or 'module:attr' (default: reference)"),
    ("device", "device to run on, e.g. cpu, cuda, cuda:1 (default: cpu)"),
    ("dtypes", "comma list of dtypes (default: float64,float32, those the adapter supports)"),
    ("ops", "comma list of ops to check, catalog or user ops (default: all)"),
    ("skip-ops", "comma list of ops not to check (default: none)"),
    (
        "xfails-file",
        "file of expected-failure ids check::op-or-family::dtype::device, one per line, "
        "* wildcards allowed (default: gradcheck/xfails/<adapter>.txt if shipped)",
    ),
    ("report", "write the results matrix as JSON to PATH, and Markdown beside it (default: off)"),
    ("repro-dir", "write each failure's repro script into DIR as a .py file (default: off)"),
    ("timeout", "seconds one example may run before it fails as a hang (default: 60)"),
    (
        "example-db",
        "hypothesis example database for the suite's tests: a directory, "
        "redis://host:port[/db], or none (default: the hypothesis profile's own)",
    ),
)
PLUGIN_NAME = "gradcheck-suite"


class Hooks:
    """The hook gradcheck adds; implement it in a conftest.py or a plugin."""

    @pytest.hookspec
    def pytest_gradcheck_ops(self, config: pytest.Config) -> list:
        """Return a list of user ops (`gradcheck.Op(...)`) for the suite to check, each
        alone and composed with catalog ops. Called once when the suite activates, so
        implement it where pytest loads it first: the conftest.py of the directory pytest
        runs in, or a plugin (docs/testing-your-own-ops.md)."""
        raise NotImplementedError


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(Hooks)


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


@functools.cache
def suite_dir() -> Path | None:
    """Where the suite's tests live, found without importing the gradcheck package."""
    spec = importlib.util.find_spec("gradcheck")
    if spec is None or not spec.submodule_search_locations:  # absent, or someone's module
        return None
    return (Path(next(iter(spec.submodule_search_locations))) / "suite").resolve()


def in_suite(path: Path) -> bool:
    suite = suite_dir()
    path = Path(path).resolve()
    return suite is not None and (path == suite or suite in path.parents)


def _targets_suite(config: pytest.Config) -> bool:
    for arg in config.args:
        target = arg.split("::")[0]
        if config.option.pyargs and re.fullmatch(r"gradcheck\.suite(\..+)?", target):
            return True
        if in_suite(config.invocation_params.dir / target):
            return True
    return False


def _option_given(config: pytest.Config) -> bool:
    return any(config.getoption(f"gradcheck_{n.replace('-', '_')}") for n, _ in OPTIONS)


def _activate(config: pytest.Config) -> None:
    """Load the suite's plugin and validate the run's options (once)."""
    from gradcheck.config import activate
    from gradcheck.plugin import SuitePlugin

    activate(config)  # first: a usage error leaves no plugin behind
    if not config.pluginmanager.has_plugin(PLUGIN_NAME):
        config.pluginmanager.register(SuitePlugin(config), PLUGIN_NAME)


@pytest.hookimpl(tryfirst=True)  # before hypothesis loads a --hypothesis-profile=gradcheck-*
def pytest_configure(config: pytest.Config) -> None:
    if str(config.getoption("hypothesis_profile", None) or "").startswith("gradcheck-"):
        from gradcheck.profiles import register_profiles

        register_profiles()
    if _targets_suite(config) or _option_given(config):
        _activate(config)


def pytest_collectstart(collector: pytest.Collector) -> None:
    # `pytest .` in a checkout collects the suite without naming it: activate then. Here,
    # outside any test or collector, pytest.exit stops the run without a traceback.
    config = collector.config
    if not config.pluginmanager.has_plugin(PLUGIN_NAME) and in_suite(collector.path):
        try:
            _activate(config)
        except pytest.UsageError as error:
            pytest.exit(str(error), returncode=pytest.ExitCode.USAGE_ERROR)
