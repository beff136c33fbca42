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

A view primitive (defview: reshape, permute, getitem, diagonal, broadcast_to) returns a
numpy view of its input; when it does, the output is a view Tensor of the input's base.
A Node records its inputs' versions; its VJP sees a tensor modified in place since (in
place of the tensor, a stand-in that refuses to give its values, torch's error).
"""

from __future__ import annotations

import contextlib
import inspect
import math
import types
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from . import conventions
from .tensor import Tensor, is_grad_enabled, tensor, vertex, zeros_like

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
        self.is_view = False  # set by defview
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
        if self.is_view:  # no float16 round trip: that would copy
            out = Tensor(self.forward(inputs[0].data, **attrs))
            if np.may_share_memory(out.data, inputs[0].data):
                _link_view(out, inputs[0], self, attrs)
        else:
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


def defview(primitive: Primitive) -> Primitive:
    """Mark a one-input primitive whose forward returns a numpy view of its input when it
    can (reshape does not always): its outputs are then views, as torch's."""
    primitive.is_view = True
    return primitive


def _link_view(out: Tensor, input: Tensor, primitive: Primitive, attrs: dict) -> None:
    """Make out a view of input's base (a view of a view is a view of the first base)."""
    out._base = input if input._base is None else input._base
    out._view_chain = input._view_chain + ((primitive, attrs),)
    out._storage = input._storage
    out._storage.add_view(out)


def apply_view_chain(base: Tensor, chain: tuple) -> Tensor:
    """The view that `chain` makes from `base` (recorded, when base requires grad)."""
    for primitive, attrs in chain:
        base = primitive(base, **attrs)
    return base


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
    and the kink conventions in effect then (its backward follows them).

    edges: for each input, where its gradient goes (tensor.vertex at record time: the
    input's Node, itself for a leaf, None if it needs none). versions: the inputs' and the
    output's versions then; a VJP that reads a tensor modified since raises (torch's check).
    """

    def __init__(self, name: str, vjp: Vjp, inputs: tuple, attrs: dict, out: Tensor) -> None:
        self.name = name
        self.inputs = inputs
        self.edges = tuple(vertex(x) if x.requires_grad else None for x in inputs)
        self.saved: tuple | None = (vjp, out, attrs)  # freed after backward (retain_graph=False)
        self.versions = tuple(x._version for x in inputs) + (out._version,)
        self.conventions = conventions.active()
        self._output = weakref.ref(out)

    def output(self) -> Tensor | None:
        """The tensor that holds this node's output (None once it is gone)."""
        return self._output()

    def adopt(self, tensor: Tensor) -> None:
        """An in-place op: `tensor` (now holding the output's values) stands for the output."""
        vjp, _, attrs = self.saved
        self.saved = (vjp, tensor, attrs)
        self.versions = self.versions[:-1] + (tensor._version,)
        self._output = weakref.ref(tensor)
        tensor.grad_fn, tensor.requires_grad = self, True

    def apply_vjp(self, grad: Tensor) -> tuple:
        if self.saved is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access "
                "saved tensors after they have already been freed). Specify "
                "retain_graph=True if you need to backward through the graph a second time."
            )
        global _needed
        vjp, out, attrs = self.saved
        inputs = tuple(
            x if x._version == v else _Modified(x, v, self)
            for x, v in zip((*self.inputs, out), self.versions, strict=True)
        )
        previous, _needed = _needed, tuple(edge is not None for edge in self.edges)
        try:
            with conventions.restored(self.conventions):
                return vjp(grad, inputs[-1], *inputs[:-1], **attrs)
        finally:
            _needed = previous

    def __repr__(self) -> str:
        return f"<{self.name.split('_')[0].title()}Backward0>"  # PowBackward0 like torch


_needed: tuple[bool, ...] | None = None  # while a Node's VJP runs: the inputs that need one


def needs_input_grad(i: int) -> bool:
    """Whether the running VJP must give input i's gradient (torch's should_compute_output).
    A rule may return None for the others, and so not read the values only they use (an
    in-place op may have modified them since: z = v * 2; v.mul_(3) still backpropagates)."""
    return _needed is None or _needed[i]


class _Modified(Tensor):
    """Stands, in a VJP, for a tensor modified in place since the node was recorded: the
    rule may read its shape and dtype, but not its values (torch saves only the tensors
    a rule needs, so the error comes only when the values are read)."""

    def __init__(self, tensor: Tensor, saved_version: int, node: Node) -> None:
        self._tensor, self._saved_version, self._node = tensor, saved_version, node
        self.grad_fn, self.requires_grad = tensor.grad_fn, tensor.requires_grad
        self._tangent, self._storage, self._base = None, tensor._storage, None

    shape = property(lambda self: self._tensor.shape)
    dtype = property(lambda self: self._tensor.dtype)
    ndim = property(lambda self: self._tensor.ndim)

    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def data(self) -> np.ndarray:
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [{self.dtype} {list(self.shape)}], needed by {self._node!r}, "
            f"is at version {self._tensor._version}; expected version "
            f"{self._saved_version} instead."
        )


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
