"""Closed-form gradients (d(x^3) = 3x^2, the seed's a.grad = 6 b a^2, ...), per
(closed form, dtype). Ids: ``test_analytic[seed_cube-float32]``; xfail id
``analytic::seed_cube::float32::cpu``.
"""

from __future__ import annotations

import pytest

from gradcheck.analytic import CLOSED_FORMS, run_analytic
from gradcheck.cases import Case
from gradcheck.suite.support import parametrize, run_case, suite_run


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    run = suite_run(metafunc)
    # Honour --gradcheck-ops: a closed form runs when every op it uses is selected.
    names = [n for n, form in CLOSED_FORMS.items() if set(form.ops) <= set(run.ops)]
    cases = [Case("analytic", name, dtype, run.device) for name in names for dtype in run.dtypes]
    parametrize(metafunc, cases, lambda case: f"{case.subject}-{case.dtype}")


def test_analytic(gradcheck_case, gradcheck_run):
    case, adapter = gradcheck_case, gradcheck_run.adapter
    run_case(
        gradcheck_run,
        case,
        lambda: run_analytic(case.subject, adapter, dtype=case.dtype, device=case.device),
    )
