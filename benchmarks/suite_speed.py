"""Suite wall time and examples per second per check, against an adapter at a profile,
optionally side by side with another checkout (two checkouts run alternately, since a
shared machine's speed drifts).

    python benchmarks/suite_speed.py --adapter torch --profile gradcheck-ci --runs 2 \
        [--workers 2] [--ops exp,add,...] [--keyword 'not batched'] \
        [--baseline /path/to/other/checkout] [--python ...] [--keep DIR]

Each run is `python -m gradcheck ... --report` in a fresh process; the table gives each
checkout's median wall time and, from the JSON report, examples per second per check.
A baseline checkout older than the per-test durations in the report gets wall time only.
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
from collections import defaultdict
from pathlib import Path


def run_once(
    checkout: Path, python: str, args: argparse.Namespace, keep: Path | None = None
) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        report = keep or Path(tmp) / "r.json"
        command = [python, "-m", "gradcheck", "--adapter", args.adapter, "--profile",
                   args.profile, "--report", str(report)]  # fmt: skip
        if args.ops:
            command += ["--ops", args.ops]
        command += ["--", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
        if args.keyword:
            command += ["-k", args.keyword]
        if args.workers:
            command += ["-n", str(args.workers)]
        env = {**os.environ, "PYTHONPATH": str(checkout), "CI": "true"}
        start = time.perf_counter()
        subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        return wall, json.loads(report.read_text()) if report.exists() else {}


def per_check(report: dict) -> dict[str, tuple[int, float]]:
    totals: dict[str, list] = defaultdict(lambda: [0, 0.0])
    for row in report.get("results", []):
        totals[row["check"]][0] += row.get("examples", 0)
        totals[row["check"]][1] += row.get("duration", 0.0)
    return {check: (n, t) for check, (n, t) in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--adapter", default="torch")
    parser.add_argument("--profile", default="gradcheck-ci")
    parser.add_argument("--ops", default="")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--keyword",
        help="pytest -k expression for every checkout, e.g. the checks a baseline also has "
        "(default: every test)",
    )
    parser.add_argument("--baseline", type=Path, help="another checkout, run alternately")
    parser.add_argument(
        "--keep", type=Path, help="keep each run's JSON report in this directory (default: off)"
    )
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument(
        "--baseline-python", help="the baseline's interpreter (its own install; default --python)"
    )
    args = parser.parse_args()
    checkouts = {"this": Path(__file__).resolve().parents[1]}
    if args.baseline:
        checkouts["baseline"] = args.baseline.resolve()
    walls: dict[str, list[float]] = defaultdict(list)
    reports: dict[str, dict] = {}
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    for run in range(args.runs):
        for name, checkout in checkouts.items():  # alternate: drift hits both alike
            python = (
                args.baseline_python if name == "baseline" and args.baseline_python else args.python
            )
            keep = args.keep / f"{name}-w{args.workers or 1}-{run}.json" if args.keep else None
            wall, report = run_once(checkout, python, args, keep)
            walls[name].append(wall)
            reports[name] = report
    print(f"adapter {args.adapter}, profile {args.profile}, workers {args.workers or 1}, "
          f"ops {args.ops or 'all'}; median of {args.runs} run(s)")  # fmt: skip
    for name, times in walls.items():
        results = reports[name].get("results", [])
        examples = sum(r.get("examples", 0) for r in results)
        print(
            f"- {name}: {statistics.median(times):.1f} s wall, {len(results)} tests, "
            f"{examples} examples"
        )
    report = reports["this"]
    if report:
        print("\n| check | examples | seconds | examples/s |\n| --- | --- | --- | --- |")
        for check, (n, seconds) in sorted(per_check(report).items()):
            rate = f"{n / seconds:.1f}" if seconds else "-"
            print(f"| {check} | {n} | {seconds:.1f} | {rate} |")


if __name__ == "__main__":
    main()
