"""The `batched` oracle: an adapter's vectorized members against its own one-at-a-time
calls, on the same graph at the same dtype (capability "batched").

- `batched_vjp`: the VJPs of a batch of cotangents at one point vs one `vjp` each;
- `vmap_vjp`: outputs and VJPs of a batch of points and cotangents (the per-sample
  pattern, vmap of a VJP) vs one `vjp` per sample;
- `batched_jvp`: the JVPs of a batch of tangents at one point vs one `jvp` each.

Batch entries (`BATCH`): the graph's own values first. `batched_vjp` and `batched_jvp`
then take its cotangents (tangents) negated and zero: each entry's reference magnitudes
are the graph's own, so no more reference passes. `vmap_vjp` takes other points, each
leaf's elements rolled or reversed (every element stays inside its leaf's drawn
interval, so inside each op's domain; a leaf with a matrix structure keeps its values),
with other cotangents; a point the reference finds near a kink (or a range limit) is
replaced by the graph's own leaves, never compared. Graph values near a kink leave out
vmap_vjp only (the others share the forward pass with their one-at-a-time calls).
Both sides round at the dtype:
twice its tolerance, relative to the reference's magnitudes for that entry.

An adapter's member that raises Unsupported (torch: no batching rule for an op) is left
out of the example; the check is Unsupported when every member is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from gradcheck import numerics, repro
from gradcheck.checks import (
    RANGE_HEADROOM,
    NearKink,
    _largest,
    _script,
    _truth,
    require_capability,
)
from gradcheck.errors import GradcheckFailure, Inconclusive, Unsupported, call_adapter
from gradcheck.graph import Graph
from gradcheck.literals import python_literal
from gradcheck.localize import probe_cotangent
from gradcheck.ops import spec_of
from gradcheck.runs import Run, Truth, reference_pass, rounded

BATCH = 3


@dataclass(frozen=True)
class Entry:
    """One batch entry: its values at the dtype (float64 arrays) and the reference's pass
    (for the graph's own cotangents or tangents times -1 or 0, the graph's own: its
    magnitudes bound the rounding)."""

    leaves: list[np.ndarray]
    cotangents: list[np.ndarray]
    tangents: list[np.ndarray]
    truth: Truth


def check_batched(graph: Graph, adapter: object, dtype: str, device: str) -> None:
    """Each batched member the adapter has vs its one-at-a-time counterpart."""
    require_capability(graph, adapter, "batched", dtype)
    run = Run("batched", graph, adapter, dtype, device)
    members = {"batched_vjp": _batched_vjp, "vmap_vjp": _vmap_vjp, "batched_jvp": _batched_jvp}
    try:
        own = _entry(graph, adapter, dtype)
    except NearKink as near:
        # batched_vjp and batched_jvp share their forward pass, and so every branch taken
        # at a kink, with their one-at-a-time calls (the same primals, the same adapter);
        # vmap_vjp recomputes it batched, where an intermediate may round across.
        leaves, cots, tangents = rounded(graph, dtype)
        truth = reference_pass(graph, leaves, cots, tangents, stand_in=adapter)
        own = Entry(leaves, cots, tangents, truth)
        del members["vmap_vjp"]
        kink = near
    else:
        kink = None
    skipped = []
    for member, compare in members.items():
        try:
            compare(run, own)
        except Unsupported as reason:
            skipped.append(f"{member}: {reason}")
    if len(skipped) == len(members):
        if kink is not None:
            raise Inconclusive(str(kink))
        raise Unsupported("; ".join(skipped))


def _entry(graph: Graph, adapter: object, dtype: str, **values: list) -> Entry:
    """The graph with `values` (leaves, cotangents, tangents) swapped in, at the dtype."""
    moved = graph.with_values(**values)
    leaves, cots, tangents, truth = _truth(moved, adapter, dtype, tangents=True, magnitudes=True)
    return Entry(leaves, cots, tangents, truth)


def _other(graph: Graph, adapter: object, dtype: str, own: Entry, **values: list) -> Entry:
    """An entry with other values, or with the graph's own leaves where the moved ones
    are near a kink or a range limit (both sides could round to either side)."""
    try:
        return _entry(graph, adapter, dtype, **values)
    except Inconclusive:
        return _entry(graph, adapter, dtype, **{**values, "leaves": own.leaves})


def _pattern(arrays: Sequence[np.ndarray], dtype: str) -> list[np.ndarray]:
    """A fixed pattern unlike `arrays` (no randomness), at the dtype."""
    return [numerics.round_to(-probe_cotangent(a.shape), dtype) for a in arrays]


def _moved_leaves(graph: Graph, k: int) -> list[np.ndarray]:
    """Leaf values for entry k: each leaf's elements rolled by one (k == 1) or reversed
    (k == 2), so every element stays in its leaf's interval. Leaves with a matrix
    structure (positive definite, well-conditioned) keep theirs: no interval vouches for
    a moved one."""
    n = len(graph.leaves)
    fixed = {
        i
        for node in graph.nodes
        for j, i in enumerate(node.inputs)
        if i < n and spec_of(node.op).domain(j).structure is not None
    }
    move = _rolled if k == 1 else _reversed
    return [
        np.array(leaf.values) if i in fixed else move(leaf.values)
        for i, leaf in enumerate(graph.leaves)
    ]


def _rolled(a: np.ndarray) -> np.ndarray:
    return np.roll(a.ravel(), 1).reshape(a.shape)


def _reversed(a: np.ndarray) -> np.ndarray:
    return a.ravel()[::-1].reshape(a.shape)


def _batched_vjp(run: Run, own: Entry) -> None:
    graph, adapter = run.graph, run.adapter
    cots = own.cotangents
    entries = [own, *(replace(own, cotangents=[k * c for c in cots]) for k in (-1.0, 0.0))]
    cot_batch = _stack([e.cotangents for e in entries])
    expected = [run.vjp(own.leaves, e.cotangents)[1] for e in entries]
    scales = [[_largest(e.truth.adjoints)] * len(graph.leaves) for e in entries]
    script = _repro(run, "batched_vjp", {"cotangent_batch": cot_batch}, expected, scales)
    _, grads = _call(run, "batched_vjp", script, adapter.batched_vjp,
                     run.leaf_tensors(own.leaves, True), run.tensors(cot_batch, False))  # fmt: skip
    leaf_shapes = [(BATCH, *leaf.shape) for leaf in graph.leaves]
    batched = run.host(grads, leaf_shapes, "batched gradient of leaf")
    names = [f"gradient of leaf {i}" for i in range(len(graph.leaves))]
    _compare(run, "batched_vjp", batched, expected, scales, names, script)


def _vmap_vjp(run: Run, own: Entry) -> None:
    graph, adapter, dtype = run.graph, run.adapter, run.dtype
    entries = [own]
    for k in (1, 2):
        cots = _pattern(own.cotangents, dtype) if k == 1 else [_reversed(c) for c in own.cotangents]
        entries.append(_other(graph, adapter, dtype, own, leaves=_moved_leaves(graph, k),
                              cotangents=cots))  # fmt: skip
    leaf_batch = _stack([e.leaves for e in entries])
    cot_batch = _stack([e.cotangents for e in entries])
    expected = [_outputs_and_grads(run, e) for e in entries]
    n_out = len(graph.outputs)
    scales = [[_largest(e.truth.values)] * n_out + [_largest(e.truth.adjoints)] * len(graph.leaves)
              for e in entries]  # fmt: skip
    batches = {"leaf_batch": leaf_batch, "cotangent_batch": cot_batch}
    script = _repro(run, "vmap_vjp", batches, expected, scales)
    outs, grads = _call(run, "vmap_vjp", script, adapter.vmap_vjp,
                        run.tensors(leaf_batch, True), run.tensors(cot_batch, False))  # fmt: skip
    out_shapes = [(BATCH, *s) for s in graph.output_shapes]
    batched = run.host(outs, out_shapes, "vmapped output") + run.host(
        grads, [(BATCH, *leaf.shape) for leaf in graph.leaves], "vmapped gradient of leaf"
    )
    names = [f"output {j}" for j in range(n_out)]
    names += [f"gradient of leaf {i}" for i in range(len(graph.leaves))]
    _compare(run, "vmap_vjp", batched, expected, scales, names, script)


def _outputs_and_grads(run: Run, entry: Entry) -> list[np.ndarray]:
    outs, grads = run.vjp(entry.leaves, entry.cotangents)
    return outs + grads


def _batched_jvp(run: Run, own: Entry) -> None:
    graph, adapter = run.graph, run.adapter
    require_capability(graph, adapter, "jvp", run.dtype)
    tangents = own.tangents
    entries = [own, *(replace(own, tangents=[k * t for t in tangents]) for k in (-1.0, 0.0))]
    tangent_batch = _stack([e.tangents for e in entries])
    expected = [_jvp(run, own.leaves, e.tangents) for e in entries]
    scales = [[_largest(e.truth.tangents)] * len(graph.outputs) for e in entries]
    script = _repro(run, "batched_jvp", {"tangent_batch": tangent_batch}, expected, scales)
    _, out_tangents = _call(run, "batched_jvp", script, adapter.batched_jvp,
                            run.leaf_tensors(own.leaves, False),
                            run.tensors(tangent_batch, False))  # fmt: skip
    out_shapes = [(BATCH, *s) for s in graph.output_shapes]
    batched = run.host(out_tangents, out_shapes, "batched output tangent")
    names = [f"output tangent {j}" for j in range(len(graph.outputs))]
    _compare(run, "batched_jvp", batched, expected, scales, names, script)


def _jvp(run: Run, leaves: list[np.ndarray], tangents: list[np.ndarray]) -> list[np.ndarray]:
    _, out = call_adapter(
        "batched", "jvp", run.adapter.jvp, run.function(),
        run.leaf_tensors(leaves, requires_grad=False), run.tensors(tangents, False),
    )  # fmt: skip
    return run.host(out, run.graph.output_shapes, "output tangent")


def _stack(entries: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """Per array, its values in every entry along a new leading dimension."""
    return [np.stack(arrays) for arrays in zip(*entries, strict=True)]


def _factor(run: Run) -> float:
    """Twice the dtype's tolerance (both sides round), times the ops' own factors."""
    tolerances = (spec_of(n.op).tolerance.get(run.dtype, 1.0) for n in run.graph.nodes)
    return 2.0 * max(tolerances, default=1.0)


def _repro(
    run: Run,
    member: str,
    batches: dict[str, list[np.ndarray]],
    expected: Sequence[Sequence[np.ndarray]],
    scales: Sequence[Sequence[float]],
) -> Callable[[], str]:
    """The repro script for `member`, with the tolerance of each entry's results, made
    only for a failure (rendering it costs more than the check); Inconclusive where the
    results near the dtype's range limit."""
    dtype = run.dtype
    limit = numerics.TOLERANCES[dtype].max / RANGE_HEADROOM
    if max(_largest([x for one in expected for x in one]), *map(max, scales)) > limit:
        raise Inconclusive(f"values within {RANGE_HEADROOM}x of the {dtype} range limit")
    factor = _factor(run)
    terms = [
        [
            numerics.tolerance_terms(e, dtype, scale=s, factor=factor)
            for e, s in zip(*pair, strict=True)
        ]
        for pair in zip(expected, scales, strict=True)
    ]
    return lambda: _script(run, batched_snippet(member, batches, terms))


