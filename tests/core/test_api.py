"""check_function: a constant number of evaluations, passes correct engines, catches bugs."""

from __future__ import annotations

import numpy as np
import pytest

import reference_engine as engine
from gradcheck import GradcheckFailure, check_function
from tests import bug_zoo


def matmul_tanh(ops):
    return lambda a, b: ops["sum"](ops["tanh"](ops["matmul"](a, b)), dim=None, keepdim=False)


@pytest.mark.parametrize("n", [2, 8, 64])
def test_directional_mode_costs_six_evaluations_at_any_size(n: int) -> None:
    a, b = np.random.default_rng(n).standard_normal((2, n, n))
    report = check_function(lambda a, b: engine.tanh(a @ b).sum(), a, b, adapter="reference")
    assert report.passed == ["finite_difference", "adjoint"]
    assert report.evaluations == 6


def test_passes_torch_in_both_modes() -> None:
    torch = pytest.importorskip("torch")
    a, b = np.random.default_rng(1).standard_normal((2, 3, 3))
    for mode in ("directional", "full"):
        report = check_function(lambda a, b: torch.tanh(a @ b), a, b, adapter="torch", mode=mode)
        assert report.passed == ["finite_difference", "adjoint"]


@pytest.mark.parametrize("mode", ["directional", "full"])
def test_catches_a_wrong_vjp(mode: str) -> None:
    adapter = bug_zoo.tanh_vjp_one_minus_y
    a, b = np.random.default_rng(2).standard_normal((2, 4, 4))
    with pytest.raises(GradcheckFailure) as info:
        check_function(matmul_tanh(adapter.ops), a, b, adapter=adapter, mode=mode)
    assert info.value.check in ("finite_difference", "adjoint")


def test_adjoint_catches_a_wrong_jvp() -> None:
    adapter = bug_zoo.sin_jvp_wrong_sign
    x = np.linspace(-1.0, 2.0, 7)
    with pytest.raises(GradcheckFailure) as info:
        check_function(lambda x: adapter.ops["sin"](x), x, adapter=adapter)
    assert info.value.check == "adjoint"


def test_bad_options_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="mode must be"):
        check_function(engine.exp, np.ones(2), mode="fast")
    with pytest.raises(ValueError, match="unknown checks"):
        check_function(engine.exp, np.ones(2), checks=["vjp"])
