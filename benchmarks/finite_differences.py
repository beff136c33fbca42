"""Fixed-step gradient check (jax check_grads style) vs gradcheck's directional estimate.

f(a, b) = sum(log1p(sum(tanh(a @ b), -1) ** 2)) in float64, correct analytic gradient.
Run by hand: python benchmarks/finite_differences.py
"""

import numpy as np

from gradcheck.numerics import directional_derivative

FIXED_STEP = 1e-4  # jax.test_util.check_grads defaults for float64
FIXED_RTOL = 1e-5


def f(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(np.log1p(np.sum(np.tanh(a @ b), -1) ** 2)))


def gradients(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.tanh(a @ b)
    s = t.sum(-1, keepdims=True)
    d_m = (1 - t**2) * (2 * s / (1 + s**2))
    return d_m @ b.T, a.T @ d_m


def main() -> None:
    rng = np.random.default_rng(0)
    print(
        f"{'n':>4} {'fixed rel err':>14} {'fixed':>5} {'ours rel err':>13} "
        f"{'ours estimate':>14} {'ours':>5} {'err<=est':>8}"
    )
    for n in (8, 16, 32, 64, 128, 256):
        a, b, va, vb = (rng.standard_normal((n, n)) for _ in range(4))
        grad_a, grad_b = gradients(a, b)
        analytic = np.sum(grad_a * va) + np.sum(grad_b * vb)
        scale = np.sqrt(np.sum(grad_a**2) + np.sum(grad_b**2)) * np.sqrt(np.sum(va**2 + vb**2))

        step = FIXED_STEP
        fixed = (f(a + step * va, b + step * vb) - f(a - step * va, b - step * vb)) / (2 * step)
        fixed_error = abs(fixed - analytic) / abs(analytic)

        est = directional_derivative(lambda xs: f(*xs), [a, b], [va, vb])
        ours_error = abs(est.value - analytic)
        ours_ok = not est.is_inconclusive(scale) and ours_error <= est.tolerance(scale)
        print(
            f"{n:>4} {fixed_error:>14.2e} {'pass' if fixed_error <= FIXED_RTOL else 'FAIL':>5} "
            f"{ours_error / abs(analytic):>13.2e} {est.error / abs(analytic):>14.2e} "
            f"{'pass' if ours_ok else 'FAIL':>5} {str(ours_error <= est.error):>8}"
        )


if __name__ == "__main__":
    main()
