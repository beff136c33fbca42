"""A suite run's configuration: the --gradcheck-* options (command line > env > ini >
default) and the validated, frozen `RunConfig` the suite reads (its hypothesis profiles:
`gradcheck.profiles`).

Every error here is a one-line `pytest.UsageError` saying what is wrong and how to fix it.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from gradcheck.cases import ALL_DTYPES, Xfails, read_xfails
from gradcheck.profiles import default_profile, example_cap, register_profiles, suite_runs
from gradcheck.results import Results

if TYPE_CHECKING:
    pass

SUITE_DIR = (Path(__file__).parent / "suite").resolve()
SHIPPED_XFAILS = Path(__file__).parent / "xfails"
DEFAULT_DTYPES = ("float64", "float32")
DEFAULT_TIMEOUT = 60.0  # seconds per example: generous, a hang is far longer
DEVICE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(:\d+)?$")

RUN_KEY = pytest.StashKey["RunConfig"]()
RESULTS_KEY = pytest.StashKey[Results]()
REGISTERED_KEY = pytest.StashKey[list]()  # user ops this run registered (and forgets)


@dataclass(frozen=True)
class RunConfig:
    """The validated configuration of a suite run (what to test and where to report)."""

    adapter: Any
    device: str
    dtypes: tuple[str, ...]
    ops: tuple[str, ...]
    ops_chosen: bool  # --gradcheck-ops or --gradcheck-skip-ops narrowed the catalog
    xfails: Xfails
    report_path: Path | None
    repro_dir: Path | None
    precision_flags: dict[str, Any] | None
    timeout: float  # seconds per example; 0 turns the limit off
    profile: str  # the hypothesis profile the suite's tests run under
    example_db: str | None  # --gradcheck-example-db as the header shows it; None: unset
    database: Any  # the ExampleDatabase it names (None for 'none'), used when example_db is set
    max_examples: int | None = None  # the adapter's cap on the profile's examples per test

    def __repr__(self) -> str:  # short: hypothesis prints it in every falsifying example
        adapter = self.adapter
        return f"<gradcheck run: {adapter.name} {adapter.version} on {self.device}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis' printer
        printer.text(repr(self))


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


def _register_user_ops(config: pytest.Config, added: list[str]) -> None:
    """Register the user ops that `pytest_gradcheck_ops` implementations return, adding
    the names of those new to the registry to `added` (the run forgets them at its end)."""
    from gradcheck.ops import OpSpec, register
    from gradcheck.ops.registry import known

    hook = getattr(config.hook, "pytest_gradcheck_ops", None)
    try:
        results = hook(config=config) if hook is not None else []
    except Exception as error:  # the user's hook or their gradcheck.Op(...) arguments
        raise pytest.UsageError(
            f"gradcheck: pytest_gradcheck_ops failed with {type(error).__name__}: {error}"
        ) from None
    for op in [op for result in results for op in (result or ())]:
        if not isinstance(op, OpSpec):
            raise pytest.UsageError(
                f"gradcheck: pytest_gradcheck_ops returned {op!r}; return gradcheck.Op(...)s"
            )
        new = not known(op.name)
        try:
            register(op)
        except ValueError as error:
            raise pytest.UsageError(f"gradcheck: {error}") from None
        added += [op.name] if new else []


def _select_ops(only: str | None, skip: str | None, adapter: Any) -> tuple[str, ...]:
    from gradcheck.ops import CATALOG, user_ops
    from gradcheck.ops.registry import has_op

    catalog = [*CATALOG, *user_ops()]  # user ops after the catalog's
    for value, name in ((only, "ops"), (skip, "skip-ops")):
        problem = _unknown("op", _names(value), catalog, name)
        if problem:
            raise pytest.UsageError(problem)
    chosen = _names(only) or catalog
    lacking = [op for op in _names(only) if not has_op(adapter, op)]
    if lacking:
        raise pytest.UsageError(
            f"gradcheck: adapter {adapter.name!r} does not implement {', '.join(lacking)}; "
            "drop them from --gradcheck-ops or add them to the adapter's ops"
        )
    skipped = set(_names(skip))
    return tuple(op for op in catalog if op in chosen and op not in skipped)


def _timeout(value: str | None) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise pytest.UsageError(
            f"gradcheck: --gradcheck-timeout {value!r} is not a number of seconds; "
            "give e.g. 60, or 0 to turn the limit off"
        )
    return seconds


def _path(config: pytest.Config, name: str) -> Path | None:
    value, base = option(config, name)
    return (base / value).resolve() if value else None


EXAMPLE_DB_FORMS = "a directory path, redis://host:port[/db], or none"


def _example_db(config: pytest.Config) -> tuple[str | None, Any]:
    """--gradcheck-example-db as (what the header shows, the ExampleDatabase); (None, None)
    when unset, ("none", None) for none."""
    value, base = option(config, "example-db")
    if not value:
        return None, None
    if value.lower() == "none":
        return "none", None
    if "://" in value:
        return _redis_db(value)
    flag = f"gradcheck: --gradcheck-example-db {value!r}"
    path = (base / value).resolve()
    if path.exists() and not path.is_dir():
        raise pytest.UsageError(f"{flag} is a file, not a directory; give {EXAMPLE_DB_FORMS}")
    try:  # now, not mid-run: an unusable path is a usage error, not a failing test
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise pytest.UsageError(
            f"{flag}: cannot create the directory ({error.strerror}); give a writable one"
        ) from None
    from hypothesis.database import DirectoryBasedExampleDatabase

    return str(path), DirectoryBasedExampleDatabase(path)


def _redis_db(url: str) -> tuple[str, Any]:
    parts = urlsplit(url)
    # Neither the header nor an error may print a password given in the URL.
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    shown = parts._replace(netloc=netloc).geturl() if parts.password else url
    flag = f"gradcheck: --gradcheck-example-db {shown!r}"
    if parts.scheme not in ("redis", "rediss"):
        raise pytest.UsageError(f"{flag}: unknown scheme {parts.scheme!r}; give {EXAMPLE_DB_FORMS}")
    try:
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase
    except ImportError:
        raise pytest.UsageError(f"{flag} needs the redis package: pip install redis") from None
    try:
        # A default connect timeout (the URL's own wins): an unreachable host must not
        # hold the run for the system's TCP timeout.
        client = redis.Redis.from_url(url, socket_connect_timeout=10)
        client.ping()  # fail here, once, rather than in every test that saves an example
    except (ValueError, redis.RedisError) as error:
        raise pytest.UsageError(
            f"{flag}: cannot use the redis server ({error}); check the URL and the server"
        ) from None
    return shown, RedisExampleDatabase(client)


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


def activate(config: pytest.Config) -> RunConfig:
    """Validate the options, load the adapter, register the user ops (once per run)."""
    if RUN_KEY in config.stash:
        return config.stash[RUN_KEY]
    try:
        return _activate(config)
    except BaseException:
        deactivate(config)  # a run stopped by a usage error forgets its user ops
        raise


def _activate(config: pytest.Config) -> RunConfig:
    adapter_spec, _ = option(config, "adapter")
    adapter = _load_adapter(adapter_spec or "reference")
    _register_user_ops(config, config.stash.setdefault(REGISTERED_KEY, []))
    only, skip = option(config, "ops")[0], option(config, "skip-ops")[0]
    xfails_path = _path(config, "xfails-file")
    example_db, database = _example_db(config)
    explicit_profile = config.getoption("hypothesis_profile", None)
    if xfails_path is None and (SHIPPED_XFAILS / f"{adapter.name}.txt").is_file():
        xfails_path = SHIPPED_XFAILS / f"{adapter.name}.txt"
    run = RunConfig(
        adapter=adapter,
        device=_check_device(option(config, "device")[0] or "cpu", adapter),
        dtypes=_check_dtypes(option(config, "dtypes")[0], adapter),
        ops=_select_ops(only, skip, adapter),
        ops_chosen=bool(only or skip),
        xfails=read_xfails(xfails_path) if xfails_path else Xfails(),
        report_path=_path(config, "report"),
        repro_dir=_path(config, "repro-dir"),
        precision_flags=_prepare(adapter),
        timeout=_timeout(option(config, "timeout")[0]),
        profile=explicit_profile or default_profile(),
        example_db=example_db,
        database=database,
        max_examples=example_cap(adapter.max_examples, explicit_profile),
    )
    register_profiles()
    suite_runs.append(run)
    config.stash[RUN_KEY] = run
    config.stash[RESULTS_KEY] = Results()
    return run


def deactivate(config: pytest.Config) -> None:
    """Forget the run's profile and user ops (inline pytest runs share this process), and
    let the adapter undo what its `prepare()` set (`restore()`)."""
    if RUN_KEY in config.stash and suite_runs:
        suite_runs.pop()
        _restore(config.stash[RUN_KEY].adapter)
    if REGISTERED_KEY in config.stash:
        from gradcheck.ops import unregister

        for name in config.stash[REGISTERED_KEY]:
            unregister(name)
        del config.stash[REGISTERED_KEY]


def _restore(adapter: Any) -> None:
    try:
        adapter.restore()
    except Exception as error:  # adapter code: say so, never break pytest's exit
        import warnings

        warnings.warn(
            f"gradcheck: adapter {adapter.name!r} failed to restore its settings: "
            f"{type(error).__name__}: {error}",
            stacklevel=1,
        )


def get_run(config: pytest.Config) -> RunConfig:
    """The run's configuration; activates now if the suite is collected without being
    targeted (``pytest .`` in a checkout), stopping cleanly on a usage error."""
    try:
        return activate(config)
    except pytest.UsageError as error:  # too late for a usage error: stop cleanly
        pytest.exit(str(error), returncode=pytest.ExitCode.USAGE_ERROR)
