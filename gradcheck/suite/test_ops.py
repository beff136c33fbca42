"""Single-op property tests: every graph check on one-op graphs, per (check, op, dtype).

Ids: ``test_op[vjp-tanh-float32]``; xfail id ``vjp::tanh::float32::cpu``. The batched
check, on its share of the examples (profiles.EXAMPLE_SHARE), is ``test_op_batched``.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcheck.checks import run_check
from gradcheck.strategies import graphs
from gradcheck.suite.support import (
    assume_applies,
    graph_cases,
    own_cases,
    parametrize,
    require_ops,
    run_case,
    suite_run,
    suite_settings,
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    run = suite_run(metafunc)
    cases = own_cases(metafunc, graph_cases(run, run.ops))
    parametrize(metafunc, cases, lambda case: case.param_id)


@suite_settings()
@given(data=st.data())
def test_op(gradcheck_case, gradcheck_run, data):
    case, adapter = gradcheck_case, gradcheck_run.adapter
    require_ops(gradcheck_run, [case.subject])
    graph = data.draw(graphs(ops=[case.subject], max_nodes=1), label="graph")
    assume_applies(case, graph, adapter, [case.subject])
    run_case(
        gradcheck_run,
        case,
        lambda: run_check(case.check, graph, adapter, dtype=case.dtype, device=case.device),
    )


# The same test on the batched check's share of the examples (profiles.EXAMPLE_SHARE).
# It reuses test_op's own function: test_op keeps its source, and with it the examples a
# derandomized profile draws (hypothesis seeds them from the test's source).
test_op_batched = suite_settings("batched")(given(data=st.data())(test_op.hypothesis.inner_test))
