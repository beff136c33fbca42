"""check_function: a drop-in for torch's gradcheck/gradgradcheck on hand-written gradients."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import reference_engine as engine
from gradcheck import (
    FunctionReport,
    GradcheckFailure,
    GradcheckInconclusive,
    Unsupported,
    check_function,
)
from gradcheck.api_lines import localization_bound
from tests import bug_zoo

torch = pytest.importorskip("torch")


def f64(values: object, requires_grad: bool = True) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64, requires_grad=requires_grad)


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return f64(np.random.default_rng(seed).standard_normal(shape))


def swish(bug: str = "") -> object:
    """y = x * sigmoid(x) * w as an autograd.Function without jvp; `bug` in its backward."""

    class Swish(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w):  # noqa: ANN001, ANN205
            ctx.save_for_backward(x, w)
            return x * torch.sigmoid(x) * w

        @staticmethod
        def backward(ctx, g):  # noqa: ANN001, ANN205
            x, w = ctx.saved_tensors
            if bug == "detached":
                x = x.detach()  # first derivative right, double backward loses d/dx
            s = torch.sigmoid(x)
            gx = g * w * s * (1 + x * (1 - s))
            gw = g * x * s
            if bug == "w[1, 2] x1.05":
                scale = torch.ones_like(gw)
                scale[1, 2] = 1.05
                gw = gw * scale
            return gx, gw

    return Swish.apply


# -- acceptance ----------------------------------------------------------------------------


def test_correct_function_without_jvp_passes_and_says_adjoint_was_not_run() -> None:
    report = check_function(swish(), randn(3, 4), randn(3, 4, seed=1))
    assert report and report.passed == ["finite_difference"]
    assert "no forward mode" in report.not_run["adjoint"] and "jvp" in report.not_run["adjoint"]
    assert report.failure is None and report.inconclusive == {}


def test_a_wrong_backward_element_is_named_with_its_input_and_index() -> None:
    with pytest.raises(GradcheckFailure) as info:
        check_function(swish("w[1, 2] x1.05"), randn(3, 4), randn(3, 4, seed=1))
    failure = info.value
    assert failure.check == "finite_difference"
    first = str(failure).splitlines()[0]
    assert "input 1" in first and "element (1, 2)" in first
    assert "np.float64" not in str(failure) and len(str(failure).splitlines()) <= 12
    # The element's two values are printed as plain floats; their ratio is the bug.
    backward, differences = (float(v) for v in re.findall(r"give[s]? (-?[\d.e+-]+)", first))
    assert backward / differences == pytest.approx(1.05, rel=1e-6)


def test_keyword_inputs_are_named_by_keyword() -> None:
    fn = swish("w[1, 2] x1.05")
    with pytest.raises(GradcheckFailure, match=r"input 'w' is wrong at element \(1, 2\)"):
        check_function(lambda x, *, w: fn(x, w), randn(3, 4), w=randn(3, 4, seed=1))


def test_a_detached_double_backward_fails_higher_order_only() -> None:
    x, w = randn(5), randn(5, seed=1)
    assert check_function(swish("detached"), x, w)  # first order is right
    with pytest.raises(GradcheckFailure) as info:
        check_function(swish("detached"), x, w, checks=("finite_difference", "higher_order"))
    assert info.value.check == "higher_order"
    assert "double backward" in str(info.value) and "input 0" in str(info.value)
    assert check_function(swish(), x, w, checks=("higher_order",)).passed == ["higher_order"]


def test_a_wrong_double_backward_with_right_first_derivative_fails() -> None:
    class Cube(torch.autograd.Function):  # backward through a Function whose backward is off
        @staticmethod
        def forward(ctx, x):  # noqa: ANN001, ANN205
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):  # noqa: ANN001, ANN205
            (x,) = ctx.saved_tensors
            return g * Square.apply(x) * 3

    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # noqa: ANN001, ANN205
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):  # noqa: ANN001, ANN205
            (x,) = ctx.saved_tensors
            return g * 2.2 * x  # should be 2 x

    x = randn(4)
    assert check_function(Cube.apply, x)
    with pytest.raises(GradcheckFailure) as info:
        check_function(Cube.apply, x, checks=("higher_order",))
    assert info.value.check == "higher_order" and "exactly 0" not in str(info.value)


@pytest.mark.parametrize("mode", ["directional", "full"])
@pytest.mark.parametrize(
    "name, fn, values",
    [
        ("relu at 0", torch.relu, [0.0]),
        ("relu at zeros", torch.relu, [0.0, 0.0, 0.0, 1.0, -1.0]),
        ("clamp at its bound", lambda x: torch.clamp(x, min=0.0), [0.0, 0.0, 2.0]),
        ("clamp at both bounds", lambda x: torch.clamp(x, -1.0, 1.0), [-1.0, 1.0, 0.5]),
        ("abs at 0", torch.abs, [0.0, 0.0, 3.0]),
        ("max tie", lambda x: x.max(), [1.0, 1.0, 0.5]),
        ("amax tie", lambda x: torch.amax(x, 0), [2.0, 2.0, 2.0]),
        ("maximum tie", lambda x: torch.maximum(x, x.flip(0)), [1.0, 2.0, 1.0]),
    ],
)
def test_kinks_at_the_inputs_never_fail(name: str, fn: object, values: list, mode: str) -> None:
    for seed in range(10):
        report = check_function(fn, f64(values), seed=seed, mode=mode)
        assert report.passed[:1] == ["finite_difference"], (name, seed)


def test_a_gradient_outside_the_one_sided_derivatives_at_a_kink_fails() -> None:
    class BadRelu(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # noqa: ANN001, ANN205
            ctx.save_for_backward(x)
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx, g):  # noqa: ANN001, ANN205
            (x,) = ctx.saved_tensors
            return g * torch.where(x > 0, 1.0, 3.0).to(g)  # 3 at the kink: not in [0, 1]

    with pytest.raises(GradcheckFailure, match=r"at a kink at element \(1,\).*one-sided"):
        check_function(BadRelu.apply, f64([2.0, 0.0, 1.0]))


def test_non_finite_complex_empty_and_integer_inputs_are_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"input 0 has 1 non-finite value.*element \(1,\)"):
        check_function(torch.sin, f64([1.0, float("nan")]))
    with pytest.raises(ValueError, match=r"input 1 has .*non-finite.*inf"):
        check_function(torch.add, f64([1.0]), f64([float("inf")]))
    with pytest.raises(ValueError, match="input 0 is complex"):
        check_function(torch.sin, torch.ones(2, dtype=torch.complex128, requires_grad=True))
    with pytest.raises(ValueError, match=r"input 0 is empty \(shape \(0, 3\)\)"):
        check_function(torch.sin, torch.zeros((0, 3), dtype=torch.float64, requires_grad=True))
    with pytest.raises(ValueError, match="no floating-point input to differentiate"):
        check_function(torch.neg, torch.arange(3))
    with pytest.raises(ValueError, match="no input requires grad"):
        check_function(torch.sin, f64([1.0], requires_grad=False))
    with pytest.raises(ValueError, match="fn's output 0 is not finite at the given inputs"):
        check_function(torch.exp, f64([1.0, 800.0]))  # overflows at the inputs
    with pytest.raises(GradcheckInconclusive, match="not finite within the difference step"):
        check_function(torch.exp, f64([np.log(np.finfo(float).max)]))  # just beyond them


def test_a_nondeterministic_fn_is_inconclusive_not_a_pass() -> None:
    class Noisy(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # noqa: ANN001, ANN205
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, g):  # noqa: ANN001, ANN205
            (x,) = ctx.saved_tensors
            return g * x.cos() * (1 + 1e-9 * torch.randn_like(x))

    x = randn(6)
    with pytest.raises(GradcheckInconclusive, match="backward differs between two runs"):
        check_function(Noisy.apply, x)
    report = check_function(Noisy.apply, x, allow_inconclusive=True)
    assert "two runs" in report.inconclusive["finite_difference"] and report.passed == []
    assert check_function(Noisy.apply, x, nondet_tol=1e-6).passed == ["finite_difference"]
    with pytest.raises(GradcheckInconclusive, match="output differs"):
        check_function(lambda x: x * (1 + 1e-3 * torch.rand(())), x)


def test_the_output_rerun_runs_fn_as_the_backward_does() -> None:
    """The rerun that rules out a nondeterministic output runs fn on inputs that require
    grad, as the first call did: an engine may pick other kernels without a graph (here
    an output off by 1e-6 then), which is no nondeterminism. The wrong backward fails."""
    wrong = swish("w[1, 2] x1.05")

    def fn(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        y = wrong(x, w)
        return y if x.requires_grad else y + 1e-6

    with pytest.raises(GradcheckFailure, match=r"input 1 is wrong at element \(1, 2\)"):
        check_function(fn, randn(2, 3), randn(2, 3, seed=1))


def test_a_backward_that_differs_when_run_again_is_inconclusive() -> None:
    """Reentrancy, as torch's gradcheck: the second backward through the same forward."""
    runs = []

    class Counting(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # noqa: ANN001, ANN205
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, g):  # noqa: ANN001, ANN205
            runs.append(1)
            (x,) = ctx.saved_tensors
            return g * x.cos() * (1 + 1e-12 * len(runs))  # the second run is off by 1e-12

    with pytest.raises(GradcheckInconclusive, match="backward differs between two runs"):
        check_function(Counting.apply, randn(5))
    assert len(runs) == 2


