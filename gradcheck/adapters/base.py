"""The adapter protocol: what gradcheck needs from an autograd engine (`AdapterBase`).

Op source templates
-------------------
An adapter may describe each catalog op as a Python *expression template* in
`op_source` (catalog name -> template). The same text is used twice:

* `compile_ops` turns every template into the callable in `ops`;
* `gradcheck.repro.script` pastes it into a standalone repro script.

Placeholder convention (``str.format`` fields):

* ``{x}`` and ``{y}`` are the first and second positional inputs; ``{xs}`` is the
  whole variadic input list (`cat`, `stack`). A template uses ``{x}``/``{y}`` or
  ``{xs}``, never both.
* Every other field is an attr, named by its catalog keyword (``{dim}``,
  ``{keepdim}``, ``{index}``...). All attrs a template names are required.
* Literal braces must be doubled (``{{``), as always with ``str.format``.
* `render_op` does the substitution: inputs become variable names (``{xs}``
  becomes a tuple display ``(a, b)``), attrs become Python literals
  (`python_literal`: numpy arrays as ``np.array([...], dtype=np.int64)``).
  Inputs are bare names, so ``{x}.device`` is safe in a template.
* `op_source_prelude` holds the imports (and any small helper functions) the
  templates use, e.g. ``import numpy as np\\nimport torch``. It is executed once
  to build `ops` and pasted at the top of a repro, so a repro depends only on
  the engine and numpy.
"""

from __future__ import annotations

import copy
import string
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from types import MappingProxyType
from typing import Any

import numpy as np

from gradcheck.errors import Unsupported
from gradcheck.literals import Name, python_literal

DTYPES = ("float64", "float32", "float16", "bfloat16")
CAPABILITIES = ("jvp", "higher_order", "imperative", "batched")
#: Members every adapter must have (`validate_adapter` checks them); the rest have defaults.
REQUIRED_MEMBERS = ("name", "version", "ops", "asarray", "to_numpy", "vjp")
INPUT_FIELDS = ("x", "y")
VARIADIC_FIELD = "xs"


class AdapterError(Exception):
    """An adapter cannot be found, loaded or used; the message is one line with a fix."""


