"""Cost of each graph oracle relative to `vjp`, on kink-free graphs of 5, 20 and 80 nodes
and on growing tensor sizes (issue: finite_difference and adjoint at most 3x vjp at 80).

    python benchmarks/oracle_cost.py [--adapter torch] [--repeats 7]

Prints a Markdown table of median milliseconds per check and the ratio to vjp. The graphs
are deterministic chains of smooth ops (no kinks: the stencil needs no reference probes).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from gradcheck.adapters import load_adapter
from gradcheck.checks import GRAPH_CHECKS, run_check
from gradcheck.errors import Inconclusive, Unsupported
from gradcheck.graph import Graph, Node

SMOOTH = ("tanh", "sin", "mul", "add", "sigmoid", "sub")


def chain(nodes: int, size: int, seed: int = 0) -> Graph:
    """`nodes` smooth ops over two leaves of `size` elements, each op on recent values."""
    rng = np.random.default_rng(seed)
    leaves = [rng.uniform(-1.5, 1.5, size) for _ in range(2)]
    graph_nodes, n_values = [], 2
    for k in range(nodes):
        op = SMOOTH[k % len(SMOOTH)]
        last = n_values - 1
        inputs = [last] if op in ("tanh", "sin", "sigmoid") else [last, max(0, last - 2)]
        graph_nodes.append(Node(op, inputs))
        n_values += 1
    outputs = [n_values - 1]
    cotangents = [rng.uniform(-1, 1, size)]
    tangents = [rng.uniform(-1, 1, size) for _ in leaves]
    return Graph(leaves, graph_nodes, outputs, cotangents, tangents)


def median_ms(check: str, graph: Graph, adapter, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            run_check(check, graph, adapter)
        except (Inconclusive, Unsupported):
            pass
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--adapter", default="torch")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    adapter = load_adapter(args.adapter)
    adapter.prepare()
    rows = [(n, 4) for n in (5, 20, 80)] + [(20, s) for s in (64, 1024, 16384)]
    print(f"adapter {adapter.name} {adapter.version}; median of {args.repeats}, milliseconds")
    print("| nodes | elements | " + " | ".join(GRAPH_CHECKS) + " | fd / vjp | adjoint / vjp |")
    print("|" + " --- |" * (len(GRAPH_CHECKS) + 4))
    for nodes, size in rows:
        graph = chain(nodes, size)
        cost = {c: median_ms(c, graph, adapter, args.repeats) for c in GRAPH_CHECKS}
        ratios = [cost["finite_difference"] / cost["vjp"], cost["adjoint"] / cost["vjp"]]
        cells = [f"{cost[c]:.1f}" for c in GRAPH_CHECKS] + [f"{r:.2f}x" for r in ratios]
        print(f"| {nodes} | {size} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
