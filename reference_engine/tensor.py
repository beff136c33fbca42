"""Tensor, grad mode and the reverse sweep (micrograd's engine, with a graph of Nodes).

Operators and methods (x + y, x.exp(), ...) are attached to Tensor by the op modules
(elementwise.py, reductions.py, ...), so that every op is written once, as a function
with torch's name and signature. Nodes are made by primitives (dispatch.py).
"""

from __future__ import annotations

import contextlib
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


class Tensor:
    """A numpy array that records the ops applied to it when it requires grad."""

    __array_priority__ = 1000  # so that numpy_array * tensor calls Tensor.__rmul__

    def __init__(self, data: Any, requires_grad: bool = False):
        self.data = np.asarray(data)
        self.grad: Tensor | None = None
        self.grad_fn: Any = None  # the dispatch.Node of the op that made it, if recorded
        self.requires_grad = False
        self._retains_grad = False
        self._tangent: Tensor | None = None  # forward-mode tangent, set by autograd.jvp
        if requires_grad:
            self.requires_grad_()

    # -- properties ------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    is_leaf = property(lambda self: self.grad_fn is None)

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
        return Tensor(self.data)

    def backward(
        self,
        gradient: Tensor | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's .grad (and retained non-leaves')."""
        gradients = backprop([self], [gradient], retain_graph, create_graph)
        for tensor, grad in gradients.values():
            if (tensor.is_leaf and tensor.requires_grad) or tensor._retains_grad:
                if not create_graph:
                    grad = grad.detach()
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


def backprop(
    outputs: Sequence[Tensor],
    grad_outputs: Sequence[Tensor | None],
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> dict[int, tuple[Tensor, Tensor]]:
    """The reverse sweep: {id(tensor): (tensor, d(sum <outputs, grad_outputs>)/d tensor)}."""
    retain_graph = create_graph if retain_graph is None else retain_graph
    gradients: dict[int, tuple[Tensor, Tensor]] = {}
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
        _accumulate(gradients, out, grad)

    with set_grad_enabled(create_graph):  # VJPs are engine ops: recorded iff create_graph
        for tensor in reversed(_topological_order(outputs)):
            node = tensor.grad_fn
            if node is None or id(tensor) not in gradients:
                continue
            input_grads = node.apply_vjp(gradients[id(tensor)][1])
            if not retain_graph:
                node.saved = None
            for inp, grad in zip(node.inputs, input_grads, strict=True):
                if inp.requires_grad and grad is not None:
                    _accumulate(gradients, inp, grad)
    return gradients


def _accumulate(gradients: dict, tensor: Tensor, grad: Tensor) -> None:
    if id(tensor) in gradients:
        grad = gradients[id(tensor)][1] + grad
    gradients[id(tensor)] = (tensor, grad)


def _topological_order(outputs: Sequence[Tensor]) -> list[Tensor]:
    """Tensors that need grad, each after all its inputs (iterative DFS: deep graphs ok)."""
    order, visited = [], set()
    stack = [(out, False) for out in outputs]
    while stack:
        tensor, inputs_done = stack.pop()
        if inputs_done:
            order.append(tensor)
        elif id(tensor) not in visited and tensor.requires_grad:
            visited.add(id(tensor))
            stack.append((tensor, True))
            if tensor.grad_fn is not None:
                stack.extend((inp, False) for inp in tensor.grad_fn.inputs)
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