class AdapterBase:
    """An autograd engine as gradcheck sees it. Subclass this, set the required members,
    and override the optional ones your engine has; each default below is documented.

    An object that does not subclass it but has the required members works too:
    `load_adapter` wraps it and fills in these defaults (`as_adapter`).
    `fn` arguments take adapter tensors and return a tuple of adapter tensors.
    """

    # -- required ------------------------------------------------------------------------
    name: str = ""  # shown in the report header and in every failure
    version: str = ""  # the engine's version (e.g. its __version__)
    ops: Mapping[str, Callable[..., Any]] = MappingProxyType({})  # catalog name -> callable

    def asarray(self, array: np.ndarray, dtype: str, device: str, requires_grad: bool) -> Any:
        """A new engine tensor holding `array` (float64) cast to `dtype` on `device`. It must
        not share memory with `array`: the caller's arrays are checked to stay unchanged."""
        raise NotImplementedError

    def to_numpy(self, x: Any) -> np.ndarray:
        """A float64 host copy of an engine tensor, detached from its graph."""
        raise NotImplementedError

    def vjp(
        self, fn: Callable[..., tuple], primals: Sequence[Any], cotangents: Sequence[Any]
    ) -> tuple[tuple, tuple]:
        """(fn(*primals), J^T cotangents), the grads differentiable again (create_graph)
        when "higher_order" is declared. A grad for a primal the outputs do not depend on
        is zeros, never None."""
        raise NotImplementedError

    # -- optional, with their defaults ---------------------------------------------------
    devices: Sequence[str] = ("cpu",)
    dtypes: Sequence[str] = ("float64", "float32")  # names from DTYPES
    # "jvp": forward mode; "higher_order": grads are differentiable again; "imperative":
    # tensors have .backward/.grad/.retain_grad/.detach/.requires_grad, no_grad() works, and
    # views and in-place methods (semantics.VIEW_METHODS) alias as torch's do;
    # "batched": `batched_vjp` (many cotangents in one reverse pass), and where the engine
    # has them `vmap_vjp` (per-sample VJPs) and `batched_jvp` (many tangents at once).
    capabilities: frozenset[str] = frozenset()
    # The subgradient the engine returns at each kink it handles differently from torch,
    # e.g. {"relu": 0.5, "max_dim": "any"}: valid choices in docs/writing-an-adapter.md.
    conventions: Mapping[str, Any] = MappingProxyType({})
    # Two identical runs may differ by this relative amount (0: bit-identical).
    nondeterminism_tolerance: float = 0.0
    # Native repros: catalog name -> expression template, the imports they need, and the
    # source of asarray/to_numpy/vjp/jvp and, where overridden, asarray_with_layout (so that
    # a repro needs only the engine and numpy).
    op_source: Mapping[str, str] = MappingProxyType({})
    op_source_prelude: str = ""
    repro_helpers: str = ""
    # How `load_adapter` found this adapter (a name or "module:attr"); repros load it so.
    spec: str | None = None
    # Hypothesis examples per suite test under the default profiles (gradcheck-dev,
    # gradcheck-ci), for an engine whose every new graph is expensive (a compiler); None:
    # the profile's own count. An explicit --hypothesis-profile is never capped.
    max_examples: int | None = None

    def asarray_with_layout(
        self, array: np.ndarray, dtype: str, device: str, requires_grad: bool, layout: str
    ) -> Any:
        """Like `asarray`, in a memory layout (`gradcheck.graph.LAYOUTS`) the graph's
        leaves are made in: "contiguous"; "transposed", strides reversed; "strided", every
        other element of the last dim of a buffer twice as long. Adapters that have no
        layouts ignore it: the default is `asarray(array, dtype, device, requires_grad)`."""
        return self.asarray(array, dtype, device, requires_grad)

    def vjp_twice(
        self, fn: Callable[..., tuple], primals: Sequence[Any], cotangents: Sequence[Any]
    ) -> tuple[tuple, tuple, tuple]:
        """(outputs, grads, grads again): `vjp` with the backward run a second time, which
        check_function compares with the first (a nondeterministic backward proves
        nothing). Default: `vjp` twice. An engine that keeps the graph overrides it to run
        the second backward through the first call's graph, as torch's gradcheck checks
        reentrancy: fn then runs once."""
        outputs, grads = self.vjp(fn, primals, cotangents)
        return outputs, grads, self.vjp(fn, primals, cotangents)[1]

    def jvp(
        self, fn: Callable[..., tuple], primals: Sequence[Any], tangents: Sequence[Any]
    ) -> tuple[tuple, tuple]:
        """(fn(*primals), J tangents) in forward mode; needs capability "jvp"."""
        raise Unsupported(f"adapter {self.name!r} has no forward mode (capability 'jvp')")

    def batched_vjp(
        self, fn: Callable[..., tuple], primals: Sequence[Any], cotangents: Sequence[Any]
    ) -> tuple[tuple, tuple]:
        """(fn(*primals), grads) for a batch of cotangents in one reverse pass; needs
        capability "batched". Each cotangent has a leading batch dimension B over its
        output's shape; each grad has the leading dimension B over its primal's shape, and
        grads[i][b] is what `vjp` gives primal i for cotangents [c[b] for c in cotangents].
        Any fn, any number of primals and outputs; a grad for a primal the outputs do not
        depend on is zeros, never None (as in `vjp`)."""
        raise Unsupported(f"adapter {self.name!r} has no batched_vjp (capability 'batched')")

    def vmap_vjp(
        self, fn: Callable[..., tuple], primals: Sequence[Any], cotangents: Sequence[Any]
    ) -> tuple[tuple, tuple]:
        """The per-sample pattern, vmap of a VJP (`vmap(grad(f))`): primals AND cotangents
        carry a leading batch dimension B; outputs[j][b] and grads[i][b] are what `fn` and
        `vjp` give for sample b alone ([p[b] for p in primals], [c[b] for c in
        cotangents]). Optional under capability "batched": the `batched` check compares
        it where it does not raise Unsupported."""
        raise Unsupported(f"adapter {self.name!r} has no vmap_vjp (per-sample VJPs)")

    def batched_jvp(
        self, fn: Callable[..., tuple], primals: Sequence[Any], tangents: Sequence[Any]
    ) -> tuple[tuple, tuple]:
        """(fn(*primals), tangents out) for a batch of tangents in one forward-mode pass:
        each tangent has a leading batch dimension B over its primal's shape, and
        tangents_out[j][b] is what `jvp` gives output j for [t[b] for t in tangents].
        Optional under capabilities "batched" and "jvp", like `vmap_vjp`."""
        raise Unsupported(f"adapter {self.name!r} has no batched_jvp (batched forward mode)")

    def no_grad(self) -> AbstractContextManager:
        """A context in which results record no graph; needs capability "imperative"."""
        raise Unsupported(f"adapter {self.name!r} has no no_grad() context")

    def limitation(self, op: str, capability: str, dtype: str) -> str | None:
        """Why `op` lacks `capability` ("jvp", "higher_order") at `dtype`, or None when it
        has it; "forward" is the op itself (no kernel at that dtype), which every check
        needs. Override to exclude single ops (an op without forward mode, a known wrong
        double backward in float16) instead of dropping the capability for all: checks of
        that op are skipped with this reason, and random graphs for them leave it out."""
        if capability == "forward" or capability in self.capabilities:
            return None
        return f"adapter {self.name!r} lacks capability {capability!r}"

    def dtype_of(self, x: Any) -> str:
        """The dtype name (from DTYPES) of an engine tensor; default: its `.dtype`."""
        return str(getattr(x, "dtype", "unknown")).rsplit(".", 1)[-1]

    def device_of(self, x: Any) -> str:
        """The device of an engine tensor; default: its `.device`, else "cpu"."""
        return str(getattr(x, "device", "cpu"))

    def precision_flags(self) -> Mapping[str, Any] | None:
        """Global settings that change the engine's numerics, for the report header."""
        return None

    def prepare(self) -> Mapping[str, Any] | None:
        """Set the run's precision defaults once, before the suite; returns the flags."""
        return self.precision_flags()

    def restore(self) -> None:
        """Undo `prepare()` once the run is over: put back every global setting it changed
        (jax's x64 mode), so that the process goes on as before the run. Default: nothing."""
        return None