def test_torch_tensors_tuples_keywords_and_constants_pass_through() -> None:
    x, w = randn(4), randn(2)
    index, scale, weights = torch.tensor([0, 2]), 3.0, f64([1.0, 2.0], requires_grad=False)
    seen = {}

    def fn(x, index, scale, *, w, weights, flag):  # noqa: ANN001, ANN202
        seen.update(index=index, scale=scale, weights=weights, flag=flag)
        return (x[index] * w * weights).sum() * scale

    report = check_function(fn, x, index, scale, w=w, weights=weights, flag="on")
    assert report.passed == ["finite_difference", "adjoint"]
    assert seen["index"] is index and seen["weights"] is weights and seen["flag"] == "on"
    assert check_function(lambda a, b: a * b.sin(), (x, x + 1)).passed[0] == "finite_difference"
    assert check_function(torch.tanh, (x,))  # a one-tuple, as gradcheck takes it
    assert x.requires_grad and x.grad is None  # the caller's tensors are left alone


def test_raise_exception_false_returns_a_falsy_report_with_the_failure() -> None:
    report = check_function(
        swish("w[1, 2] x1.05"), randn(3, 4), randn(3, 4, seed=1), raise_exception=False
    )
    assert isinstance(report, FunctionReport) and not report
    assert isinstance(report.failure, GradcheckFailure) and report.passed == []
    assert check_function(torch.sin, randn(3), raise_exception=False)


