"""The registry of user ops: `register` makes a `gradcheck.Op` known by its name, and
`spec_of(name)` finds a catalog op or a registered user op wherever a graph node's op is
looked up. The rest is how the suite runs a user op: on an adapter (`implementation`),
with the capabilities it lacks (`limitation`), and on the reference engine, which gets a
primitive for it at registration (`gradcheck.adapters.reference.add_user_op`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from gradcheck.ops.spec import OpSpec

# The reference differentiates a user op's numpy forward by central differences: exact to
# about 1e-10 of its values (1e-8 for leaves near 1e3), where float64 compares at 1e-10.
# Float64 gradients compared with it get this factor (rtol 1e-7); other dtypes need none.
REFERENCE_DIFFERENCES_FACTOR = 1000.0

_registry: dict[str, OpSpec] = {}


def _catalog() -> dict[str, OpSpec]:
    from gradcheck.ops import CATALOG  # late: gradcheck.ops imports this module

    return CATALOG


def register(op: OpSpec) -> OpSpec:
    """Make a user op known by its name (again: nothing happens); returns it."""
    if not isinstance(op, OpSpec):
        raise TypeError(f"register: {op!r} is not an op; build one with gradcheck.Op(...)")
    catalog = _catalog()
    if catalog.get(op.name) is op or _registry.get(op.name) is op:
        return op
    if op.name in catalog or op.name in in_place_forms() or op.fn is None:
        raise ValueError(
            f"register: {op.name!r} is a catalog op (or an in-place form of one), or has no "
            "fn: use gradcheck.Op under another name"
        )
    if op.name in _registry:
        raise ValueError(
            f"register: user op {op.name!r} is already registered for "
            f"{_describe(_registry[op.name])}; cannot register another for {_describe(op)}"
        )
    from gradcheck.adapters.reference import add_user_op  # the reference engine's primitive

    _registry[op.name] = op
    add_user_op(op)
    return op


def unregister(name: str) -> None:
    """Forget a registered user op (a run that registered it does when it ends)."""
    from gradcheck.adapters.reference import remove_user_op

    if _registry.pop(name, None) is not None:
        remove_user_op(name)


def _describe(op: OpSpec) -> str:
    return op.source or repr(op.fn)


def user_ops() -> dict[str, OpSpec]:
    """The registered user ops by name, in registration order."""
    return dict(_registry)


@functools.cache  # the catalog never changes
def in_place_forms() -> dict[str, OpSpec]:
    """In-place op name ("add_") -> the catalog record that declares it (`OpSpec.inplace`)."""
    return {spec.inplace: spec for spec in _catalog().values() if spec.inplace}


def spec_of(name: str) -> OpSpec:
    """The catalog op, in-place form of one (its record: same shapes, kinks, domains) or
    registered user op called `name` (KeyError if none)."""
    spec = _catalog().get(name) or in_place_forms().get(name) or _registry.get(name)
    if spec is None:
        raise KeyError(f"unknown op {name!r}: neither a catalog op nor a registered user op")
    return spec


def is_user_op(name: str) -> bool:
    return name in _registry


def known(name: str) -> bool:
    return name in _catalog() or name in in_place_forms() or name in _registry


def has_op(adapter: Any, name: str) -> bool:
    """Whether graphs with `name` run on `adapter`: its own op, or a user op's fn."""
    return name in adapter.ops or name in _registry


def implementation(adapter: Any, name: str) -> Callable[..., Any]:
    """What runs op `name` on `adapter`: its own `ops[name]`, else a user op's `fn`."""
    if name in adapter.ops:
        return adapter.ops[name]
    if name in _registry:
        return _registry[name].fn
    raise KeyError(f"adapter {adapter.name!r} lacks op {name!r}")


def limitation(adapter: Any, op: str, capability: str, dtype: str) -> str | None:
    """Why `op` lacks `capability` at `dtype`: declared by the user op, else by the adapter."""
    spec = _registry.get(op)
    if spec is not None and capability in spec.lacks:
        return f"user op {op!r} lacks {capability!r} (declared by gradcheck.Op(lacks=...))"
    return adapter.limitation(op, capability, dtype)


def no_reference(name: str) -> str | None:
    """Why the reference engine cannot compute user op `name` (None when it can)."""
    spec = _registry.get(name)
    if spec is None or spec.reference is not None:
        return None
    return (
        f"{name} has no numpy reference (gradcheck.Op(reference=...)): its gradients are "
        "checked by finite_difference, adjoint, higher_order and invariants"
    )


def without_second_order(ops: Iterable[str]) -> str | None:
    """Why the reference has no second derivatives of a graph of `ops` (None: it has)."""
    for op in dict.fromkeys(ops):
        if op in _registry:
            return no_reference(op) or (
                f"the reference differentiates user op {op} by differences, once: its "
                "second derivatives are checked against differences of gradients (float64)"
            )
    return None


def reference_factor(ops: Iterable[str], dtype: str) -> float:
    """The tolerance factor for gradients compared with the reference's, where it
    differentiates a user op numerically (float64 only)."""
    numerical = any(name in _registry for name in ops)
    return REFERENCE_DIFFERENCES_FACTOR if numerical and dtype == "float64" else 1.0
