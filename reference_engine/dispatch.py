"""Primitives: the functions the engine differentiates, each a numpy forward plus rules.

    exp = Primitive("exp", np.exp)
    defvjp(exp, lambda g, out, x: (g * out,))  # one gradient per input, in engine ops
    defjvp(exp, lambda ts, out, x: ts[0] * out)  # the tangent of out, in engine ops

Calling a primitive, exp(x), runs the forward on the inputs' arrays, records a Node for
backward when an input requires grad, and pushes tangents forward (autograd.jvp). VJPs
and JVPs are written with engine ops, so create_graph=True differentiates them again
(true higher derivatives) and tangents flow through them (forward-over-reverse). Rules
get (cotangent or tangents, out, *inputs, **attrs); `out` is the output tensor itself,
so a rule that uses it stays differentiable. rules.py has helpers for common shapes.

float16 inputs are computed in float32 and the result rounded once, like torch's
"opmath": every primitive, and so every op of a VJP or JVP, rounds once.
"""

from __future__ import annotations

import contextlib
import inspect
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from . import conventions
from .tensor import Tensor, is_grad_enabled, tensor, zeros_like

Vjp = Callable[..., tuple]  # (g, out, *inputs, **attrs) -> one gradient (or None) per input
Jvp = Callable[..., Tensor]  # (tangents, out, *inputs, **attrs) -> the tangent of out


class Primitive:
    """A differentiable function: forward(*arrays, **attrs) -> array, with a VJP and a JVP.

    Call it as prim(*inputs, **attrs). `params` are torch's names of the tensor inputs,
    so prim(input=x) works too (None: any number of inputs, as in cat). Python numbers
    among the inputs become tensors of the first tensor input's float dtype, like torch.
    """

    def __init__(
        self,
        name: str,
        forward: Callable[..., np.ndarray],
        *,
        params: tuple[str, ...] | None = ("input",),
        vjp: Vjp | None = None,
        jvp: Jvp | None = None,
    ) -> None:
        self.__name__ = self.__qualname__ = self.name = name
        self.forward, self.params, self.vjp, self.jvp = forward, params, vjp, jvp
        if params is not None:  # what help(exp) and inspect show: exp(input: Tensor) -> Tensor
            kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
            inputs = [inspect.Parameter(p, kind, annotation=Tensor) for p in params]
            self.__signature__ = inspect.Signature(inputs, return_annotation=Tensor)

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        """Bind like a function, so that `Tensor.exp = exp` makes x.exp() call exp(x)."""
        return self if obj is None else types.MethodType(self, obj)

    def __call__(self, *inputs: Any, **attrs: Any) -> Tensor:
        if self.params is not None and len(inputs) < len(self.params):  # torch's keywords
            missing = [p for p in self.params[len(inputs) :] if p not in attrs]
            if missing:
                raise TypeError(f"{self.name}() missing argument {missing[0]!r}")
            inputs += tuple(attrs.pop(p) for p in self.params[len(inputs) :])
        inputs = lift_all(inputs)
        out = Tensor(run_forward(self.forward, [x.data for x in inputs], attrs))
        if is_grad_enabled() and any(x.requires_grad for x in inputs):
            if self.vjp is None:
                raise RuntimeError(f"{self.name} has no VJP: register one with defvjp")
            out.requires_grad = True
            out.grad_fn = Node(self.name, self.vjp, inputs, attrs, out)
        if _tangents_enabled and any(x._tangent is not None for x in inputs):
            out._tangent = _push_tangents(self, out, inputs, attrs)
        return out


def defvjp(primitive: Primitive, vjp: Vjp) -> Primitive:
    primitive.vjp = vjp
    return primitive


def defjvp(primitive: Primitive, jvp: Jvp) -> Primitive:
    primitive.jvp = jvp
    return primitive


@contextlib.contextmanager
def overridden(
    primitive: Primitive,
    *,
    forward: Callable[..., np.ndarray] | None = None,
    vjp: Vjp | None = None,
    jvp: Jvp | None = None,
) -> Iterator[Primitive]:
    """Inside this block `primitive` runs the given rules instead of its own (the bug zoo
    plants bugs with it). Nodes keep the VJP they were recorded with."""
    saved = primitive.forward, primitive.vjp, primitive.jvp
    primitive.forward = forward or primitive.forward
    primitive.vjp, primitive.jvp = vjp or primitive.vjp, jvp or primitive.jvp
    try:
        yield primitive
    finally:
        primitive.forward, primitive.vjp, primitive.jvp = saved


class Node:
    """The recorded application of one primitive: what backward needs to call its VJP,
    and the kink conventions in effect then (its backward follows them)."""

    def __init__(self, name: str, vjp: Vjp, inputs: tuple, attrs: dict, out: Tensor) -> None:
        self.name = name
        self.inputs = inputs
        self.saved: tuple | None = (vjp, out, attrs)  # freed after backward (retain_graph=False)
        self.conventions = conventions.active()

    def apply_vjp(self, grad: Tensor) -> tuple:
        if self.saved is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access "
                "saved tensors after they have already been freed). Specify "
                "retain_graph=True if you need to backward through the graph a second time."
            )
        vjp, out, attrs = self.saved
        with conventions.restored(self.conventions):
            return vjp(grad, out, *self.inputs, **attrs)

    def __repr__(self) -> str:
        return f"<{self.name.split('_')[0].title()}Backward0>"  # PowBackward0 like torch


def run_forward(forward: Callable, arrays: list[np.ndarray], attrs: dict) -> np.ndarray:
    """forward(*arrays, **attrs); float16 in float32, rounded once (torch's opmath)."""
    dtype = np.result_type(*arrays) if arrays else None
    if dtype == np.float16:
        arrays = [a.astype(np.float32) if a.dtype == np.float16 else a for a in arrays]
    with np.errstate(all="ignore"):  # inf and nan propagate silently, as in torch
        out = np.asarray(forward(*arrays, **attrs))
    return out.astype(np.float16) if dtype == np.float16 and out.dtype == np.float32 else out


_tangents_enabled = True


def _push_tangents(primitive: Primitive, out: Tensor, inputs: tuple, attrs: dict) -> Tensor:
    global _tangents_enabled
    if primitive.jvp is None:
        raise RuntimeError(f"{primitive.name} has no JVP: register one with defjvp")
    tangents = tuple(zeros_like(x) if x._tangent is None else x._tangent for x in inputs)
    _tangents_enabled = False  # the JVP's own ops carry no tangents
    try:
        return primitive.jvp(tangents, out, *inputs, **attrs)
    finally:
        _tangents_enabled = True


# -- argument helpers shared by the op modules -------------------------------------------
Scalar = int | float | bool
Dim = int | Sequence[int] | None


def lift(value: Any, like: Any = None) -> Tensor:
    """A Tensor for value. Python numbers take `like`'s float dtype: float32 stays float32."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, Scalar) and isinstance(like, Tensor) and like.dtype.kind == "f":
        return Tensor(np.asarray(value, dtype=like.dtype))
    return tensor(value)


def lift_all(values: Sequence[Any]) -> tuple[Tensor, ...]:
    like = next((v for v in values if isinstance(v, Tensor)), None)
    return tuple(lift(v, like) for v in values)


def dims(dim: Dim, ndim: int) -> tuple[int, ...]:
    """dim as a sorted tuple of non-negative axes; None or () means all of them."""
    if dim is None or dim == () or dim == [] or ndim == 0:
        return tuple(range(ndim))
    return tuple(sorted(d % ndim for d in ((dim,) if isinstance(dim, int) else dim)))
