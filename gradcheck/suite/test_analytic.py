"""Closed-form gradients (d(x^3) = 3x^2, the seed's a.grad = 6 b a^2, ...), per
(closed form, dtype). Ids: ``test_analytic[seed_cube-float32]``; xfail id
``analytic::seed_cube::float32::cpu``.
"""

from __future__ import annotations

import pytest

from gradcheck.analytic import CLOSED_FORMS, run_analytic
from gradcheck.report import Case
from gradcheck.suite.support import parametrize, run_case, suite_state


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    state = suite_state(metafunc)
    # Honour --gradcheck-ops: a closed form runs when every op it uses is selected.
    names = [n for n, form in CLOSED_FORMS.items() if set(form.ops) <= set(state.ops)]
    cases = [
        Case("analytic", name, dtype, state.device) for name in names for dtype in state.dtypes
    ]
    parametrize(metafunc, cases, lambda case: f"{case.subject}-{case.dtype}")


def test_analytic(gradcheck_case, gradcheck_state):
    case, adapter = gradcheck_case, gradcheck_state.adapter
    run_case(
        gradcheck_state,
        case,
        lambda: run_analytic(case.subject, adapter, dtype=case.dtype, device=case.device),
    )
