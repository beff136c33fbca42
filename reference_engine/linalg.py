"""Linear algebra (torch.linalg's names where torch has them), and Tensor.matmul and @.

matmul_p takes operands of at least 2 dims; matmul adds and removes torch's unit dims.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .dispatch import Dim, Primitive, lift
from .reductions import norm
from .rules import unbroadcast
from .shape import squeeze, transpose, unsqueeze
from .tensor import Tensor

__all__ = ["matmul", "vector_norm"]


def _mT(x: Tensor) -> Tensor:
    return transpose(x, -1, -2)


matmul_p = Primitive(
    "matmul",
    np.matmul,
    params=("input", "other"),
    vjp=lambda g, out, x, y: (unbroadcast(g @ _mT(y), x.shape), unbroadcast(_mT(x) @ g, y.shape)),
    jvp=lambda ts, out, x, y: ts[0] @ y + x @ ts[1],
)


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """torch.matmul: 1-d operands get a unit dim, added then removed; batches broadcast."""
    out = matmul_p(
        unsqueeze(input, 0) if input.ndim == 1 else input,
        unsqueeze(other, -1) if other.ndim == 1 else other,
    )
    if input.ndim == 1:
        out = squeeze(out, -2)
    return squeeze(out, -1) if other.ndim == 1 else out


def vector_norm(x: Tensor, ord: Any = 2, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """torch.linalg.vector_norm, for ord=2 (as norm)."""
    if ord != 2:
        raise NotImplementedError("only the 2-norm is implemented")
    return norm(x, 2, dim, keepdim)


Tensor.matmul = matmul
Tensor.__matmul__, Tensor.__rmatmul__ = matmul, lambda x, y: matmul(lift(y, x), x)
