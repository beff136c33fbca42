"""The torch.compile adapter: the torch adapter's ops, with every function the suite
hands over compiled as a whole by `torch.compile(fn, backend=..., fullgraph=True,
dynamic=False)`, forward and backward.

Two registered names, one per backend:

* `torch-compile`: backend `aot_eager` (Dynamo + AOTAutograd, the graphs then run by
  eager kernels). Fast to compile; every difference from eager torch is Dynamo's tracing,
  functionalization, the forward/backward partition or a decomposition AOTAutograd
  applies.
* `torch-compile-inductor`: backend `inductor` (generated C++ kernels on CPU: a C++
  compiler, and seconds per new graph).

What is compiled: `vjp` compiles fn and differentiates the compiled function with
`torch.autograd.grad` through the backward graph AOTAutograd compiled with it. Declared
per capability (`limitation`, skipped with the reason, never failed):

* "higher_order": not declared. A backward that AOTAutograd compiled with donated
  buffers (saved tensors it may overwrite) raises under create_graph=True (masked_select
  of a 0-d input, among others: docs/findings.md, "torch.compile"); `vjp` runs without
  create_graph.
* "jvp": not declared: the adapter compiles reverse mode only (forward mode through
  compiled graphs is not tested here).
* "imperative" (`.backward`, `.grad`, views, in-place tensor methods, `no_grad`): not
  declared: those are eager torch's API, which the torch adapter tests; a compiled
  function has none of them. The `inplace` graph check does run: in-place ops inside a
  compiled graph are functionalized by AOTAutograd, which it tests.
* "batched": not declared (no compiled `is_grads_batched` backward here).

Ops it cannot compile in every graph are left out of `ops` (`NOT_COMPILABLE`, with the
reason): `masked_select`, whose data-dependent output size fullgraph compilation of a
later op can fail on.

The `forward` and `finite_difference` checks evaluate the graph's ops one by one (eager
torch: the protocol has no whole-function forward), so the compiled graph's gradients
are what this adapter tests, not its outputs.

Compile cost: a function is recorded once eagerly (a `TorchFunctionMode` lists the torch
calls it makes, with their constants and the input metadata: shapes, strides, dtypes,
devices), and the recording is the cache key: functions with the same calls on inputs of
the same metadata share one compiled replay of those calls, so the evaluations a check
makes of one graph structure compile once. `max_examples` (5) caps the default profiles'
examples per suite test; an explicit --hypothesis-profile is not capped.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from gradcheck.adapters import torch as eager
from gradcheck.adapters.base import AdapterBase

MAX_EXAMPLES = 5  # examples per suite test under the default profiles (not 20 or 50)
CACHE_SIZE = 512  # compiled replays kept (least recently used dropped first)


# -- recording a function's torch calls ------------------------------------------------


class _Recorder(TorchFunctionMode):
    """Records the top-level torch calls of one eager run of a function as replay source.

    Tensors are named by identity: inputs `a0, a1, ...`, results `v0, v1, ...`; every
    other argument (ints, tuples, slices, dtypes, devices, numpy arrays, and tensors made
    without tensor arguments, like `torch.tensor(index)`) becomes a constant `C[k]`,
    recorded by value in the key."""

    def __init__(self, inputs: Sequence[torch.Tensor]) -> None:
        super().__init__()
        self.names = {id(t): f"a{i}" for i, t in enumerate(inputs)}
        self.alive: list[Any] = list(inputs)  # keeps every named object's id unique
        self.lines: list[str] = []
        self.funcs: list[Any] = []
        self.consts: list[Any] = []
        self.key: list[Any] = []

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        mentions = _mentions(args, self.names) or _mentions(kwargs, self.names)
        if out is None and mentions:  # a write with no result: x[index] = value
            self.lines.append(f"    {self.call(func, self.arguments(args, kwargs))}")
            return out
        if not _has_tensor(out):  # .shape, .device, .dim(): used later by value
            return out
        if not mentions:
            self._name(out, self.const(out))  # made from constants: a constant itself
            return out
        call_args = self.arguments(args, kwargs)
        name = f"v{len(self.lines)}"
        self.lines.append(f"    {name} = {self.call(func, call_args)}")
        self._name(out, name)
        return out

    def arguments(self, args: Any, kwargs: dict) -> list[str]:
        return [self.source(a) for a in args] + [f"{k}={self.source(v)}" for k, v in kwargs.items()]

    def call(self, func: Any, args: list[str]) -> str:
        method = getattr(func, "__name__", "")
        if args and getattr(torch.Tensor, method, None) is func:  # a Tensor method
            if method == "__getitem__":
                return f"{args[0]}[{args[1]}]"
            return f"{args[0]}.{method}({', '.join(args[1:])})"
        self.funcs.append(func)
        self.key.append(("func", getattr(func, "__module__", None), repr(func)))
        return f"F[{len(self.funcs) - 1}]({', '.join(args)})"

    def source(self, value: Any) -> str:
        if isinstance(value, torch.Tensor) and id(value) in self.names:
            return self.names[id(value)]
        if isinstance(value, (tuple, list)) and _mentions(value, self.names):
            items = "".join(f"{self.source(v)}, " for v in value)
            return f"({items})" if isinstance(value, tuple) else f"[{items}]"
        return self.const(value)

    def const(self, value: Any) -> str:
        self.consts.append(value)
        self.alive.append(value)
        self.key.append(("const", _fingerprint(value)))
        return f"C[{len(self.consts) - 1}]"

    def _name(self, out: Any, name: str) -> None:
        if isinstance(out, torch.Tensor):
            if id(out) not in self.names:  # an op that returns its input keeps its name
                self.names[id(out)] = name
                self.alive.append(out)
        elif isinstance(out, (tuple, list)):  # torch.max(x, dim) -> (values, indices)
            for i, item in enumerate(out):
                self._name(item, f"{name}[{i}]")


def _has_tensor(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    return isinstance(value, (tuple, list)) and any(_has_tensor(v) for v in value)


def _mentions(value: Any, names: dict[int, str]) -> bool:
    """Whether `value` holds a tensor that the function computed or was given."""
    if isinstance(value, torch.Tensor):
        return id(value) in names
    if isinstance(value, dict):
        return any(_mentions(v, names) for v in value.values())
    return isinstance(value, (tuple, list)) and any(_mentions(v, names) for v in value)


def _fingerprint(value: Any) -> Any:
    """A hashable description of a constant, equal exactly when the values are."""
    if isinstance(value, torch.Tensor):
        # A fresh flat copy (stride 1 whatever the constant's strides), read as bytes; an
        # empty one has no bytes (and torch cannot view it).
        flat = value.detach().cpu().reshape(-1)
        flat = torch.empty_like(flat, memory_format=torch.contiguous_format).copy_(flat)
        raw = bytes(flat.view(torch.uint8).numpy()) if flat.numel() else b""
        return ("tensor", str(value.dtype), tuple(value.shape), str(value.device),
                value.requires_grad, raw)  # fmt: skip
    if hasattr(value, "tobytes") and hasattr(value, "dtype"):  # a numpy array or scalar
        return ("array", str(value.dtype), tuple(getattr(value, "shape", ())), value.tobytes())
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(_fingerprint(v) for v in value))
    if isinstance(value, float):
        return ("float", value.hex())
    return (type(value).__name__, repr(value))


def _meta(t: torch.Tensor) -> tuple:
    return (str(t.dtype), tuple(t.shape), tuple(t.stride()), str(t.device), t.requires_grad)


# -- the adapter -----------------------------------------------------------------------


def grads_of(
    fn: Callable[..., tuple], primals: Sequence[torch.Tensor], cotangents: Sequence[Any]
) -> tuple[tuple, tuple]:
    # (outputs, grads) of a compiled fn: the torch adapter's vjp without create_graph (a
    # compiled backward with donated buffers raises under it).
    primals = tuple(p if p.requires_grad else p.detach().requires_grad_() for p in primals)
    outputs = tuple(fn(*primals))
    pairs = [(o, c) for o, c in zip(outputs, cotangents, strict=True) if o.requires_grad]
    grads = [None] * len(primals)
    if pairs:
        grads = torch.autograd.grad(
            [o for o, _ in pairs],
            primals,
            grad_outputs=[c for _, c in pairs],
            allow_unused=True,
        )
    return outputs, tuple(
        torch.zeros_like(p) if g is None else g for g, p in zip(grads, primals, strict=True)
    )


REPRO_HELPERS_TAIL = f"""
BACKEND = {{backend!r}}
jvp = None  # forward mode: not declared for compiled functions


