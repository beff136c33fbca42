"""The kink-aware verdict on one line and the bisection, on plain numpy functions."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from gradcheck.api_lines import Line, Subset, Verdict, localization_bound, localize


def judge(f: Callable, grad: Callable, x: list[float], v: list[float] | None = None) -> Verdict:
    """The whole-line verdict for y = f(x) element-wise, weight 1, gradient grad(x)."""
    xs = [np.array(x, dtype=np.float64)]
    tangent = [np.ones_like(xs[0]) if v is None else np.array(v, dtype=np.float64)]
    y0 = [f(xs[0])]
    line = Line(lambda p: [f(p[0])], xs, tangent, [np.ones_like(y0[0])], y0, [grad(xs[0])])
    return line.judge(Subset(None))


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def test_smooth_functions_pass_and_a_relative_error_of_1e_6_fails() -> None:
    x = [0.3, -1.2, 2.5]
    assert judge(np.sin, np.cos, x).status == "pass"
    assert judge(np.sin, lambda x: np.cos(x) * (1 + 1e-6), x).status == "fail"


@pytest.mark.parametrize("subgradient", [0.0, 0.25, 1.0])
def test_relu_at_zero_accepts_any_subgradient(subgradient: float) -> None:
    verdict = judge(relu, lambda x: np.where(x > 0, 1.0, subgradient), [0.0], [1.0])
    assert verdict.ok and (verdict.status == "kink" or subgradient == 0.5)
    if verdict.status == "kink":
        assert verdict.sides == pytest.approx((0.0, 1.0), abs=1e-9)


def test_relu_at_zero_rejects_a_value_outside_the_one_sided_derivatives() -> None:
    verdict = judge(relu, lambda x: np.where(x > 0, 1.0, 1.5), [0.0], [1.0])
    assert verdict.status == "fail" and verdict.sides is not None


@pytest.mark.parametrize("offset", [1e-12, 1e-7, 3e-6, 5e-6, -4e-6])
def test_a_kink_inside_the_stencil_is_never_a_failure(offset: float) -> None:
    """x near the kink: the step (about 6e-6 here) crosses it on one side."""
    verdict = judge(relu, lambda x: (x > 0).astype(float), [offset], [1.0])
    assert verdict.status != "fail", verdict


def test_a_jump_with_the_value_in_between_is_accepted_with_a_flat_gradient() -> None:
    assert judge(np.sign, np.zeros_like, [0.0]).ok
    assert not judge(np.sign, np.ones_like, [0.0]).ok  # slope 1 next to a jump: no


def test_abs_at_zero_accepts_subgradients_and_rejects_others() -> None:
    assert judge(np.abs, np.sign, [0.0, 1.0], [1.0, 1.0]).ok
    assert judge(np.abs, lambda x: np.where(x == 0, 0.7, np.sign(x)), [0.0, 1.0]).ok
    assert judge(np.abs, lambda x: np.where(x == 0, 1.5, np.sign(x)), [0.0, 1.0]).status == ("fail")


def test_localize_finds_the_element_within_its_bound() -> None:
    calls = []
    bad = (1, 77)

    def judge_subset(subset: Subset) -> Verdict:
        calls.append(subset)
        assert subset.index is not None
        inside = subset.index == bad[0] and subset.lo <= bad[1] < subset.hi
        return Verdict("fail" if inside else "pass", 0.0, 1.0 if inside else 0.0, 0.0, 0.0)

    sizes = [10, 100, 5]
    located = localize(judge_subset, sizes)
    assert located.subset == Subset(1, 77, 78)
    assert len(calls) <= localization_bound(sizes, 1)


def test_localize_reports_combined_kinks_when_no_element_fails_alone() -> None:
    def judge_subset(subset: Subset) -> Verdict:
        return Verdict("kink", 0.0, 0.0, 0.0, 0.0, (0.0, 1.0))

    located = localize(judge_subset, [16])
    assert located.subset is None and located.kinks
