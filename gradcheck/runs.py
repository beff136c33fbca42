"""One graph on one adapter at one dtype and device: what every oracle runs.

`Run` turns numpy leaves into adapter tensors and adapter results back into float64
numpy arrays, classifying anything the adapter raises or returns wrongly.
"""

from __future__ import annotations

import copy
from collections import ChainMap
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

import reference_engine
from gradcheck.adapters import load_adapter
from gradcheck.errors import GradcheckFailure, Unsupported, call_adapter, to_host
from gradcheck.graph import Graph
from gradcheck.numerics import EPS, round_to
from gradcheck.ops import spec_of
from gradcheck.ops.registry import has_op, implementation, is_user_op

# Rounding bounds are this many eps per term: a few roundings per op (libm is within an
# ulp, composite kernels round a few times) and summation order.
ROUNDING_MULTIPLE = 16


@cache
def reference() -> Any:
    return load_adapter("reference")


def declared(adapter: Any) -> AbstractContextManager:
    """Inside this block the reference engine's subgradients at kinks and ties follow
    the conventions `adapter` declares (torch's where it declares none)."""
    return reference_engine.conventions.using(adapter.conventions)


class Run:
    """One graph on one adapter at one dtype and device: tensors in, numpy out."""

    def __init__(self, check: str, graph: Graph, adapter: Any, dtype: str, device: str) -> None:
        if dtype not in adapter.dtypes:
            raise Unsupported(f"adapter {adapter.name!r} does not support dtype {dtype}")
        missing = sorted({node.op for node in graph.nodes if not has_op(adapter, node.op)})
        if missing:
            raise Unsupported(f"adapter {adapter.name!r} lacks ops: {', '.join(missing)}")
        for node in graph.nodes:
            lacking = sorted(spec_of(node.op).requires - set(adapter.capabilities))
            if lacking:
                raise Unsupported(
                    f"{node.op} needs capability {', '.join(lacking)}, which adapter "
                    f"{adapter.name!r} does not declare"
                )
        self.check, self.graph, self.adapter, self.dtype, self.device = (
            check, graph, adapter, dtype, device,
        )  # fmt: skip
        self.given: list[tuple[np.ndarray, bytes]] = []  # (passed to asarray, its bytes)

    def tensors(
        self, arrays: Sequence[np.ndarray], requires_grad: bool, layouts: Sequence[str] = ()
    ) -> list[Any]:
        """Adapter tensors of `arrays` (in `layouts`, one per array, when given); each gets
        its own writable copy, kept to check later that the adapter left it alone (a
        tensor sharing its memory would not)."""
        tensors = []
        for k, a in enumerate(arrays):
            given = np.array(a, dtype=np.float64)
            self.given.append((given, given.tobytes()))
            args = (given, self.dtype, self.device, requires_grad)
            if layouts and layouts[k] != "contiguous":
                make = self.adapter.asarray_with_layout
                tensor = call_adapter(self.check, "asarray_with_layout", make, *args, layouts[k])
            else:
                tensor = call_adapter(self.check, "asarray", self.adapter.asarray, *args)
            tensors.append(tensor)
        return tensors

    def leaf_tensors(self, arrays: Sequence[np.ndarray], requires_grad: bool) -> list[Any]:
        """Adapter tensors of the graph's leaves (`arrays`: their values, perhaps rounded
        or moved), each in its leaf's memory layout."""
        return self.tensors(arrays, requires_grad, self.graph.layouts)

    def values(self, leaves: Sequence[Any]) -> list[Any]:
        """Every value of the graph (leaves, then nodes), naming the op that raises."""

        def call(node: Any, op: Callable, *args: Any) -> Any:
            return call_adapter(self.check, f"op {node.op!r}", op, *args, **node.attrs)

        return self.graph.evaluate_all(self.adapter, leaves, call)

    def function(self) -> Callable[..., tuple]:
        """The graph as fn(*leaf tensors) -> output tensors."""
        return lambda *leaves: tuple(self.values(leaves)[i] for i in self.graph.outputs)

    def host(self, values: Sequence[Any], shapes: Sequence[tuple], what: str) -> list[np.ndarray]:
        """float64 copies of adapter results, each checked to have the shape, dtype and
        device asked for (an engine that computes in float64 when asked for float16
        passes every comparison, and one in float32 fails them with no word on why)."""
        self.check_inputs_untouched()
        arrays = []
        for i, (v, s) in enumerate(zip(values, shapes, strict=True)):
            name = f"{what} {i}"
            arrays.append(to_host(self.check, self.adapter, v, s, name))
            dtype = call_adapter(self.check, f"dtype_of({name})", self.adapter.dtype_of, v)
            if dtype != self.dtype:
                raise GradcheckFailure(
                    self.check,
                    f"adapter {self.adapter.name!r} returned {name} as {dtype} when asked for "
                    f"{self.dtype}: it must compute in the requested dtype",
                )
            device = call_adapter(self.check, f"device_of({name})", self.adapter.device_of, v)
            if device.split(":")[0] != self.device.split(":")[0]:
                raise GradcheckFailure(
                    self.check,
                    f"adapter {self.adapter.name!r} returned {name} on device {device} when "
                    f"asked for {self.device}",
                )
        return arrays

    def check_inputs_untouched(self) -> None:
        # Bytes, not np.array_equal: this runs for every given array at every result read
        # (a tenth of a run's time with array_equal's overhead).
        for given, kept in self.given:
            if given.tobytes() != kept:
                raise GradcheckFailure(
                    self.check,
                    f"adapter {self.adapter.name!r} modified the numpy array it was given: "
                    "asarray must copy it (a tensor sharing its memory changes the caller's "
                    "data when the engine writes in place)",
                )

    def forward(self, leaves: Sequence[np.ndarray]) -> list[np.ndarray]:
        outs = self.function()(*self.leaf_tensors(leaves, requires_grad=False))
        return self.host(outs, self.graph.output_shapes, "output")

    def vjp(
        self, leaves: Sequence[np.ndarray], cotangents: Sequence[np.ndarray]
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        primals = self.leaf_tensors(leaves, requires_grad=True)
        cots = self.tensors(cotangents, requires_grad=False)
        outs, grads = call_adapter(
            self.check, "vjp", self.adapter.vjp, self.function(), primals, cots
        )
        return (
            self.host(outs, self.graph.output_shapes, "output"),
            self.host(grads, [leaf.shape for leaf in self.graph.leaves], "gradient of leaf"),
        )


def rounded(
    graph: Graph, dtype: str
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Leaves, cotangents and tangents as the adapter sees them at `dtype`, in float64."""
    return tuple(
        [round_to(a, dtype) for a in arrays]
        for arrays in ([leaf.values for leaf in graph.leaves], graph.cotangents, graph.tangents)
    )


def truth_engine(graph: Graph, stand_in: Any = None) -> Any:
    """The reference adapter; with a `stand_in` adapter, for the user ops of `graph` a
    copy whose primitives never give up (Inconclusive) on their numerical derivatives and
    compute an op without a numpy reference by the stand-in in float64: values and
    adjoints of the right size for rounding magnitudes, kink distances and localizing,
    never a truth to compare with."""
    ref = reference()
    users = [op for op in dict.fromkeys(n.op for n in graph.nodes) if is_user_op(op)]
    if not users or stand_in is None:
        return ref
    from gradcheck.adapters.reference import jacobian
    from reference_engine.numerical import numerical

    dtype = "float64" if "float64" in stand_in.dtypes else stand_in.dtypes[0]
    device = str(stand_in.devices[0])

    def forward_of(op: str) -> Callable[..., np.ndarray]:
        if spec_of(op).reference is not None:
            return spec_of(op).reference
        fn = implementation(stand_in, op)

        def forward(*arrays: np.ndarray, **attrs: Any) -> np.ndarray:
            xs = [stand_in.asarray(np.array(a, np.float64), dtype, device, False) for a in arrays]
            return np.asarray(stand_in.to_numpy(fn(*xs, **attrs)), np.float64)

        return forward

    engine = copy.copy(ref)
    engine.ops = ChainMap({op: numerical(op, forward_of(op), jacobian) for op in users}, ref.ops)
    return engine


def reference_values(
    graph: Graph, leaves: Sequence[np.ndarray], stand_in: Any = None
) -> list[np.ndarray]:
    """Every value of the graph on the reference engine in float64 (`truth_engine`)."""
    engine = truth_engine(graph, stand_in)
    run = Run("reference", graph, engine, "float64", "cpu")
    return [engine.to_numpy(v) for v in run.values(run.tensors(leaves, False))]


@dataclass(frozen=True)
class Truth:
    """The reference engine's float64 pass over every value of a graph (leaves, then
    nodes): values, adjoints d<u, F>/d value (a leaf's is its VJP) and, when asked for,
    tangents along the leaves' directions.

    Rounding at a lower dtype is relative to these magnitudes, not to the results: where
    a result cancels to about 0 (softmax of equal entries, x - x) only the intermediates
    say how large its noise can be. `cancelling` maps the values of ops that engines
    compute as a difference of terms as large as their inputs (`OpSpec.absolute_rounding`)
    to those inputs: such a value rounds by eps |input|, however small it is."""

    values: list[np.ndarray]
    adjoints: list[np.ndarray]
    tangents: list[np.ndarray] | None = None
    cancelling: Mapping[int, tuple[int, ...]] = field(default_factory=dict)

    def _scale(self, arrays: list[np.ndarray], k: int) -> np.ndarray | float:
        own = np.abs(arrays[k])
        for i in self.cancelling.get(k, ()):
            other = np.abs(arrays[i])
            own = np.maximum(own, other if other.shape == own.shape else np.max(other, initial=0))
        return own

    def objective_noise(self, n_leaves: int) -> float:
        """Rounding of one evaluation of <u, F(x)>: an op rounds its result by about eps
        relative, which moves the objective by eps |adjoint * value| at every computed
        value. Where the objective's terms cancel it is far above eps |<u, F(x)>|."""
        terms = sum(
            float(np.sum(np.abs(self.adjoints[k]) * self._scale(self.values, k)))
            for k in range(n_leaves, len(self.values))
        )
        return ROUNDING_MULTIPLE * EPS * terms

    def gradient_noise(self, graph: Graph | None = None) -> float:
        """Rounding of <J^T u, v> as an engine computes it: the adjoint-tangent products
        of every value are the terms it sums (pow(x, x) - pow(x, x) cancels four of them).
        With `graph`, also |adjoint out| |tangent in| per node: a backward multiplies the
        adjoint by a local derivative whose terms may cancel far below 1 (tanh' = 1 - y^2
        near saturation, where y^2 is rounded like a value of size 1)."""
        assert self.tangents is not None, "needs the reference pass with tangents"
        terms = sum(
            float(np.sum(np.abs(a * t))) for a, t in zip(self.adjoints, self.tangents, strict=True)
        )
        for k, node in enumerate(graph.nodes if graph is not None else ()):
            tangent_in = max(float(np.max(np.abs(self.tangents[i]), initial=0.0))
                             for i in node.inputs)  # fmt: skip
            terms += float(np.sum(np.abs(self.adjoints[len(graph.leaves) + k]))) * tangent_in
        return ROUNDING_MULTIPLE * EPS * terms


def reference_pass(
    graph: Graph,
    leaves: Sequence[np.ndarray],
    cotangents: Sequence[np.ndarray],
    tangents: Sequence[np.ndarray] | None = None,
    stand_in: Any = None,
) -> Truth:
    """The reference's float64 pass; Unsupported for a user op without a numpy reference
    unless a `stand_in` adapter computes it (for magnitudes only: `truth_engine`)."""
    ref = truth_engine(graph, stand_in)
    run = Run("reference", graph, ref, "float64", "cpu")
    values = run.values(run.tensors(leaves, requires_grad=True))
    outputs = [values[i] for i in graph.outputs]
    seeds = run.tensors(cotangents, requires_grad=False)
    adjoints = reference_engine.grad(outputs, values, seeds, allow_unused=True)
    value_tangents = None
    if tangents is not None:
        _, value_tangents = ref.jvp(
            lambda *xs: tuple(run.values(xs)),
            run.tensors(leaves, requires_grad=False),
            run.tensors(tangents, requires_grad=False),
        )
        value_tangents = [ref.to_numpy(t) for t in value_tangents]
    value_arrays = [ref.to_numpy(v) for v in values]
    adjoint_arrays = [
        np.zeros(v.shape) if a is None else ref.to_numpy(a)
        for v, a in zip(value_arrays, adjoints, strict=True)
    ]
    n = len(graph.leaves)
    cancelling = {
        n + k: node.inputs
        for k, node in enumerate(graph.nodes)
        if spec_of(node.op).absolute_rounding
    }
    return Truth(value_arrays, adjoint_arrays, value_tangents, cancelling)


def reference_spread(
    graph: Graph, leaves: Sequence[np.ndarray], cotangents: Sequence[np.ndarray], truth: Truth
) -> float:
    """How far the reference's leaf adjoints move when its user ops' central differences
    take twice the step: about their error, which no fixed tolerance bounds (a user op
    whose Jacobian cancels to ~0, downstream of a steep one). 0 without user ops."""
    if not any(is_user_op(node.op) for node in graph.nodes):
        return 0.0
    from reference_engine.numerical import alternative

    with alternative():
        other = reference_pass(graph, leaves, cotangents)
    pairs = zip(other.adjoints[: len(leaves)], truth.adjoints[: len(leaves)], strict=True)
    return max((float(np.max(np.abs(a - b), initial=0.0)) for a, b in pairs), default=0.0)
