"""`check_function`'s arguments: which adapter, which inputs are differentiated, and the
calls of `fn` with adapter tensors at those inputs (everything else passes through)."""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcheck.adapters import load_adapter, validate_adapter
from gradcheck.adapters.base import DTYPES, AdapterBase

# The engine module whose tensors or functions select a built-in adapter.
_ENGINE_MODULES = {"torch": "torch", "reference_engine": "reference"}


class FnRaised(Exception):
    """Carries an exception raised by the user's `fn` (or our check of what it returned)
    out through adapter code, so that it reaches the caller as it was raised."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


@functools.cache
def _named_adapter(spec: str) -> AdapterBase:
    # Loaded once per process: check_function may be called thousands of times in a suite.
    return load_adapter(spec)


def resolve_adapter(adapter: Any, fn: Callable[..., Any], values: Sequence[Any]) -> AdapterBase:
    """The adapter given (a name or an object), else the one the inputs' tensors (or fn's
    module, for torch and reference_engine functions) belong to."""
    if isinstance(adapter, AdapterBase):
        return adapter
    if isinstance(adapter, str):
        return _named_adapter(adapter)
    if adapter is not None:
        return validate_adapter(adapter)
    for value in values:
        name = _engine_of(type(value))
        if name is not None:
            return _named_adapter(name)
    name = _engine_of_function(fn)
    if name is not None:
        return _named_adapter(name)
    raise ValueError(
        "check_function cannot tell which engine fn uses from numpy inputs: pass torch "
        "tensors (requires_grad=True on those to differentiate) or adapter='torch' "
        "(or another adapter name or object)"
    )


def _engine_of(kind: type) -> str | None:
    root = kind.__module__.partition(".")[0]
    if root not in _ENGINE_MODULES or root not in sys.modules:
        return None
    tensor = sys.modules[root].Tensor
    return _ENGINE_MODULES[root] if issubclass(kind, tensor) else None


def _engine_of_function(fn: Callable[..., Any]) -> str | None:
    """torch.* / reference_engine.* functions, autograd.Function.apply and nn.Modules."""
    owner = getattr(fn, "__self__", None)  # Function.apply is bound to the Function class
    for obj in (fn, owner, type(fn)):
        module = getattr(obj, "__module__", None) or ""
        root = module.partition(".")[0]
        if root in _ENGINE_MODULES:
            return _ENGINE_MODULES[root]
    torch = sys.modules.get("torch")
    if torch is not None and (
        isinstance(fn, torch.nn.Module)
        or (isinstance(owner, type) and issubclass(owner, torch.autograd.Function))
    ):
        return "torch"
    return None


@dataclass
class Inputs:
    """fn's arguments: `xs` (float64 copies) are the differentiated ones, at `keys`
    (a position or a keyword name); every other argument is passed through as given."""

    args: list[Any]
    kwargs: dict[str, Any]
    keys: list[int | str] = field(default_factory=list)
    xs: list[np.ndarray] = field(default_factory=list)
    device: str = "cpu"
    notes: list[str] = field(default_factory=list)
    simple: bool = False  # every argument is differentiated and positional

    def name(self, i: int) -> str:
        key = self.keys[i]
        return f"input {key}" if isinstance(key, int) else f"input {key!r}"

    def call(self, fn: Callable[..., Any], tensors: Sequence[Any]) -> Any:
        if self.simple:  # fn(x, y): every argument differentiated, positionally
            return fn(*tensors)
        args, kwargs = list(self.args), dict(self.kwargs)
        for key, tensor in zip(self.keys, tensors, strict=True):
            if isinstance(key, int):
                args[key] = tensor
            else:
                kwargs[key] = tensor
        return fn(*args, **kwargs)


def parse_inputs(
    adapter: AdapterBase, inputs: Sequence[Any], kwargs: Mapping[str, Any], device: str | None
) -> Inputs:
    """Classify fn's arguments; a ValueError (one line: which input, what to do) for
    complex, empty or non-finite inputs and for nothing to differentiate."""
    parsed = Inputs(list(inputs), dict(kwargs))
    tensor_type = tensor_type_of(adapter)
    devices = []
    for key, value in [*enumerate(inputs), *kwargs.items()]:
        where = f"input {key}" if isinstance(key, int) else f"input {key!r}"
        array = _differentiated(adapter, tensor_type, value, where, parsed.notes)
        if array is None:
            continue
        if array.size == 0:
            raise ValueError(
                f"{where} is empty (shape {array.shape}): there is no gradient to check; "
                "give it at least one element or pass it as a constant"
            )
        bad = ~np.isfinite(array)
        if np.any(bad):
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{where} has {int(bad.sum())} non-finite value(s) (first {array[first]} at "
                f"element {first}): finite differences need finite inputs; check fn at "
                "finite points"
            )
        parsed.keys.append(key)
        parsed.xs.append(array)
        if isinstance(value, tensor_type):
            devices.append(adapter.device_of(value))
    if not parsed.xs:
        raise ValueError(_nothing_to_differentiate(adapter, tensor_type, inputs, kwargs))
    parsed.device = device or (devices[0] if devices else "cpu")
    parsed.simple = not kwargs and parsed.keys == list(range(len(inputs)))
    return parsed


@functools.lru_cache(maxsize=16)
def tensor_type_of(adapter: AdapterBase) -> type:
    """The class of the adapter's tensors, whatever the engine: of one it has just made."""
    return type(adapter.asarray(np.zeros(1), "float64", "cpu", False))


