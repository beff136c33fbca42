"""Values and gradients exactly at kinks and ties (relu at 0, max ties, clamp bounds),
one test per kinked op. Ids: ``test_conventions[relu]``; xfail id
``conventions::relu::any::cpu``.
"""

from __future__ import annotations

import pytest

from gradcheck.conventions import CONVENTION_CASES, run_conventions
from gradcheck.report import NO_DTYPE, Case
from gradcheck.suite.support import parametrize, require_ops, run_case, suite_state


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    state = suite_state(metafunc)
    kinked = [op for op in state.ops if op in CONVENTION_CASES]
    cases = [Case("conventions", op, NO_DTYPE, state.device) for op in kinked]
    parametrize(metafunc, cases, lambda case: case.subject)


def test_conventions(gradcheck_case, gradcheck_state):
    case, adapter = gradcheck_case, gradcheck_state.adapter
    require_ops(gradcheck_state, [case.subject])
    run_case(
        gradcheck_state, case, lambda: run_conventions(case.subject, adapter, device=case.device)
    )
