"""Process start-up to the first test of the suite: the wall time of a suite run of one
quick test, minus that test's own duration (from the JSON report), median of N runs, for
this checkout and optionally a baseline checkout (run alternately).

    python benchmarks/startup.py [--adapter torch] [--runs 5] [--baseline /other/checkout]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUICK = ["--ops", "exp", "--profile", "gradcheck-smoke"]
ONE_TEST = "test_semantics and retain_grad"


def startup(checkout: Path, python: str, adapter: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "r.json"
        command = [python, "-m", "gradcheck", "--adapter", adapter, *QUICK, "--report",
                   str(report), "--", "-q", "-p", "no:cacheprovider", "-k", ONE_TEST]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        start = time.perf_counter()
        subprocess.run(command, cwd=checkout, env=env, capture_output=True, check=True)
        wall = time.perf_counter() - start
        tests = json.loads(report.read_text())["results"]
        return wall - sum(row.get("duration", 0.0) for row in tests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--adapter", default="torch")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument(
        "--baseline-python", help="the baseline's interpreter (its own install; default --python)"
    )
    args = parser.parse_args()
    checkouts = {"this": Path(__file__).resolve().parents[1]}
    if args.baseline:
        checkouts["baseline"] = args.baseline.resolve()
    times: dict[str, list[float]] = {name: [] for name in checkouts}
    for _ in range(args.runs):
        for name, checkout in checkouts.items():
            python = (
                args.baseline_python if name == "baseline" and args.baseline_python else args.python
            )
            times[name].append(startup(checkout, python, args.adapter))
    for name, values in times.items():
        print(f"{name}: start-up to first test {statistics.median(values):.2f} s "
              f"(median of {args.runs}; min {min(values):.2f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
