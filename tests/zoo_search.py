"""The search the family bug-zoo tests share (tests/core/test_zoo_*.py): one-op graphs of
an op as the suite's default profile draws them (20 derandomized examples), through one
check on one adapter, counting the conclusive examples and keeping the failures; graphs
the check does not apply to are drawn again."""

from __future__ import annotations

import warnings
from typing import Any

from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis.errors import HypothesisWarning

from gradcheck.checks import run_check
from gradcheck.errors import GradcheckFailure, Inconclusive, Unsupported
from gradcheck.strategies import graphs

DEFAULT = settings(
    max_examples=20, derandomize=True, database=None, deadline=None,
    suppress_health_check=list(HealthCheck), print_blob=False, report_multiple_bugs=False,
    phases=[Phase.explicit, Phase.generate],  # finding is the point here, not shrinking
)  # fmt: skip


def search(check: str, adapter: Any, op: str, n: int = 20) -> tuple[int, list[GradcheckFailure]]:
    """(conclusive examples, failures) of `check` over `n` one-op graphs of `op`."""
    failures: list[GradcheckFailure] = []
    conclusive = [0]

    @settings(DEFAULT, max_examples=n)
    @given(graphs(ops=[op], max_nodes=1))
    def probe(graph):
        try:
            run_check(check, graph, adapter)
            conclusive[0] += 1
        except Inconclusive:
            return
        except Unsupported:  # a graph the check cannot run (inplace: no node in place)
            reject()
        except GradcheckFailure as failure:
            failures.append(failure)
            raise

    with warnings.catch_warnings():
        # The failure is kept above; hypothesis's report of the failing example, a repr of
        # large leaves, is not read, and warns when it passes 30,000 characters.
        warnings.filterwarnings("ignore", "Generating overly large repr", HypothesisWarning)
        try:
            probe()
        except GradcheckFailure:
            pass
    return conclusive[0], failures
