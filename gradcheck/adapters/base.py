"""The adapter protocol: what gradcheck needs from an autograd engine.

An adapter is any object with these attributes; subclassing `Adapter` is optional.
`fn` arguments take adapter tensors and return a tuple of adapter tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

DTYPES = ("float64", "float32", "float16", "bfloat16")
CAPABILITIES = ("jvp", "higher_order", "imperative")


@runtime_checkable
class Adapter(Protocol):
    name: str
    version: str
    devices: Sequence[str]
    dtypes: Sequence[str]
    capabilities: frozenset[str]
    ops: Mapping[str, Callable[..., Any]]

    def asarray(self, array: np.ndarray, dtype: str, device: str, requires_grad: bool) -> Any:
        """An engine tensor holding `array` (float64) cast to `dtype` on `device`."""

    def to_numpy(self, x: Any) -> np.ndarray:
        """A float64 host copy of an engine tensor."""

    def vjp(
        self, fn: Callable[..., tuple], primals: Sequence[Any], cotangents: Sequence[Any]
    ) -> tuple[tuple, tuple]:
        """(fn(*primals), J^T cotangents), the grads differentiable again (create_graph)."""