OPTIONAL_MEMBERS = tuple(
    m for m in vars(AdapterBase) if not m.startswith("_") and m not in REQUIRED_MEMBERS
)


class _Wrapped(AdapterBase):
    """A protocol object that does not subclass AdapterBase, defaults filled in."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        for member in (*REQUIRED_MEMBERS, *OPTIONAL_MEMBERS):
            if member != "spec" and hasattr(inner, member):
                setattr(self, member, getattr(inner, member))

    def __repr__(self) -> str:
        return f"<adapter {self.name!r}: {type(self.inner).__name__}>"


def as_adapter(obj: Any, spec: str | None = None) -> AdapterBase:
    """`obj` as an AdapterBase with `spec` recorded, never changing `obj` itself."""
    adapter = copy.copy(obj) if isinstance(obj, AdapterBase) else _Wrapped(obj)
    adapter.spec = spec if spec is not None else getattr(obj, "spec", None)
    return adapter


def template_fields(template: str) -> tuple[list[str], list[str]]:
    """(input fields, attr fields) of a template, each in order of first use."""
    fields: list[str] = []
    for _, field, _, _ in string.Formatter().parse(template):
        if field is not None and field not in fields:
            fields.append(field)
    inputs = [f for f in (*INPUT_FIELDS, VARIADIC_FIELD) if f in fields]
    if VARIADIC_FIELD in inputs and len(inputs) > 1:
        raise ValueError(f"template mixes {{xs}} with {{x}}/{{y}}: {template!r}")
    if "y" in inputs and "x" not in inputs:
        raise ValueError(f"template uses {{y}} without {{x}}: {template!r}")
    attrs = [f for f in fields if f not in inputs]
    return inputs, attrs


def render_op(template: str, inputs: Sequence[str], attrs: Mapping[str, Any]) -> str:
    """The template with input variable names and attr literals substituted."""
    input_fields, attr_fields = template_fields(template)
    if input_fields == [VARIADIC_FIELD]:
        names = {VARIADIC_FIELD: python_literal(tuple(Name(n) for n in inputs))}
    else:
        names = dict(zip(input_fields, inputs, strict=True))
    return template.format(**names, **{a: python_literal(attrs[a]) for a in attr_fields})


def compile_ops(op_source: Mapping[str, str], prelude: str) -> dict[str, Callable[..., Any]]:
    """One function per template: inputs positional, attrs keyword-only and required."""
    namespace: dict[str, Any] = {}
    exec(prelude, namespace)  # the same imports and helpers a repro starts with
    ops = {}
    for name, template in op_source.items():
        inputs, attrs = template_fields(template)
        params = ["*xs"] if inputs == [VARIADIC_FIELD] else list(inputs)
        if attrs:
            params += ["*", *attrs] if params[:1] != ["*xs"] else attrs
        body = template.format(**{f: f for f in (*inputs, *attrs)})
        source = f"def _op({', '.join(params)}):\n    return {body}\n"
        exec(compile(source, f"<op {name}: {template}>", "exec"), namespace)
        op = namespace.pop("_op")
        op.__name__ = op.__qualname__ = name
        ops[name] = op
    return ops
