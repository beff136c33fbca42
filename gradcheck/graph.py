"""The immutable Graph IR: leaves, op nodes, outputs, and the cotangents/tangents.

Value id `i < len(leaves)` is leaf `i`, else node `i - len(leaves)`. Leaves hold float64
values; integer index arrays and masks live in node attrs. The IR is engine-neutral:
`evaluate` only calls `adapter.ops[name](*inputs, **attrs)` (or a user op's `fn`); `repr`
is Python source that rebuilds the graph, and `gradcheck.repro.script` writes a
standalone script from it.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from gradcheck.literals import python_literal


def frozen_array(values: Any, dtype: Any = None) -> np.ndarray:
    array = np.array(values, dtype=dtype, copy=True)
    array.setflags(write=False)
    return array


def frozen_attr(value: Any) -> Any:
    return frozen_array(value) if isinstance(value, np.ndarray) else value


@dataclass(frozen=True, eq=False)
class Node:
    op: str
    inputs: tuple[int, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(int(i) for i in self.inputs))
        attrs = {k: frozen_attr(v) for k, v in dict(self.attrs).items()}
        object.__setattr__(self, "attrs", MappingProxyType(attrs))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Node) and same(
            (self.op, self.inputs, dict(self.attrs)), (other.op, other.inputs, dict(other.attrs))
        )

    __hash__ = None  # type: ignore[assignment]  # attrs may hold arrays

    def __repr__(self) -> str:
        return (
            f"Node({self.op!r}, {python_literal(self.inputs)}, {python_literal(dict(self.attrs))})"
        )


#: Memory layouts a leaf tensor can be made in (`AdapterBase.asarray_with_layout`):
#: the same values, contiguous; with strides reversed (ndim >= 2); or every other element
#: of the last dim of a buffer twice as long (step 2).
LAYOUTS = ("contiguous", "transposed", "strided")


@dataclass(frozen=True, eq=False)
class Leaf:
    """An input of the graph: float64 values (read-only) and the memory layout the engine
    tensor is made in (kernels have separate paths for non-contiguous inputs)."""

    values: np.ndarray
    layout: str = "contiguous"

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", frozen_array(self.values, np.float64))
        if self.layout not in LAYOUTS:
            raise ValueError(f"leaf layout {self.layout!r} is not one of {', '.join(LAYOUTS)}")

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Leaf)
            and self.layout == other.layout
            and same(self.values, other.values)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        layout = "" if self.layout == "contiguous" else f", layout={self.layout!r}"
        return f"Leaf({python_literal(self.values)}{layout})"


@dataclass(frozen=True, eq=False)
class Graph:
    leaves: tuple[Leaf, ...]  # arrays are accepted and wrapped
    nodes: tuple[Node, ...]
    outputs: tuple[int, ...]  # value ids
    cotangents: tuple[np.ndarray, ...] = ()  # one per output, for VJPs
    tangents: tuple[np.ndarray, ...] = ()  # one direction per leaf, for JVPs and differences

    def __post_init__(self) -> None:
        def arrays(values):
            return tuple(frozen_array(v, np.float64) for v in values)

        leaves = tuple(v if isinstance(v, Leaf) else Leaf(v) for v in self.leaves)
        object.__setattr__(self, "leaves", leaves)
        object.__setattr__(self, "nodes", tuple(self.nodes))
        object.__setattr__(self, "outputs", tuple(int(i) for i in self.outputs))
        object.__setattr__(self, "cotangents", arrays(self.cotangents))
        object.__setattr__(self, "tangents", arrays(self.tangents))
        for k, node in enumerate(self.nodes):
            if any(not 0 <= i < len(self.leaves) + k for i in node.inputs):
                raise ValueError(f"node {k} ({node.op}) uses a value not defined before it")
        if any(not 0 <= i < self.n_values for i in self.outputs):
            raise ValueError(f"outputs {self.outputs} out of range")
        if self.cotangents and len(self.cotangents) != len(self.outputs):
            raise ValueError("one cotangent per output")
        if self.tangents and len(self.tangents) != len(self.leaves):
            raise ValueError("one tangent per leaf")

    @property
    def layouts(self) -> list[str]:
        """Each leaf's memory layout."""
        return [leaf.layout for leaf in self.leaves]

    @property
    def n_values(self) -> int:
        return len(self.leaves) + len(self.nodes)

    def node_of(self, value_id: int) -> Node | None:
        """The node computing `value_id`, None for a leaf."""
        k = value_id - len(self.leaves)
        return self.nodes[k] if k >= 0 else None

    @property
    def value_shapes(self) -> list[tuple[int, ...]]:
        """Every value's shape, by the ops' shape rules."""
        from gradcheck.ops import spec_of

        shapes = [leaf.shape for leaf in self.leaves]
        for node in self.nodes:
            in_shapes = [shapes[i] for i in node.inputs]
            shapes.append(tuple(spec_of(node.op).shape(in_shapes, dict(node.attrs))))
        return shapes

    @property
    def output_shapes(self) -> list[tuple[int, ...]]:
        shapes = self.value_shapes
        return [shapes[i] for i in self.outputs]

    def depth(self) -> int:
        """Nodes on the longest leaf-to-output path."""
        depths = [0] * len(self.leaves)
        for node in self.nodes:
            depths.append(1 + max((depths[i] for i in node.inputs), default=0))
        return max((depths[i] for i in self.outputs), default=0)

    # ---- evaluation ------------------------------------------------------------------

    def evaluate_all(
        self, adapter: Any, inputs: Sequence[Any], call: Callable[..., Any] | None = None
    ) -> list[Any]:
        """Every value, leaves then nodes, in value-id order (to locate disagreements).

        `call(node, op, *args)` runs each op (default: `op(*args, **node.attrs)`); the
        oracles pass one that turns an exception into a failure naming the node. A user
        op runs as `adapter.ops[name]` where the adapter has it, else as its `fn`."""
        from gradcheck.ops.registry import implementation

        if len(inputs) != len(self.leaves):
            raise ValueError(f"expected {len(self.leaves)} inputs, got {len(inputs)}")
        values = list(inputs)
        for node in self.nodes:
            args = [values[i] for i in node.inputs]
            op = implementation(adapter, node.op)
            values.append(call(node, op, *args) if call else op(*args, **node.attrs))
        return values

    def evaluate(self, adapter: Any, inputs: Sequence[Any]) -> tuple[Any, ...]:
        values = self.evaluate_all(adapter, inputs)
        return tuple(values[i] for i in self.outputs)

    def function(self, adapter: Any) -> Callable[..., tuple]:
        """`fn(*leaf_tensors) -> outputs`, the form `adapter.vjp`/`jvp` take."""
        return lambda *inputs: self.evaluate(adapter, inputs)

    # ---- variants --------------------------------------------------------------------

    def replace(self, **changes: Any) -> Graph:
        return dataclasses.replace(self, **changes)

    def with_values(
        self,
        leaves: Sequence[np.ndarray] | None = None,
        cotangents: Sequence[np.ndarray] | None = None,
        tangents: Sequence[np.ndarray] | None = None,
    ) -> Graph:
        """The same structure with new values (e.g. leaves rounded to float16); leaves
        keep their layouts."""
        if leaves is not None:
            leaves = [
                Leaf(v, old.layout) if not isinstance(v, Leaf) else v
                for v, old in zip(leaves, self.leaves, strict=True)
            ]
        changes = {"leaves": leaves, "cotangents": cotangents, "tangents": tangents}
        return self.replace(**{k: v for k, v in changes.items() if v is not None})

    # ---- equality and source ---------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        fields = ("leaves", "nodes", "outputs", "cotangents", "tangents")
        return isinstance(other, Graph) and all(
            same(getattr(self, f), getattr(other, f)) for f in fields
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        """Python source that rebuilds this graph exactly (needs np, Graph, Node, Leaf)."""

        def listing(items, render=python_literal):
            return "".join(f"        {render(item)},\n" for item in items)

        return (
            "Graph(\n"
            f"    leaves=(\n{listing(self.leaves, repr)}    ),\n"
            f"    nodes=(\n{listing(self.nodes, repr)}    ),\n"
            f"    outputs={python_literal(self.outputs)},\n"
            f"    cotangents=(\n{listing(self.cotangents)}    ),\n"
            f"    tangents=(\n{listing(self.tangents)}    ),\n"
            ")"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints falsifying examples with this: show the runnable source.
        printer.text(repr(self))


def same(a: Any, b: Any) -> bool:
    """Equality down to the bit: arrays by dtype, shape and bytes; floats by their bits."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.tobytes() == b.tobytes()
        )
    if isinstance(a, Leaf) or isinstance(b, Leaf):
        return a == b
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, slice) and isinstance(b, slice):
        return same((a.start, a.stop, a.step), (b.start, b.stop, b.step))
    return type(a) is type(b) and a == b