@pytest.mark.parametrize("sizes", [(1,), (7,), (64,), (1000,), (3, 5), (40, 1, 300)])
def test_bisection_stays_within_its_documented_bound(sizes: tuple[int, ...]) -> None:
    """Count evaluations of fn: the failing run may use at most the bound more than the
    passing one (4 per line: k + 2 ceil(log2 n) + 1 lines), plus the one rerun that rules
    out a nondeterministic output."""
    xs = [randn(n, seed=i) for i, n in enumerate(sizes)]
    culprit = len(sizes) - 1

    def make(bug: bool) -> object:
        class Mul(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *xs):  # noqa: ANN002, ANN001, ANN205
                ctx.save_for_backward(*xs)
                return sum((x * x).sum() for x in xs)

            @staticmethod
            def backward(ctx, g):  # noqa: ANN001, ANN205
                grads = [2 * g * x for x in ctx.saved_tensors]
                if bug:
                    grads[culprit] = grads[culprit].clone()
                    grads[culprit][-1] *= 1.01
                return tuple(grads)

        return Mul.apply

    passing = check_function(make(False), *xs)
    report = check_function(make(True), *xs, raise_exception=False)
    assert isinstance(report.failure, GradcheckFailure)
    n = sizes[culprit]
    assert f"input {culprit} is wrong at element ({n - 1},)" in str(report.failure)
    extra = report.evaluations - passing.evaluations
    assert 1 < extra <= localization_bound(sizes, 4) + 1
    k = len(sizes) if len(sizes) > 1 else 0
    assert localization_bound(sizes, 4) == 4 * (k + 2 * math.ceil(math.log2(max(sizes))) + 1)


