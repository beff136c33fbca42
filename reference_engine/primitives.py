"""The primitive table: forward (numpy), VJP and JVP (engine ops), one entry per op.

VJPs and JVPs are written with engine ops, so differentiating them (create_graph=True)
gives true higher derivatives, and tangents flow through them (forward-over-reverse).
Kink and tie rules follow conventions.py. Composite ops (mean, softmax, ...) are in ops.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from . import conventions
from . import ops as E  # E for Engine: resolved at call time (ops imports this module)
from .tensor import Node, Tensor, is_grad_enabled, ones_like, zeros_like


class Primitive(NamedTuple):
    forward: Callable  # (*arrays, **attrs) -> array
    vjp: Callable  # (grad, out, *inputs, **attrs) -> one grad per input
    jvp: Callable  # (tangents, out, *inputs, **attrs) -> tangent of out


def elementwise(forward: Callable, vjp: Callable) -> Primitive:
    """A unary element-wise op from the VJP of one element, vjp(g, out, x, **attrs).

    Its Jacobian is diagonal, hence symmetric: the JVP is the same map applied to t.
    """
    return Primitive(
        forward,
        lambda g, out, x, **a: (vjp(g, out, x, **a),),
        lambda ts, out, x, **a: vjp(ts[0], out, x, **a),
    )


def broadcasting(forward: Callable, vjp_x: Callable, vjp_y: Callable) -> Primitive:
    """A binary element-wise op; vjp_x(g, out, x, y, **attrs) works in the broadcast shape."""
    return Primitive(
        forward,
        lambda g, out, x, y, **a: (
            unbroadcast(vjp_x(g, out, x, y, **a), x.shape),
            unbroadcast(vjp_y(g, out, x, y, **a), y.shape),
        ),
        lambda ts, out, x, y, **a: E.broadcast_to(
            vjp_x(ts[0], out, x, y, **a) + vjp_y(ts[1], out, x, y, **a), out.shape
        ),
    )


def reduction(forward: Callable, weights: Callable) -> Primitive:
    """A reduction over `dim` with d out / d x = weights(out, x, dim, keepdim), element-wise."""
    return Primitive(
        lambda x, dim, keepdim: forward(x, axis=dim, keepdims=keepdim),
        lambda g, out, x, dim, keepdim: (
            expand_reduced(g, x.shape, dim, keepdim) * weights(out, x, dim, keepdim),
        ),
        lambda ts, out, x, dim, keepdim: E.sum(ts[0] * weights(out, x, dim, keepdim), dim, keepdim),
    )


def linear(name: str, forward: Callable, vjp: Callable) -> Primitive:
    """A linear op: its JVP is the op itself applied to the tangents."""
    return Primitive(forward, vjp, lambda ts, out, *xs, **a: apply(name, *ts, **a))


def unbroadcast(grad: Tensor, shape: tuple) -> Tensor:
    """Sum a gradient of broadcast shape back to `shape` (the input's)."""
    extra = grad.ndim - len(shape)
    dims = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1
    )
    if dims:
        grad = E.sum(grad, dims, keepdim=True)
    return grad.reshape(shape) if grad.shape != shape else grad


def expand_reduced(grad: Tensor, shape: tuple, dim: tuple, keepdim: bool) -> Tensor:
    """Broadcast the gradient of a reduction over `dim` back to the input's shape."""
    if not keepdim:
        grad = grad.reshape(tuple(1 if i in dim else n for i, n in enumerate(shape)))
    return E.broadcast_to(grad, shape)


def prod_of_others(x: Tensor, dim: tuple) -> Tensor:
    """For each element, the product of the other elements of its slice over `dim`:
    (product of those before it) * (product of those after it). No division by x, so it
    is exact when x holds zeros, and O(n) memory (a where(eye, 1, x) product is O(n^2)
    and its higher derivatives O(n^k)).
    """
    kept = tuple(i for i in range(x.ndim) if i not in dim)
    moved = E.permute(x, kept + dim)
    flat = moved.reshape(moved.shape[: len(kept)] + (math.prod(x.shape[d] for d in dim),))
    one = ones_like(flat[..., :1])
    before = E.cat([one, flat[..., :-1]], -1).cumprod(-1)
    after = E.cat([flat[..., 1:], one], -1).flip(-1).cumprod(-1).flip(-1)
    others = (before * after).reshape(moved.shape)
    return E.permute(others, tuple(np.argsort(kept + dim)))


def cumprod_partials(x: Tensor, dim: int) -> tuple[Tensor, np.ndarray]:
    """partials[..., k, i] = d cumprod(x)_i / d x_k along `dim` (moved last), and k <= i."""
    n = x.shape[dim]
    row = x.transpose(dim, -1).unsqueeze(-2)  # (..., 1, n)
    partials = E.where(np.eye(n, dtype=bool), 1, row).cumprod(-1)  # x_k replaced by 1
    return partials, np.triu(np.ones((n, n), dtype=bool))


