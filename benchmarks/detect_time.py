"""Time to detect each planted bug of the bug zoo: the median over seeds of the seconds a
random search (the suite's one-op graphs, no shrinking) runs before the check that names
the bug fails, and on how many seeds it fails within the example budget.

    PYTHONPATH=. python benchmarks/detect_time.py [--seeds 10] [--budget 1000]

Prints a Markdown table: bug, op, check, seeds caught, median seconds and examples.
"""

from __future__ import annotations

import argparse
import statistics
import time

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from gradcheck.checks import run_check
from gradcheck.errors import GradcheckFailure, Inconclusive, Unsupported
from gradcheck.strategies import graphs
from tests import bug_zoo

GRAPH_CHECKS = ("forward", "vjp", "finite_difference", "adjoint", "higher_order", "invariants")


def detect(bug_name: str, seed: int, budget: int) -> tuple[bool, float, int]:
    bug = bug_zoo.BROKEN_PRIMITIVES[bug_name]
    adapter = getattr(bug_zoo, bug_name)
    examples = 0

    @settings(max_examples=budget, derandomize=False, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
    @hypothesis_seed(seed)
    @given(graphs(ops=[bug.op], max_nodes=1))
    def search(graph):
        nonlocal examples
        examples += 1
        try:
            run_check(bug.caught_by, graph, adapter)
        except (Inconclusive, Unsupported):
            pass

    start = time.perf_counter()
    try:
        search()
    except GradcheckFailure:
        return True, time.perf_counter() - start, examples
    return False, time.perf_counter() - start, examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=1000, help="examples per search")
    args = parser.parse_args()
    print(f"median over {args.seeds} seeds; budget {args.budget} examples per search")
    print("| bug | op | check | caught | median s | median examples |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, bug in bug_zoo.BROKEN_PRIMITIVES.items():
        if bug.caught_by not in GRAPH_CHECKS:
            continue  # analytic and conventions bugs are caught by fixed cases, not search
        runs = [detect(name, seed, args.budget) for seed in range(args.seeds)]
        caught = [r for r in runs if r[0]]
        seconds = statistics.median(r[1] for r in caught) if caught else float("nan")
        examples = statistics.median(r[2] for r in caught) if caught else float("nan")
        print(f"| {name} | {bug.op} | {bug.caught_by} | {len(caught)}/{len(runs)} "
              f"| {seconds:.2f} | {examples:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
