"""Imperative autograd behaviour (retain_grad, accumulation, no_grad, detach, ...), one
test per behaviour; skipped unless the adapter declares capability "imperative".
Ids: ``test_semantics[retain_grad]``; xfail id ``semantics::retain_grad::any::cpu``.
"""

from __future__ import annotations

import pytest

from gradcheck.cases import NO_DTYPE, Case
from gradcheck.semantics import SEMANTICS_CASES, run_semantics
from gradcheck.suite.support import parametrize, run_case, suite_run


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    run = suite_run(metafunc)
    cases = [Case("semantics", name, NO_DTYPE, run.device) for name in SEMANTICS_CASES]
    parametrize(metafunc, cases, lambda case: case.subject)


def test_semantics(gradcheck_case, gradcheck_run):
    case, adapter = gradcheck_case, gradcheck_run.adapter
    if "imperative" not in adapter.capabilities:
        pytest.skip(f"adapter {adapter.name!r} does not declare capability 'imperative'")
    run_case(gradcheck_run, case, lambda: run_semantics(case.subject, adapter, device=case.device))