def cumprod_vjp(g: Tensor, out: Tensor, x: Tensor, dim: int) -> tuple:
    partials, k_le_i = cumprod_partials(x, dim)
    grad = (E.where(k_le_i, partials, 0) * g.transpose(dim, -1).unsqueeze(-2)).sum(-1)
    return (grad.transpose(dim, -1),)


def cumprod_jvp(ts: tuple, out: Tensor, x: Tensor, dim: int) -> Tensor:
    partials, k_le_i = cumprod_partials(x, dim)
    tangent = (E.where(k_le_i, partials, 0) * ts[0].transpose(dim, -1).unsqueeze(-1)).sum(-2)
    return tangent.transpose(dim, -1)


def tie_weights(out: Tensor, x: Tensor, dim: tuple, keepdim: bool) -> Tensor:
    """Weights of amax/amin: the gradient is split evenly among tied extremes."""
    reduced = out.data if keepdim else np.expand_dims(out.data, dim)
    return Tensor(conventions.tie_weights(x.data, reduced, dim))


def index_put_forward(grad: np.ndarray, index: tuple, shape: tuple) -> np.ndarray:
    """zeros(shape) with grad added at x[index]; repeated positions accumulate."""
    positions = np.arange(math.prod(shape)).reshape(shape)[index]
    flat = np.zeros(math.prod(shape), dtype=grad.dtype)
    np.add.at(flat, positions.ravel(), np.broadcast_to(grad, positions.shape).ravel())
    return flat.reshape(shape)


def cat_vjp(g: Tensor, out: Tensor, *xs: Tensor, dim: int) -> tuple:
    ends = np.cumsum([x.shape[dim] for x in xs])
    before = (slice(None),) * (dim % g.ndim)
    return tuple(
        g[before + (slice(end - x.shape[dim], end),)] for x, end in zip(xs, ends, strict=True)
    )


def pow_scalar_vjp(g: Tensor, out: Tensor, x: Tensor, exponent: float) -> Tensor:
    return zeros_like(g) if exponent == 0 else g * exponent * x ** (exponent - 1)


def erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[x.dtype])(x)


