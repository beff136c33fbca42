"""Random-graph property tests: every graph check on multi-op graphs drawn from one op
family, per (check, family, dtype), so that ops meet the ops they are composed with. A
family of user ops only (gradcheck.Op) is drawn with `COMPANIONS`, catalog ops that user
ops are typically composed with.

Ids: ``test_graph[finite_difference-reduction-float64]``; xfail id
``finite_difference::reduction::float64::cpu``. The batched check, on its share of the
examples (profiles.EXAMPLE_SHARE), is ``test_graph_batched``.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcheck.checks import run_check
from gradcheck.ops import CATALOG, spec_of
from gradcheck.strategies import graphs
from gradcheck.suite.support import (
    assume_applies,
    graph_cases,
    own_cases,
    parametrize,
    run_case,
    suite_run,
    suite_settings,
    usable_ops,
)

COMPANIONS = ("add", "mul", "sum", "exp", "tanh", "reshape", "transpose", "matmul")
# The batched check runs each graph 3 more times and vmaps it: a batching bug lives in one
# op's rule, so shorter graphs (still composed) find it at a fraction of the cost.
MAX_NODES = {"batched": 3}


def family_ops(ops: tuple[str, ...], family: str) -> list[str]:
    members = [op for op in ops if spec_of(op).family == family]
    if any(op in CATALOG for op in members):
        return members
    return members + [op for op in COMPANIONS if op not in members]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    run = suite_run(metafunc)
    families = dict.fromkeys(spec_of(op).family for op in run.ops)
    cases = graph_cases(run, families, lambda family: family_ops(run.ops, family))
    parametrize(metafunc, own_cases(metafunc, cases), lambda case: case.param_id)


@suite_settings()
@given(data=st.data())
def test_graph(gradcheck_case, gradcheck_run, data):
    case, adapter = gradcheck_case, gradcheck_run.adapter
    ops = usable_ops(gradcheck_run, family_ops(gradcheck_run.ops, case.subject), case)
    graph = data.draw(graphs(ops=ops, max_nodes=MAX_NODES.get(case.check, 6)), label="graph")
    assume_applies(case, graph, adapter, ops)
    run_case(
        gradcheck_run,
        case,
        lambda: run_check(case.check, graph, adapter, dtype=case.dtype, device=case.device),
    )


# The same test on the batched check's share of the examples (profiles.EXAMPLE_SHARE).
# It reuses test_graph's own function: test_graph keeps its source, and with it the
# examples a derandomized profile draws (hypothesis seeds them from the test's source).
test_graph_batched = suite_settings("batched")(
    given(data=st.data())(test_graph.hypothesis.inner_test)
)
