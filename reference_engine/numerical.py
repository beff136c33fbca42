"""Numerical primitives: a numpy forward known only by its values, differentiated through
its Jacobian, which a given function computes (gradcheck passes central differences).

    square = numerical("square", lambda x: x * x, jacobian)  # jacobian(F, arrays) -> J

J has one row per output element and one column per input element, inputs flattened in
order and concatenated. The VJP is J^T g and the JVP J t, written in engine ops, so they
are differentiable in g and t; J itself is a constant, so second derivatives with respect
to the inputs are zero, not the function's: these primitives are first order only.

`jacobian` may return alternatives (say, differences with another step): inside
`alternative()` the primitives use the second one, so that a pass run both ways shows
how far its numerical derivatives can be trusted.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .dispatch import Primitive
from .linalg import matmul
from .shape import reshape
from .tensor import Tensor, tensor

Function = Callable[[list[np.ndarray]], Sequence[np.ndarray]]
Jacobian = Callable[[Function, list[np.ndarray]], Any]  # (F, point) -> J or (J, J', ...)
CACHED = 16  # Jacobians kept per primitive: a VJP and a JVP at one point share one
_variant = [0]  # which of the alternative Jacobians the primitives use


@contextlib.contextmanager
def alternative() -> Iterator[None]:
    """Numerical primitives use their second Jacobian (when `jacobian` gives one)."""
    _variant.append(1)
    try:
        yield
    finally:
        _variant.pop()


def numerical(name: str, forward: Callable[..., np.ndarray], jacobian: Jacobian) -> Primitive:
    """A primitive of any number of inputs: forward(*arrays, **attrs) -> array, its
    derivatives from `jacobian` at the inputs' values (in float64)."""
    cache: dict[tuple, list[list[np.ndarray]]] = {}

    def run(*arrays: np.ndarray, **attrs: object) -> np.ndarray:
        dtype = np.result_type(*arrays) if arrays else np.float64
        return np.asarray(forward(*arrays, **attrs)).astype(dtype, copy=False)

    def blocks(inputs: Sequence[Tensor], attrs: dict) -> list[np.ndarray]:
        """d out / d input i, as (out size, input size) matrices."""
        arrays = [np.asarray(x.data, np.float64) for x in inputs]
        key = (*((a.shape, a.tobytes()) for a in arrays), repr(sorted(attrs.items())))
        if key not in cache:
            if len(cache) >= CACHED:
                cache.pop(next(iter(cache)))
            found = jacobian(lambda xs: [forward(*xs, **attrs)], arrays)
            choices = found if isinstance(found, (list, tuple)) else [found]
            splits = np.cumsum([a.size for a in arrays])[:-1]
            cache[key] = [np.split(np.asarray(J, np.float64), splits, axis=1) for J in choices]
        choices = cache[key]
        return choices[min(_variant[-1], len(choices) - 1)]

    def flat(x: Tensor) -> Tensor:
        return reshape(x, (math.prod(x.shape),))

    def vjp(g: Tensor, out: Tensor, *inputs: Tensor, **attrs: object) -> tuple:
        return tuple(
            reshape(matmul(tensor(block.T.astype(g.dtype)), flat(g)), x.shape)
            for block, x in zip(blocks(inputs, attrs), inputs, strict=True)
        )

    def jvp(ts: Sequence[Tensor], out: Tensor, *inputs: Tensor, **attrs: object) -> Tensor:
        total = tensor(np.zeros(out.shape, out.dtype))
        for block, t in zip(blocks(inputs, attrs), ts, strict=True):
            total = total + reshape(matmul(tensor(block.astype(t.dtype)), flat(t)), out.shape)
        return total

    return Primitive(name, run, params=None, vjp=vjp, jvp=jvp)
