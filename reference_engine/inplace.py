"""In-place ops (x.add_(y), x[1:] = v, x *= 2, ...) with torch's autograd semantics, and clone.

Every in-place op is `_in_place(target, op)`: op is the out-of-place function, run on a
copy of target's old values, and its result is written into target's memory (so into
its base and the base's other views), bumping the shared version counter. Autograd:

- a leaf that requires grad (or a view of one) refuses, unless grad mode is off;
- target not a view: target takes the history of op's result (the Node adopts it);
- target a view of base: base takes the history base_new = copy_slices(base_old, result)
  (torch's CopySlices: the view region replaced by result), and then every live view of
  base, target included, takes the history chain(base_new), chain being the view
  primitives that made it from base (dispatch.apply_view_chain).

Earlier uses of target keep their edges to its old history (dispatch.Node.edges), and a
backward that reads a value overwritten since raises (dispatch._Modified). In-place ops
carry no forward-mode tangents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .dispatch import Scalar, apply_view_chain, lift
from .elementwise import add, clamp, div, exp, mul, relu, sigmoid, sub, tanh
from .rules import clone_p, linear, unbroadcast
from .scatter import index_add, index_put, masked_fill, scatter_add
from .shape import _as_index, getitem_p
from .tensor import Tensor, is_grad_enabled, zeros_like

__all__ = "clone relu_ sigmoid_ tanh_ exp_ clamp_ zero_ fill_".split()


def _as_dtype(x: Tensor, dtype: Any) -> Tensor:
    return x if x.dtype == dtype else cast_p(x, dtype=dtype)


# -- primitives --------------------------------------------------------------------------
cast_p = linear(
    "cast", lambda x, dtype: x.astype(dtype), lambda g, out, x, dtype: (cast_p(g, dtype=x.dtype),)
)
# copy_: input's values are replaced by src (broadcast, cast): no gradient reaches input
copy_p = linear(
    "copy",
    lambda x, src: np.broadcast_to(src, x.shape).astype(x.dtype),
    lambda g, out, x, src: (zeros_like(g), _as_dtype(unbroadcast(g, src.shape), src.dtype)),
    params=("input", "src"),
)


def _copy_slices(base: np.ndarray, src: np.ndarray, chain: tuple) -> np.ndarray:
    out = base.copy()
    apply_view_chain(Tensor(out), chain).data[...] = src  # the region, as a numpy view
    return out


# base with the region that `chain` views replaced by src (src has the view's shape)
copy_slices_p = linear(
    "copy_slices",
    _copy_slices,
    lambda g, out, base, src, chain: (
        copy_slices_p(g, zeros_like(src), chain=chain),
        apply_view_chain(g, chain),
    ),
    params=("input", "src"),
)


def clone(input: Tensor) -> Tensor:
    """A copy in new memory (not a view), in the graph: its gradient passes through."""
    return clone_p(input)


# -- the in-place machinery ----------------------------------------------------------------
def _in_place(target: Tensor, op: Callable[[Tensor], Tensor]) -> Tensor:
    """target <- op(target), in target's memory; returns target (as torch's x.add_ does)."""
    recording = is_grad_enabled()
    base = target if target._base is None else target._base
    if recording and base.is_leaf and base.requires_grad:
        which = "a leaf Variable" if base is target else "a view of a leaf Variable"
        raise RuntimeError(f"{which} that requires grad is being used in an in-place operation.")
    # (an empty view may have 0 strides: nothing is written there, as torch allows)
    strides = zip(target.data.strides, target.shape, strict=True)
    if target.data.size and any(s == 0 and n > 1 for s, n in strides):
        raise RuntimeError(  # an expanded tensor: one element would be written several times
            "unsupported operation: more than one element of the written-to tensor refers "
            "to a single memory location. Please clone() the tensor before performing the "
            "operation."
        )
    # op reads a copy of the old values: the memory is overwritten below, and a rule may
    # need them (torch saves such a copy too: x.mul_(w) can still give w's gradient)
    before = Tensor(target.data.copy())
    before.grad_fn, before.requires_grad = target.grad_fn, target.requires_grad
    result = op(before)
    if result.shape != target.shape:
        raise RuntimeError(f"output with shape {list(target.shape)} doesn't match the "
                           f"broadcast shape {list(result.shape)}")  # fmt: skip
    if result.dtype != target.dtype:
        if not np.can_cast(result.dtype, target.dtype, "same_kind"):
            raise RuntimeError(f"result type {result.dtype} can't be cast to the desired "
                               f"output type {target.dtype}")  # fmt: skip
        result = cast_p(result, dtype=target.dtype)

    recorded = recording and (result.requires_grad or base.requires_grad)
    if target is base:
        target.data[...] = result.data
    else:
        new_base = copy_slices_p(base, result, chain=target._view_chain) if recorded else None
        target.data[...] = result.data  # writes into base's memory
    target._storage.version += 1
    if not recorded:
        return target
    if target is base:
        result.grad_fn.adopt(target)
    else:
        new_base.grad_fn.adopt(base)
    for view in base._storage.views():  # every view of base now reads base's new history
        if view._base is base:
            apply_view_chain(base, view._view_chain).grad_fn.adopt(view)
    return target


# -- the in-place ops ------------------------------------------------------------------------
def add_(self: Tensor, other: Any, *, alpha: Scalar = 1) -> Tensor:
    return _in_place(self, lambda x: add(x, other if alpha == 1 else mul(other, alpha)))


def sub_(self: Tensor, other: Any, *, alpha: Scalar = 1) -> Tensor:
    return _in_place(self, lambda x: sub(x, other if alpha == 1 else mul(other, alpha)))


def mul_(self: Tensor, other: Any) -> Tensor:
    return _in_place(self, lambda x: mul(x, other))


def div_(self: Tensor, other: Any) -> Tensor:
    return _in_place(self, lambda x: div(x, other))


def clamp_(self: Tensor, min: Scalar | None = None, max: Scalar | None = None) -> Tensor:
    return _in_place(self, lambda x: clamp(x, min, max))


def relu_(self: Tensor) -> Tensor:
    return _in_place(self, relu)


def sigmoid_(self: Tensor) -> Tensor:
    return _in_place(self, sigmoid)


def tanh_(self: Tensor) -> Tensor:
    return _in_place(self, tanh)


def exp_(self: Tensor) -> Tensor:
    return _in_place(self, exp)


def masked_fill_(self: Tensor, mask: Any, value: Any) -> Tensor:
    return _in_place(self, lambda x: masked_fill(x, mask, value))


def index_add_(self: Tensor, dim: int, index: Any, source: Any, *, alpha: Scalar = 1) -> Tensor:
    return _in_place(self, lambda x: index_add(x, dim, index, source, alpha=alpha))


def scatter_add_(self: Tensor, dim: int, index: Any, src: Any) -> Tensor:
    return _in_place(self, lambda x: scatter_add(x, dim, index, src))


def index_put_(self: Tensor, indices: Any, values: Any, accumulate: bool = False) -> Tensor:
    return _in_place(self, lambda x: index_put(x, indices, values, accumulate))


def copy_(self: Tensor, src: Any) -> Tensor:
    return _in_place(self, lambda x: copy_p(x, lift(src, x)))


def fill_(self: Tensor, value: Any) -> Tensor:
    return copy_(self, value)


def zero_(self: Tensor) -> Tensor:
    return copy_(self, 0)


def _is_basic(item: Any) -> bool:
    """An index item that makes a view (torch's basic indexing)."""
    return item is None or item is Ellipsis or isinstance(item, (int, np.integer, slice))


def setitem(self: Tensor, index: Any, value: Any) -> None:
    """x[index] = value: a copy_ into the view x[index] for basic indices (ints, slices,
    None, ...); index_put_ for a bool mask or integer arrays (one per leading dim)."""
    items = tuple(_as_index(i) for i in (index if isinstance(index, tuple) else (index,)))
    if all(_is_basic(i) and not isinstance(i, bool) for i in items):
        copy_(getitem_p(self, index=items), value)
    elif len(items) == 1 and np.asarray(items[0]).dtype == np.bool_:
        index_put_(self, np.nonzero(items[0]), value)
    elif all(np.asarray(i).dtype.kind in "iu" for i in items):
        index_put_(self, items, value)
    else:
        raise NotImplementedError("x[index] = value mixing slices and index arrays")


# -- Tensor methods and operators --------------------------------------------------------------
Tensor.clone, Tensor.add_, Tensor.sub_, Tensor.mul_, Tensor.div_ = clone, add_, sub_, mul_, div_
Tensor.clamp_, Tensor.relu_, Tensor.sigmoid_, Tensor.tanh_, Tensor.exp_ = (
    clamp_,
    relu_,
    sigmoid_,
    tanh_,
    exp_,
)
Tensor.masked_fill_, Tensor.index_add_, Tensor.scatter_add_ = masked_fill_, index_add_, scatter_add_
Tensor.index_put_, Tensor.copy_, Tensor.fill_, Tensor.zero_ = index_put_, copy_, fill_, zero_
Tensor.__setitem__ = setitem
Tensor.__iadd__, Tensor.__isub__, Tensor.__imul__, Tensor.__itruediv__ = add_, sub_, mul_, div_
