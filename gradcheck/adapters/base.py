"""The adapter protocol: what gradcheck needs from an autograd engine.

An adapter is any object with the members of `Adapter`; subclassing is optional.
`fn` arguments take adapter tensors and return a tuple of adapter tensors.

Op source templates
-------------------
An adapter may describe each catalog op as a Python *expression template* in
`op_source` (catalog name -> template). The same text is used twice:

* `compile_ops` turns every template into the callable in `ops`;
* `Graph.to_python` pastes it into a standalone repro script.

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

import math
import string
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

DTYPES = ("float64", "float32", "float16", "bfloat16")
CAPABILITIES = ("jvp", "higher_order", "imperative")
#: Members every adapter must have (`validate_adapter` checks them).
REQUIRED_MEMBERS = (
    "name",
    "version",
    "devices",
    "dtypes",
    "capabilities",
    "ops",
    "asarray",
    "to_numpy",
    "vjp",
)
INPUT_FIELDS = ("x", "y")
VARIADIC_FIELD = "xs"


class AdapterError(Exception):
    """An adapter cannot be found, loaded or used; the message is one line with a fix."""


@runtime_checkable
class Adapter(Protocol):
    """Required members. Optional ones: `jvp` (when "jvp" is in capabilities),
    `op_source` and `op_source_prelude` (native repros), `precision_flags()`
    (dict shown in the report header) and `prepare()` (sets the run's
    precision defaults once, returns the flags it set)."""

    name: str
    version: str
    devices: Sequence[str]
    dtypes: Sequence[str]
    capabilities: frozenset[str]
    ops: Mapping[str, Callable[..., Any]]

    def asarray(self, array: np.ndarray, dtype: str, device: str, requires_grad: bool) -> Any:
        """An engine tensor holding `array` (float64) cast to `dtype` on `device`."""

    def to_numpy(self, x: Any) -> np.ndarray:
        """A float64 host copy of an engine tensor, detached from its graph."""

    def vjp(
        self, fn: Callable[..., tuple], primals: Sequence[Any], cotangents: Sequence[Any]
    ) -> tuple[tuple, tuple]:
        """(fn(*primals), J^T cotangents), the grads differentiable again (create_graph).

        A grad for a primal the outputs do not depend on is zeros, never None."""


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


def python_literal(value: Any) -> str:
    """Python source that evaluates (with numpy as `np`) back to an equal value: floats
    exactly (repr round-trips), arrays with their dtype and shape (empty ones too)."""
    if isinstance(value, np.ndarray):
        dtype = "bool_" if value.dtype == np.bool_ else value.dtype.name  # np.bool: numpy>=2
        items = ", ".join(python_literal(v) for v in value.ravel().tolist())
        shape = python_literal(value.shape)
        return f"np.array([{items}], dtype=np.{dtype}).reshape({shape})"
    if isinstance(value, np.generic):
        return python_literal(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if isinstance(value, tuple):
        items = [python_literal(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, list):
        return f"[{', '.join(python_literal(v) for v in value)}]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {python_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, slice):
        parts = (value.start, value.stop, value.step)
        return f"slice({', '.join(python_literal(p) for p in parts)})"
    if value is None or isinstance(value, (bool, int, float, str)) or value is Ellipsis:
        return repr(value)
    raise TypeError(f"no Python literal for a value of type {type(value).__name__}")


def render_op(template: str, inputs: Sequence[str], attrs: Mapping[str, Any]) -> str:
    """The template with input variable names and attr literals substituted."""
    input_fields, attr_fields = template_fields(template)
    if input_fields == [VARIADIC_FIELD]:
        names = {VARIADIC_FIELD: python_literal(tuple(_Name(n) for n in inputs))}
    else:
        names = dict(zip(input_fields, inputs, strict=True))
    return template.format(**names, **{a: python_literal(attrs[a]) for a in attr_fields})


class _Name(str):
    """A variable name that `python_literal` writes bare (not quoted)."""

    def __repr__(self) -> str:
        return str(self)


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