def _call(
    run: Run, member: str, script: Callable[[], str], method: Callable, *args: object
) -> tuple:
    """The adapter's `member`; what it raises fails with the member's own repro."""
    try:
        return call_adapter("batched", member, method, run.function(), *args)
    except GradcheckFailure as failure:
        if failure.repro is not None or failure.hung:
            raise
        repro = script()
        raise GradcheckFailure("batched", failure.summary, op=_op(run), repro=repro) from failure


def _op(run: Run) -> str | None:
    """Eager localization cannot see a bug of batching only: a one-op graph names its op."""
    nodes = run.graph.nodes
    return f"{nodes[0].op} (node 0)" if len(nodes) == 1 else None


def _compare(
    run: Run,
    member: str,
    batched: Sequence[np.ndarray],
    expected: Sequence[Sequence[np.ndarray]],
    scales: Sequence[Sequence[float]],
    names: Sequence[str],
    script: Callable[[], str],
) -> None:
    """Entry b of each batched result vs the one-at-a-time result for entry b."""
    for b, (one, sc) in enumerate(zip(expected, scales, strict=True)):
        for i, (e, s) in enumerate(zip(one, sc, strict=True)):
            result = numerics.compare(batched[i][b], e, run.dtype, scale=s, factor=_factor(run))
            if not result.ok:
                raise GradcheckFailure(
                    "batched",
                    f"{member} entry {b}, {names[i]}, differs from one call per entry: "
                    f"{result.describe()}",
                    op=_op(run),
                    repro=script(),
                )


