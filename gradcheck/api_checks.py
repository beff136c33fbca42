"""The checks of `check_function` beyond finite differences: adjoint (forward mode),
higher_order (the double backward) and batched (batched_vjp)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gradcheck import numerics
from gradcheck.api_inputs import FnRaised
from gradcheck.api_lines import Line, Subset, Verdict, localize
from gradcheck.errors import GradcheckFailure, Unsupported

if TYPE_CHECKING:
    from gradcheck.api import FunctionReport
    from gradcheck.api_session import Session

Arrays = list[np.ndarray]


def adjoint(session: Session, line: Line, jv: Arrays | None) -> None:
    """<u, J v> by forward mode against <J^T u, v> by the backward; bisection over
    forward-mode calls with the tangent restricted to parts of the inputs on a failure."""
    u, v, g = line.weight, line.tangent, line.gradient
    xs = session.inputs.xs

    def judge(subset: Subset) -> Verdict:
        if subset.index is None:
            jv_s = jv
        else:
            tangent = subset.restrict(v)
            _, out = session.call(
                "adjoint",
                "forward mode (jvp)",
                session.adapter.jvp,
                session.fn_tuple,
                session.tensors(xs),
                session.tensors(tangent),
            )
            jv_s = session.host(
                "adjoint",
                [out[j] for j in session.floating],
                [session.out_shapes[j] for j in session.floating],
                "tangent",
            )
        d = subset.restrict(v)
        result = numerics.adjoint_mismatch(u, jv_s, g, d, "float64")
        tolerance = result.tolerance
        if session.band is not None:
            tolerance = max(
                tolerance, session.band(numerics.norm(u) * numerics.norm(d), result.rhs)
            )
        ok = abs(result.lhs - result.rhs) <= tolerance
        return Verdict("pass" if ok else "fail", result.rhs, result.lhs, 0.0, tolerance)

    verdict = judge(Subset(None))
    if verdict.ok:
        return
    sizes = [x.size for x in xs]
    before = session.evaluations
    located = localize(judge, sizes)
    extra = session.evaluations - before
    raise GradcheckFailure("adjoint", session.say.adjoint(located, verdict, line, extra))


def higher_order(session: Session, line: Line, mode: str, report: FunctionReport) -> None:
    """The double backward d/dx <J(x)^T u, v> against differences of the backward."""
    if "higher_order" not in session.adapter.capabilities:
        raise Unsupported(f"adapter {session.adapter.name!r} has no double backward")
    u, v, g = line.weight, line.tangent, line.gradient
    w = [session.draw(s) for s in session.shapes]
    _, cotangents = session.cotangents(u)

    def gradient(*primals: Any) -> tuple:
        return tuple(session.adapter.vjp(session.fn_tuple, primals, cotangents)[1])

    _, second = session.call(
        "higher_order",
        "the double backward",
        session.adapter.vjp,
        gradient,
        session.tensors(session.inputs.xs, True),
        session.tensors(v),
    )
    hv = session.host("higher_order", second, session.shapes, "the second-order gradient")
    second_line = session.line(
        lambda points: session.vjp("higher_order", points, u)[1],
        w,
        v,
        g,
        hv,
        session.jitter_gradient,
        session.jitter_gradient,
    )
    try:
        session.judge_lines("higher_order", second_line, mode, report)
    except GradcheckFailure as failure:
        if all(not np.any(h) for h in hv):
            raise GradcheckFailure(
                "higher_order", failure.summary + session.say.ZERO_HINT
            ) from None
        raise


def batched(session: Session, u: Arrays, g: Arrays) -> None:
    """The adapter's batched_vjp against one backward per cotangent."""
    if "batched" not in session.adapter.capabilities:
        raise Unsupported(f"adapter {session.adapter.name!r} has no batched_vjp")
    u2 = [session.draw(a.shape) for a in u]
    full, _ = session.cotangents(u)
    full2, _ = session.cotangents(u2)
    stacked = session.tensors([np.stack([a, b]) for a, b in zip(full, full2, strict=True)])
    try:
        _, grads = session.adapter.batched_vjp(
            session.fn_tuple, session.tensors(session.inputs.xs, True), stacked
        )
    except FnRaised as raised:
        raise raised.error from None
    except Exception as error:
        text = " ".join(str(error).split())
        if "vmap" in text or "batch" in text.lower():
            raise Unsupported(f"fn's backward cannot be batched: {text[:200]}") from error
        raise GradcheckFailure(
            "batched", f"batched_vjp raised {type(error).__name__}: {text[:300]}"
        ) from error
    batched = session.host("batched", grads, [(2, *s) for s in session.shapes], "batched gradient")
    _, g2 = session.vjp("batched", session.inputs.xs, u2)
    for b, expected in enumerate((g, g2)):
        for i, (got, want) in enumerate(zip([a[b] for a in batched], expected, strict=True)):
            result = numerics.compare(got, want, "float64")
            if not result.ok:
                raise GradcheckFailure("batched", session.say.batched(i, b, result))
