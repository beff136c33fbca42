"""The `inplace` oracle's graph transform: ops run in their in-place forms.

Every node whose op declares an in-place form (`OpSpec.inplace`) that the adapter has,
and whose output has its first input's shape (x.add_(y) cannot grow x), becomes
`clone` of that input followed by the in-place op on the clone. Always a clone: writing
into a value other ops read, or one its producer saved for backward, is wrong or an
error (the `semantics` oracle checks those errors). The transformed graph computes the
same function as the original, so the original's reference pass is its truth.
"""

from __future__ import annotations

from typing import Any

from gradcheck.errors import Unsupported
from gradcheck.graph import Graph, Node
from gradcheck.ops import spec_of
from gradcheck.ops.registry import in_place_forms


def has_in_place_form(op: str) -> bool:
    """Whether catalog op `op` declares an in-place form (user ops have none)."""
    return any(spec.name == op for spec in in_place_forms().values())


def eligible(graph: Graph, adapter: Any) -> list[int]:
    """Indices of the nodes that may run in place on `adapter`."""
    shapes = graph.value_shapes
    n = len(graph.leaves)
    return [
        k
        for k, node in enumerate(graph.nodes)
        if form_on(node.op, adapter) and shapes[n + k] == shapes[node.inputs[0]]
    ]


def form_on(op: str, adapter: Any) -> str | None:
    """The in-place form of `op` that `adapter` runs (it also needs `clone`), else None."""
    form = spec_of(op).inplace
    return form if form in adapter.ops and "clone" in adapter.ops else None


def in_place_graph(graph: Graph, adapter: Any) -> Graph:
    """`graph` with every eligible node run in place on a clone of its first input;
    Unsupported when none is eligible, naming why."""
    chosen = set(eligible(graph, adapter))
    if not chosen:
        raise Unsupported(_why_none(graph, adapter))
    n = len(graph.leaves)
    new_id = list(range(n))  # value id in `graph` -> value id in the new graph
    nodes: list[Node] = []
    for k, node in enumerate(graph.nodes):
        inputs = [new_id[i] for i in node.inputs]
        if k in chosen:
            nodes.append(Node("clone", inputs[:1]))
            inputs[0] = n + len(nodes) - 1
            nodes.append(Node(spec_of(node.op).inplace, inputs, node.attrs))
        else:
            nodes.append(Node(node.op, inputs, node.attrs))
        new_id.append(n + len(nodes) - 1)
    return graph.replace(nodes=tuple(nodes), outputs=tuple(new_id[i] for i in graph.outputs))


def _why_none(graph: Graph, adapter: Any) -> str:
    ops = sorted({node.op for node in graph.nodes if has_in_place_form(node.op)})
    if not ops:
        return "no op of this graph has an in-place form"
    lacking = [spec_of(op).inplace for op in ops if not form_on(op, adapter)]
    if lacking:
        return (
            f"adapter {adapter.name!r} has no in-place forms ({', '.join(lacking)}) or no "
            "clone: in-place ops need an imperative engine (docs/writing-an-adapter.md)"
        )
    return f"every {', '.join(ops)} here broadcasts its first input, which x.op_(y) cannot"
