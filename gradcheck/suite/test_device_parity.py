"""The same random graph on cpu and cuda: outputs and gradients agree, per dtype.
Skipped unless the adapter offers device cuda. Ids: ``test_device_parity[float32]``;
xfail id ``device_parity::all::float32::cuda``.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcheck.cases import WHOLE_ENGINE, Case
from gradcheck.checks import run_device_parity
from gradcheck.ops.registry import has_op
from gradcheck.strategies import graphs
from gradcheck.suite.support import parametrize, require_ops, run_case, suite_run, suite_settings

DEVICES = ("cpu", "cuda")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    run = suite_run(metafunc)
    cases = [Case("device_parity", WHOLE_ENGINE, dtype, "cuda") for dtype in run.dtypes]
    parametrize(metafunc, cases, lambda case: case.dtype)


@suite_settings()
@given(data=st.data())
def test_device_parity(gradcheck_case, gradcheck_run, data):
    case, adapter = gradcheck_case, gradcheck_run.adapter
    devices = [str(d).split(":")[0] for d in adapter.devices]
    if "cuda" not in devices:
        pytest.skip(
            f"device parity needs device cuda; adapter {adapter.name!r} offers "
            f"{', '.join(map(str, adapter.devices))}"
        )
    ops = [op for op in gradcheck_run.ops if has_op(adapter, op)]
    require_ops(gradcheck_run, ops)
    graph = data.draw(graphs(ops=ops), label="graph")
    run_case(
        gradcheck_run,
        case,
        lambda: run_device_parity(graph, adapter, dtype=case.dtype, devices=DEVICES),
    )
