"""The `conventions` oracle: values and gradients exactly at each op's samples (kinks and
ties, zeros of products, domain edges; `OpSpec.samples`), in every dtype of the run.

The engine's output and gradients (for a fixed probe cotangent) must equal the reference
engine's following the subgradients the adapter declares (`AdapterBase.conventions`;
torch's by default). Where it declares "any" (ties may share the gradient in any valid
way), the gradient must be a valid subgradient instead: zero off the tied elements,
nonnegative shares on them that sum to the cotangent, one share only for max_dim/min_dim.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gradcheck import numerics, repro
from gradcheck.errors import GradcheckFailure, Unsupported
from gradcheck.graph import Graph, Node
from gradcheck.localize import probe_cotangent, run_one_op
from gradcheck.numerics import round_to
from gradcheck.ops import spec_of
from gradcheck.ops.reductions import rows
from gradcheck.ops.registry import has_op, is_user_op, limitation, reference_factor
from gradcheck.ops.spec import dims_of, reduced_shape
from gradcheck.runs import declared, reference

ONE_SHARE = ("max_dim", "min_dim")  # all of a slice's gradient goes to one tied element
KINK_STENCIL = 1e-4  # a user op's numerical derivatives reach this far (relative to |x|)


def run_conventions(op: str, adapter: Any, *, dtype: str = "float64", device: str = "cpu") -> None:
    """Every sample of `op`: forward and VJP as the reference computes them under the
    adapter's declared conventions (or a valid subgradient, for "any")."""
    if not has_op(adapter, op):
        raise Unsupported(f"adapter {adapter.name!r} lacks op {op!r}")
    if dtype not in adapter.dtypes:
        raise Unsupported(f"adapter {adapter.name!r} does not support dtype {dtype}")
    reason = limitation(adapter, op, "forward", dtype)
    if reason is not None:
        raise Unsupported(reason)
    spec = spec_of(op)
    for sample in spec.samples:
        attrs = dict(sample.attrs)
        inputs = [round_to(x, dtype) for x in sample.inputs]
        with declared(adapter):
            want = run_one_op("conventions", reference(), op, attrs, inputs, "float64", "cpu")
        got = run_one_op("conventions", adapter, op, attrs, inputs, dtype, device)
        what = ["output", *(f"gradient of input {i}" for i in range(len(inputs)))]
        pairs = list(zip(what, [got[0], *got[1]], [want[0], *want[1]], strict=True))
        if adapter.conventions.get(op) == "any":
            pairs = pairs[:1]  # gradients: any valid share, checked below
            _check_shares(op, adapter, inputs, attrs, got[1][0], dtype, device)
        if is_user_op(op):
            # The reference differentiates a user op by central differences: not across
            # a kink (their average is no convention), and to about 1e-10 in float64.
            near = spec.kink is not None and spec.kink.gap(inputs, attrs) < KINK_STENCIL * max(
                1.0, *(float(np.max(np.abs(x), initial=0.0)) for x in inputs)
            )
            pairs = pairs[:1] if near else pairs
        for name, actual, expected in pairs:
            factor = reference_factor([op], dtype) if name != "output" else 1.0
            result = numerics.compare(actual, expected, dtype, factor=factor)
            if not result.ok:
                raise _failure(op, adapter, inputs, attrs, want, dtype, device, name, result)


