"""check_function never fails (nor gives up on) correct functions: many seeds, inputs of
many sizes, exact kinks (relu, abs, clamp, max ties) and a hand-written float64 Function."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from gradcheck import check_function

torch = pytest.importorskip("torch")

SEEDS = 200


class Swish(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):  # noqa: ANN001, ANN205
        ctx.save_for_backward(x)
        return x * torch.sigmoid(x)

    @staticmethod
    def backward(ctx, g):  # noqa: ANN001, ANN205
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        return g * s * (1 + x * (1 - s))


def with_kinks(rng: np.random.Generator, n: int, at: tuple[float, ...]) -> np.ndarray:
    """Random values, about a third of them exactly at the kinks `at`."""
    x = rng.standard_normal(n) * 2
    hit = rng.random(n) < 1 / 3
    x[hit] = rng.choice(at, size=int(hit.sum()))
    return x


def layer_norm(x: torch.Tensor) -> torch.Tensor:
    return (x - x.mean()) / torch.sqrt(x.var() + 1e-5)


# name -> (fn, inputs from (rng, n), second order checked too)
CASES: dict[str, tuple[Callable, Callable, bool]] = {
    "relu at zeros": (torch.relu, lambda r, n: [with_kinks(r, n, (0.0,))], False),
    "abs at zeros": (torch.abs, lambda r, n: [with_kinks(r, n, (0.0,))], False),
    "clamp at bounds": (
        lambda x: torch.clamp(x, -1.0, 1.0),
        lambda r, n: [with_kinks(r, n, (-1.0, 1.0))],
        False,
    ),
    "max with ties": (
        lambda x: torch.amax(x.reshape(-1, 2), 1),
        lambda r, n: [np.repeat(r.standard_normal(n), 2)],
        False,
    ),
    "hand-written Function": (Swish.apply, lambda r, n: [r.standard_normal(n) * 3], True),
    "log_softmax": (
        lambda x: torch.log_softmax(x, 0),
        lambda r, n: [r.standard_normal(n) * 5],
        True,
    ),
    "layer norm": (layer_norm, lambda r, n: [r.standard_normal(n + 1) + 10], True),
    "matmul tanh": (
        lambda a, b: torch.tanh(a @ b),
        lambda r, n: [r.standard_normal((4, n)), r.standard_normal((n, 3))],
        True,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_no_failure_and_nothing_inconclusive_on_correct_functions(name: str) -> None:
    fn, make, second_order = CASES[name]
    checks = ("finite_difference", "adjoint", "higher_order") if second_order else None
    kinks = 0
    for seed in range(SEEDS):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(1, 300)) if seed % 8 else int(rng.integers(1000, 4000))
        inputs = [torch.tensor(a, requires_grad=True) for a in make(rng, n)]
        kwargs = {"checks": checks} if checks and seed % 4 == 1 else {}
        report = check_function(fn, *inputs, seed=seed, **kwargs)  # raises on any doubt
        assert report.passed and not report.inconclusive, (name, seed)
        kinks += bool(report.kinks)
    if name in ("relu at zeros", "clamp at bounds"):  # one-sided: central differences are off
        assert kinks > SEEDS // 2  # the kinks were really there, and accepted as such
