"""Tensor, grad mode and the reverse sweep (micrograd's engine, with a graph of Nodes).

Operators and methods (x + y, x.exp(), ...) are attached to Tensor by the op modules
(elementwise.py, reductions.py, ...), so that every op is written once, as a function
with torch's name and signature. Nodes are made by primitives (dispatch.py).
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

float64, float32, float16 = np.float64, np.float32, np.float16
int64, bool_ = np.int64, np.bool_
DEFAULT_DTYPE = np.float32  # like torch: python floats become float32

_grad_enabled = True


def is_grad_enabled() -> bool:
    return _grad_enabled


@contextlib.contextmanager
def set_grad_enabled(mode: bool) -> Iterator[None]:
    """Context manager (and decorator) that switches graph recording on or off."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, mode
    try:
        yield
    finally:
        _grad_enabled = previous


def no_grad() -> contextlib.AbstractContextManager:
    return set_grad_enabled(False)


def enable_grad() -> contextlib.AbstractContextManager:
    return set_grad_enabled(True)


class Storage:
    """What a base and its views share: torch's version counter (bumped by every in-place
    op, so that backward can tell a saved tensor was modified) and the live views."""

    def __init__(self) -> None:
        self.version = 0
        # weak: a view lives as long as the user keeps it (keyed by id: == is element-wise)
        self._views: weakref.WeakValueDictionary = weakref.WeakValueDictionary()

    def add_view(self, view: Tensor) -> None:
        self._views[id(view)] = view

    def views(self) -> list[Tensor]:
        return list(self._views.values())


