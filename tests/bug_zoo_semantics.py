"""Broken imperative semantics for the bug zoo (tests/bug_zoo.py re-exports them, so that
`load_adapter("tests.bug_zoo:<bug>")` loads one): reference adapters whose tensors get one
view, in-place or backward behaviour wrong, each caught by one case of
gradcheck/semantics.py (tests/core/test_semantics_zoo.py).

The semantics cases call tensor methods directly, not adapter ops, so a bug is planted
in a Tensor subclass: the adapter's leaves and op results, and the clones and views made
from them, are of that class, and its one overridden method is the bug.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

import reference_engine as E
from gradcheck.adapters.reference import ReferenceAdapter


def _as(cls: type, tensor: E.Tensor) -> E.Tensor:
    tensor.__class__ = cls
    return tensor


class Planted(E.Tensor):
    """No bug yet: clone() and views keep the class, so that a subclass's overridden method
    reaches every tensor a semantics case makes (the control: it passes every case)."""

    def clone(self) -> E.Tensor:
        return _as(type(self), E.Tensor.clone(self))

    def __getitem__(self, index: Any) -> E.Tensor:
        return _as(type(self), E.Tensor.__getitem__(self, index))

    def diagonal(self, *args: Any, **kwargs: Any) -> E.Tensor:
        return _as(type(self), E.Tensor.diagonal(self, *args, **kwargs))


class ViewsOfViewsCopy(Planted):
    """Indexing a view copies: y[1:] shares y's memory, y[1:][::2] does not."""

    def __getitem__(self, index: Any) -> E.Tensor:
        out = super().__getitem__(index)
        return out.clone() if self._base is not None else out


class SetitemWithoutHistory(Planted):
    """x[index] = value writes the values but records nothing: the overwritten elements
    still pass their gradient on, and value gets none."""

    def __setitem__(self, index: Any, value: Any) -> None:
        with E.no_grad():
            E.Tensor.__setitem__(self, index, value)


class DiagonalCopies(Planted):
    """diagonal() returns a copy (a gather) instead of a view: writes to it are lost."""

    def diagonal(self, *args: Any, **kwargs: Any) -> E.Tensor:
        return super().diagonal(*args, **kwargs).clone()


class StaleViews(Planted):
    """b.mul_(...) writes the memory its views share but leaves the views their old
    history: a gradient through a view misses the write."""

    def mul_(self, other: Any) -> E.Tensor:
        self._storage.views = lambda: []  # hides the views from the in-place machinery
        try:
            return E.Tensor.mul_(self, other)
        finally:
            del self._storage.views


def _unversioned(method: Any) -> Any:
    def in_place(self: E.Tensor, other: Any) -> E.Tensor:
        version = self._storage.version
        method(self, other)
        self._storage.version = version  # the write goes unrecorded
        return self

    return in_place


class NoVersionBump(Planted):
    """In-place ops do not bump the version counter: a backward that saved the tensor
    reads its new values and returns a wrong gradient instead of raising."""

    add_, mul_ = _unversioned(E.Tensor.add_), _unversioned(E.Tensor.mul_)


class KeepsGraph(Planted):
    """backward() never frees the graph: a second backward silently works (and adds up)."""

    def backward(
        self, gradient: Any = None, retain_graph: Any = None, create_graph: bool = False
    ) -> None:
        super().backward(gradient, True, create_graph)


class LeafInPlaceAllowed(Planted):
    """mul_ on a leaf that requires grad writes it (unrecorded) instead of raising."""

    def mul_(self, other: Any) -> E.Tensor:
        leaf = self.is_leaf and self.requires_grad
        with E.no_grad() if leaf else contextlib.nullcontext():
            return super().mul_(other)


class PlantedTensors(ReferenceAdapter):
    """The reference adapter whose leaves and op results are of `tensor_class`."""

    def __init__(self, bug: str, tensor_class: type[Planted]) -> None:
        super().__init__()
        self.name, self.spec = f"zoo-{bug.replace('_', '-')}", f"tests.bug_zoo:{bug}"
        self.tensor_class = tensor_class

        def keeping_class(op: Any) -> Any:
            return lambda *args, **kwargs: _as(tensor_class, op(*args, **kwargs))

        self.ops = {name: keeping_class(op) for name, op in self.ops.items()}

    def asarray(self, array: np.ndarray, dtype: str, device: str, requires_grad: bool) -> Any:
        return _as(self.tensor_class, super().asarray(array, dtype, device, requires_grad))


#: bug -> (its tensor class, the semantics case that catches it, what that case's
#: message says: the symptom that names the cause)
SEMANTICS_BUGS: dict[str, tuple[type[Planted], str, str]] = {
    "views_of_views_copy": (ViewsOfViewsCopy, "view_of_view_write", "the write must reach y"),
    "setitem_without_history": (
        SetitemWithoutHistory, "setitem_write", "x (b[1:3] overwritten).grad is"),
    "diagonal_copies": (DiagonalCopies, "view_writes", "b.diagonal().fill_(2) is"),
    "stale_views": (StaleViews, "base_write_after_view", "x (through v and b).grad is"),
    "no_version_bump": (
        NoVersionBump, "saved_tensor_modified", "(exp's saved output changed) did not raise"),
    "keeps_graph": (KeepsGraph, "second_backward", "through the freed graph of sum(exp(x)) did"),
    "leaf_in_place_allowed": (
        LeafInPlaceAllowed, "leaf_in_place", "on a leaf that requires grad did not raise"),
}  # fmt: skip

ADAPTERS = {bug: PlantedTensors(bug, cls) for bug, (cls, _, _) in SEMANTICS_BUGS.items()}
planted_control = PlantedTensors("planted_control", Planted)
