"""Find the op nearest a disagreement: re-run each node alone on reference inputs."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcheck import numerics
from gradcheck.errors import call_adapter, to_host
from gradcheck.graph import Graph
from gradcheck.numerics import round_to
from gradcheck.ops import spec_of
from gradcheck.ops.registry import implementation, reference_factor


def probe_cotangent(shape: tuple[int, ...]) -> np.ndarray:
    """A fixed, distinct, not-all-ones cotangent (no randomness needed to localize)."""
    size = int(np.prod(shape, dtype=np.int64))
    return np.cos(1.7 * np.arange(size) + 0.3).reshape(shape)


def run_one_op(
    check: str,
    adapter: Any,
    op: str,
    attrs: dict,
    inputs: list[np.ndarray],
    dtype: str,
    device: str,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Output and input gradients of `op` alone, with the probe cotangent; anything the
    adapter raises or returns wrongly is a failure of `check`."""

    impl = implementation(adapter, op)
    # An in-place form writes into its first input: a clone of it, never the leaf itself.
    first = implementation(adapter, "clone") if spec_of(op).inplace == op else lambda x: x

    def fn(*xs: Any) -> tuple:
        return (impl(first(xs[0]), *xs[1:], **attrs),)

    primals = [adapter.asarray(x, dtype, device, True) for x in inputs]
    out = call_adapter(check, f"op {op!r}", fn, *primals)[0]
    out = np.asarray(call_adapter(check, "to_numpy(output)", adapter.to_numpy, out))
    cotangent = adapter.asarray(probe_cotangent(out.shape), dtype, device, False)
    _, grads = call_adapter(check, f"vjp of {op}", adapter.vjp, fn, primals, [cotangent])
    return out, [
        to_host(check, adapter, g, x.shape, f"gradient of input {i}")
        for i, (g, x) in enumerate(zip(grads, inputs, strict=True))
    ]


def first_bad_node(
    graph: Graph, adapter: Any, reference: Any, dtype: str, device: str
) -> str | None:
    """'op (node k)' for the first node whose own forward or VJP disagrees with the
    reference on the reference's (float64, rounded to dtype) inputs; None if none does.
    `reference` may be `runs.truth_engine`'s, which differentiates user ops numerically."""
    values = [leaf.values for leaf in graph.leaves]
    for k, node in enumerate(graph.nodes):
        inputs = [round_to(values[i], dtype) for i in node.inputs]
        want_out, want_grads = run_one_op(
            "localize", reference, node.op, node.attrs, inputs, "float64", "cpu"
        )
        values.append(want_out)
        try:
            got_out, got_grads = run_one_op(
                "localize", adapter, node.op, node.attrs, inputs, dtype, device
            )
        except Exception:  # the adapter raising on this node alone is a disagreement
            return f"{node.op} (node {k})"
        pairs = [(got_out, want_out), *zip(got_grads, want_grads, strict=True)]
        factor = reference_factor([node.op], dtype)
        if any(
            g.shape != w.shape or not numerics.compare(g, w, dtype, factor=factor).ok
            for g, w in pairs
        ):
            return f"{node.op} (node {k})"
    return None