def no_forward_mode(fn: Callable[..., Any]) -> str:
    """Why `fn` has no forward mode, where that is known without calling it: the apply
    of a torch.autograd.Function that does not define jvp. "" otherwise."""
    owner = getattr(fn, "__self__", None)
    torch = sys.modules.get("torch")
    if torch is None or not (
        isinstance(owner, type) and issubclass(owner, torch.autograd.Function)
    ):
        return ""
    if getattr(owner, "jvp", None) is not torch.autograd.Function.jvp:
        return ""
    return f"fn has no forward mode: the autograd.Function {owner.__name__} defines no jvp"


def _differentiated(
    adapter: AdapterBase, tensor_type: type, value: Any, where: str, notes: list[str]
) -> np.ndarray | None:
    """`value` as a float64 array if it is differentiated, else None (passed through)."""
    if isinstance(value, (np.ndarray, np.generic)):
        if np.iscomplexobj(value):
            raise ValueError(f"{where} is complex ({value.dtype}): {_COMPLEX}")
        if not np.issubdtype(value.dtype, np.floating):
            return None  # integer and boolean arrays are indices or masks
        return np.array(value, dtype=np.float64)
    if not isinstance(value, tensor_type):
        return None
    dtype = adapter.dtype_of(value)
    if dtype.startswith("complex"):
        raise ValueError(f"{where} is complex ({dtype}): {_COMPLEX}")
    if dtype not in DTYPES or not getattr(value, "requires_grad", True):
        return None  # integer tensors, and constants (requires_grad=False)
    if dtype != "float64":
        # Checked in float64 like torch.autograd.gradcheck asks: a float32 difference
        # quotient cannot resolve a gradient to better than ~1e-3, which hides real bugs.
        note = (
            f"{where} is {dtype}: checked in float64 (a copy); finite differences in "
            f"{dtype} cannot resolve gradient errors below ~1e-3"
        )
        notes.append(note)
        warnings.warn(f"check_function: {note}", stacklevel=4)
    return np.asarray(adapter.to_numpy(value), dtype=np.float64)  # to_numpy gives a copy


_COMPLEX = (
    "check_function differentiates real inputs only; pass the real and imaginary parts as "
    "two real inputs (torch.view_as_real)"
)


def _nothing_to_differentiate(
    adapter: AdapterBase, tensor_type: type, inputs: Sequence[Any], kwargs: Mapping[str, Any]
) -> str:
    values = [*inputs, *kwargs.values()]
    tensors = [v for v in values if isinstance(v, tensor_type)]
    floating = [t for t in tensors if adapter.dtype_of(t) in DTYPES]
    if floating:
        return (
            "no input requires grad: set requires_grad=True on the tensors to differentiate "
            "(floating tensors without it are passed through as constants)"
        )
    kinds = (
        ", ".join(sorted({str(getattr(v, "dtype", type(v).__name__)) for v in values}))
        or "no inputs"
    )
    return (
        f"no floating-point input to differentiate (got {kinds}): pass float64 inputs "
        "(numpy arrays, or tensors with requires_grad=True); integer inputs pass through"
    )


def outputs_of(result: Any, tensor_type: type, adapter_name: str) -> tuple:
    """fn's result as a tuple of tensors, or a TypeError saying what fn returned."""
    outs = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    for k, out in enumerate(outs):
        if not isinstance(out, tensor_type):
            kind = f"{type(out).__module__}.{type(out).__qualname__}".removeprefix("builtins.")
            raise TypeError(
                f"fn returned a {kind} as output {k}: it must return {adapter_name} tensors "
                f"(a tensor or a tuple of them), computed from its inputs so that gradients "
                "flow"
            )
    return outs
