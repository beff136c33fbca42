"""Functional autograd: grad (reverse), vjp (reverse) and jvp (forward mode)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .shape import reshape
from .tensor import Tensor, backprop, gradient_of, zeros_like


def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Tensor | Sequence[Tensor | None] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """d(sum_i <outputs_i, grad_outputs_i>)/d inputs, without touching any .grad."""
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else _as_tuple(grad_outputs)
    for x in inputs:
        if not x.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    gradients = backprop(outputs, grad_outputs, retain_graph, create_graph)
    result = tuple(gradient_of(gradients, x) for x in inputs)
    if not allow_unused and any(g is None for g in result):
        raise RuntimeError(
            "One of the differentiated Tensors appears to not have been used in the graph. "
            "Set allow_unused=True if this is the desired behavior."
        )
    return result


def _differentiable(x: Tensor) -> Tensor:
    """x itself when it is already in a graph (so nesting works), else a fresh leaf."""
    return x if x.requires_grad else x.detach().requires_grad_()


def vjp(fn: Callable, primals: Any, cotangents: Any, create_graph: bool = False) -> tuple[Any, Any]:
    """(fn(*primals), the cotangents pulled back to each primal; zeros where unused)."""
    inputs = tuple(_differentiable(x) for x in _as_tuple(primals))
    outputs = fn(*inputs)
    outs, cots = _as_tuple(outputs), _as_tuple(cotangents)
    needed = [(o, c) for o, c in zip(outs, cots, strict=True) if o.requires_grad]
    grads = (None,) * len(inputs)
    if needed:
        grads = grad(
            [o for o, _ in needed],
            inputs,
            [c for _, c in needed],
            retain_graph=True,
            create_graph=create_graph,
            allow_unused=True,
        )
    grads = tuple(zeros_like(x) if g is None else g for x, g in zip(inputs, grads, strict=True))
    return outputs, grads if isinstance(primals, (tuple, list)) else grads[0]


def jvp(fn: Callable, primals: Any, tangents: Any) -> tuple[Any, Any]:
    """(fn(*primals), its directional derivative along tangents), in forward mode."""
    duals = []
    for x, t in zip(_as_tuple(primals), _as_tuple(tangents), strict=True):
        dual = reshape(x, x.shape)  # an alias, so x keeps no tangent
        dual._tangent = t if isinstance(t, Tensor) else Tensor(t)
        duals.append(dual)
    outputs = fn(*duals)
    out_tangents = []
    for out in _as_tuple(outputs):
        out_tangents.append(zeros_like(out) if out._tangent is None else out._tangent)
        out._tangent = None  # outputs may be reused as ordinary tensors
    single = not isinstance(outputs, (tuple, list))
    return outputs, out_tangents[0] if single else tuple(out_tangents)
