"""Single-op property tests: every graph check on one-op graphs, per (check, op, dtype).

Ids: ``test_op[vjp-tanh-float32]``; xfail id ``vjp::tanh::float32::cpu``.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcheck.checks import run_check
from gradcheck.strategies import graphs
from gradcheck.suite.support import graph_cases, parametrize, require_ops, run_case, suite_state


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    state = suite_state(metafunc)
    cases = graph_cases(state, state.ops)
    parametrize(metafunc, cases, lambda case: case.param_id)


@given(data=st.data())
def test_op(gradcheck_case, gradcheck_state, data):
    case, adapter = gradcheck_case, gradcheck_state.adapter
    require_ops(gradcheck_state, [case.subject])
    graph = data.draw(graphs(ops=[case.subject], max_nodes=1), label="graph")
    run_case(
        gradcheck_state,
        case,
        lambda: run_check(case.check, graph, adapter, dtype=case.dtype, device=case.device),
    )
