"""``python -m gradcheck``: run the conformance suite against an adapter.

    python -m gradcheck --adapter torch --device cpu --dtypes float64 -- -x -q

Runs ``pytest --pyargs gradcheck.suite`` with the matching ``--gradcheck-*`` options
(anything after ``--`` goes to pytest unchanged); pytest prints the results matrix;
the exit code is pytest's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from gradcheck.config import SUITE_DIR

CACHE = Path.cwd() / ".pytest_cache"

# CLI flag -> pytest option; each help text matches the pytest option's.
FLAGS = {
    "adapter": "engine adapter: a registered name or 'module:attr' (default: reference)",
    "device": "device to run on, e.g. cpu, cuda (default: cpu)",
    "dtypes": "comma list of dtypes (default: float64,float32, those the adapter supports)",
    "ops": "comma list of ops to check, catalog or user ops (default: all)",
    "skip-ops": "comma list of ops not to check (default: none)",
    "xfails-file": "expected-failure ids, one per line (default: the adapter's shipped file)",
    "report": "write the matrix as JSON to PATH and Markdown beside it (default: off)",
    "repro-dir": "write each failure's repro script into DIR (default: off)",
    "timeout": "seconds one example may run before it fails as a hang (default: 60)",
    "example-db": "hypothesis example database: a directory, redis://host:port[/db], or none "
    "(default: the hypothesis profile's own)",
}

METAVARS = {
    "report": "PATH",
    "repro-dir": "DIR",
    "xfails-file": "FILE",
    "skip-ops": "OPS",
    "timeout": "SECONDS",
    "example-db": "DB",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gradcheck",
        description="Run the gradcheck conformance suite (pytest --pyargs gradcheck.suite) "
        "against an autograd engine adapter and print the results matrix.",
        epilog="Arguments after '--' go to pytest, e.g. -- -x -q -k vjp. "
        "Options left out fall back to GRADCHECK_* environment variables, then to ini keys.",
    )
    for flag, help_text in FLAGS.items():
        parser.add_argument(f"--{flag}", help=help_text, metavar=METAVARS.get(flag, flag.upper()))
    parser.add_argument(
        "--profile",
        help="hypothesis profile: gradcheck-dev, gradcheck-ci, gradcheck-thorough or "
        "gradcheck-smoke (default: gradcheck-ci if CI is set, else gradcheck-dev)",
    )
    parser.add_argument(
        "--workers",
        metavar="N",
        help="run on N processes, or 'auto' for one per core (pytest-xdist's -n; the report "
        "and matrix are merged; default: one process)",
    )
    return parser


def pytest_args(argv: Sequence[str]) -> list[str]:
    """The pytest command line for `argv` (our flags, then `--`, then pytest's)."""
    argv = list(argv)
    split = argv.index("--") if "--" in argv else len(argv)
    ours, extra = argv[:split], argv[split + 1 :]
    options = build_parser().parse_args(ours)
    # rootdir = the suite, so test ids read test_ops.py::test_op[...]; cache stays in cwd.
    args = ["--pyargs", "gradcheck.suite", f"--rootdir={SUITE_DIR}", f"-ocache_dir={CACHE}"]
    # `python -m gradcheck` has imported the plugin before pytest starts: nothing of it
    # needs assertion rewriting, so pytest's warning about that is noise.
    args.append("-Wignore::pytest.PytestAssertRewriteWarning")
    for flag in FLAGS:
        value = getattr(options, flag.replace("-", "_"))
        if value is not None:
            args.append(f"--gradcheck-{flag}={value}")
    if options.profile:
        args.append(f"--hypothesis-profile={options.profile}")
    if options.workers is not None:
        args += _workers(options.workers)
    return args + extra


def _workers(value: str) -> list[str]:
    if value != "auto" and not (value.isdigit() and int(value) > 0):
        raise SystemExit(f"python -m gradcheck: --workers {value!r}: give a count or 'auto'")
    try:
        import xdist  # noqa: F401
    except ImportError:
        raise SystemExit(
            "python -m gradcheck: --workers needs pytest-xdist: pip install pytest-xdist"
        ) from None
    return ["-n", value]


def main(argv: Sequence[str] | None = None) -> int:
    return int(pytest.main(pytest_args(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    sys.exit(main())