def softplus(x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
    return np.where(x * beta > threshold, x, np.logaddexp(0, x * beta) / beta)


def mT(x: Tensor) -> Tensor:
    return x.transpose(-1, -2)


P = Primitive
PRIMITIVES: dict[str, Primitive] = {
    # unary element-wise: the VJP of one element (the JVP is the same map)
    "neg": elementwise(np.negative, lambda g, out, x: -g),
    "exp": elementwise(np.exp, lambda g, out, x: g * out),
    "log": elementwise(np.log, lambda g, out, x: g / x),
    "log1p": elementwise(np.log1p, lambda g, out, x: g / (1 + x)),
    "expm1": elementwise(np.expm1, lambda g, out, x: g * (out + 1)),
    "sqrt": elementwise(np.sqrt, lambda g, out, x: g / (2 * out)),
    "rsqrt": elementwise(lambda x: 1 / np.sqrt(x), lambda g, out, x: -0.5 * g * out**3),
    "reciprocal": elementwise(lambda x: 1 / x, lambda g, out, x: -g * (out * out)),
    "abs": elementwise(np.abs, lambda g, out, x: g * E.sign(x)),
    "sign": elementwise(np.sign, lambda g, out, x: zeros_like(g)),
    "sin": elementwise(np.sin, lambda g, out, x: g * E.cos(x)),
    "cos": elementwise(np.cos, lambda g, out, x: -g * E.sin(x)),
    "tan": elementwise(np.tan, lambda g, out, x: g * (1 + out * out)),
    "tanh": elementwise(np.tanh, lambda g, out, x: g * (1 - out * out)),
    "sigmoid": elementwise(lambda x: 1 / (1 + np.exp(-x)), lambda g, out, x: g * out * (1 - out)),
    "atan": elementwise(np.arctan, lambda g, out, x: g / (1 + x * x)),
    "asin": elementwise(np.arcsin, lambda g, out, x: g * E.rsqrt(1 - x * x)),
    "acos": elementwise(np.arccos, lambda g, out, x: -g * E.rsqrt(1 - x * x)),
    "sinh": elementwise(np.sinh, lambda g, out, x: g * E.cosh(x)),
    "cosh": elementwise(np.cosh, lambda g, out, x: g * E.sinh(x)),
    "erf": elementwise(erf, lambda g, out, x: g * (2 / math.sqrt(math.pi)) * E.exp(-x * x)),
    "relu": elementwise(lambda x: np.maximum(x, 0), lambda g, out, x: E.where(x > 0, g, 0)),
    "softplus": elementwise(
        softplus,
        lambda g, out, x, beta, threshold: E.where(
            x * beta > threshold, g, g * E.sigmoid(x * beta)
        ),
    ),
    "pow_scalar": elementwise(lambda x, exponent: np.power(x, exponent), pow_scalar_vjp),
    "clamp": elementwise(
        lambda x, min, max: np.clip(x, min, max),
        lambda g, out, x, min, max: E.where(
            (x >= (-math.inf if min is None else min)) & (x <= (math.inf if max is None else max)),
            g,
            0,
        ),
    ),
    # sqrt whose gradient is 0 at 0: the last step of norm and std, as torch masks them
    "sqrt_subgradient": elementwise(np.sqrt, lambda g, out, x: E.where(out == 0, 0, g / (2 * out))),
    # binary element-wise, broadcasting: each input's VJP in the broadcast shape
    "add": broadcasting(np.add, lambda g, out, x, y: g, lambda g, out, x, y: g),
    "sub": broadcasting(np.subtract, lambda g, out, x, y: g, lambda g, out, x, y: -g),
    "mul": broadcasting(np.multiply, lambda g, out, x, y: g * y, lambda g, out, x, y: g * x),
    "div": broadcasting(
        np.divide, lambda g, out, x, y: g / y, lambda g, out, x, y: -g * ((x / y) / y)
    ),
    "pow": broadcasting(
        np.power,
        lambda g, out, x, y: E.where((y == 0) & (x == 0), 0, g * y * x ** (y - 1)),
        lambda g, out, x, y: E.where((x == 0) & (y >= 0), 0, g * out * E.log(x)),
    ),
    "maximum": broadcasting(
        np.maximum,
        lambda g, out, x, y: g * conventions.split_at_ties(x.data, y.data, 1),
        lambda g, out, x, y: g * conventions.split_at_ties(y.data, x.data, 1),
    ),
    "minimum": broadcasting(
        np.minimum,
        lambda g, out, x, y: g * conventions.split_at_ties(x.data, y.data, -1),
        lambda g, out, x, y: g * conventions.split_at_ties(y.data, x.data, -1),
    ),
    "where": broadcasting(
        lambda x, y, condition: np.where(condition, x, y),
        lambda g, out, x, y, condition: E.where(condition, g, 0),
        lambda g, out, x, y, condition: E.where(condition, 0, g),
    ),
    # reductions over a tuple of non-negative dims
    "sum": linear(
        "sum",
        lambda x, dim, keepdim: np.sum(x, axis=dim, keepdims=keepdim),
        lambda g, out, x, dim, keepdim: (expand_reduced(g, x.shape, dim, keepdim),),
    ),
    "prod": reduction(np.prod, lambda out, x, dim, keepdim: prod_of_others(x, dim)),
    "amax": reduction(np.amax, tie_weights),
    "amin": reduction(np.amin, tie_weights),
    # along one dim
    "cumsum": linear(
        "cumsum",
        lambda x, dim: np.cumsum(x, axis=dim),
        lambda g, out, x, dim: (E.flip(E.cumsum(E.flip(g, (dim,)), dim), (dim,)),),
    ),
    "cumprod": P(lambda x, dim: np.cumprod(x, axis=dim), cumprod_vjp, cumprod_jvp),
    # linear algebra: both inputs at least 2-d (ops.matmul handles 1-d like torch)
    "matmul": P(
        np.matmul,
        lambda g, out, x, y: (unbroadcast(g @ mT(y), x.shape), unbroadcast(mT(x) @ g, y.shape)),
        lambda ts, out, x, y: ts[0] @ y + x @ ts[1],
    ),
    # shape and indexing: all linear
    "reshape": linear(
        "reshape",
        lambda x, shape: np.reshape(x, shape),
        lambda g, out, x, shape: (g.reshape(x.shape),),
    ),
    "permute": linear(
        "permute", np.transpose, lambda g, out, x, axes: (E.permute(g, tuple(np.argsort(axes))),)
    ),
    "broadcast_to": linear(
        "broadcast_to", np.broadcast_to, lambda g, out, x, shape: (unbroadcast(g, x.shape),)
    ),
    "flip": linear(
        "flip", lambda x, dims: np.flip(x, dims), lambda g, out, x, dims: (E.flip(g, dims),)
    ),
    "cat": linear("cat", lambda *xs, dim: np.concatenate(xs, axis=dim), cat_vjp),
    "getitem": linear(
        "getitem",
        lambda x, index: x[index],
        lambda g, out, x, index: (E.index_put(g, index, x.shape),),
    ),
    "index_put": linear(
        "index_put", index_put_forward, lambda g, out, grad, index, shape: (g[index],)
    ),
}

_tangents_enabled = True


def apply(name: str, *inputs: Tensor, **attrs) -> Tensor:
    """Run primitive `name`: record it for backward, push tangents forward."""
    global _tangents_enabled
    primitive = PRIMITIVES[name]
    with np.errstate(all="ignore"):  # inf and nan propagate silently, as in torch
        out = Tensor(primitive.forward(*(x.data for x in inputs), **attrs))
    if is_grad_enabled() and any(x.requires_grad for x in inputs):
        out.requires_grad = True
        out.grad_fn = Node(name, primitive.vjp, inputs, attrs, out)
    if _tangents_enabled and any(x._tangent is not None for x in inputs):
        tangents = tuple(zeros_like(x) if x._tangent is None else x._tangent for x in inputs)
        _tangents_enabled = False  # the JVP's own ops carry no tangents
        try:
            out._tangent = primitive.jvp(tangents, out, *inputs, **attrs)
        finally:
            _tangents_enabled = True
    return out