def _failure(
    op: str,
    adapter: Any,
    inputs: Sequence[np.ndarray],
    attrs: dict,
    want: tuple[np.ndarray, list[np.ndarray]],
    dtype: str,
    device: str,
    name: str,
    result: numerics.Comparison,
) -> GradcheckFailure:
    """The failure, with a repro that runs the op on the sample and compares its output
    and gradients with the embedded reference values."""
    args = ", ".join(np.array2string(x, separator=", ") for x in inputs)
    choice = adapter.conventions.get(op)
    declared_text = f" (declared {op}: {choice!r})" if choice is not None else ""
    graph = one_op_graph(op, attrs, inputs, want[0].shape)
    expected = [want[0], *want[1]]
    terms = [numerics.tolerance_terms(x, dtype) for x in expected]
    snippet = repro.compare_snippet(
        repro.VJP, "list(outputs) + list(grads)", expected, terms, "output, then gradient"
    )
    return GradcheckFailure(
        "conventions",
        f"{op}({args}, {attrs}){declared_text}: {name} {result.describe()}",
        op=op,
        repro=repro.script(graph, adapter, snippet, title="conventions", dtype=dtype,
                           device=device),
    )  # fmt: skip


def one_op_graph(op: str, attrs: dict, inputs: Sequence[np.ndarray], out_shape: tuple) -> Graph:
    """The sample as a one-node graph with the probe cotangent (for repro scripts)."""
    leaves = [np.asarray(x, np.float64) for x in inputs]
    node = Node(op, list(range(len(leaves))), attrs)
    return Graph(
        leaves,
        [node],
        [len(leaves)],
        [probe_cotangent(out_shape)],
        [np.zeros_like(x) for x in leaves],
    )


def _check_shares(
    op: str,
    adapter: Any,
    inputs: Sequence[np.ndarray],
    attrs: dict,
    grad: np.ndarray,
    dtype: str,
    device: str,
) -> None:
    """A tie-breaking gradient of a max/min reduction is a valid subgradient."""
    x = inputs[0]
    dim = attrs.get("dim")
    values = rows(x, dim)
    largest = op in ("amax", "max", "max_dim")
    extreme = values.max(axis=1, keepdims=True) if largest else values.min(axis=1, keepdims=True)
    tied = values == extreme
    shares = rows(grad, dim)
    cotangent = probe_cotangent(reduced_shape(x.shape, dim, attrs.get("keepdim", False)))
    cot = np.asarray(cotangent).reshape(-1, 1)
    _, atol = numerics.tolerance_terms(cot, dtype)
    problems = []
    if np.any(np.abs(shares[~tied]) > atol):
        problems.append("gradient reaches elements that are not tied at the extremum")
    if np.any(np.abs(shares.sum(axis=1, keepdims=True) - cot) > atol + 1e-3 * np.abs(cot)):
        problems.append("the shares of a slice do not sum to its cotangent")
    if np.any(shares * np.sign(cot) < -atol):
        problems.append("a share has the opposite sign of the cotangent")
    if op in ONE_SHARE and np.any(np.sum(np.abs(shares) > atol, axis=1) > 1):
        problems.append(f"{op} splits the gradient among tied elements (it must pick one)")
    if problems:
        args = np.array2string(x, separator=", ")
        graph = one_op_graph(op, attrs, inputs, cotangent.shape)
        snippet = repro.shares_snippet(
            np.asarray(x == _expand(extreme, x, dim)), dim, attrs.get("keepdim", False),
            atol, op in ONE_SHARE,
        )  # fmt: skip
        raise GradcheckFailure(
            "conventions",
            f"{op}({args}, {attrs}) (declared {op}: 'any'): {'; '.join(problems)}; "
            f"gradient {np.array2string(grad, separator=', ')}",
            op=op,
            repro=repro.script(graph, adapter, snippet, title="conventions", dtype=dtype,
                               device=device),
        )  # fmt: skip


def _expand(extreme: np.ndarray, x: np.ndarray, dim: Any) -> np.ndarray:
    """The per-slice extremum (one per row of `rows(x, dim)`) in x's shape."""
    dims = dims_of(dim, x.ndim)
    kept = [d for d in range(x.ndim) if d not in dims]
    moved = np.broadcast_to(extreme, (extreme.shape[0], math.prod(x.shape[d] for d in dims)))
    shaped = moved.reshape([x.shape[d] for d in kept] + [x.shape[d] for d in dims])
    return np.transpose(shaped, np.argsort(kept + list(dims)))
