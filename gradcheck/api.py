"""`check_function`: a drop-in for torch.autograd.gradcheck / gradgradcheck (and jax's
and HIPS autograd's check_grads) for hand-written gradients, on any adapter."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcheck.api_inputs import parse_inputs, resolve_adapter
from gradcheck.api_session import Session
from gradcheck.errors import GradcheckFailure, GradcheckInconclusive, Unsupported

FUNCTION_CHECKS = ("finite_difference", "adjoint", "higher_order", "batched")
DEFAULT_CHECKS = ("finite_difference", "adjoint")


@dataclass
class FunctionReport:
    """What `check_function` did. Falsy when a check failed (`failure` holds the
    exception it would have raised: GradcheckFailure, or GradcheckInconclusive when
    inconclusive checks were not allowed).

    passed: checks that passed; not_run: {check: why it could not run} (no forward mode,
    no double backward, ...); inconclusive: {check: why it could not decide} (only with
    allow_inconclusive=True); kinks: {check: what was accepted at a kink}; evaluations:
    calls of fn (each forward, forward-mode and reverse-mode call counts one); notes:
    what was done to the inputs (a float32 tensor checked as a float64 copy)."""

    passed: list[str] = field(default_factory=list)
    not_run: dict[str, str] = field(default_factory=dict)
    inconclusive: dict[str, str] = field(default_factory=dict)
    kinks: dict[str, str] = field(default_factory=dict)
    evaluations: int = 0
    failure: Exception | None = None
    notes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.failure is None


def check_function(
    fn: Callable[..., Any],
    *inputs: Any,
    adapter: Any = None,
    checks: Sequence[str] = DEFAULT_CHECKS,
    mode: str = "directional",
    eps: float | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    nondet_tol: float = 0.0,
    raise_exception: bool = True,
    allow_inconclusive: bool = False,
    seed: int = 0,
    device: str | None = None,
    **kwargs: Any,
) -> FunctionReport:
    """Check the gradients of `fn` at `inputs`, in float64; raise on a wrong one.

    Arguments, as for torch.autograd.gradcheck: `check_function(fn, x, y)` or
    `check_function(fn, (x, y))`; keyword arguments other than the options below go to
    `fn`. Differentiated: tensors with requires_grad=True (a float32 one is checked as a
    float64 copy, with a warning and a note in the report) and all floating numpy arrays.
    Everything else (integer tensors, constants, Python values) passes through unchanged.
    `fn` returns a tensor or a tuple of tensors of the adapter's engine.

    The adapter is `adapter` (a name such as "torch", or an adapter object), else the
    engine of the input tensors, else of `fn` itself (a torch function, Function.apply or
    nn.Module); numpy inputs with a lambda need adapter=.

    checks (default: the first two, like gradcheck; add "higher_order" for gradgradcheck):
      "finite_difference": the backward against central differences (Richardson) of
        <u, fn(x + t v)> for random u, v, with an error estimate;
      "adjoint": forward mode against the backward, <u, J v> = <J^T u, v>; not run (see
        report.not_run) where fn has no forward mode (an autograd.Function without jvp);
      "higher_order": the double backward d/dx <J(x)^T u, v> against differences of the
        backward along a random w;
      "batched": the adapter's batched_vjp against one backward per cotangent.
    Also always: the backward is run twice through one forward (torch's reentrancy
    check); gradients differing by more than `nondet_tol` are GradcheckInconclusive (a
    nondeterministic fn cannot be judged by differences). Where a check disagrees, fn
    runs once more: an output that differs between the runs is GradcheckInconclusive too.

    mode="directional" calls fn 6 times for the default checks with torch, whatever the
    input size (forward mode, one forward with its backward run twice, four difference
    points; 5 where fn is known to have no forward mode; once more on adapters without
    their own `vjp_twice`); "higher_order" adds 5 (a double backward, four backward
    calls), "batched" 2. On a failure, one rerun, then bisection finds the input and
    element at fault in at most
    4 * (k + 2 ceil(log2 n) + 1) more calls (k inputs when k > 1, else 0; n elements in the
    largest input; the adjoint check's bisection: k + 2 ceil(log2 n) + 1 forward-mode calls).
    mode="full" judges each element on its own (4 calls per element).

    At a kink (relu or clamp at their bound, abs at 0, ties of max) the one-sided
    derivatives from the same points decide: a gradient whose directional derivative
    lies between them is a valid subgradient and passes (report.kinks says so); one
    outside them fails.

    eps: the difference step per element, as torch's (default: chosen from the inputs'
    size, eps^(1/3) relative). atol, rtol: |analytic - numerical| <= atol |u| |v| +
    rtol |numerical| is accepted (u, v the random cotangent and direction), on top of the
    estimate's own error bound. raise_exception=False: return a falsy report instead of
    raising. allow_inconclusive=True: list undecided checks in report.inconclusive
    instead of raising GradcheckInconclusive. seed: draws u, v, w.

    Raises GradcheckFailure (which check, which input, which element, the two values),
    GradcheckInconclusive, Unsupported (no requested check could run) or, up front,
    ValueError/TypeError for complex, empty, non-finite or non-float inputs and outputs.
    """
    _validate(checks, mode, eps, atol, rtol, nondet_tol)
    if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)):
        inputs = tuple(inputs[0])  # gradcheck's form: fn and a tuple of inputs
    engine = resolve_adapter(adapter, fn, [*inputs, *kwargs.values()])
    parsed = parse_inputs(engine, inputs, kwargs, device)
    band = None
    if atol is not None or rtol is not None:
        a, r = atol or 0.0, rtol or 0.0

        def band(weight_size: float, numerical: float) -> float:
            return a * weight_size + r * abs(numerical)

    session = Session(fn, engine, parsed, np.random.default_rng(seed), eps, band, nondet_tol)
    report = FunctionReport(notes=list(parsed.notes))
    try:
        session.run(list(dict.fromkeys(checks)), mode, report, allow_inconclusive)
    except (GradcheckFailure, GradcheckInconclusive) as error:
        report.failure = error
        if raise_exception:
            raise
    finally:
        report.evaluations = session.evaluations
    if report.failure is None and not report.passed and not report.inconclusive:
        reasons = "; ".join(f"{c}: {why}" for c, why in report.not_run.items())
        raise Unsupported(f"none of the requested checks could run ({reasons})")
    return report


def _validate(
    checks: Sequence[str],
    mode: str,
    eps: float | None,
    atol: float | None,
    rtol: float | None,
    nondet_tol: float,
) -> None:
    if mode not in ("directional", "full"):
        raise ValueError(f"mode must be 'directional' or 'full', not {mode!r}")
    if isinstance(checks, str):
        raise ValueError(f"checks must be a sequence of check names, e.g. ({checks!r},)")
    unknown = sorted(set(checks) - set(FUNCTION_CHECKS))
    if unknown or not checks:
        raise ValueError(
            f"unknown checks {unknown}; choose from {', '.join(FUNCTION_CHECKS)}"
            if unknown
            else f"no checks requested; choose from {', '.join(FUNCTION_CHECKS)}"
        )
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if value is not None and not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
    if eps is not None and eps == 0:
        raise ValueError("eps must be > 0")
    if not (np.isfinite(nondet_tol) and nondet_tol >= 0):
        raise ValueError(f"nondet_tol must be a finite number >= 0, not {nondet_tol!r}")