def test_directional_mode_calls_fn_a_constant_number_of_times() -> None:
    for n in (2, 64, 4096):
        x = randn(n)
        # 4 difference points, 1 forward with the backward run twice through it
        assert check_function(swish(), x, x.detach().clone().requires_grad_()).evaluations == 5
        assert check_function(torch.tanh, x).evaluations == 6  # + forward mode
        assert check_function(torch.tanh, x, checks=FULL).evaluations == 6 + 5 + 2


FULL = ("finite_difference", "adjoint", "higher_order", "batched")


def test_all_checks_pass_on_correct_torch_code_in_both_modes() -> None:
    a, b = randn(3, 3), randn(3, 2, seed=1)
    for mode in ("directional", "full"):
        report = check_function(lambda a, b: torch.tanh(a @ b), a, b, checks=FULL, mode=mode)
        assert report.passed == list(FULL), mode


def test_fn_returning_numpy_is_a_message_about_fn() -> None:
    with pytest.raises(TypeError, match="fn returned a numpy.ndarray as output 0"):
        check_function(lambda x: x.detach().numpy(), randn(3))


def test_float32_inputs_are_checked_in_float64_with_a_warning_and_a_note() -> None:
    x = torch.randn(4, requires_grad=True)
    with pytest.warns(UserWarning, match="input 0 is float32: checked in float64"):
        report = check_function(torch.sin, x)
    assert report.notes and "float32" in report.notes[0]
    with pytest.raises(ValueError, match="output 0 of fn is float32"):
        check_function(lambda x: x.float(), randn(3))


def test_numpy_inputs_need_an_adapter_unless_fn_is_a_torch_function() -> None:
    x = np.linspace(-1, 1, 5)
    with pytest.raises(ValueError, match="adapter='torch'"):
        check_function(lambda x: torch.sin(x), x)
    assert check_function(lambda x: torch.sin(x), x, adapter="torch")
    assert check_function(torch.sin, x)  # a torch function: torch inferred
    assert check_function(torch.relu, np.array([0.0]))  # a kink, from numpy
    assert check_function(swish(), x, x + 1)  # an autograd.Function's apply
    assert check_function(engine.exp, x)  # a reference_engine function


def test_atol_and_rtol_widen_the_tolerance_eps_sets_the_step() -> None:
    fn, x, w = swish("w[1, 2] x1.05"), randn(3, 4), randn(3, 4, seed=1)
    assert check_function(fn, x, w, rtol=0.5)
    assert check_function(fn, x, w, atol=10.0)
    with pytest.raises(GradcheckFailure):
        check_function(fn, x, w, rtol=1e-9)
    assert check_function(torch.sin, randn(5), eps=1e-4, mode="full")
    with pytest.raises(GradcheckFailure):
        check_function(swish("w[1, 2] x1.05"), x, w, eps=1e-5)


