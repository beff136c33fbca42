"""Values and gradients exactly at kinks and ties (relu at 0, max ties, clamp bounds),
one test per kinked op. Ids: ``test_conventions[relu]``; xfail id
``conventions::relu::any::cpu``.
"""

from __future__ import annotations

import pytest

from gradcheck.cases import NO_DTYPE, Case
from gradcheck.conventions import CONVENTION_CASES, run_conventions
from gradcheck.suite.support import parametrize, require_ops, run_case, suite_run


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    run = suite_run(metafunc)
    kinked = [op for op in run.ops if op in CONVENTION_CASES]
    cases = [Case("conventions", op, NO_DTYPE, run.device) for op in kinked]
    parametrize(metafunc, cases, lambda case: case.subject)


def test_conventions(gradcheck_case, gradcheck_run):
    case, adapter = gradcheck_case, gradcheck_run.adapter
    require_ops(gradcheck_run, [case.subject])
    run_case(
        gradcheck_run, case, lambda: run_conventions(case.subject, adapter, device=case.device)
    )
