"""Repro scripts: standalone Python that re-runs one oracle on one graph and fails the
same way.

`script` writes the inputs, the engine set-up and `fn`; a check snippet appends the
check. Truths the engine cannot recompute alone (reference values) are embedded as exact
literals, with the tolerance the oracle used, so a torch repro needs only torch and numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck.adapters.base import AdapterBase, render_op
from gradcheck.graph import Graph, Node
from gradcheck.literals import python_literal


def script(
    graph: Graph,
    adapter: AdapterBase,
    check: Callable[[ScriptContext], str] | None = None,
    *,
    title: str = "outputs and VJPs",
    dtype: str = "float64",
    device: str = "cpu",
) -> str:
    """A standalone script: rebuild the inputs exactly, run the graph, run `check`.

    check: a snippet function (ScriptContext -> code; default: print the outputs and
    VJPs); title names it in the script's first line. With the adapter's `op_source`
    templates and `op_source_prelude`, `fn` calls the engine itself; its `repro_helpers`
    (source defining asarray, to_numpy, vjp, jvp) also free the rest of the script from
    gradcheck. Otherwise the script loads the adapter by its `spec`. A user op the adapter
    lacks is imported from its module and called (`OpSpec.source`); one whose fn cannot
    be imported (a lambda) is called through the loaded adapter, with a comment saying so.
    """
    name = adapter.spec or adapter.name
    templates = adapter.op_source
    calls, imports, lost = user_calls(graph, adapter)
    native = bool(adapter.op_source_prelude) and all(
        n.op in templates or n.op in calls for n in graph.nodes
    )
    helpers = adapter.repro_helpers if native else ""
    context = ScriptContext(graph, name, dtype, device, bool(helpers))
    lines = [
        f"    # {op}: its fn is not importable (a lambda or a local function), so this script "
        f"calls it as the adapter's ops[{op!r}]"
        for op in lost
    ]
    for k, node in enumerate(graph.nodes):
        args = [f"v{i}" for i in node.inputs]
        code = op_call(node, args, templates, native, calls)
        lines.append(f"    v{len(graph.leaves) + k} = {code}")
    prelude = adapter.op_source_prelude if native else "import numpy as np"
    return SCRIPT.format(
        title=title,
        adapter=name,
        prelude="\n\n".join([prelude.strip(), "\n".join(imports)]).strip(),
        helpers=(helpers or GENERIC_HELPERS.format(name=name)).strip(),
        dtype=dtype,
        device=device,
        leaves=python_literal([leaf.values for leaf in graph.leaves]),
        leaf_tensors=leaf_tensors_source(graph, helpers or GENERIC_HELPERS),
        cotangents=python_literal(list(graph.cotangents)),
        tangents=python_literal(list(graph.tangents)),
        params=", ".join(f"v{i}" for i in range(len(graph.leaves))),
        body="\n".join(lines),
        outputs="".join(f"v{i}, " for i in graph.outputs),
        check=(check or default_check)(context).strip(),
    )


def op_call(
    node: Node,
    args: list[str],
    templates: Mapping[str, str],
    native: bool,
    calls: Mapping[str, str] | None = None,
) -> str:
    """Source for one node: the engine's own expression, a user op's imported function
    (`calls`: op -> its name in the script), or a call through `ops`."""
    kwargs = [f"{key}={python_literal(v)}" for key, v in node.attrs.items()]
    if calls and node.op in calls:
        return f"{calls[node.op]}(" + ", ".join(args + kwargs) + ")"
    if native:
        return render_op(templates[node.op], args, dict(node.attrs))
    return f"ops[{node.op!r}](" + ", ".join(args + kwargs) + ")"


def user_calls(graph: Graph, adapter: AdapterBase) -> tuple[dict[str, str], list[str], list[str]]:
    """`source_imports` for the user ops of `graph` that run as their fn (the adapter
    lacks them)."""
    from gradcheck.ops.registry import user_ops
    from gradcheck.ops.user import source_imports

    registered = user_ops()
    ops = dict.fromkeys(n.op for n in graph.nodes if n.op in registered and n.op not in adapter.ops)
    return source_imports(registered[op] for op in ops)


@dataclass(frozen=True)
class ScriptContext:
    """What a check snippet knows about the script it is appended to.

    The script has defined: `np`, `leaves`, `cotangents`, `tangents` (numpy arrays),
    `DTYPE`, `DEVICE`, `asarray(array, dtype, device, requires_grad)`, `leaf_tensors(arrays,
    requires_grad)` (the leaves' tensors in their layouts), `to_numpy(x)`,
    `vjp(fn, primals, cotangents)`, `jvp` (None when the engine lacks it),
    `batched_vjp`, `vmap_vjp`, `batched_jvp` (where the engine has them), and
    `fn(*tensors) -> tuple` that runs the graph.
    """

    graph: Graph
    adapter_name: str
    dtype: str
    device: str
    native: bool  # True: the script imports only the engine and numpy


def default_check(context: ScriptContext) -> str:
    """Print the outputs and the VJPs of the random cotangents."""
    return """
primals = leaf_tensors(leaves, True)
seeds = [asarray(c, DTYPE, DEVICE, False) for c in cotangents]
outputs, grads = vjp(fn, primals, seeds)
for i, out in enumerate(outputs):
    print(f"output {i}:", repr(to_numpy(out)))
for i, grad in enumerate(grads):
    print(f"grad of leaf {i}:", repr(to_numpy(grad)))
"""


GENERIC_HELPERS = """
from gradcheck.adapters import load_adapter

adapter = load_adapter({name!r})
ops = adapter.ops
asarray, to_numpy, vjp = adapter.asarray, adapter.to_numpy, adapter.vjp
asarray_with_layout = adapter.asarray_with_layout
jvp = getattr(adapter, "jvp", None)
batched_vjp, vmap_vjp, batched_jvp = adapter.batched_vjp, adapter.vmap_vjp, adapter.batched_jvp
"""


def leaf_tensors_source(graph: Graph, helpers: str) -> str:
    """`leaf_tensors(arrays, requires_grad)`: the leaves as the run made them, each in its
    memory layout (a bug of strided inputs only shows so). Helpers without
    `asarray_with_layout` (an adapter with no layouts) make them contiguous, as it did."""
    layouts = graph.layouts
    if all(layout == "contiguous" for layout in layouts) or "asarray_with_layout" not in helpers:
        return LEAF_TENSORS_CONTIGUOUS.rstrip()
    return LEAF_TENSORS_IN_LAYOUTS.format(layouts=python_literal(layouts)).rstrip()


LEAF_TENSORS_CONTIGUOUS = """

def leaf_tensors(arrays, requires_grad):
    return [asarray(a, DTYPE, DEVICE, requires_grad) for a in arrays]
"""

LEAF_TENSORS_IN_LAYOUTS = """layouts = {layouts}


def leaf_tensors(arrays, requires_grad):
    # Each leaf in its memory layout: "transposed" (strides reversed) or "strided" (a step
    # of 2 in its last dim) are not contiguous.
    return [asarray_with_layout(a, DTYPE, DEVICE, requires_grad, layout)
            for a, layout in zip(arrays, layouts)]
"""

SCRIPT = """\
# gradcheck repro ({title}): a generated graph on {adapter!r} ({dtype}, {device}).
{prelude}

{helpers}

DTYPE, DEVICE = {dtype!r}, {device!r}
leaves = {leaves}
cotangents = {cotangents}
tangents = {tangents}
{leaf_tensors}


def fn({params}):
{body}
    return ({outputs})


{check}
"""


ASSERT_CLOSE = '''
def assert_close(actual, expected, rtol, atol, what):
    """Element-wise |actual - expected| <= rtol |expected| + atol; NaN/inf must match."""
    actual = np.asarray(actual, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    error = np.abs(np.where(actual == expected, 0.0, actual - expected))
    bad = ~(error <= rtol * np.abs(expected) + atol) & ~(np.isnan(actual) & np.isnan(expected))
    if bad.any():
        i = tuple(np.argwhere(bad)[0])
        raise AssertionError(f"{what}: element {i} is {actual[i]!r}, expected {expected[i]!r}")
    print(what, "agrees")
'''

LEAF_TENSORS = """
primals = leaf_tensors(leaves, True)
seeds = [asarray(c, DTYPE, DEVICE, False) for c in cotangents]
"""

HVP = (
    LEAF_TENSORS
    + """
directions = [asarray(t, DTYPE, DEVICE, False) for t in tangents]
_, second = vjp(lambda *p: tuple(vjp(fn, p, seeds)[1]), primals, directions)
"""
)

DIFFERENCES = '''
def central(f, h):
    """Richardson-combined central differences of f(leaves + t tangents) at t = 0."""
    def at(t):
        return f([x + t * v for x, v in zip(leaves, tangents)])
    d1, d2 = (at(h) - at(-h)) / (2 * h), (at(h / 2) - at(-h / 2)) / h
    return (4 * d2 - d1) / 3
'''


def _expected(name: str, arrays: Sequence[np.ndarray]) -> str:
    return f"{name} = {python_literal([np.asarray(a, np.float64) for a in arrays])}\n"


def compare_snippet(
    compute: str,
    actual: str,
    expected: Sequence[np.ndarray],
    tolerances: Sequence[tuple[float, float]],
    what: str,
) -> Callable[[ScriptContext], str]:
    """Run `compute`, then compare the list `actual` with embedded `expected` arrays."""

    def snippet(context: ScriptContext) -> str:
        return (
            ASSERT_CLOSE
            + compute
            + _expected("expected", expected)
            + f"tolerances = {python_literal([tuple(map(float, t)) for t in tolerances])}\n"
            + f"for i, (got, want, (rtol, atol)) in enumerate(zip({actual}, expected, "
            + "tolerances)):\n"
            + f'    assert_close(to_numpy(got), want, rtol, atol, f"{what} {{i}}")\n'
        )

    return snippet


FORWARD = "outputs = fn(*leaf_tensors(leaves, False))\n"
VJP = LEAF_TENSORS + "outputs, grads = vjp(fn, primals, seeds)\n"


def difference_snippet(
    objective: str, analytic: str, step: float, tolerance: float
) -> Callable[[ScriptContext], str]:
    """<analytic, tangents> vs central differences of `objective`, as the oracle did."""

    def snippet(context: ScriptContext) -> str:
        return (
            DIFFERENCES
            + objective
            + f"analytic = sum(float(np.vdot(to_numpy(g), t)) for g, t in zip({analytic}, "
            + "tangents))\n"
            + f"estimate = central(objective, {python_literal(step)})\n"
            + "print('analytic', analytic, 'differences', estimate)\n"
            + f"assert abs(analytic - estimate) <= {python_literal(tolerance)}, "
            + "'gradient disagrees with central differences'\n"
        )

    return snippet


FD_OBJECTIVE = (
    VJP
    + """
def objective(xs):
    outs = fn(*leaf_tensors(xs, False))
    return sum(float(np.vdot(c, to_numpy(o))) for c, o in zip(cotangents, outs))
"""
)

HVP_OBJECTIVE = (
    HVP
    + """
def objective(xs):
    p = leaf_tensors(xs, True)
    return sum(float(np.vdot(to_numpy(g), t)) for g, t in zip(vjp(fn, p, seeds)[1], tangents))
"""
)


def adjoint_snippet(tolerance: float) -> Callable[[ScriptContext], str]:
    def snippet(context: ScriptContext) -> str:
        return (
            VJP
            + f"""
_, jv = jvp(fn, leaf_tensors(leaves, False),
            [asarray(t, DTYPE, DEVICE, False) for t in tangents])
lhs = sum(float(np.vdot(c, to_numpy(j))) for c, j in zip(cotangents, jv))
rhs = sum(float(np.vdot(to_numpy(g), t)) for g, t in zip(grads, tangents))
print("<u, J v> =", lhs, " <J^T u, v> =", rhs)
assert abs(lhs - rhs) <= {python_literal(tolerance)}, "forward and reverse mode disagree"
"""
        )

    return snippet


def invariants_snippet(context: ScriptContext) -> str:
    return (
        LEAF_TENSORS
        + """
before = [to_numpy(p) for p in primals]
outputs, grads = vjp(fn, primals, seeds)
for i, (p, g) in enumerate(zip(primals, grads)):
    for attribute in ("dtype", "device"):
        got, want = str(getattr(g, attribute, None)), str(getattr(p, attribute, None))
        assert got == want, f"gradient of leaf {i} has {attribute} {got}, the leaf {want}"
for i, (b, p) in enumerate(zip(before, primals)):
    assert np.array_equal(b, to_numpy(p), equal_nan=True), f"leaf {i} was modified in place"
_, again = vjp(fn, leaf_tensors(leaves, True), seeds)
for i, (a, b) in enumerate(zip(grads, again)):
    assert np.array_equal(to_numpy(a), to_numpy(b), equal_nan=True), f"leaf {i}: runs differ"
zeros = [asarray(np.zeros_like(c), DTYPE, DEVICE, False) for c in cotangents]
_, zero = vjp(fn, leaf_tensors(leaves, True), zeros)
for i, g in enumerate(zero):
    assert not np.any(to_numpy(g) != 0), f"zero cotangent, nonzero gradient for leaf {i}"
print("invariants hold")
"""
    )


def shapes_snippet(output_shapes: Sequence[tuple], forward_mode: bool) -> Callable:
    """For failures where the adapter raised or returned the wrong thing: run the engine
    (both modes if `forward_mode`) and assert what the oracle expected of its results."""

    def snippet(context: ScriptContext) -> str:
        jvp_call = (
            "_, tangents_out = jvp(fn, leaf_tensors(leaves, False),\n"
            "                      [asarray(t, DTYPE, DEVICE, False) for t in tangents])\n"
            if forward_mode
            else ""
        )
        return (
            VJP
            + jvp_call
            + f"""
for i, (out, shape) in enumerate(zip(outputs, {python_literal(list(output_shapes))})):
    assert out is not None and to_numpy(out).shape == shape, f"output {{i}}: bad shape"
for i, (grad, leaf) in enumerate(zip(grads, leaves)):
    assert grad is not None, f"the gradient of leaf {{i}} is None"
    assert to_numpy(grad).shape == leaf.shape, f"gradient of leaf {{i}}: bad shape"
print("outputs and gradients have the expected shapes")
"""
        )

    return snippet


def shares_snippet(
    tied: np.ndarray, dim: Any, keepdim: bool, atol: float, one_share: bool
) -> Callable[[ScriptContext], str]:
    """A max/min reduction's gradient at ties is a valid subgradient: zero off the tied
    elements (`tied`), shares summing to the cotangent, one share if `one_share`."""

    def snippet(context: ScriptContext) -> str:
        axis = python_literal(dim)
        one = (
            f"assert np.all(np.sum(np.abs(grad) > atol, axis={axis}) <= 1), "
            "'the gradient is split among tied elements'\n"
            if one_share
            else ""
        )
        return (
            VJP
            + f"tied = {python_literal(tied)}\n"
            + f"atol = {python_literal(atol)}\n"
            + "grad = to_numpy(grads[0])\n"
            + "print('gradient at the ties:', repr(grad))\n"
            + "assert np.all(np.abs(grad[~tied]) <= atol), 'gradient off the tied elements'\n"
            + f"sums = np.sum(grad, axis={axis}, keepdims={keepdim!r})\n"
            + "assert np.allclose(sums, cotangents[0], rtol=1e-3, atol=atol), "
            + "'the shares do not sum to the cotangent'\n"
            + one
        )

    return snippet
