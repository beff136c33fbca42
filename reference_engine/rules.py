"""The common shapes of VJP and JVP rules, and the three linear primitives they use.

A broadcast gradient is summed back (unbroadcast) and a reduced one broadcast back
(expand_reduced), so the helpers need sum_p, broadcast_to_p and reshape_p: they live
here; the public sum, broadcast_to and reshape (reductions.py, shape.py) parse torch's
arguments and call them. Rules run after the whole package is imported, so they may
use Tensor operators (x * y), which elementwise.py attaches.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .dispatch import Primitive, defview, needs_input_grad
from .tensor import Tensor


def elementwise(name: str, forward: Callable, vjp: Callable) -> Primitive:
    """A unary element-wise op from the VJP of one element, vjp(g, out, x, **attrs).

    Its Jacobian is diagonal, hence symmetric: the JVP is the same map applied to t.
    """
    return Primitive(
        name,
        forward,
        vjp=lambda g, out, x, **a: (vjp(g, out, x, **a),),
        jvp=lambda ts, out, x, **a: vjp(ts[0], out, x, **a),
    )


def broadcasting(name: str, forward: Callable, vjp_x: Callable, vjp_y: Callable) -> Primitive:
    """A binary element-wise op; vjp_x(g, out, x, y, **attrs) works in the broadcast shape.
    Only the gradients needed are computed (x * 2 does not read x for the 2's)."""
    return Primitive(
        name,
        forward,
        params=("input", "other"),
        vjp=lambda g, out, x, y, **a: (
            unbroadcast(vjp_x(g, out, x, y, **a), x.shape) if needs_input_grad(0) else None,
            unbroadcast(vjp_y(g, out, x, y, **a), y.shape) if needs_input_grad(1) else None,
        ),
        jvp=lambda ts, out, x, y, **a: broadcast_to_p(
            vjp_x(ts[0], out, x, y, **a) + vjp_y(ts[1], out, x, y, **a), shape=out.shape
        ),
    )


def reduction(name: str, forward: Callable, weights: Callable) -> Primitive:
    """A reduction over `dim` (a tuple) with d out / d x = weights(out, x, dim, keepdim,
    **attrs), element-wise; forward(x, axis=, keepdims=, **attrs) is numpy's."""
    return Primitive(
        name,
        lambda x, dim, keepdim, **a: forward(x, axis=dim, keepdims=keepdim, **a),
        vjp=lambda g, out, x, dim, keepdim, **a: (
            expand_reduced(g, x.shape, dim, keepdim) * weights(out, x, dim, keepdim, **a),
        ),
        jvp=lambda ts, out, x, dim, keepdim, **a: sum_p(
            ts[0] * weights(out, x, dim, keepdim, **a), dim=dim, keepdim=keepdim
        ),
    )


def linear(
    name: str, forward: Callable, vjp: Callable, params: tuple[str, ...] | None = ("input",)
) -> Primitive:
    """A linear op: its JVP is the op itself applied to the tangents."""
    primitive = Primitive(name, forward, params=params, vjp=vjp)
    primitive.jvp = lambda ts, out, *xs, **a: primitive(*ts, **a)
    return primitive


def unbroadcast(grad: Tensor, shape: tuple) -> Tensor:
    """Sum a gradient of broadcast shape back to `shape` (the input's)."""
    extra = grad.ndim - len(shape)
    dims = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1
    )
    if dims:
        grad = sum_p(grad, dim=dims, keepdim=True)
    return reshape_p(grad, shape=shape) if grad.shape != shape else grad


def expand_reduced(grad: Tensor, shape: tuple, dim: tuple, keepdim: bool) -> Tensor:
    """Broadcast the gradient of a reduction over `dim` back to the input's shape."""
    if not keepdim:
        grad = reshape_p(grad, shape=tuple(1 if i in dim else n for i, n in enumerate(shape)))
    return broadcast_to_p(grad, shape=shape)


def _broadcast_to(x: np.ndarray, shape: tuple) -> np.ndarray:
    """np.broadcast_to, writable like torch's expand (a view with stride 0 where it
    repeats): in-place ops refuse to write where elements alias, but x[0] of it is fine."""
    spread = np.broadcast_to(x, shape)
    return np.lib.stride_tricks.as_strided(x, spread.shape, spread.strides)


reshape_p = linear(
    "reshape",
    lambda x, shape: np.reshape(x, shape),
    lambda g, out, x, shape: (reshape_p(g, shape=x.shape),),
)
broadcast_to_p = linear(
    "broadcast_to",
    _broadcast_to,
    lambda g, out, x, shape: (unbroadcast(g, x.shape),),
)
defview(reshape_p)  # views of their input (reshape only when it can, as torch's)
defview(broadcast_to_p)
clone_p = linear("clone", lambda x: x.copy(), lambda g, out, x: (g,))  # new memory
sum_p = linear(
    "sum",
    lambda x, dim, keepdim: np.sum(x, axis=dim, keepdims=keepdim),
    lambda g, out, x, dim, keepdim: (expand_reduced(g, x.shape, dim, keepdim),),
)
