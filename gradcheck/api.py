"""`check_function`: a drop-in for torch.autograd.gradcheck on any adapter, no hypothesis."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcheck import numerics
from gradcheck.adapters import load_adapter
from gradcheck.errors import GradcheckFailure, Inconclusive, call_adapter, to_host

FUNCTION_CHECKS = ("finite_difference", "adjoint")


@dataclass
class FunctionReport:
    """What `check_function` did: the checks that passed and how often `fn` was called."""

    passed: list[str] = field(default_factory=list)
    inconclusive: list[str] = field(default_factory=list)
    evaluations: int = 0


def check_function(
    fn: Callable[..., Any],
    *inputs: np.ndarray,
    adapter: Any = "reference",
    checks: Sequence[str] = FUNCTION_CHECKS,
    mode: str = "directional",
    device: str = "cpu",
    seed: int = 0,
) -> FunctionReport:
    """Check `fn`'s gradients on `adapter` at `inputs` (numpy arrays), in float64.

    `fn` takes adapter tensors and returns a tensor or a tuple of tensors.
    `mode="directional"` costs O(1) evaluations of `fn` whatever the input size;
    `mode="full"` builds the whole Jacobian by differences (small inputs only).
    Cotangents and directions are drawn from `np.random.default_rng(seed)`.
    Raises GradcheckFailure on a disagreement; returns a FunctionReport otherwise.
    """
    if isinstance(adapter, str):
        adapter = load_adapter(adapter)
    if mode not in ("directional", "full"):
        raise ValueError(f"mode must be 'directional' or 'full', not {mode!r}")
    unknown = sorted(set(checks) - set(FUNCTION_CHECKS))
    if unknown:
        raise ValueError(f"unknown checks {unknown}; choose from {', '.join(FUNCTION_CHECKS)}")
    report = FunctionReport()
    xs = [np.asarray(x, np.float64) for x in inputs]
    shapes = [x.shape for x in xs]

    def tensors(arrays: Sequence[np.ndarray], requires_grad: bool) -> list[Any]:
        return [adapter.asarray(a, "float64", device, requires_grad) for a in arrays]

    def as_tuple(out: Any) -> tuple:
        return tuple(out) if isinstance(out, (tuple, list)) else (out,)

    def counted(*args: Any) -> tuple:
        report.evaluations += 1
        return as_tuple(call_adapter("finite_difference", "fn", fn, *args))

    def forward(points: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [np.asarray(adapter.to_numpy(o)) for o in counted(*tensors(points, False))]

    rng = np.random.default_rng(seed)
    v = [rng.standard_normal(s) for s in shapes]
    # The first call gives the output shapes, hence the cotangent's: forward mode when the
    # adjoint test needs it anyway, so that every check costs 6 calls of fn in all.
    jv = None
    if "adjoint" in checks and "jvp" in adapter.capabilities:
        outs, tangents_out = call_adapter(
            "adjoint", "jvp", adapter.jvp, counted, tensors(xs, False), tensors(v, False)
        )
        jv = [np.asarray(adapter.to_numpy(t)) for t in tangents_out]
        out_arrays = [np.asarray(adapter.to_numpy(o)) for o in outs]
    else:
        out_arrays = forward(xs)
    u = [rng.standard_normal(o.shape) for o in out_arrays]
    _, grads = call_adapter(
        "finite_difference", "vjp", adapter.vjp, counted, tensors(xs, True), tensors(u, False)
    )
    jtu = [
        to_host("finite_difference", adapter, g, s, f"gradient of input {i}")
        for i, (g, s) in enumerate(zip(grads, shapes, strict=True))
    ]

    def objective(points: Sequence[np.ndarray]) -> float:
        return float(sum(np.vdot(a, b) for a, b in zip(u, forward(points), strict=True)))

    if "finite_difference" in checks:
        try:
            if mode == "directional":
                f_at_x = float(sum(np.vdot(a, b) for a, b in zip(u, out_arrays, strict=True)))
                _directional(objective, xs, v, jtu, f_at_x)
            else:
                _full(forward, xs, u, jtu)
            report.passed.append("finite_difference")
        except Inconclusive:
            report.inconclusive.append("finite_difference")
    if jv is not None:
        result = numerics.adjoint_mismatch(u, jv, jtu, v, "float64")
        if not result.ok:
            raise GradcheckFailure(
                "adjoint", f"<u, J v> = {result.lhs!r} but <J^T u, v> = {result.rhs!r}"
            )
        report.passed.append("adjoint")
    return report


def _directional(objective: Callable, xs: list, v: list, jtu: list, f_at_x: float) -> None:
    est = numerics.directional_derivative(objective, xs, v)
    verdict, analytic, tolerance = numerics.judge(est, jtu, xs, v, f_at_x)
    if verdict is None:
        raise Inconclusive(f"difference estimate too noisy ({est.error:.2e})")
    if not verdict:
        raise GradcheckFailure(
            "finite_difference",
            f"<J^T u, v> = {analytic!r} but central differences give {est.value!r} "
            f"(error estimate {est.error:.3e}, tolerance {tolerance:.3e})",
        )


def _full(forward: Callable, xs: list, u: list, jtu: list) -> None:
    jacobian, error = numerics.jacobian(forward, xs)
    flat_u = np.concatenate([np.ravel(a) for a in u])
    want = flat_u @ jacobian
    bound = np.abs(flat_u) @ error
    got = np.concatenate([np.ravel(g) for g in jtu])
    # As DirectionalEstimate.tolerance: a multiple of the estimate plus a rounding floor.
    bound = 4 * bound + 8 * numerics.EPS ** (2 / 3) * np.max(np.abs(flat_u)) * np.max(
        np.abs(jacobian), initial=1.0
    ) * len(flat_u)
    bad = np.abs(got - want) > bound
    if np.any(bad):
        i = int(np.argmax(np.abs(got - want) - bound))
        raise GradcheckFailure(
            "finite_difference",
            f"element {i} of J^T u is {got[i]!r}, the full-Jacobian differences give "
            f"{want[i]!r} (error estimate {bound[i]:.3e})",
        )
