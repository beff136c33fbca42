"""Whether two suite reports (`python -m gradcheck --report`) have the same results: per
test, the outcome, the number of examples and of inconclusive ones. For "the CI profile
runs twice with identical results", e.g. one process against `--workers 2`:

    python benchmarks/same_results.py a.json b.json

Prints the tests that differ (or that only one report has) and exits 1 if any do.
"""

from __future__ import annotations

import json
import sys

FIELDS = ("outcome", "examples", "inconclusive", "inconclusive_reasons")


def results(path: str) -> dict[str, tuple]:
    with open(path) as file:
        rows = json.load(file)["results"]
    return {row["nodeid"]: tuple(json.dumps(row.get(f), sort_keys=True) for f in FIELDS)
            for row in rows}  # fmt: skip


def main() -> int:
    first, second = (results(path) for path in sys.argv[1:3])
    differ = sorted(n for n in first.keys() | second.keys() if first.get(n) != second.get(n))
    for nodeid in differ:
        print(f"{nodeid}: {first.get(nodeid)} vs {second.get(nodeid)}")
    examples = sum(json.loads(v[1]) or 0 for v in first.values())
    inconclusive = sum(json.loads(v[2]) or 0 for v in first.values())
    print(f"{len(first)} and {len(second)} tests; {examples} examples, {inconclusive} "
          f"inconclusive in the first; {len(differ)} differ")  # fmt: skip
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