{inspect.getsource(grads_of)}

def vjp(fn, primals, cotangents):
    # fn compiled as the torch-compile adapter compiles it: one graph, static shapes.
    compiled = torch.compile(fn, backend=BACKEND, fullgraph=True, dynamic=False)
    return grads_of(compiled, primals, cotangents)
"""

#: Ops torch.compile(fullgraph=True, dynamic=False) cannot compile in every graph: left out
#: of `ops`, so that their own tests skip ("adapter lacks") and random graphs never draw
#: them.
NOT_COMPILABLE = {
    "masked_select": "its output size depends on the mask's values: an op after it that "
    "needs that size raises 'Could not extract specialized integer from data-dependent "
    "expression' under fullgraph (docs/findings.md)",
}

#: Why each capability is not declared (module docstring).
COMPILE_LIMITS = {
    "higher_order": "torch.compile: a compiled backward with donated buffers raises under "
    "create_graph=True (no double backward through compiled graphs; docs/findings.md)",
    "jvp": "torch.compile: forward mode through compiled graphs is not tested (the adapter "
    "compiles reverse mode only)",
    "batched": "torch.compile: no compiled batched (is_grads_batched) backward",
    "imperative": "torch.compile: imperative tensor semantics are eager torch's (tested by "
    "the torch adapter), not a compiled graph's",
}


class TorchCompileAdapter(eager.TorchAdapter):
    """The torch adapter's ops and tensors; `vjp` runs fn through torch.compile."""

    version = torch.__version__
    capabilities = frozenset()
    max_examples = MAX_EXAMPLES

    def __init__(self, backend: str) -> None:
        super().__init__()  # the torch adapter's op table, compiled from its templates
        self.ops = {k: op for k, op in self.ops.items() if k not in NOT_COMPILABLE}
        self.op_source = {k: t for k, t in eager.OP_SOURCE.items() if k not in NOT_COMPILABLE}
        self.backend = backend
        self.name = "torch-compile" if backend == "aot_eager" else f"torch-compile-{backend}"
        self.repro_helpers = eager.REPRO_HELPERS + REPRO_HELPERS_TAIL.format(backend=backend)
        self._cache: dict[Any, Callable[..., Any]] = {}
        self.compiles = 0  # how many replays were compiled (cache misses)

    def vjp(self, fn: Callable[..., tuple], primals: Sequence[torch.Tensor], cotangents: Any):
        primals = [p if p.requires_grad else p.detach().requires_grad_() for p in primals]
        return grads_of(self.compiled(fn, primals), primals, cotangents)

    jvp = AdapterBase.jvp
    vjp_twice = AdapterBase.vjp_twice  # each call through the compiled replay
    batched_vjp = AdapterBase.batched_vjp
    no_grad = AdapterBase.no_grad

    def limitation(self, op: str, capability: str, dtype: str) -> str | None:
        if capability in COMPILE_LIMITS:
            return COMPILE_LIMITS[capability]
        return super().limitation(op, capability, dtype)

    def compiled(self, fn: Callable[..., tuple], primals: Sequence[torch.Tensor]) -> Callable:
        """The compiled replay of `fn`'s torch calls on inputs like `primals`; compiled
        once per distinct recording (the cache key)."""
        recorder = _Recorder(primals)
        with torch.no_grad(), recorder:
            outputs = fn(*primals)
        if not isinstance(outputs, (tuple, list)):
            raise TypeError(f"fn must return a tuple of tensors, got {type(outputs).__name__}")
        results = [recorder.source(o) for o in outputs]
        params = ", ".join(f"a{i}" for i in range(len(primals)))
        body = "\n".join(recorder.lines)
        returned = "".join(f"{r}, " for r in results)
        source = f"def replay({params}):\n{body}\n    return ({returned})\n"
        key = (
            torch.is_grad_enabled(),
            tuple(_meta(p) for p in primals),
            source,
            tuple(recorder.key),
        )
        cached = self._cache.pop(key, None)
        if cached is None:
            target = _function(source, recorder.funcs, recorder.consts, self.compiles)
            cached = torch.compile(target, backend=self.backend, fullgraph=True, dynamic=False)
            self.compiles += 1
            if len(self._cache) >= CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
        self._cache[key] = cached  # most recently used last
        return cached

    def precision_flags(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "fullgraph": True,
            "dynamic": False,
            **super().precision_flags(),
        }


def _function(source: str, funcs: list, consts: list, serial: int) -> Callable:
    """`replay` from its `source`: a new code object per recording, so that Dynamo keeps
    one cache entry per code object and never reaches its recompile limit (past which it
    would run the function eagerly)."""
    namespace: dict[str, Any] = {"F": list(funcs), "C": list(consts), "torch": torch}
    exec(compile(source, f"<gradcheck replay {serial}>", "exec"), namespace)
    target = namespace["replay"]
    assert isinstance(target, types.FunctionType)
    return target


adapter = TorchCompileAdapter("aot_eager")
inductor_adapter = TorchCompileAdapter("inductor")
