"""check_function against torch.autograd.gradcheck / gradgradcheck, jax's and HIPS
autograd's check_grads: wall time on the same function, and which planted bugs each
catches.

The function is swish, y = x * sigmoid(x), in float64, written as each framework's
custom-gradient function (torch.autograd.Function, jax.custom_vjp, an autograd
primitive) with a hand-written backward that is itself differentiable. Inputs are
uniform in [-3, 3] (so that "x < -2" holds somewhere at every size).

Cost: each round times each method over `--calls` back-to-back calls (the mean per call),
methods interleaved and their order rotated by one each round, `--reps` rounds; the table
gives the fastest round (ms per call), the least disturbed by other processes, and ratios
of those. Rotation: a method that runs right after another framework's check finds its
caches cold, one right after a sibling (torch's gradcheck after check_function, which
warms torch's autograd) finds them warm; in a fixed order that bias is the same every
round, and it moved the ratio by 10 to 20% here.
Detection: per size and seed, fresh inputs and check_function(seed=s) /
torch.manual_seed(s); a bug counts as caught by check_function only under the right
check name. "correct" counts false alarms (and inconclusive results) instead.

Run by hand, from the repository root: python benchmarks/check_function.py
(jax and autograd columns appear when those packages are installed).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch

from gradcheck import GradcheckFailure, GradcheckInconclusive, check_function

BUGS = ("correct", "x1.01 everywhere", "x1.1 on one element", "sign flip where x<-2")
SECOND_ORDER_BUG = "detached double backward"


def swish_function(bug: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Swish as a torch.autograd.Function with `bug` planted in its backward."""

    class Swish(torch.autograd.Function):
        @staticmethod
        def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(x)
            return x * torch.sigmoid(x)

        @staticmethod
        def backward(ctx: torch.autograd.function.FunctionCtx, g: torch.Tensor) -> torch.Tensor:
            (x,) = ctx.saved_tensors
            if bug == SECOND_ORDER_BUG:
                x = x.detach()  # right values, but the double backward loses d/dx
            s = torch.sigmoid(x)
            grad = g * s * (1 + x * (1 - s))
            if bug == "x1.01 everywhere":
                grad = grad * 1.01
            elif bug == "x1.1 on one element":
                scale = torch.ones_like(grad)
                scale[grad.numel() // 3] = 1.1
                grad = grad * scale
            elif bug == "sign flip where x<-2":
                grad = torch.where(x < -2, -grad, grad)
            return grad

    return Swish.apply


def jax_swish() -> Callable | None:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    @jax.custom_vjp
    def swish(x):  # noqa: ANN001, ANN202
        return x * jax.nn.sigmoid(x)

    def forward(x):  # noqa: ANN001, ANN202
        return swish(x), x

    def backward(x, g):  # noqa: ANN001, ANN202
        s = jax.nn.sigmoid(x)
        return (g * s * (1 + x * (1 - s)),)

    swish.defvjp(forward, backward)
    del jnp
    return swish


def autograd_swish() -> Callable | None:
    try:
        import autograd.numpy as anp
        from autograd.extend import defvjp, primitive
    except ImportError:
        return None

    def sigmoid(x):  # noqa: ANN001, ANN202
        return 1 / (1 + anp.exp(-x))

    @primitive
    def swish(x):  # noqa: ANN001, ANN202
        return x * sigmoid(x)

    def backward(ans, x):  # noqa: ANN001, ANN202
        s = sigmoid(x)
        return lambda g: g * s * (1 + x * (1 - s))

    defvjp(swish, backward)
    return swish


def inputs(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-3, 3, n)


def cost_methods(n: int, slow_limit: int) -> dict[str, Callable[[], object]]:
    fn = swish_function("correct")
    x = torch.tensor(inputs(n, 0), requires_grad=True)
    methods: dict[str, Callable[[], object]] = {
        "ours": lambda: check_function(fn, x),
        "torch fast": lambda: torch.autograd.gradcheck(fn, (x,), fast_mode=True),
        "ours +higher_order": lambda: check_function(
            fn, x, checks=("finite_difference", "adjoint", "higher_order")
        ),
        "gradgradcheck fast": lambda: (
            torch.autograd.gradcheck(fn, (x,), fast_mode=True)
            and torch.autograd.gradgradcheck(fn, (x,), fast_mode=True)
        ),
    }
    if n <= slow_limit:
        methods["torch slow"] = lambda: torch.autograd.gradcheck(fn, (x,), fast_mode=False)
    jax_fn = jax_swish()
    if jax_fn is not None:
        import jax.numpy as jnp
        from jax.test_util import check_grads

        xj = jnp.asarray(inputs(n, 0))
        methods["jax"] = lambda: check_grads(jax_fn, (xj,), order=1, modes=("rev",))
    hips_fn = autograd_swish()
    if hips_fn is not None:
        from autograd.test_util import check_grads as hips_check

        xa = inputs(n, 0)
        methods["HIPS autograd"] = lambda: hips_check(hips_fn, modes=["rev"], order=1)(xa)
    return methods


def time_methods(
    methods: dict[str, Callable[[], object]], reps: int, calls: int
) -> dict[str, float]:
    for method in methods.values():  # warm-up: first-use costs are not the steady state
        method()
    names = list(methods)
    best = dict.fromkeys(methods, float("inf"))
    for round_ in range(reps):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            method = methods[name]
            start = time.perf_counter()
            for _ in range(calls):
                method()
            best[name] = min(best[name], (time.perf_counter() - start) / calls)
    return {name: 1e3 * seconds for name, seconds in best.items()}


def ours_catches(bug: str, n: int, seed: int) -> str:
    """ "caught", "missed", "inconclusive" or "wrong check: ..." for check_function."""
    fn = swish_function(bug)
    x = torch.tensor(inputs(n, seed), requires_grad=True)
    second = bug == SECOND_ORDER_BUG
    checks = ("finite_difference", "adjoint", "higher_order") if second else ("finite_difference",)
    try:
        check_function(fn, x, checks=checks, seed=seed)
    except GradcheckFailure as failure:
        wanted = "higher_order" if second else "finite_difference"
        return "caught" if failure.check == wanted else f"wrong check: {failure.check}"
    except GradcheckInconclusive:
        return "inconclusive"
    return "missed"


def torch_catches(bug: str, n: int, seed: int) -> bool:
    fn = swish_function(bug)
    x = torch.tensor(inputs(n, seed), requires_grad=True)
    torch.manual_seed(seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if bug == SECOND_ORDER_BUG:
                return not torch.autograd.gradgradcheck(fn, (x,), fast_mode=True)
            return not torch.autograd.gradcheck(fn, (x,), fast_mode=True)
    except Exception:  # gradcheck raises GradcheckError on a mismatch
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,256,1024,4096,16384,32768")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--calls", type=int, default=5, help="back-to-back calls per round")
    parser.add_argument(
        "--slow-limit", type=int, default=1024, help="largest n for fast_mode=False"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    # One thread by default: on two shared cores, more make every timing noisier.
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, numpy {np.__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} cores, torch threads {args.threads}\n"
    )
    print(
        f"## Cost: fastest of {args.reps} rounds (methods interleaved, order rotated; "
        f"{args.calls} calls each), ms per call, float64\n"
    )
    names = [
        "ours",
        "torch fast",
        "torch slow",
        "jax",
        "HIPS autograd",
        "ours +higher_order",
        "gradgradcheck fast",
    ]
    rows = []
    for n in sizes:
        timings = time_methods(cost_methods(n, args.slow_limit), args.reps, args.calls)
        rows.append((n, timings))
    present = [m for m in names if any(m in t for _, t in rows)]
    header = ["n", *present, "ours / torch fast", "ours+HO / gradgradcheck fast"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for n, timings in rows:
        cells = [str(n)] + [f"{timings[m]:.2f}" if m in timings else "-" for m in present]
        cells.append(f"{timings['ours'] / timings['torch fast']:.2f}x")
        cells.append(f"{timings['ours +higher_order'] / timings['gradgradcheck fast']:.2f}x")
        print("| " + " | ".join(cells) + " |")

    print(f"\n## Detection: seeds (of {args.seeds}) on which each bug is caught\n")
    print(
        "check_function: the default checks (finite_difference; the Function has no jvp, "
        "so adjoint is not run), plus higher_order for the double-backward bug; "
        "torch: gradcheck(fast_mode=True), gradgradcheck for the double-backward bug. "
        "For `correct`, the counts are false alarms.\n"
    )
    print("| bug | " + " | ".join(f"n={n} ours / torch" for n in sizes) + " |")
    print("|" + "---|" * (len(sizes) + 1))
    for bug in (*BUGS, SECOND_ORDER_BUG):
        cells = []
        for n in sizes:
            outcomes = [ours_catches(bug, n, s) for s in range(args.seeds)]
            caught = sum(o == "caught" for o in outcomes)
            odd = len(outcomes) - caught - outcomes.count("missed")
            torch_caught = sum(torch_catches(bug, n, s) for s in range(args.seeds))
            note = f" ({odd} odd: {sorted(set(outcomes) - {'caught', 'missed'})})" if odd else ""
            cells.append(f"{caught} / {torch_caught}{note}")
        print(f"| {bug} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
