"""Find the op nearest a disagreement: re-run each node alone on reference inputs."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcheck import numerics
from gradcheck.graph import Graph
from gradcheck.numerics import round_to


def probe_cotangent(shape: tuple[int, ...]) -> np.ndarray:
    """A fixed, distinct, not-all-ones cotangent (no randomness needed to localize)."""
    size = int(np.prod(shape, dtype=np.int64))
    return np.cos(1.7 * np.arange(size) + 0.3).reshape(shape)


def _node_result(
    adapter: Any, op: str, attrs: dict, inputs: list[np.ndarray], dtype: str, device: str
) -> tuple[np.ndarray, list[np.ndarray]]:
    tensors = [adapter.asarray(x, dtype, device, True) for x in inputs]

    def fn(*xs: Any) -> tuple:
        return (adapter.ops[op](*xs, **attrs),)

    out = adapter.to_numpy(fn(*tensors)[0])
    cot = adapter.asarray(probe_cotangent(out.shape), dtype, device, False)
    _, grads = adapter.vjp(fn, tensors, [cot])
    return np.asarray(out), [np.asarray(adapter.to_numpy(g)) for g in grads]


def first_bad_node(
    graph: Graph, adapter: Any, reference: Any, dtype: str, device: str
) -> str | None:
    """'op (node k)' for the first node whose own forward or VJP disagrees with the
    reference on the reference's (float64, rounded to dtype) inputs; None if none does."""
    values = [leaf.values for leaf in graph.leaves]
    for k, node in enumerate(graph.nodes):
        inputs = [round_to(values[i], dtype) for i in node.inputs]
        want_out, want_grads = _node_result(
            reference, node.op, node.attrs, inputs, "float64", "cpu"
        )
        values.append(want_out)
        try:
            got_out, got_grads = _node_result(adapter, node.op, node.attrs, inputs, dtype, device)
        except Exception:  # the adapter raising on this node alone is a disagreement
            return f"{node.op} (node {k})"
        pairs = [(got_out, want_out), *zip(got_grads, want_grads, strict=True)]
        if any(g.shape != w.shape or not numerics.compare(g, w, dtype).ok for g, w in pairs):
            return f"{node.op} (node {k})"
    return None
