"""Values and gradients exactly at each op's samples (relu at 0, max ties, clamp bounds,
products with zeros), per (op, dtype). Ids: ``test_conventions[relu-float32]``; xfail id
``conventions::relu::float32::cpu``.
"""

from __future__ import annotations

import pytest

from gradcheck.cases import Case
from gradcheck.conventions import run_conventions
from gradcheck.ops import spec_of
from gradcheck.suite.support import parametrize, require_ops, run_case, suite_run


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    run = suite_run(metafunc)
    sampled = [op for op in run.ops if spec_of(op).samples]
    cases = [Case("conventions", op, dtype, run.device) for op in sampled for dtype in run.dtypes]
    parametrize(metafunc, cases, lambda case: case.param_id.removeprefix("conventions-"))


def test_conventions(gradcheck_case, gradcheck_run):
    case, adapter = gradcheck_case, gradcheck_run.adapter
    require_ops(gradcheck_run, [case.subject])
    run_case(
        gradcheck_run,
        case,
        lambda: run_conventions(case.subject, adapter, dtype=case.dtype, device=case.device),
    )