def test_a_wrong_jvp_fails_the_adjoint_check_at_its_element() -> None:
    class Sin(torch.autograd.Function):
        @staticmethod
        def forward(x):  # noqa: ANN001, ANN205
            return x.sin()

        @staticmethod
        def setup_context(ctx, inputs, output):  # noqa: ANN001, ANN205
            (ctx.x,) = inputs
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):  # noqa: ANN001, ANN205
            (x,) = ctx.saved_tensors
            return g * x.cos()

        @staticmethod
        def jvp(ctx, t):  # noqa: ANN001, ANN205
            scale = torch.ones_like(t)
            scale[2] = -1.0  # forward mode wrong at element 2 only
            return t * ctx.x.cos() * scale

    with pytest.raises(GradcheckFailure) as info:
        check_function(Sin.apply, randn(5))
    assert info.value.check == "adjoint"
    assert "input 0 element (2,)" in str(info.value) and "jvp" in str(info.value)


def test_batched_compares_batched_vjp_with_one_backward_per_cotangent() -> None:
    from gradcheck.adapters.torch import TorchAdapter

    class WrongBatch(TorchAdapter):
        def batched_vjp(self, fn, primals, cotangents):  # noqa: ANN001, ANN201
            outputs, grads = super().batched_vjp(fn, primals, cotangents)
            return outputs, tuple(g * torch.tensor([1.0, 1.01]).reshape(2, 1) for g in grads)

    x = randn(4)
    assert check_function(torch.sin, x, checks=("batched",)).passed == ["batched"]
    with pytest.raises(GradcheckFailure, match=r"batch entry 1"):
        check_function(torch.sin, x, checks=("batched",), adapter=WrongBatch())


def test_nothing_run_is_unsupported_not_a_pass() -> None:
    with pytest.raises(Unsupported, match="none of the requested checks could run"):
        check_function(swish(), randn(2), randn(2), checks=("adjoint",))


def test_bad_options_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="mode must be"):
        check_function(engine.exp, np.ones(2), mode="fast")
    with pytest.raises(ValueError, match="unknown checks"):
        check_function(engine.exp, np.ones(2), checks=["vjp"])
    with pytest.raises(ValueError, match="sequence of check names"):
        check_function(engine.exp, np.ones(2), checks="adjoint")
    with pytest.raises(ValueError, match="eps must be"):
        check_function(engine.exp, np.ones(2), eps=0.0)
    with pytest.raises(ValueError, match="nondet_tol must be"):
        check_function(engine.exp, np.ones(2), nondet_tol=-1.0)


# -- the reference engine and the bug zoo ----------------------------------------------


def matmul_tanh(ops: dict) -> object:
    return lambda a, b: ops["sum"](ops["tanh"](ops["matmul"](a, b)), dim=None, keepdim=False)


@pytest.mark.parametrize("n", [2, 8, 64])
def test_reference_engine_in_a_constant_number_of_evaluations(n: int) -> None:
    a, b = np.random.default_rng(n).standard_normal((2, n, n))
    report = check_function(lambda a, b: engine.tanh(a @ b).sum(), a, b, adapter="reference")
    assert report.passed == ["finite_difference", "adjoint"]
    assert report.evaluations == 7  # vjp_twice's default: fn runs for each backward


@pytest.mark.parametrize("mode", ["directional", "full"])
def test_catches_a_wrong_vjp(mode: str) -> None:
    adapter = bug_zoo.tanh_vjp_one_minus_y
    a, b = np.random.default_rng(2).standard_normal((2, 4, 4))
    with pytest.raises(GradcheckFailure) as info:
        check_function(matmul_tanh(adapter.ops), a, b, adapter=adapter, mode=mode)
    assert info.value.check == "finite_difference"
    assert re.search(r"input [01] is wrong at element \(\d, \d\)", str(info.value))


def test_adjoint_catches_a_wrong_jvp() -> None:
    adapter = bug_zoo.sin_jvp_wrong_sign
    x = np.linspace(-1.0, 2.0, 7)
    with pytest.raises(GradcheckFailure) as info:
        check_function(lambda x: adapter.ops["sin"](x), x, adapter=adapter)
    assert info.value.check == "adjoint"