class Tensor:
    """A numpy array that records the ops applied to it when it requires grad.

    A view (x[1:], x.mT, ...) has `_base` (the tensor that owns the memory, never itself
    a view), `_view_chain` (the view primitives that make it from the base, as
    (primitive, attrs) pairs) and the base's Storage; its .data is a numpy view.
    """

    __array_priority__ = 1000  # so that numpy_array * tensor calls Tensor.__rmul__

    def __init__(self, data: Any, requires_grad: bool = False):
        self.data = np.asarray(data)
        self.grad: Tensor | None = None
        self.grad_fn: Any = None  # the dispatch.Node of the op that made it, if recorded
        self.requires_grad = False
        self._retains_grad = False
        self._tangent: Tensor | None = None  # forward-mode tangent, set by autograd.jvp
        self._base: Tensor | None = None
        self._view_chain: tuple = ()
        self._storage = Storage()
        if requires_grad:
            self.requires_grad_()

    # -- properties ------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    is_leaf = property(lambda self: self.grad_fn is None)
    _version = property(lambda self: self._storage.version)  # torch's name

    def _is_view(self) -> bool:  # torch's name
        return self._base is not None

    def size(self, dim: int | None = None) -> tuple | int:
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return self.data.size

    # -- autograd state ----------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and not np.issubdtype(self.dtype, np.floating):
            raise RuntimeError(
                "Only Tensors of floating point dtype can require gradients, "
                f"got dtype {self.dtype}"
            )
        if not self.is_leaf:
            raise RuntimeError("requires_grad_ can only be changed on leaf tensors")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        self._retains_grad = not self.is_leaf

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def detach(self) -> Tensor:
        """The same memory and version counter (as torch), outside the graph."""
        out = Tensor(self.data)
        out._storage = self._storage
        return out

    def backward(
        self,
        gradient: Tensor | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's .grad (and retained non-leaves')."""
        gradients = backprop([self], [gradient], retain_graph, create_graph)
        for where, grad in gradients.values():
            tensor = where if isinstance(where, Tensor) else where.output()
            if tensor is None or vertex(tensor) is not where:
                continue  # a value that no live tensor holds any more
            if (tensor.is_leaf and tensor.requires_grad) or tensor._retains_grad:
                if not create_graph:  # a copy: the gradient may alias another tensor
                    grad = Tensor(grad.data.copy())
                tensor.grad = grad if tensor.grad is None else tensor.grad + grad

    # -- conversion --------------------------------------------------------------------
    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise RuntimeError(f"a Tensor with {self.data.size} elements cannot be an item")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy()"
            )
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.data.item())

    def __float__(self) -> float:
        return float(self.item())

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    __hash__ = object.__hash__  # == is element-wise, so hash by identity like torch

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = []
        if self.dtype not in (DEFAULT_DTYPE, np.int64, np.bool_):
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({', '.join([body, *extras])})"


def vertex(tensor: Tensor) -> Any:
    """Where a tensor's gradient collects: the Node of the op that made its current value,
    or the tensor itself for a leaf. Nodes keep edges to their inputs' vertices of the time,
    so after an in-place op (a new Node for the tensor) earlier uses still reach the old one."""
    return tensor if tensor.grad_fn is None else tensor.grad_fn


def backprop(
    outputs: Sequence[Tensor],
    grad_outputs: Sequence[Tensor | None],
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> dict[int, tuple[Any, Tensor]]:
    """The reverse sweep: {id(vertex): (vertex, d(sum <outputs, grad_outputs>)/d vertex)},
    a vertex being a Node (the gradient of its output) or a leaf; see gradient_of."""
    retain_graph = create_graph if retain_graph is None else retain_graph
    gradients: dict[int, tuple[Any, Tensor]] = {}
    for out, grad in zip(outputs, grad_outputs, strict=True):
        if not out.requires_grad:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn"
            )
        if grad is None:
            if out.data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            grad = Tensor(np.ones_like(out.data))
        elif not isinstance(grad, Tensor):
            grad = Tensor(np.asarray(grad, dtype=out.dtype))
        if grad.shape != out.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output has {grad.shape}, output {out.shape}"
            )
        _accumulate(gradients, vertex(out), grad)

    with set_grad_enabled(create_graph):  # VJPs are engine ops: recorded iff create_graph
        for node in reversed(_topological_order([vertex(out) for out in outputs])):
            if isinstance(node, Tensor) or id(node) not in gradients:
                continue  # a leaf, or a node no gradient reached
            input_grads = node.apply_vjp(gradients[id(node)][1])
            if not retain_graph:
                node.saved = None
            for edge, grad in zip(node.edges, input_grads, strict=True):
                if edge is not None and grad is not None:
                    _accumulate(gradients, edge, grad)
    return gradients


def gradient_of(gradients: dict, tensor: Tensor) -> Tensor | None:
    """tensor's gradient in backprop's result (None if none reached it)."""
    found = gradients.get(id(vertex(tensor)))
    return None if found is None else found[1]


def _accumulate(gradients: dict, vertex: Any, grad: Tensor) -> None:
    if id(vertex) in gradients:
        grad = gradients[id(vertex)][1] + grad
    gradients[id(vertex)] = (vertex, grad)


def _topological_order(roots: Sequence[Any]) -> list[Any]:
    """Vertices, each after all its inputs (iterative DFS: deep graphs are fine)."""
    order, visited = [], set()
    stack = [(root, False) for root in roots]
    while stack:
        vertex, inputs_done = stack.pop()
        if inputs_done:
            order.append(vertex)
        elif id(vertex) not in visited:
            visited.add(id(vertex))
            stack.append((vertex, True))
            if not isinstance(vertex, Tensor):
                stack.extend((edge, False) for edge in vertex.edges if edge is not None)
    return order


# -- factories -----------------------------------------------------------------------
def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new leaf. Python floats become float32 (torch's default); numpy arrays keep dtype."""
    array = np.array(data.data if isinstance(data, Tensor) else data, dtype=dtype)
    python_floats = dtype is None and not isinstance(data, (np.ndarray, np.generic, Tensor))
    if python_floats and array.dtype == np.float64:
        array = array.astype(DEFAULT_DTYPE)
    return Tensor(array, requires_grad=requires_grad)


def sizes(args: tuple, keyword: Any, name: str) -> tuple:
    """torch's `*sizes` or one keyword: f(2, 3), f((2, 3)) and f(size=(2, 3)) -> (2, 3)."""
    if keyword is not None:
        if args:
            raise TypeError(f"{name} given both positionally and as a keyword")
        args = (keyword,)
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def zeros(*args: Any, size: Any = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(sizes(args, size, "size"), dtype or DEFAULT_DTYPE), requires_grad)


def ones(*args: Any, size: Any = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(sizes(args, size, "size"), dtype or DEFAULT_DTYPE), requires_grad)


def zeros_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(input.shape, dtype or input.dtype), requires_grad)


def ones_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(input.shape, dtype or input.dtype), requires_grad)
