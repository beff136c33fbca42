"""`check_function`'s messages: which input and element, the two values as plain floats,
in a few lines."""

from __future__ import annotations

import math
from typing import Any

from gradcheck.api_inputs import Inputs
from gradcheck.api_lines import Line, Located, Subset, Verdict, element, num

# What each check compares: (the quantity, the analytic side, the numerical side).
WORDS = {
    "finite_difference": (
        "the gradient of <u, fn>",
        "fn's backward",
        "finite differences of fn",
    ),
    "higher_order": (
        "the second derivative d/dx <J^T u, v>",
        "the double backward",
        "differences of the backward",
    ),
}


class Messages:
    ZERO_HINT = (
        "\n  the double backward is exactly 0 everywhere: is fn's backward differentiable? "
        "(@once_differentiable, .detach() or no_grad in a backward cut its graph)"
    )

    def __init__(self, inputs: Inputs) -> None:
        self.inputs = inputs

    def _where(self, subset: Subset) -> tuple[str, tuple[int, ...]]:
        assert subset.index is not None
        shape = self.inputs.xs[subset.index].shape
        return self.inputs.name(subset.index), element(shape, subset.lo)

    def element(
        self,
        check: str,
        subset: Subset,
        verdict: Verdict,
        line: Line,
        top: Verdict | None,
        extra: int,
    ) -> str:
        """A failing single element, in that element's own units (the directional values
        divided by the direction's component there)."""
        what, analytic_name, numerical_name = WORDS[check]
        name, index = self._where(subset)
        d = float(line.tangent[subset.index].reshape(-1)[subset.lo])
        analytic, numerical = verdict.analytic / d, verdict.numerical / d
        lines = []
        if verdict.sides is not None:
            left, right = (s / d for s in verdict.sides)
            below, above = (left, right) if d > 0 else (right, left)
            lines.append(
                f"{name} is at a kink at element {index}: {analytic_name} gives {num(analytic)}, "
                f"outside the one-sided derivatives {num(below)} (from below) and "
                f"{num(above)} (from above) that a valid gradient lies between"
            )
        else:
            lines.append(
                f"{what} with respect to {name} is wrong at element {index}: "
                f"{analytic_name} gives {num(analytic)}, {numerical_name} give "
                f"{num(numerical)} (error estimate {verdict.error / abs(d):.2g}, "
                f"tolerance {verdict.tolerance / abs(d):.2g})"
            )
        if top is not None:
            lines.append(
                f"  along a random direction through all inputs: {num(top.analytic)} vs "
                f"{num(top.numerical)} (tolerance {top.tolerance:.2g}); located by bisection "
                f"in {extra} extra calls of fn"
            )
        elif extra > 1:
            lines.append(f"  {extra} elements fail; this one is the furthest off")
        lines.append("  (u, v: random cotangent and direction drawn from check_function's seed)")
        return "\n".join(lines)

    def unlocalized(self, check: str, verdict: Verdict, extra: int) -> str:
        what, analytic_name, numerical_name = WORDS[check]
        return (
            f"{what} disagrees along a random direction v: {analytic_name} gives "
            f"{num(verdict.analytic)}, {numerical_name} give {num(verdict.numerical)} "
            f"(error estimate {verdict.error:.2g}, tolerance {verdict.tolerance:.2g})\n"
            f"  no single element disagrees on its own ({extra} extra calls of fn); "
            "try mode='full' on smaller inputs"
        )

    def kink_line(self, verdict: Verdict) -> str:
        assert verdict.sides is not None
        left, right = verdict.sides
        return (
            f"at a kink along the random direction: one-sided derivatives {num(left)} and "
            f"{num(right)}; the analytic {num(verdict.analytic)} lies within them"
        )

    def combined_kinks(self, verdict: Verdict, extra: int) -> str:
        return (
            f"several kinks combined along the random direction ({num(verdict.analytic)} vs "
            f"{num(verdict.numerical)}); each element alone is consistent ({extra} extra calls)"
        )

    def kink_elements(self, subsets: list[Subset], line: Line) -> str:
        where = ", ".join(f"{n} {i}" for n, i in (self._where(s) for s in subsets[:5]))
        more = f" and {len(subsets) - 5} more" if len(subsets) > 5 else ""
        return (
            f"{len(subsets)} element(s) at kinks ({where}{more}); their gradients lie within "
            "the one-sided derivatives"
        )

    def inconclusive(self, verdict: Verdict, count: int) -> str:
        scale = max(abs(verdict.analytic), abs(verdict.numerical))
        many = f" ({count} elements)" if count > 1 else ""
        if not math.isfinite(verdict.numerical):
            return (
                f"fn is not finite within the difference step of the inputs{many} (it "
                "overflows or leaves its domain there): check at inputs further from that "
                "edge, or pass a smaller eps="
            )
        return (
            f"the difference estimate{many} is too noisy to judge: {num(verdict.numerical)} with "
            f"error estimate {verdict.error:.2g} against an analytic {num(verdict.analytic)} "
            f"(size {scale:.2g}): the stencil crosses a kink or discontinuity, or fn is noisy; "
            "try other inputs, a smaller eps=, or allow_inconclusive=True"
        )

    def adjoint(self, located: Located, top: Verdict, line: Line, extra: int) -> str:
        head = (
            f"forward mode disagrees with the backward: <u, J v> = {num(top.numerical)} by "
            f"forward mode (jvp), <J^T u, v> = {num(top.analytic)} by the backward "
            f"(tolerance {top.tolerance:.2g})"
        )
        if located.subset is None or located.verdict is None:
            return head + f"\n  no single element disagrees on its own ({extra} extra jvp calls)"
        name, index = self._where(located.subset)
        d = float(line.tangent[located.subset.index].reshape(-1)[located.subset.lo])
        forward, backward = located.verdict.numerical / d, located.verdict.analytic / d
        return (
            f"{head}\n  at {name} element {index}: forward mode gives "
            f"{num(forward)}, the backward {num(backward)} "
            f"(located in {extra} extra jvp calls)\n"
            "  where finite differences passed, fn's forward-mode derivative (jvp) is at fault"
        )

    def batched(self, i: int, b: int, result: Any) -> str:
        index = result.worst_index
        return (
            f"batched_vjp disagrees with one backward per cotangent for {self.inputs.name(i)} "
            f"(batch entry {b}) at element {index}: {num(result.actual)} batched, "
            f"{num(result.expected)} alone (tolerance {result.tolerance:.2g})"
        )
