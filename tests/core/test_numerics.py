"""gradcheck.numerics against closed-form derivatives (never against its own output)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradcheck.numerics import (
    EPS,
    STEP_FACTOR,
    TOLERANCES,
    adjoint_mismatch,
    compare,
    directional_derivative,
    jacobian,
    shifted,
)

FLOATS = st.floats(-10, 10, allow_nan=False, allow_subnormal=False)
SHAPES = hnp.array_shapes(min_dims=0, max_dims=2, max_side=6)


@st.composite
def point_and_direction(draw, elements=FLOATS):
    shape = draw(SHAPES)
    x = draw(hnp.arrays(np.float64, shape, elements=elements))
    v = draw(hnp.arrays(np.float64, shape, elements=FLOATS))
    return x, v


def _log1p_tanh(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(np.log1p(np.sum(np.tanh(a @ b), -1) ** 2)))


def _log1p_tanh_grads(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # f = sum_i log1p(s_i^2), s_i = sum_j tanh(M_ij), M = a @ b.
    t = np.tanh(a @ b)
    s = t.sum(-1, keepdims=True)
    d_m = (1 - t**2) * (2 * s / (1 + s**2))
    return d_m @ b.T, a.T @ d_m


# f and its exact gradient; "linear" and "cubic" have no truncation error left after
# Richardson, so only rounding remains to be bounded.
SMOOTH = {
    "sin": (lambda x: np.sum(np.sin(x)), np.cos),
    "exp": (lambda x: np.sum(np.exp(x / 4)), lambda x: np.exp(x / 4) / 4),
    "cubic": (lambda x: np.sum(x**3 - 2 * x), lambda x: 3 * x**2 - 2),
    "linear": (lambda x: np.sum(3 * x), lambda x: np.full_like(x, 3.0)),
}


@pytest.mark.parametrize("name", sorted(SMOOTH))
@settings(max_examples=150, deadline=None)
@given(point_and_direction())
def test_tolerance_bounds_true_error_of_closed_forms(name, xv):
    f, gradient = SMOOTH[name]
    x, v = xv
    estimate = directional_derivative(lambda xs: f(xs[0]), [x], [v])
    truth = np.sum(gradient(x) * v)
    truth_rounding = 8 * EPS * np.sum(np.abs(gradient(x) * v))
    scale = np.sqrt(np.sum(gradient(x) ** 2) * np.sum(v**2))
    assert abs(estimate.value - truth) <= estimate.tolerance(scale) + truth_rounding
    x_norm = np.sqrt(np.sum(x**2))
    if x_norm == 0 or x_norm >= 1e-2:  # a tiny |x| means a tiny step: rounding dominates
        assert not estimate.is_inconclusive(max(scale, 1.0))


def test_sum_sin_matches_cos_closed_form():
    x = np.linspace(-3, 3, 50).reshape(5, 10)
    v = np.cos(np.arange(50.0)).reshape(5, 10)
    estimate = directional_derivative(lambda xs: np.sum(np.sin(xs[0])), [x], [v])
    truth = np.sum(np.cos(x) * v)
    assert abs(estimate.value - truth) <= estimate.tolerance()
    assert abs(estimate.value - truth) <= 1e-9 * abs(truth)
    assert not estimate.is_inconclusive()


@pytest.mark.parametrize("n", [2, 8, 32, 64])
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_log1p_tanh_matmul_matches_analytic_gradient(n, seed):
    rng = np.random.default_rng(seed)
    a, b, va, vb = (rng.standard_normal((n, n)) for _ in range(4))
    grad_a, grad_b = _log1p_tanh_grads(a, b)

    def check(va, vb, grad_a, grad_b):
        analytic = np.sum(grad_a * va) + np.sum(grad_b * vb)
        norm_g = np.sqrt(np.sum(grad_a**2) + np.sum(grad_b**2))
        scale = norm_g * np.sqrt(np.sum(va**2 + vb**2))
        estimate = directional_derivative(lambda xs: _log1p_tanh(*xs), [a, b], [va, vb])
        assert not estimate.is_inconclusive(scale)
        return abs(estimate.value - analytic) <= estimate.tolerance(scale)

    assert check(va, vb, grad_a, grad_b)
    # Along the gradient (curvature is highest, tolerance ~1e-6 relative) a 1e-4 bug fails.
    assert check(grad_a, grad_b, grad_a, grad_b)
    assert not check(grad_a, grad_b, grad_a * (1 + 1e-4), grad_b * (1 + 1e-4))
    # A formula bug (d/ds log1p(s^2) missing its factor 2) fails along a random direction.
    assert not check(va, vb, grad_a / 2, grad_b / 2)


@pytest.mark.parametrize("size", [1, 10_000])
def test_exactly_four_evaluations(size):
    calls = []
    x, v = np.ones(size), np.arange(size, dtype=np.float64)

    def f(xs):
        calls.append(xs)
        return float(np.sum(xs[0] ** 2))

    estimate = directional_derivative(f, [x], [v])
    assert len(calls) == 4 == estimate.evaluations
    # The offsets reproduce the evaluated points bit for bit.
    for point, t in zip(calls, sorted(estimate.offsets), strict=True):
        np.testing.assert_array_equal(point[0], shifted([x], [v], t)[0])


def test_step_rule():
    x, v = np.array([3.0, 4.0]), np.array([0.0, 2.0])
    assert directional_derivative(lambda xs: 0.0, [x], [v]).h == STEP_FACTOR * 5 / 2
    assert directional_derivative(lambda xs: 0.0, [0 * x], [v]).h == STEP_FACTOR / 2
    zero = directional_derivative(lambda xs: np.sum(xs[0] ** 2), [x], [0 * v])
    assert zero.value == 0.0 and not zero.is_inconclusive(scale=1.0)


def _h(x: np.ndarray, v: np.ndarray) -> float:
    return STEP_FACTOR * np.sqrt(np.sum(x**2)) / np.sqrt(np.sum(v**2))


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.75])
def test_kink_within_step_is_inconclusive(fraction):
    v = np.array([1.0, 1.0, 1.0])
    x = np.array([fraction * _h(np.array([0.0, 1.0, 2.0]), v), 1.0, 2.0])
    estimate = directional_derivative(lambda xs: np.sum(np.abs(xs[0])), [x], [v])
    assert estimate.is_inconclusive()


def test_offsets_expose_a_relu_branch_change_the_estimate_cannot_see():
    # Exactly at relu's kink the central difference is smooth (slope 1/2) but the branch
    # flips across the offsets: callers must check branches at these points.
    x, v = np.array([0.0, 1.0]), np.array([1.0, 1.0])
    estimate = directional_derivative(lambda xs: np.sum(np.maximum(xs[0], 0)), [x], [v])
    signs = {tuple(np.sign(shifted([x], [v], t)[0])) for t in estimate.offsets}
    assert len(signs) == 2


def test_domain_edge_nan_is_inconclusive():
    v = np.array([-1.0, 0.0])
    x = np.array([0.5 * _h(np.array([0.0, 1.0]), v), 1.0])

    def f(xs):
        with np.errstate(invalid="ignore"):
            return np.sum(np.log(xs[0]))

    estimate = directional_derivative(f, [x], [v])
    assert estimate.is_inconclusive() and np.isnan(estimate.value)


def test_jacobian_matches_closed_form():
    x, y = np.array([0.5, -2.0, 3.0]), np.array([[1.5], [0.25]])

    def F(xs):
        a, b = xs
        return [a[:2] * b[:, 0], np.array(np.sum(np.sin(a)) * b[1, 0])]

    J, error = jacobian(F, [x, y])
    expected = np.array(
        [
            [y[0, 0], 0, 0, x[0], 0],
            [0, y[1, 0], 0, 0, x[1]],
            [*(np.cos(x) * y[1, 0]), 0, np.sum(np.sin(x))],
        ]
    )
    assert J.shape == error.shape == (3, 5)
    assert np.all(np.abs(J - expected) <= error + 4 * EPS * np.abs(expected))
    assert np.all(error <= 1e-9 * (1 + np.abs(expected)))
    wrong = expected.copy()
    wrong[2, 0] *= 1 + 1e-6
    assert np.abs(J - wrong)[2, 0] > 4 * error[2, 0]


def test_jacobian_marks_nan_entries():
    with np.errstate(invalid="ignore"):
        J, error = jacobian(lambda xs: [np.sqrt(xs[0])], [np.array([0.0, 4.0])])
    assert np.isnan(J[0, 0]) and error[0, 0] == np.inf
    assert abs(J[1, 1] - 0.25) <= error[1, 1]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 40))
def test_adjoint_passes_reordered_sums_and_catches_wrong_transpose(seed, n):
    rng = np.random.default_rng(seed)
    J, u, v = rng.standard_normal((n, n)), rng.standard_normal(n), rng.standard_normal(n)
    jv = J @ v
    jtu = np.array([sum(reversed(list(J[:, k] * u))) for k in range(n)])
    assert adjoint_mismatch([u], [jv], [jtu], [v]).ok
    assert not adjoint_mismatch([u], [jv], [J @ u], [v]).ok
    # A 1e-6 relative error in each element, of the sign that shows in <J^T u, v>: a
    # uniform scaling would vanish with that product where its terms cancel (seed 522939).
    assert not adjoint_mismatch([u], [jv], [jtu + 1e-6 * np.abs(jtu) * np.sign(v)], [v]).ok


def test_compare_catches_small_relative_error_in_float64():
    expected = np.linspace(1, 2, 12).reshape(3, 4)
    actual = expected.copy()
    actual[1, 2] *= 1 + 1e-6
    result = compare(actual, expected, "float64")
    assert not result.ok and result.worst_index == (1, 2)
    assert result.expected == expected[1, 2] and result.actual == actual[1, 2]
    assert result.max_error == pytest.approx(1e-6 * expected[1, 2])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_compare_passes_summation_order_noise(seed):
    terms = np.random.default_rng(seed).standard_normal((4, 10_000)) * 1e3
    pairwise = terms.sum(axis=1)
    sequential = np.array([sum(reversed(row.tolist())) for row in terms])
    scale = float(np.max(np.sum(np.abs(terms), axis=1)))
    assert compare(sequential, pairwise, "float64", scale=scale).ok
    positive = np.abs(terms)
    assert compare(np.array([sum(r.tolist()) for r in positive]), positive.sum(1)).ok


def test_compare_special_values_and_shapes():
    nan, inf = np.nan, np.inf
    assert compare(np.array([nan, inf, -inf, 1.0]), np.array([nan, inf, -inf, 1.0])).ok
    assert not compare(np.array([nan, 1.0]), np.array([1.0, 1.0])).ok
    swapped = compare(np.array([1.0, -inf]), np.array([1.0, inf]))
    assert not swapped.ok and swapped.worst_index == (1,)
    mismatch = compare(np.zeros((2, 3)), np.zeros((3, 2)))
    assert not mismatch.ok and "shape" in mismatch.reason
    assert compare(np.array(2.0), np.array(2.0)).ok
    # A float16 engine overflowing where the float64 reference exceeds float16's range.
    assert compare(np.array([inf, 1.0]), np.array([7e4, 1.0]), "float16").ok


@pytest.mark.parametrize("dtype", sorted(TOLERANCES))
def test_rounding_to_dtype_is_within_its_tolerance(dtype):
    expected = np.linspace(-3, 7, 101)
    eps = TOLERANCES[dtype].eps
    half_ulp_off = expected * (1 + eps / 2)
    assert compare(half_ulp_off, expected, dtype).ok
    assert not compare(expected * (1 + 3 * TOLERANCES[dtype].rtol), expected, dtype).ok
