"""The graph oracles: each runs one drawn Graph on an adapter and compares it with the truth.

The truth is the reference engine in float64 (`forward`, `vjp`, `higher_order`), the
adapter's own float64 central differences (`finite_difference`, `higher_order`), the
adapter's own forward mode (`adjoint`), or itself (`invariants`, `device_parity`).
Every check raises `GradcheckFailure` (fail), `Inconclusive` (counted, passed) or
`Unsupported` (skipped), or returns None (passed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck import numerics, repro
from gradcheck.errors import GradcheckFailure, Inconclusive, Unsupported, call_adapter
from gradcheck.graph import Graph, Node
from gradcheck.inplace import in_place_graph
from gradcheck.ops import spec_of
from gradcheck.ops.registry import known, limitation, reference_factor, without_second_order
from gradcheck.ops.spec import OpSpec
from gradcheck.runs import (
    Run,
    Truth,
    declared,
    reference,
    reference_pass,
    reference_spread,
    reference_values,
    rounded,
    truth_engine,
)

KINK_MARGIN = 10.0  # kink gaps below this many rtols of the inputs' size are inconclusive
# Near a curved kink (std's zero spread) the tolerances grow with the conditioning
# (`_conditioning_scale`, `_curvature_scale`); the margin only keeps an engine on the same
# side. Ten bfloat16 rtols (2.5 |x|) exceed any spread a std can have: nothing was
# conclusive. Half the inputs' size is two rtols there, and leaves other dtypes as they are.
CURVED_KINK_MARGIN = 0.5
KINK_REACH = 4.0  # difference stencils stay this many times their reach away from kinks
RANGE_HEADROOM = 16  # results above max/16 of a dtype are inconclusive (overflow risk)
# The smallest normal number of each dtype (bfloat16 has float32's exponent range).
UNDERFLOW = {"float64": 2.2250738585072014e-308, "float32": 1.1754943508222875e-38,
             "bfloat16": 1.1754943508222875e-38, "float16": 6.103515625e-05}  # fmt: skip
HVP_FACTOR = 4  # an HVP runs a backward of a backward: ~2-3x the ops of a VJP


class NearKink(Inconclusive):
    """An input of a kinked op lies within rounding of its kink (`_truth`)."""


def _truth(
    graph: Graph,
    adapter: Any,
    dtype: str,
    *,
    second_order: bool = False,
    tangents: bool = False,
    magnitudes: bool = False,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], Truth]:
    """Leaves, cotangents and tangents at `dtype`, and the reference's pass on them.

    Inconclusive when an input of a kinked op lies within rounding of its kink: there
    another engine (or this one at `dtype`) may be on the other side of it. Exact ties
    are compared against the declared first-order conventions; second derivatives at a
    kink have none (torch's norm gives NaN there), and a tie the adapter declares it
    breaks "any" way cannot be computed. `magnitudes`: the pass is used for rounding
    magnitudes and kink distances only, so user ops without a numpy reference are
    computed by the adapter itself (`runs.truth_engine`)."""
    leaves, cotangents, directions = rounded(graph, dtype)
    stand_in = adapter if magnitudes else None
    truth = reference_pass(graph, leaves, cotangents, directions if tangents else None, stand_in)
    # An engine's intermediates near the dtype's underflow limit lose their digits (a
    # float32 prod of 48 small values, 1e-37: torch's double backward gave -inf). float16
    # is left out: its limit (6e-5) is where many ordinary values lie.
    smallest = min(
        (np.min(np.abs(x[x != 0]), initial=np.inf) for x in truth.values), default=np.inf
    )
    if dtype != "float16" and smallest < UNDERFLOW[dtype] * RANGE_HEADROOM:
        raise Inconclusive(f"values within {RANGE_HEADROOM}x of the {dtype} underflow limit")
    beyond = _internal_overflow(graph, truth.values, dtype)
    if beyond:
        raise Inconclusive(beyond)
    for node in graph.nodes:
        spec = spec_of(node.op)
        if not spec.kinked:
            continue
        inputs = [truth.values[i] for i in node.inputs]
        gap = spec.kink.gap(inputs, node.attrs)
        # An exact tie among leaves, or of a value with itself, is a tie in every engine:
        # there the declared convention applies and is checked.
        self_tie = _self_tie(node)
        exact = self_tie or all(i < len(leaves) for i in node.inputs)
        # maximum(x, x) stays tied along every direction: smooth, so its second
        # derivative is defined; other kinks have no second-order convention.
        defined = spec.kink.defined and adapter.conventions.get(node.op) != "any"
        if gap == 0 and exact and defined and (self_tie or not second_order):
            if spec.kink.near is None:
                _require_clear_of_rounded_points(spec, inputs, node.attrs, dtype)
                continue
            # The slices beside the exact tie must be clear of it: a bfloat16 std of rows
            # (-5, -5) and (2.266, 2.281) rounds the second's mean onto one of its values.
            gap = spec.kink.near(inputs, node.attrs)
        # A distance below the dtype's smallest normal number is not resolved there
        # (normalize's eps = 1e-12 is 0 in float16: a zero slice is 0 / 0).
        margin = KINK_MARGIN * numerics.TOLERANCES[dtype].rtol
        if spec.kink.curved:  # its conditioning is in the tolerances: keep the side only
            margin = min(margin, CURVED_KINK_MARGIN)
        if not gap > max(margin * _largest(inputs), UNDERFLOW[dtype]):
            raise NearKink(f"{node.op} is within rounding of its kink")
    return leaves, cotangents, directions, truth


def _require_clear_of_rounded_points(
    spec: OpSpec, inputs: Sequence[np.ndarray], attrs: dict, dtype: str
) -> None:
    """Beside an exact tie, leaves are exact but a kink point need not be: bfloat16 holds
    clamp's bound -750 as -752, where torch's gradient is 1 at a leaf of -752 that float64
    leaves outside. Inconclusive when a leaf is within eps |p| of a point p the dtype does
    not hold (0 and hardswish's +-3 are held in every dtype: they change nothing)."""
    eps = numerics.TOLERANCES[dtype].eps
    for p in spec.kink.points(attrs):
        gaps = np.abs(inputs[0] - p)
        if p != numerics.round_to(np.array(p), dtype) and np.any(gaps[gaps > 0] <= eps * abs(p)):
            raise NearKink(f"{spec.name} is within rounding of its kink as {dtype} holds it")


def _internal_overflow(graph: Graph, values: Sequence[np.ndarray], dtype: str) -> str:
    """Why an op of `graph` may overflow `dtype` inside its kernels (`OpSpec.internal_size`
    within RANGE_HEADROOM of the dtype's largest number), or "" when none may."""
    for node in graph.nodes:
        spec = spec_of(node.op)
        if spec.internal_size is None:
            continue
        internal = spec.internal_size([values[i] for i in node.inputs], node.attrs)
        if internal > numerics.TOLERANCES[dtype].max / RANGE_HEADROOM:
            return (
                f"{node.op} forms values of about {internal:.3g} internally, within "
                f"{RANGE_HEADROOM}x of the {dtype} range limit"
            )
    return ""


def _assert_close(
    run: Run,
    actual: list[np.ndarray],
    expected: list[np.ndarray],
    what: str,
    script: tuple[str, str],
    scale: float = 0.0,
    factor: float = 1.0,
) -> None:
    """Element-wise comparison at the run's dtype; `scale` floors the magnitude that the
    absolute tolerance is relative to (for values that are pure cancellation noise),
    `factor` scales the dtype's tolerance (for longer computations).
    `script` is (code computing the values in a repro, the name of the list it makes)."""
    # An engine's intermediate terms can be larger than its results (x ** -2's second
    # derivative holds x ** -4): near the dtype's largest number they may overflow.
    if max(_largest(expected), scale) > numerics.TOLERANCES[run.dtype].max / RANGE_HEADROOM:
        raise Inconclusive(f"values within {RANGE_HEADROOM}x of the {run.dtype} range limit")
    # An op may declare that its kernels round more at a dtype (OpSpec.tolerance).
    factor *= max((spec_of(n.op).tolerance.get(run.dtype, 1.0) for n in run.graph.nodes), default=1)
    for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
        result = numerics.compare(a, e, run.dtype, scale=scale, factor=factor)
        if not result.ok:
            terms = [
                numerics.tolerance_terms(x, run.dtype, scale=scale, factor=factor) for x in expected
            ]
            snippet = repro.compare_snippet(*script, expected, terms, what)
            raise GradcheckFailure(
                run.check,
                f"{what} {i}: {result.describe()}",
                op=_nearest_op(run),
                repro=_script(run, snippet),
            )


def _script(run: Run, snippet: Any) -> str:
    return repro.script(
        run.graph, run.adapter, snippet, title=run.check, dtype=run.dtype, device=run.device
    )


def _nearest_op(run: Run) -> str | None:
    """The first node whose own forward or VJP, on reference inputs, disagrees (a user op
    without a numpy reference: its VJP with differences of its float64 forward)."""
    from gradcheck.localize import first_bad_node  # imported late: only failures need it

    try:
        truth = truth_engine(run.graph, run.adapter)
        return first_bad_node(run.graph, run.adapter, truth, run.dtype, run.device)
    except Exception:  # noqa: BLE001 - a hint only: never let it hide the failure itself
        return None


def check_forward(graph: Graph, adapter: Any, dtype: str, device: str) -> None:
    run = Run("forward", graph, adapter, dtype, device)
    leaves, _, _, truth = _truth(graph, adapter, dtype)
    expected = [truth.values[i] for i in graph.outputs]
    _assert_close(
        run,
        run.forward(leaves),
        expected,
        "output",
        (repro.FORWARD, "outputs"),
        _output_scale(graph, truth, dtype),
    )


def _output_scale(graph: Graph, truth: Truth, dtype: str) -> float:
    """The magnitude outputs' absolute tolerance is relative to: the largest value, times
    the conditioning of ops near a curved kink. One at distance d from it computes x - mean
    with eps |x| of rounding, eps |x| / d of its output; a chain of them compounds (float32
    group_norm of a group 1.81 +- 0.002, then layer_norm: 9e-5 off, tolerance 6e-5)."""
    tolerance = numerics.TOLERANCES[dtype]
    conditioning = math.prod(
        max(1.0, _largest(inputs) / gap) for _, inputs, gap, _ in _near_curved_kinks(graph, truth)
    )
    return _largest(truth.values) * max(1.0, tolerance.eps * conditioning / tolerance.atol_rel)


def check_vjp(graph: Graph, adapter: Any, dtype: str, device: str) -> None:
    _vjp_against_reference(Run("vjp", graph, adapter, dtype, device), graph)


def _vjp_against_reference(
    run: Run, graph: Graph, outputs: bool = False
) -> tuple[Truth, list[np.ndarray], list[np.ndarray], float]:
    """The run's gradients (and `outputs`) vs the reference's float64 pass over `graph`:
    the run's graph, or one computing the same function (`check_inplace`'s original).
    Returns that pass, the run's outputs and gradients, and the gradients' scale."""
    dtype = run.dtype
    leaves, cots, _, truth = _truth(graph, run.adapter, dtype)
    outs, grads = run.vjp(leaves, cots)
    if outputs:
        expected_outs = [truth.values[i] for i in graph.outputs]
        _assert_close(run, outs, expected_outs, "output", (repro.VJP, "outputs"),
                      _output_scale(graph, truth, dtype))  # fmt: skip
    expected = truth.adjoints[: len(leaves)]
    # Through a user op the reference's gradients are central differences: float64 gets
    # a factor, and an absolute floor of 4 times their change with another step.
    factor = reference_factor((n.op for n in graph.nodes), dtype)
    floor = 4 * reference_spread(graph, leaves, cots, truth) / factor
    scale = max(
        _largest(truth.adjoints),
        floor / numerics.TOLERANCES[dtype].atol_rel,
        _conditioning_scale(graph, truth, dtype),
    )
    _assert_close(run, grads, expected, "gradient of leaf", (repro.VJP, "grads"), scale,
                  factor=factor)  # fmt: skip
    return truth, outs, grads, scale


def check_inplace(graph: Graph, adapter: Any, dtype: str, device: str) -> None:
    """The graph with its ops in their in-place forms, each on a clone of its first input
    (`gradcheck.inplace`): outputs and gradients vs the reference, and vs the same
    adapter's out-of-place run of the original graph at the same dtype."""
    run = Run("inplace", in_place_graph(graph, adapter), adapter, dtype, device)
    truth, in_place_outs, in_place_grads, scale = _vjp_against_reference(run, graph, outputs=True)
    leaves, cots, _ = rounded(graph, dtype)
    outs, grads = Run("inplace", graph, adapter, dtype, device).vjp(leaves, cots)
    # Each run is within the tolerance of the truth: twice that between them.
    for actual, expected, what, values, size in (
        (in_place_outs, outs, "output", "outputs", _output_scale(graph, truth, dtype)),
        (in_place_grads, grads, "gradient of leaf", "grads", scale),
    ):
        _assert_close(run, actual, expected, f"in place vs out of place: {what}",
                      (repro.VJP, values), size, factor=2.0)  # fmt: skip


def _largest(arrays: Sequence[np.ndarray]) -> float:
    return max((float(np.max(np.abs(a))) for a in arrays if a.size), default=0.0)


def _total(arrays: Sequence[np.ndarray]) -> float:
    return float(sum(np.sum(np.abs(a)) for a in arrays))


def _dot(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray]) -> float:
    return float(sum(np.vdot(x, y) for x, y in zip(xs, ys, strict=True)))


def _require_clear_of_kinks(
    run: Run, truth: Truth, xs: Sequence[np.ndarray], v: Sequence[np.ndarray], h: float
) -> None:
    """Inconclusive unless every kinked op's inputs stay clear of its kink over the whole
    difference stencil x + t v, |t| <= h. Comparing branches at the stencil's points is
    not enough: a kink exactly at its centre (a std of values one ulp apart) is never
    crossed at those points, and a symmetric stencil reads |t| as slope 0 there."""
    graph = run.graph
    kinked = [
        (k, node)
        for k, node in enumerate(graph.nodes)
        if spec_of(node.op).kinked and not _self_tie(node)
    ]
    if not kinked:  # smooth graphs need no reference evaluations at all
        return
    ends = [reference_values(graph, numerics.shifted(xs, v, t), run.adapter) for t in (-h, h)]
    for k, node in kinked:
        spec = spec_of(node.op)
        inputs = [truth.values[i] for i in node.inputs]
        # How far the op's inputs move over the stencil (about linearly in t).
        reach = max(
            (_largest([end[i] - truth.values[i]]) for end in ends for i in node.inputs),
            default=0.0,
        )
        gap = spec.kink.gap(inputs, node.attrs)
        ends_gaps = [spec.kink.gap([end[i] for i in node.inputs], node.attrs) for end in ends]
        if not (gap > KINK_REACH * reach and min(ends_gaps) > 0):
            raise Inconclusive(f"finite differences reach a kink of {graph.nodes[k].op}")


def _self_tie(node: Any) -> bool:
    """A tie kink fed one value twice (maximum(x, x), l1_loss(x, x)): its branch never
    changes. Not so for other kinks of two inputs: atan2(x, x) at x == 0 sits on one, and
    cdist(x, x)'s gap leaves its never-breaking diagonal out already."""
    kink = spec_of(node.op).kink
    tie = kink is not None and kink.ties and kink.twice_on_kink
    return tie and len(node.inputs) > 1 and len(set(node.inputs)) == 1


def _directional_check(
    run: Run,
    f: Callable[[list[np.ndarray]], float],
    gradient: Sequence[np.ndarray],
    what: str,
    script: tuple[str, str],
    truth: Truth,
    noise: tuple[float, float],
    f_at_x: float | None = None,
) -> None:
    """<gradient, v> vs central differences of f along the graph's direction v.
    `script` is (repro code defining `objective`, the name of the gradient list);
    `noise` is (rounding of one evaluation of f, rounding of <gradient, v>); `f_at_x`
    saves an evaluation when the caller has f(x) already."""
    check = run.check
    graph, v = run.graph, list(run.graph.tangents)
    xs = [leaf.values for leaf in graph.leaves]
    objective_noise, analytic_noise = noise
    est = numerics.directional_derivative(f, xs, v, noise=objective_noise)
    _require_clear_of_kinks(run, truth, xs, v, est.h)
    f_at_x = f(xs) if f_at_x is None else f_at_x
    verdict, analytic, tol = numerics.judge(est, gradient, xs, v, f_at_x, analytic_noise)
    if verdict is None:
        raise Inconclusive(f"{check}: the difference estimate is too noisy ({est.error:.2e})")
    if not verdict:
        raise GradcheckFailure(
            check,
            f"{what} = {analytic!r} but central differences give {est.value!r} "
            f"(error estimate {est.error:.3e}, tolerance {tol:.3e})",
            op=_nearest_op(run),
            repro=_script(run, repro.difference_snippet(*script, est.h, tol)),
        )


def check_finite_difference(graph: Graph, adapter: Any, dtype: str, device: str) -> None:
    """<J^T u, v> from the adapter's VJP vs d/dt <u, F(x + t v)> by central differences."""
    if dtype != "float64":
        raise Unsupported("finite differences run in float64 only")
    run = Run("finite_difference", graph, adapter, "float64", device)
    xs, u, v = [leaf.values for leaf in graph.leaves], list(graph.cotangents), graph.tangents
    outputs, grads = run.vjp(xs, u)  # first: an engine that raises is named as the culprit
    truth = reference_pass(graph, xs, u, v, stand_in=adapter)  # magnitudes, kink distances
    _directional_check(
        run,
        lambda points: _dot(u, run.forward(points)),
        grads,
        "<J^T u, v>",
        (repro.FD_OBJECTIVE, "grads"),
        truth,
        (truth.objective_noise(len(xs)), truth.gradient_noise(graph)),
        f_at_x=_dot(u, outputs),
    )


def require_capability(graph: Graph, adapter: Any, capability: str, dtype: str) -> None:
    """Unsupported (skipped, with the adapter's reason) if an op of `graph` lacks it."""
    for op in dict.fromkeys(node.op for node in graph.nodes):
        reason = limitation(adapter, op, capability, dtype)
        if reason is not None:
            raise Unsupported(reason)


def check_adjoint(graph: Graph, adapter: Any, dtype: str, device: str) -> None:
    """<u, J v> from forward mode vs <J^T u, v> from reverse mode, same adapter."""
    require_capability(graph, adapter, "jvp", dtype)
    run = Run("adjoint", graph, adapter, dtype, device)
    leaves, u, v, truth = _truth(graph, adapter, dtype, tangents=True, magnitudes=True)
    # As for compared results (_assert_close): tangents or adjoints near the dtype's
    # largest number may overflow (two group norms of a constant group: 1 / eps in float16).
    if (
        max(_largest(truth.tangents), _largest(truth.adjoints))
        > numerics.TOLERANCES[dtype].max / RANGE_HEADROOM
    ):
        raise Inconclusive(f"values within {RANGE_HEADROOM}x of the {dtype} range limit")
    _, out_tangents = call_adapter(
        "adjoint",
        "jvp",
        adapter.jvp,
        run.function(),
        run.leaf_tensors(leaves, requires_grad=False),
        run.tensors(v, requires_grad=False),
    )
    jv = run.host(out_tangents, graph.output_shapes, "output tangent")
    _, jtu = run.vjp(leaves, u)
    declared_nan = [n.op for n in graph.nodes if adapter.conventions.get(n.op) == "nan"]
    if declared_nan and any(np.isnan(x).any() for x in (*jv, *jtu)):
        # The engine declares NaN derivatives at zero spread (jax's std and norm): there
        # <u, J v> and <J^T u, v> have no values to compare (an empty vector's norm: the
        # forward mode's 0 / 0 against an empty gradient).
        raise Inconclusive(f"adjoint: NaN derivatives declared for {declared_nan[0]}")
    # Each side rounds like the values it sums: <u, Jv> like the tangents, <J^T u, v>
    # like the adjoints of every intermediate value (the reference's, in float64).
    noise = _total(u) * _largest(truth.tangents) + _total(v) * _largest(truth.adjoints)
    result = numerics.adjoint_mismatch(u, jv, jtu, v, dtype, scale=noise)
    if not result.ok:
        raise GradcheckFailure(
            "adjoint",
            f"<u, J v> = {result.lhs!r} (forward mode) but <J^T u, v> = {result.rhs!r} "
            f"(reverse mode), tolerance {result.tolerance:.3e}",
            repro=_script(run, repro.adjoint_snippet(result.tolerance)),
        )


def _hvp(
    run: Run, leaves: Sequence[np.ndarray], u: Sequence[np.ndarray], v: Sequence[np.ndarray]
) -> list[np.ndarray]:
    """d/dx <J(x)^T u, v>: a VJP of the VJP, so the engine's create_graph path is used."""
    adapter, fn = run.adapter, run.function()
    cots = run.tensors(u, requires_grad=False)

    def gradient(*primals: Any) -> tuple:
        return tuple(call_adapter(run.check, "vjp", adapter.vjp, fn, primals, cots)[1])

    primals = run.leaf_tensors(leaves, requires_grad=True)
    tangents = run.tensors(v, requires_grad=False)
    _, second = call_adapter(run.check, "vjp of vjp", adapter.vjp, gradient, primals, tangents)
    return run.host(second, [leaf.shape for leaf in run.graph.leaves], "second-order gradient")


def check_higher_order(graph: Graph, adapter: Any, dtype: str, device: str) -> None:
    """Hessian-vector products vs the reference, and (float64) vs differences of gradients.
    The reference has no second derivatives of user ops: their graphs get the latter only."""
    require_capability(graph, adapter, "higher_order", dtype)
    run = Run("higher_order", graph, adapter, dtype, device)
    leaves, u, v, truth = _truth(
        graph, adapter, dtype, second_order=True, tangents=True, magnitudes=True
    )
    # A Hessian-vector product sums second-derivative terms of about |adjoint| |tangent|
    # / |x| over the intermediate values; where they cancel (a graph linear along v, a
    # symmetric softmax) the reference keeps only rounding noise of that size.
    natural = _largest(truth.adjoints) * _largest(truth.tangents) / max(_largest(leaves), 1.0)
    scale = max(natural, _curvature_scale(graph, truth, v), _cancelling_scale(graph, truth, dtype))
    without = without_second_order(node.op for node in graph.nodes)
    if without is not None and dtype != "float64":
        raise Unsupported(without)
    ref = None if without else Run("higher_order", graph, reference(), "float64", "cpu")
    expected = _hvp(ref, leaves, u, v) if ref else None
    hv = _hvp(run, leaves, u, v)
    if expected is not None:
        scale = max(scale, _largest(expected))
        _assert_close(
            run,
            hv,
            expected,
            "Hessian-vector product for leaf",
            (repro.HVP, "second"),
            scale,
            factor=HVP_FACTOR,
        )
    if dtype == "float64":
        # <H v, v> sums the HVP's elements against v: each may be off by the atol above.
        _, atol = numerics.tolerance_terms(np.zeros(0), dtype, scale=scale, factor=HVP_FACTOR)
        try:
            _directional_check(
                run,
                lambda xs: _dot(run.vjp(xs, u)[1], v),
                hv,
                "<H v, v>",
                (repro.HVP_OBJECTIVE, "second"),
                truth,
                (truth.gradient_noise(graph), atol * _total(v)),
            )
        except Inconclusive:
            # Differences too noisy (sign: a gradient that is 0 everywhere) prove nothing
            # more; the example still proved the HVP equal to the reference's.
            if expected is None:
                raise


def _cancelling_scale(graph: Graph, truth: Truth, dtype: str) -> float:
    """Ops that engines compute as a difference of terms as large as their inputs
    (`OpSpec.absolute_rounding`: logsumexp's x - lse) round their second-derivative terms
    by eps |input| |adjoint| |tangent| however small the terms are: that, in units of the
    dtype's tolerance (logsumexp of (56, 69) in float32: softmax's 1 is off by 7.6e-6).
    So do saturating derivatives (`OpSpec.derivative_rounding`), by eps max(|input|, 1),
    and ops that state their terms' size (`OpSpec.cancelling_terms`: attention); each
    as far as the ops before it carry it to the leaves (`_adjoint_at_leaves`)."""
    assert truth.tangents is not None
    tolerance, terms = numerics.TOLERANCES[dtype], 0.0
    for k, node in enumerate(graph.nodes):
        spec = spec_of(node.op)
        if spec.absolute_rounding or spec.derivative_rounding:
            size = _largest([truth.values[i] for i in node.inputs])
            size = max(size, 1.0) if spec.derivative_rounding else size
            tangent = _largest([truth.tangents[i] for i in node.inputs])
            terms = max(terms, _adjoint_at_leaves(graph, truth, k) * tangent * size)
    terms = max([terms, *_stated_terms(graph, truth, truth.tangents, dtype)])
    return terms * tolerance.eps / tolerance.atol_rel


def _stated_terms(
    graph: Graph, truth: Truth, tangents: Sequence[np.ndarray] | None, dtype: str
) -> Iterator[float]:
    """|adjoint out| (`_adjoint_at_leaves`) times `OpSpec.cancelling_terms` for each op
    that states them: its VJP's terms (`tangents` None), or its second derivative's along
    `tangents` (one array per value of the graph). In units of the dtype's eps; terms
    accumulated in float32 (`OpSpec.accumulated_terms`) count in float32's."""
    accumulated = min(1.0, numerics.TOLERANCES["float32"].eps / numerics.TOLERANCES[dtype].eps)
    for k, node in enumerate(graph.nodes):
        spec = spec_of(node.op)
        if spec.cancelling_terms is None:
            continue
        along = None if tangents is None else [tangents[i] for i in node.inputs]
        inputs = [truth.values[i] for i in node.inputs]
        terms = spec.cancelling_terms(inputs, along, node.attrs)
        terms *= accumulated if spec.accumulated_terms else 1.0
        yield _adjoint_at_leaves(graph, truth, k) * terms


def _near_curved_kinks(
    graph: Graph, truth: Truth
) -> Iterator[tuple[Sequence[int], list[np.ndarray], float, float]]:
    """(node inputs' ids, their values, distance d > 0 to the kink, |adjoint out| as it
    reaches the leaves) for each op whose curvature grows as 1 / d near its kink
    (`Kink.curved`: std, the norms, eigh)."""
    for k, node in enumerate(graph.nodes):
        spec = spec_of(node.op)
        if not (spec.kink and spec.kink.curved):
            continue
        inputs = [truth.values[i] for i in node.inputs]
        gap = spec.kink.gap(inputs, node.attrs)
        if gap == 0 and spec.kink.near is not None:  # an exact tie: the slices beside it
            gap = spec.kink.near(inputs, node.attrs)
        if gap > 0 and np.isfinite(gap):
            yield node.inputs, inputs, gap, _adjoint_at_leaves(graph, truth, k)


def _conditioning_scale(graph: Graph, truth: Truth, dtype: str) -> float:
    """Ops whose derivative grows as their input nears a curved kink (about 1 / d at
    distance d) compute it from differences such as x - mean, which carry eps |x|
    whatever the formula: eps |x| / d relative. Their gradient's terms, |adjoint| / d,
    may cancel to a far smaller result (layer norm of a row of two values), which keeps
    that rounding: eps |adjoint| |x| / d^2, in units of the dtype's tolerance. Ops that
    state their VJP's terms (`OpSpec.cancelling_terms`: attention) keep eps of those."""
    tolerance = numerics.TOLERANCES[dtype]
    kinks = (
        adjoint * _largest(inputs) / (gap * gap)
        for _, inputs, gap, adjoint in _near_curved_kinks(graph, truth)
    )
    stated = _stated_terms(graph, truth, None, dtype)
    summed = _summed_adjoints(graph, truth)
    rounded = _rounded_inputs(graph, truth, tolerance.eps)
    terms = [*kinks, *stated, *summed, *rounded]
    return tolerance.eps * max(terms, default=0.0) / tolerance.atol_rel


ROUNDING_STEP = 1e-7  # `_rounded_inputs`' relative step for the VJP's slope
LOW_PRECISION_EPS = 2.0**-10  # float16's and coarser


def _rounded_inputs(graph: Graph, truth: Truth, eps: float) -> Iterator[float]:
    """An op fed by other ops sees their results rounded, by up to eps |v| / 2, and its VJP
    moves by its own slope times that: |g f''(v) v| eps / 2 for a unary op (float32 sin of
    x^2 at x = 39: d/dx was 3e-3 off, tolerance 1.2e-3; float16 at x = 8.2: 0.19 off,
    tolerance 0.024). Per unit of eps: the largest move of the op's reference VJP as its
    computed inputs move to v (1 + t), over |t|, for the slope (a small t) and, in float16
    and bfloat16, t = +-eps / 4, +-eps / 2; carried to the leaves. Inconclusive where the
    VJP moves by its own size over the rounding: no digit of it is right (bfloat16 sin of
    x^2 at x = 34, where x^2 rounds by 4)."""
    n_leaves = len(graph.leaves)
    for k, node in enumerate(graph.nodes):
        out = n_leaves + k
        adjoint = _largest([truth.adjoints[out]])
        ids, alone = _alone(graph, truth, k)
        if adjoint == 0 or all(j < n_leaves for j in ids):
            continue
        # float16 and bfloat16 round by enough to leave the slope's reach (sin of 1500).
        wide = (eps / 4, -eps / 4, eps / 2, -eps / 2) if eps >= LOW_PRECISION_EPS else ()
        vjps = {}
        try:
            for t in (0.0, ROUNDING_STEP, *wide):
                inputs = [truth.values[j] * (1 + t * (j >= n_leaves)) for j in ids]
                vjps[t] = reference_pass(alone, inputs, [truth.adjoints[out]]).adjoints[: len(ids)]
        except (Unsupported, Inconclusive):  # a user op's reference could not
            continue
        at = vjps.pop(0.0)
        moves = {
            t: max(_largest([b - a]) for a, b in zip(at, vjp, strict=True))
            for t, vjp in vjps.items()
        }
        secants = [move for t, move in moves.items() if t != ROUNDING_STEP]
        rounding = max(secants or [moves[ROUNDING_STEP] / ROUNDING_STEP * eps / 2])
        if rounding >= _largest(at) > 0:
            raise Inconclusive(f"{node.op}'s derivative at its rounded inputs has no digit")
        yield (
            max(move / abs(t) for t, move in moves.items())
            * _adjoint_at_leaves(graph, truth, k)
            / adjoint
        )


def _summed_adjoints(graph: Graph, truth: Truth) -> Iterator[float]:
    """An op whose output is m times the size of an input (broadcasting, expand, repeat)
    sums m terms into each element of that input's gradient: its output's adjoint g times
    the local derivative. Where they cancel, engines keep eps of them: up to eps m |g| / 2
    (torch float32, generated cotangents over sums of 5 to 4095; add of a scalar and 4095
    values was 1.6e-4 off, tolerance 9.2e-5), and eps sum_j |g_j| |d out_j / d in| where
    the derivative is large (bfloat16 x / y by a scalar y = 0.19: 18 terms of about 1000
    summed to -2.9, torch's in-place div gave -7.4). Both carried to the leaves."""
    n_leaves = len(graph.leaves)
    for k, node in enumerate(graph.nodes):
        out = n_leaves + k
        size = np.size(truth.values[out])
        summed = [i for i in dict.fromkeys(node.inputs) if size > np.size(truth.values[i])]
        adjoint = _largest([truth.adjoints[out]])
        if not summed or adjoint == 0:
            continue
        carried = _adjoint_at_leaves(graph, truth, k)
        for i in summed:
            yield size / max(np.size(truth.values[i]), 1) * carried
            yield _broadcast_terms(graph, truth, k, i) * carried / adjoint


def _alone(graph: Graph, truth: Truth, k: int) -> tuple[list[int], Graph]:
    """Node k as a graph of its own: its distinct input ids, and the one-op graph whose
    leaves are their values (for the reference's local derivatives of that op)."""
    node = graph.nodes[k]
    ids = list(dict.fromkeys(node.inputs))
    nodes = [Node(node.op, [ids.index(j) for j in node.inputs], node.attrs)]
    return ids, Graph([truth.values[j] for j in ids], nodes, [len(ids)])


def _broadcast_terms(graph: Graph, truth: Truth, k: int, i: int) -> float:
    """max over the elements of node k's input i of sum_j |g_j| |d out_j / d in|, the sum
    over the output elements j it is broadcast to (g: node k's output adjoint). The local
    derivatives are the reference's JVP of node k along ones on input i: exact where each
    output element depends on one element of the input (broadcasting, outer products). 0
    where the input does not broadcast to the output, or the reference cannot."""
    out = len(graph.leaves) + k
    shape, out_shape = truth.values[i].shape, truth.values[out].shape
    try:
        broadcasts = np.broadcast_shapes(shape, out_shape) == out_shape
    except ValueError:
        broadcasts = False
    if not broadcasts:
        return 0.0
    ids, alone = _alone(graph, truth, k)
    inputs = [truth.values[j] for j in ids]
    along = [
        np.ones(shape) if j == i else np.zeros(x.shape) for j, x in zip(ids, inputs, strict=True)
    ]
    try:
        local = reference_pass(alone, inputs, [np.zeros(out_shape)], along).tangents[-1]
    except (Unsupported, Inconclusive):
        return 0.0
    terms = np.abs(truth.adjoints[out]) * np.abs(local)
    lead = len(out_shape) - len(shape)
    summed = terms.sum(axis=tuple(range(lead)))
    summed = summed.sum(axis=tuple(d for d, n in enumerate(shape) if n == 1), keepdims=True)
    return _largest([summed])


def _adjoint_at_leaves(graph: Graph, truth: Truth, k: int) -> float:
    """|adjoint| of node k's output, times how far the ops before node k carry an error
    of its inputs' adjoints to the leaves: the largest leaf gradient of a +-1 cotangent
    on an input (1 for a leaf). Rounding in node k's derivative reaches the leaves so:
    group_norm of linear(group_norm(x), itself) 22x, tanh(1 / x) at x = -0.16 41x."""
    n_leaves = len(graph.leaves)
    adjoint = _largest([truth.adjoints[n_leaves + k]])
    if adjoint == 0:
        return 0.0
    reach = 1.0
    for value in dict.fromkeys(i for i in graph.nodes[k].inputs if i >= n_leaves):
        shape = truth.values[value].shape
        signs = np.where(np.arange(int(np.prod(shape))) % 3 == 1, -1.0, 1.0).reshape(shape)
        prefix = Graph(graph.leaves, graph.nodes[: value - n_leaves + 1], (value,), (signs,))
        try:
            gradients = reference_pass(prefix, truth.values[:n_leaves], [signs]).adjoints
        except (Unsupported, Inconclusive):  # a user op's reference could not: own rounding
            continue
        reach = max(reach, _largest(gradients[:n_leaves]))
    return adjoint * reach


def _curvature_scale(graph: Graph, truth: Truth, v: Sequence[np.ndarray]) -> float:
    """The size of the second-derivative terms of ops whose curvature grows as their input
    nears the kink (std and norm: about 1 / distance d): |adjoint| |tangent in|^2 /
    (d |v|). An engine's HVP cancels terms of this size; the result may be ~0. Their
    rounding is relative to |x| / d too (x - mean carries eps |x| whatever the formula)."""
    assert truth.tangents is not None
    v_size = _largest(v) or 1.0
    scale = 0.0
    for ids, inputs, gap, adjoint in _near_curved_kinks(graph, truth):
        tangent = _largest([truth.tangents[i] for i in ids])
        conditioning = max(1.0, _largest(inputs) / gap)
        scale = max(scale, adjoint * tangent * tangent * conditioning / (gap * v_size))
    return scale


def check_invariants(graph: Graph, adapter: Any, dtype: str, device: str) -> None:
    """Grad metadata equals the input's; zero cotangent -> zero grads; inputs untouched;
    repeated runs agree (exactly, or within adapter.nondeterminism_tolerance)."""
    run = Run("invariants", graph, adapter, dtype, device)
    leaves, u, _ = rounded(graph, dtype)
    primals = run.leaf_tensors(leaves, requires_grad=True)
    before = run.host(primals, [leaf.shape for leaf in graph.leaves], "leaf")
    _, grads = call_adapter(
        "invariants",
        "vjp",
        adapter.vjp,
        run.function(),
        primals,
        run.tensors(u, requires_grad=False),
    )
    for i, (p, g) in enumerate(zip(primals, grads, strict=True)):
        for attribute, of in (("dtype", adapter.dtype_of), ("device", adapter.device_of)):
            want, got = of(p), of(g)
            if want != got:
                _fail_invariant(
                    run, f"the gradient of leaf {i} has {attribute} {got}, the leaf has {want}"
                )
    after = run.host(primals, [leaf.shape for leaf in graph.leaves], "leaf")
    for i, (b, a) in enumerate(zip(before, after, strict=True)):
        if not np.array_equal(a, b, equal_nan=True):
            _fail_invariant(run, f"leaf {i} was modified in place by the forward or backward pass")
    first = run.host(grads, [leaf.shape for leaf in graph.leaves], "gradient of leaf")
    _, second = run.vjp(leaves, u)
    tol = float(adapter.nondeterminism_tolerance)
    for i, (a, b) in enumerate(zip(first, second, strict=True)):
        if not np.allclose(a, b, rtol=tol, atol=0.0, equal_nan=True):
            _fail_invariant(run, f"two identical runs gave different gradients for leaf {i}")
    # 0 times an overflowed term is NaN: where an op may overflow inside (atan2's
    # 1 / (x^2 + y^2) in float16), a zero cotangent proves nothing about the gradient.
    if any(spec_of(node.op).internal_size for node in graph.nodes):
        values = reference_pass(graph, leaves, u, stand_in=adapter).values
        if _internal_overflow(graph, values, dtype):
            return
    _, zero = run.vjp(leaves, [np.zeros_like(c) for c in u])
    for i, g in enumerate(zero):
        if np.any(g != 0):
            _fail_invariant(run, f"a zero cotangent gave a nonzero gradient for leaf {i}")


def _fail_invariant(run: Run, message: str) -> None:
    raise GradcheckFailure(
        "invariants",
        message,
        repro=_script(run, repro.invariants_snippet),
    )


def run_device_parity(graph: Graph, adapter: Any, *, dtype: str, devices: Sequence[str]) -> None:
    """The same graph on each device: outputs and gradients agree with the first device."""
    missing = [d for d in devices if d not in adapter.devices]
    if missing:
        raise Unsupported(f"adapter {adapter.name!r} has no device {', '.join(missing)}")
    with declared(adapter):
        leaves, u, _, truth = _truth(graph, adapter, dtype, magnitudes=True)
    runs = [Run("device_parity", graph, adapter, dtype, d) for d in devices]
    base_outs, base_grads = runs[0].vjp(leaves, u)
    for run in runs[1:]:
        outs, grads = run.vjp(leaves, u)
        _assert_close(
            run,
            outs,
            base_outs,
            f"output on {run.device}, output",
            (repro.VJP, "outputs"),
            _largest(truth.values),
        )
        _assert_close(
            run,
            grads,
            base_grads,
            f"gradient on {run.device}, leaf",
            (repro.VJP, "grads"),
            _largest(truth.adjoints),
        )


def check_batched(graph: Graph, adapter: Any, dtype: str, device: str) -> None:
    """Batched members vs one call at a time (gradcheck/batched.py, its own module)."""
    from gradcheck.batched import check_batched  # imported late: it imports this module

    check_batched(graph, adapter, dtype, device)


@dataclass(frozen=True)
class Check:
    """One oracle: the name in test ids, xfails and the matrix, its short matrix column,
    and for graph oracles the function that runs it on one graph."""

    name: str
    short: str
    run: Callable[[Graph, Any, str, str], None] | None = None
    needs: str | None = None  # the adapter capability it tests ("jvp", "higher_order")


#: Every check, in matrix column order: the one list of check names.
CHECKS: dict[str, Check] = {
    check.name: check
    for check in (
        Check("forward", "fwd", check_forward),
        Check("vjp", "vjp", check_vjp),
        Check("finite_difference", "fd", check_finite_difference),
        Check("adjoint", "adj", check_adjoint, needs="jvp"),
        Check("higher_order", "2nd", check_higher_order, needs="higher_order"),
        Check("invariants", "inv", check_invariants),
        Check("inplace", "inpl", check_inplace),
        Check("batched", "bat", check_batched, needs="batched"),
        Check("analytic", "analytic"),
        Check("semantics", "sem"),
        Check("conventions", "conv"),
        Check("device_parity", "parity"),
    )
}
GRAPH_CHECKS = tuple(name for name, check in CHECKS.items() if check.run)


def run_check(
    check: str, graph: Graph, adapter: Any, *, dtype: str = "float64", device: str = "cpu"
) -> None:
    """Run one graph oracle; raises GradcheckFailure, Inconclusive or Unsupported."""
    if check not in GRAPH_CHECKS:
        raise ValueError(f"unknown graph check {check!r}; choose from {', '.join(GRAPH_CHECKS)}")
    unknown = sorted({node.op for node in graph.nodes if not known(node.op)})
    if unknown:
        raise ValueError(f"graph uses ops neither in the catalog nor registered: {unknown}")
    require_capability(
        graph, adapter, "forward", "float64" if check == "finite_difference" else dtype
    )
    try:
        with declared(adapter):
            CHECKS[check].run(graph, adapter, dtype, device)
    except GradcheckFailure as failure:
        if failure.repro is not None:
            raise
        # Raised by adapter code or a bad result: the repro runs the graph (the one that
        # ran: inplace's transformed one) and re-checks.
        ran = in_place_graph(graph, adapter) if check == "inplace" else graph
        run = Run(check, ran, adapter, "float64" if check == "finite_difference" else dtype, device)
        snippet = repro.shapes_snippet(graph.output_shapes, forward_mode=check == "adjoint")
        # Localizing re-runs the engine: not after a call that hung.
        op = failure.op or (None if failure.hung else _nearest_op(run))
        raise GradcheckFailure(
            check, failure.summary, op=op, repro=_script(run, snippet), hung=failure.hung
        ) from failure
