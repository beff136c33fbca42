"""One graph on one adapter at one dtype and device: what every oracle runs.

`Run` turns numpy leaves into adapter tensors and adapter results back into float64
numpy arrays, classifying anything the adapter raises or returns wrongly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import numpy as np

from gradcheck.adapters import load_adapter
from gradcheck.errors import Unsupported, call_adapter, to_host
from gradcheck.graph import Graph
from gradcheck.numerics import round_to


@cache
def reference() -> Any:
    return load_adapter("reference")


class Run:
    """One graph on one adapter at one dtype and device: tensors in, numpy out."""

    def __init__(self, check: str, graph: Graph, adapter: Any, dtype: str, device: str) -> None:
        if dtype not in adapter.dtypes:
            raise Unsupported(f"adapter {adapter.name!r} does not support dtype {dtype}")
        missing = sorted({node.op for node in graph.nodes} - set(adapter.ops))
        if missing:
            raise Unsupported(f"adapter {adapter.name!r} lacks ops: {', '.join(missing)}")
        self.check, self.graph, self.adapter, self.dtype, self.device = (
            check, graph, adapter, dtype, device,
        )  # fmt: skip

    def tensors(self, arrays: Sequence[np.ndarray], requires_grad: bool) -> list[Any]:
        make = self.adapter.asarray
        return [
            call_adapter(self.check, "asarray", make, a, self.dtype, self.device, requires_grad)
            for a in arrays
        ]

    def values(self, leaves: Sequence[Any]) -> list[Any]:
        """Every value of the graph (leaves, then nodes), naming the op that raises."""

        def call(node: Any, op: Callable, *args: Any) -> Any:
            return call_adapter(self.check, f"op {node.op!r}", op, *args, **node.attrs)

        return self.graph.evaluate_all(self.adapter, leaves, call)

    def function(self) -> Callable[..., tuple]:
        """The graph as fn(*leaf tensors) -> output tensors."""
        return lambda *leaves: tuple(self.values(leaves)[i] for i in self.graph.outputs)

    def host(self, values: Sequence[Any], shapes: Sequence[tuple], what: str) -> list[np.ndarray]:
        return [
            to_host(self.check, self.adapter, v, s, f"{what} {i}")
            for i, (v, s) in enumerate(zip(values, shapes, strict=True))
        ]

    def forward(self, leaves: Sequence[np.ndarray]) -> list[np.ndarray]:
        outs = self.function()(*self.tensors(leaves, requires_grad=False))
        return self.host(outs, self.graph.output_shapes, "output")

    def vjp(
        self, leaves: Sequence[np.ndarray], cotangents: Sequence[np.ndarray]
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        primals = self.tensors(leaves, requires_grad=True)
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


def reference_values(graph: Graph, leaves: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Every value of the graph on the reference engine in float64."""
    run = Run("reference", graph, reference(), "float64", "cpu")
    return [reference().to_numpy(v) for v in run.values(run.tensors(leaves, False))]
