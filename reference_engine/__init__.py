"""A small numpy autograd engine with a PyTorch-like API: the oracle of gradcheck.

Python floats default to float32, as in torch; pass dtype=float64 for reference work.
Kink and tie conventions are listed in `conventions.CONVENTIONS`.
"""

from . import autograd, ops
from .autograd import grad, jvp, vjp
from .conventions import CONVENTIONS
from .ops import *  # noqa: F403
from .ops import ValuesIndices
from .tensor import (
    DEFAULT_DTYPE,
    Tensor,
    bool_,
    enable_grad,
    float16,
    float32,
    float64,
    int64,
    is_grad_enabled,
    no_grad,
    ones,
    ones_like,
    set_grad_enabled,
    tensor,
    zeros,
    zeros_like,
)

bool = bool_  # torch.bool

__all__ = ops.__all__ + [
    "CONVENTIONS",
    "DEFAULT_DTYPE",
    "Tensor",
    "ValuesIndices",
    "autograd",
    "bool",
    "enable_grad",
    "float16",
    "float32",
    "float64",
    "grad",
    "int64",
    "is_grad_enabled",
    "jvp",
    "no_grad",
    "ones",
    "ones_like",
    "set_grad_enabled",
    "tensor",
    "vjp",
    "zeros",
    "zeros_like",
]
