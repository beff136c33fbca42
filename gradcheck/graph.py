"""The immutable Graph IR: leaves, op nodes, outputs, and the cotangents/tangents.

Value id `i < len(leaves)` is leaf `i`, else node `i - len(leaves)`. Leaves hold float64
values; integer index arrays and masks live in node attrs. The IR is engine-neutral:
`evaluate` only calls `adapter.ops[name](*inputs, **attrs)`.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from gradcheck.adapters.base import python_literal, render_op


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


@dataclass(frozen=True, eq=False)
class Leaf:
    """An input of the graph: float64 values (read-only)."""

    values: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", frozen_array(self.values, np.float64))

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Leaf) and same(self.values, other.values)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Leaf({python_literal(self.values)})"


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
    def n_values(self) -> int:
        return len(self.leaves) + len(self.nodes)

    def node_of(self, value_id: int) -> Node | None:
        """The node computing `value_id`, None for a leaf."""
        k = value_id - len(self.leaves)
        return self.nodes[k] if k >= 0 else None

    @property
    def value_shapes(self) -> list[tuple[int, ...]]:
        """Every value's shape, by the catalog's shape rules."""
        from gradcheck.ops import CATALOG

        shapes = [leaf.shape for leaf in self.leaves]
        for node in self.nodes:
            in_shapes = [shapes[i] for i in node.inputs]
            shapes.append(tuple(CATALOG[node.op].shape(in_shapes, dict(node.attrs))))
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
        oracles pass one that turns an exception into a failure naming the node."""
        if len(inputs) != len(self.leaves):
            raise ValueError(f"expected {len(self.leaves)} inputs, got {len(inputs)}")
        values = list(inputs)
        for node in self.nodes:
            args = [values[i] for i in node.inputs]
            op = adapter.ops[node.op]
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
        """The same structure with new values (e.g. leaves rounded to float16)."""
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

    def to_python(
        self,
        adapter_name: str,
        check: Callable[[ScriptContext], str] | None = None,
        *,
        title: str = "outputs and VJPs",
        dtype: str = "float64",
        device: str = "cpu",
        adapter: Any = None,
    ) -> str:
        """A standalone script: rebuild the inputs exactly, run the graph, run `check`.

        check: a snippet function (ScriptContext -> code; default: print the outputs and
        VJPs); title names it in the script's first line. adapter: default loaded by name.
        With its `op_source` templates and `op_source_prelude`, `fn` calls the engine itself;
        its optional `repro_helpers` (source defining asarray, to_numpy, vjp, jvp) also frees
        the rest of the script from gradcheck.
        """
        if adapter is None:
            adapter = load_adapter_quietly(adapter_name)
        templates = getattr(adapter, "op_source", None) or {}
        native = hasattr(adapter, "op_source_prelude") and all(
            n.op in templates for n in self.nodes
        )
        helpers = getattr(adapter, "repro_helpers", None) if native else None
        context = ScriptContext(self, adapter_name, dtype, device, native and bool(helpers))
        lines = []
        for k, node in enumerate(self.nodes):
            args = [f"v{i}" for i in node.inputs]
            lines.append(f"    v{len(self.leaves) + k} = {op_call(node, args, templates, native)}")
        return SCRIPT.format(
            title=title,
            adapter=adapter_name,
            prelude=(adapter.op_source_prelude if native else "import numpy as np").strip(),
            helpers=(helpers or GENERIC_HELPERS.format(name=adapter_name)).strip(),
            dtype=dtype,
            device=device,
            leaves=python_literal([leaf.values for leaf in self.leaves]),
            cotangents=python_literal(list(self.cotangents)),
            tangents=python_literal(list(self.tangents)),
            params=", ".join(f"v{i}" for i in range(len(self.leaves))),
            body="\n".join(lines),
            outputs="".join(f"v{i}, " for i in self.outputs),
            check=(check or default_check)(context).strip(),
        )


def op_call(node: Node, args: list[str], templates: Mapping[str, str], native: bool) -> str:
    """Source for one node: the engine's own expression, or a call through `ops`."""
    if native:
        return render_op(templates[node.op], args, dict(node.attrs))
    kwargs = [f"{key}={python_literal(v)}" for key, v in node.attrs.items()]
    return f"ops[{node.op!r}](" + ", ".join(args + kwargs) + ")"


def load_adapter_quietly(adapter_name: str) -> Any:
    """The adapter, or None when it does not load here (the script then reports why)."""
    from gradcheck.adapters import AdapterError, load_adapter

    try:
        return load_adapter(adapter_name)
    except (AdapterError, ImportError):
        return None


@dataclass(frozen=True)
class ScriptContext:
    """What a check snippet knows about the script it is appended to.

    The script has defined: `np`, `leaves`, `cotangents`, `tangents` (numpy arrays),
    `DTYPE`, `DEVICE`, `asarray(array, dtype, device, requires_grad)`, `to_numpy(x)`,
    `vjp(fn, primals, cotangents)`, `jvp` (None when the engine lacks it), and
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
primals = [asarray(a, DTYPE, DEVICE, True) for a in leaves]
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
jvp = getattr(adapter, "jvp", None)
"""

SCRIPT = """\
# gradcheck repro ({title}): a generated graph on {adapter!r} ({dtype}, {device}).
{prelude}

{helpers}

DTYPE, DEVICE = {dtype!r}, {device!r}
leaves = {leaves}
cotangents = {cotangents}
tangents = {tangents}


def fn({params}):
{body}
    return ({outputs})


{check}
"""


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