# ---- repro scripts --------------------------------------------------------------------

CALLS = {
    "batched_vjp": """
_, batched = batched_vjp(fn, leaf_tensors(leaves, True), tensors(cotangent_batch))
for b in range(len(cotangent_batch[0])):
    _, one = vjp(fn, leaf_tensors(leaves, True), tensors([c[b] for c in cotangent_batch]))
    check(b, batched, one)
""",
    "vmap_vjp": """
outs, grads = vmap_vjp(fn, tensors(leaf_batch, True), tensors(cotangent_batch))
for b in range(len(leaf_batch[0])):
    sample = leaf_tensors([x[b] for x in leaf_batch], True)
    one_outs, one = vjp(fn, sample, tensors([c[b] for c in cotangent_batch]))
    check(b, list(outs) + list(grads), list(one_outs) + list(one))
""",
    "batched_jvp": """
_, batched = batched_jvp(fn, leaf_tensors(leaves, False), tensors(tangent_batch))
for b in range(len(tangent_batch[0])):
    _, one = jvp(fn, leaf_tensors(leaves, False), tensors([t[b] for t in tangent_batch]))
    check(b, batched, one)
""",
}

CHECK = """

def tensors(arrays, requires_grad=False):
    return [asarray(a, DTYPE, DEVICE, requires_grad) for a in arrays]


def check(b, batched, one):
    # Entry b of each batched result vs the result of one call for entry b alone.
    for i, (got, want) in enumerate(zip(batched, one)):
        rtol, atol = tolerances[b][i]
        what = f"{MEMBER} entry {b}, result {i}"
        assert_close(to_numpy(got)[b], to_numpy(want), rtol, atol, what)

"""


def batched_snippet(
    member: str, batches: dict[str, list[np.ndarray]], terms: Sequence[Sequence[tuple]]
) -> Callable[[repro.ScriptContext], str]:
    """The repro's check for `member`: the engine's batched call against one call per
    entry, both run by the script, with `terms` ((rtol, atol) per entry and result)."""

    def snippet(context: repro.ScriptContext) -> str:
        arrays = "".join(f"{k} = {python_literal(v)}\n" for k, v in batches.items())
        rounded = [[tuple(map(float, t)) for t in one] for one in terms]
        return (
            repro.ASSERT_CLOSE
            + f"MEMBER = {member!r}\n"
            + arrays
            + f"tolerances = {python_literal(rounded)}\n"
            + CHECK
            + CALLS[member]
        )

    return snippet
