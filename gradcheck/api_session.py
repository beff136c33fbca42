"""One `check_function` call: fn's calls through the adapter, and each check."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gradcheck import numerics
from gradcheck.adapters.base import DTYPES, AdapterBase
from gradcheck.api_checks import adjoint, batched, higher_order
from gradcheck.api_inputs import FnRaised, Inputs, no_forward_mode, outputs_of, tensor_type_of
from gradcheck.api_lines import (
    Line,
    Subset,
    line_offsets,
    localize,
    rms,
)
from gradcheck.api_report import Messages
from gradcheck.errors import GradcheckFailure, GradcheckInconclusive, Inconclusive, Unsupported

if TYPE_CHECKING:
    from gradcheck.api import FunctionReport

Arrays = list[np.ndarray]


class Session:
    """fn, its inputs and the adapter; `evaluations` counts calls of fn."""

    def __init__(
        self,
        fn: Callable[..., Any],
        adapter: AdapterBase,
        inputs: Inputs,
        rng: np.random.Generator,
        eps: float | None,
        band: Callable[[float, float], float] | None,
        nondet_tol: float,
    ) -> None:
        self.fn, self.adapter, self.inputs, self.rng = fn, adapter, inputs, rng
        self.eps, self.band, self.nondet_tol = eps, band, nondet_tol
        self.evaluations = 0
        self.jitter_output = self.jitter_gradient = 0.0  # spreads seen within nondet_tol
        self.floating: list[int] | None = None  # which outputs are float64, once seen
        self.tensor_type = tensor_type_of(adapter)
        self.shapes = [x.shape for x in inputs.xs]
        self.rms = rms(inputs.xs)  # the typical size of an input element
        self.say = Messages(inputs)

    def draw(self, shape: tuple[int, ...]) -> np.ndarray:
        """A random cotangent or direction: uniform on a grid of 2^32 points in (-1, 1),
        none of them 0 (continuous enough that no two gradient errors cancel except with
        probability ~2^-32). Raw 32-bit draws: half the time of float draws, which were
        a tenth of a call's time on large inputs."""
        size = int(np.prod(shape))
        raw = self.rng.bit_generator.random_raw((size + 1) // 2).view(np.uint32)[:size]
        out = np.multiply(raw, 2.0**-31, dtype=np.float64)  # converted as it is scaled
        out -= 1.0 - 2.0**-32  # the grid's points k / 2^31 - 1 + 2^-32, symmetric about 0
        return out.reshape(shape)

    # -- calls ------------------------------------------------------------------------
    def fn_tuple(self, *tensors: Any) -> tuple:
        """fn on adapter tensors at the differentiated inputs, as the adapter calls it."""
        self.evaluations += 1
        try:
            return outputs_of(
                self.inputs.call(self.fn, tensors), self.tensor_type, self.adapter.name
            )
        except Exception as error:  # fn's own error (or its output's): the caller's to see
            raise FnRaised(error) from error

    def call(self, check: str, what: str, f: Callable[..., Any], *args: Any) -> Any:
        """An adapter call: fn's errors reach the caller as raised, the adapter's (or a
        custom backward's) become a failure of `check`."""
        try:
            return f(*args)
        except FnRaised as raised:
            raise raised.error from None
        except (GradcheckFailure, Inconclusive, Unsupported):
            raise
        except Exception as error:  # a backward raising is a gradient bug
            text = " ".join(str(error).split())[:300]
            raise GradcheckFailure(
                check, f"{what} raised {type(error).__name__}: {text}"
            ) from error

    def tensors(self, arrays: Sequence[np.ndarray], requires_grad: bool = False) -> list:
        device = self.inputs.device
        return [self.adapter.asarray(a, "float64", device, requires_grad) for a in arrays]

    def host(self, check: str, values: Sequence[Any], shapes: Sequence[tuple], what: str) -> Arrays:
        out = []
        for i, (value, shape) in enumerate(zip(values, shapes, strict=True)):
            if value is None:
                raise GradcheckFailure(check, f"{what} of {self.inputs.name(i)} is None")
            array = np.asarray(self.call(check, f"to_numpy({what})", self.adapter.to_numpy, value))
            if array.shape != tuple(shape):
                raise GradcheckFailure(
                    check,
                    f"{what} of {self.inputs.name(i)} has shape {array.shape}, "
                    f"expected {tuple(shape)}",
                )
            out.append(array.astype(np.float64, copy=False))
        return out

    def forward(self, points: Sequence[np.ndarray], requires_grad: bool = False) -> Arrays:
        """fn's floating outputs at `points`, as float64 arrays; with requires_grad, fn
        runs as under `vjp` (an engine may pick other kernels where it records a graph)."""
        # Inputs that do not require grad record no graph: no no_grad() needed (or paid for).
        outs = self.call(
            "finite_difference", "fn", self.fn_tuple, *self.tensors(points, requires_grad)
        )
        if self.floating is None:  # the first outputs seen: shapes, dtypes
            return self.read_outputs(outs)
        return self.floating_outputs(outs)

    def floating_outputs(self, outs: Sequence[Any]) -> Arrays:
        return [np.asarray(self.adapter.to_numpy(outs[j])) for j in self.floating]

    def vjp(
        self, check: str, points: Sequence[np.ndarray], u: Arrays, cotangents: list | None = None
    ) -> tuple[Arrays, Arrays]:
        """(floating outputs, gradients of <u, outputs>) at `points`."""
        if cotangents is None:
            _, cotangents = self.cotangents(u)
        outs, grads = self.call(
            check,
            "fn's backward (vjp)",
            self.adapter.vjp,
            self.fn_tuple,
            self.tensors(points, True),
            cotangents,
        )
        return self.floating_outputs(outs), self.host(check, grads, self.shapes, "the gradient")

    def vjp_twice(self, cotangents: list) -> tuple[Arrays, Arrays, Arrays]:
        """(floating outputs, gradients, gradients of the backward run again) at x."""
        outs, grads, again = self.call(
            "finite_difference",
            "fn's backward (vjp), run twice",
            self.adapter.vjp_twice,
            self.fn_tuple,
            self.tensors(self.inputs.xs, True),
            cotangents,
        )
        return (
            self.floating_outputs(outs),
            self.host("finite_difference", grads, self.shapes, "the gradient"),
            self.host("finite_difference", again, self.shapes, "the second backward's gradient"),
        )

    def cotangents(self, u: Arrays) -> tuple[Arrays, list]:
        """Per output (zeros for non-floating ones) as arrays and as adapter tensors."""
        full = [np.zeros(s) for s in self.out_shapes]
        for j, array in zip(self.floating, u, strict=True):
            full[j] = array
        return full, self.tensors(full)

    # -- the run ----------------------------------------------------------------------
    def run(
        self, checks: list[str], mode: str, report: FunctionReport, allow_inconclusive: bool
    ) -> None:
        xs = self.inputs.xs
        v = [self.draw(s) for s in self.shapes]
        jv = self.forward_mode(v, report) if "adjoint" in checks else None
        prefetched = {}
        if "finite_difference" in checks and mode == "directional":
            # Before u is drawn: the first of these gives the output shapes (no extra call).
            for t in line_offsets(xs, v, self.eps, self.rms):
                prefetched[t] = self.forward(numerics.shifted(xs, v, t))
        if self.floating is None:
            self.forward(xs)
        u = [self.draw(self.out_shapes[j]) for j in self.floating]
        _, cotangents = self.cotangents(u)
        y0, g, g_again = self.vjp_twice(cotangents)
        self.require_finite(y0, "output", [f"output {j}" for j in self.floating])
        self.require_finite(g, "gradient", [self.inputs.name(i) for i in range(len(g))])
        gap, reason = self.unsteady("backward", g, g_again)
        self.jitter_gradient = 4 * gap  # within nondet_tol: one sample of its spread, 4x
        if not reason and self.nondet_tol:  # declared nondeterministic: y's spread too
            gap, reason = self.unsteady("output", y0, self.forward(xs, requires_grad=True))
            self.jitter_output = 4 * gap
        if reason:
            self.inconclusive_all(checks, reason, report, allow_inconclusive)
            return
        line = self.line(self.forward, v, u, y0, g, self.jitter_output, self.jitter_gradient)
        line.prefetched = prefetched
        for check, run in (
            (
                "finite_difference",
                lambda: self.judge_lines("finite_difference", line, mode, report),
            ),
            ("adjoint", lambda: adjoint(self, line, jv)),
            ("higher_order", lambda: higher_order(self, line, mode, report)),
            ("batched", lambda: batched(self, u, g)),
        ):
            if check not in checks or check in report.not_run:
                continue
            try:
                run()
                report.passed.append(check)
            except Unsupported as why:
                report.not_run[check] = str(why)
            except (GradcheckFailure, GradcheckInconclusive) as disagreement:
                # A nondeterministic y, not the gradient, may be why. With nondet_tol=0
                # nothing before needed y's spread: it is measured only now.
                reason = ""
                if not self.nondet_tol:
                    _, reason = self.unsteady("output", y0, self.forward(xs, requires_grad=True))
                if reason:
                    self.inconclusive_all(checks, reason, report, allow_inconclusive)
                    return
                if isinstance(disagreement, GradcheckFailure):
                    raise
                report.inconclusive[check] = disagreement.reason
                if not allow_inconclusive:
                    raise

    def inconclusive_all(
        self, checks: list[str], reason: str, report: FunctionReport, allow_inconclusive: bool
    ) -> None:
        """fn is nondeterministic: every check not yet decided is inconclusive."""
        undecided = [c for c in checks if c not in report.passed and c not in report.not_run]
        for check in undecided:
            report.inconclusive[check] = reason
        if undecided and not allow_inconclusive:
            raise GradcheckInconclusive(undecided[0], reason)

    def require_finite(self, arrays: Arrays, what: str, names: list[str]) -> None:
        """A ValueError where fn (or its backward) is not finite at the inputs: there is
        no derivative to check there (a NaN in, say, var of one element, or an overflow)."""
        for name, array in zip(names, arrays, strict=True):
            if np.isfinite(array).all():
                continue
            bad = ~np.isfinite(array)
            if np.any(bad):
                index = tuple(int(i) for i in np.argwhere(bad)[0])
                of = f"the {what} for {name}" if what == "gradient" else f"fn's {name}"
                raise ValueError(
                    f"{of} is not finite at the given inputs ({array[index]} at element "
                    f"{index}): there is no derivative to check there; check at other inputs"
                )

    def read_outputs(self, outs: tuple) -> Arrays:
        """Output shapes and which outputs are floating; ValueError for complex or
        low-precision outputs (differences in float32 cannot resolve gradients)."""
        self.floating = []
        for j, out in enumerate(outs):
            dtype = self.adapter.dtype_of(out)
            if dtype.startswith("complex"):
                raise ValueError(f"output {j} of fn is complex ({dtype}): check real outputs")
            if dtype in DTYPES and dtype != "float64":
                raise ValueError(
                    f"output {j} of fn is {dtype} although its inputs are float64: fn computes "
                    "in low precision, where differences cannot resolve gradients; keep float64"
                )
            if dtype == "float64":
                self.floating.append(j)
        if not self.floating:
            raise ValueError("fn has no floating-point output to differentiate")
        arrays = [np.asarray(self.adapter.to_numpy(o)) for o in outs]
        self.out_shapes = [a.shape for a in arrays]
        return [arrays[j] for j in self.floating]

    def forward_mode(self, v: Arrays, report: FunctionReport) -> Arrays | None:
        """J v by the adapter's forward mode (its outputs give the shapes too); None, with
        report.not_run["adjoint"] set, where the adapter or fn has no forward mode."""
        if "jvp" not in self.adapter.capabilities:
            report.not_run["adjoint"] = f"adapter {self.adapter.name!r} has no forward mode"
            return None
        reason = no_forward_mode(self.fn)
        if reason:  # known without a call (a custom Function without jvp)
            report.not_run["adjoint"] = reason
            return None
        try:
            outs, jv = self.adapter.jvp(
                self.fn_tuple, self.tensors(self.inputs.xs), self.tensors(v)
            )
        except FnRaised as raised:
            error = raised.error
            if isinstance(error, NotImplementedError):
                text = " ".join(str(error).split())
                report.not_run["adjoint"] = f"fn has no forward mode (NotImplementedError: {text})"
                return None
            self.call(  # does fn run at all? then forward mode is at fault
                "finite_difference", "fn", self.fn_tuple, *self.tensors(self.inputs.xs)
            )
            raise GradcheckFailure(
                "adjoint", f"fn raised {type(error).__name__} in forward mode only: {error}"
            ) from error
        except Unsupported as why:
            report.not_run["adjoint"] = str(why)
            return None
        except Exception as error:
            raise GradcheckFailure(
                "adjoint", f"forward mode (jvp) raised {type(error).__name__}: {error}"
            ) from error
        self.read_outputs(tuple(outs))
        return self.host(
            "adjoint",
            [jv[j] for j in self.floating],
            [self.out_shapes[j] for j in self.floating],
            "forward-mode tangent",
        )

    def unsteady(self, what: str, first: Arrays, again: Arrays) -> tuple[float, str]:
        """(the largest gap between two runs at the same inputs, why that is beyond
        nondet_tol or "")."""
        gap = max(
            # first is finite by now: a NaN in a rerun is an infinite gap.
            0.0 if np.array_equal(p, q) else float(np.max(np.abs(p - q)))
            for p, q in zip(first, again, strict=True)
        )
        if gap <= self.nondet_tol:
            return gap, ""
        return gap, (  # NaN too: not <=
            f"fn's {what} differs between two runs at the same inputs by up to {gap:.3g} "
            f"(nondet_tol={self.nondet_tol:g}): differences of a nondeterministic fn "
            "prove nothing; pass nondet_tol= if that variation is expected"
        )

    def line(
        self,
        evaluate: Callable,
        tangent: Arrays,
        weight: Arrays,
        y0: Arrays,
        g: Arrays,
        output_jitter: float,
        gradient_jitter: float,
    ) -> Line:
        line = Line(
            evaluate,
            self.inputs.xs,
            tangent,
            weight,
            y0,
            g,
            self.eps,
            self.band,
            gradient_jitter,
            rms=self.rms,
        )
        if output_jitter:  # a nondeterministic y (within nondet_tol) moves each evaluation
            line.noise += output_jitter * float(sum(np.sum(np.abs(w)) for w in weight))
        return line

    # -- the finite-difference judgment (first order, and second for higher_order) ------
    def judge_lines(self, check: str, line: Line, mode: str, report: FunctionReport) -> None:
        sizes = [x.size for x in self.inputs.xs]
        if mode == "full":
            verdicts = [
                (Subset(i, k, k + 1), line.judge(Subset(i, k, k + 1)))
                for i, n in enumerate(sizes)
                for k in range(n)
            ]
            bad = [(s, v) for s, v in verdicts if not v.ok]
            kinks = [s for s, v in verdicts if v.status == "kink"]
            if kinks:
                report.kinks[check] = self.say.kink_elements(kinks, line)
            if not bad:
                return
            failing = [(s, v) for s, v in bad if v.status == "fail"]
            if not failing:
                raise GradcheckInconclusive(check, self.say.inconclusive(bad[0][1], len(bad)))
            subset, verdict = max(
                failing, key=lambda sv: abs(sv[1].analytic - sv[1].numerical) - sv[1].tolerance
            )
            raise GradcheckFailure(
                check, self.say.element(check, subset, verdict, line, None, len(failing))
            )
        verdict = line.judge(Subset(None))
        if verdict.status == "pass":
            return
        if verdict.status == "kink":
            report.kinks[check] = self.say.kink_line(verdict)
            return
        if verdict.status == "inconclusive":
            raise GradcheckInconclusive(check, self.say.inconclusive(verdict, 1))
        before = self.evaluations
        located = localize(line.judge, sizes)
        extra = self.evaluations - before
        if located.subset is not None:
            raise GradcheckFailure(
                check,
                self.say.element(check, located.subset, located.verdict, line, verdict, extra),
            )
        if located.kinks:  # each element is consistent alone: several kinks combined
            report.kinks[check] = self.say.combined_kinks(verdict, extra)
            return
        raise GradcheckFailure(check, self.say.unlocalized(check, verdict, extra))
