"""Finding adapters: by entry-point name (group `gradcheck.adapters`) or `module:attr`.

Importing this package imports no engine; an engine is imported when its adapter loads.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from gradcheck.adapters.base import (
    CAPABILITIES,
    DTYPES,
    REQUIRED_MEMBERS,
    AdapterBase,
    AdapterError,
    as_adapter,
)

ENTRY_POINT_GROUP = "gradcheck.adapters"

__all__ = [
    "AdapterBase",
    "AdapterError",
    "ENTRY_POINT_GROUP",
    "available_adapters",
    "load_adapter",
    "validate_adapter",
]


@functools.cache
def _registered() -> dict[str, EntryPoint]:
    """The `gradcheck.adapters` entry points by name, read once per process (reading
    package metadata costs about a millisecond a call)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_adapters() -> list[str]:
    """Names registered in the `gradcheck.adapters` entry-point group (and the built-in
    ones), sorted."""
    return sorted({*_registered(), *BUILT_IN})


def load_adapter(spec: str) -> AdapterBase:
    """The adapter named `spec`: an entry-point name or `module:attr`, as an `AdapterBase`
    whose `spec` is `spec` (the object found is never modified).

    `attr` may be an adapter object, a class or a zero-argument factory.
    Raises `AdapterError` (one line saying what is wrong and how to fix it).
    """
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        obj = _load_attr(module_name, attr, spec)
    else:
        obj = _load_entry_point(spec)
    if isinstance(obj, type) or (callable(obj) and missing_members(obj)):
        obj = _instantiate(obj, spec)
    return validate_adapter(obj, spec)


def missing_members(obj: Any) -> list[str]:
    """Required protocol members `obj` lacks (on an AdapterBase: not set or overridden)."""
    if not isinstance(obj, AdapterBase):
        return [m for m in REQUIRED_MEMBERS if not hasattr(obj, m)]
    return [m for m in REQUIRED_MEMBERS if not _defines(obj, m)]


def _defines(adapter: AdapterBase, member: str) -> bool:
    if member in vars(adapter):  # set on the instance (a wrapped protocol object's members)
        return True
    inherited = getattr(type(adapter), member)
    return inherited is not getattr(AdapterBase, member) and inherited != ""


def validate_adapter(obj: Any, spec: str | None = None) -> AdapterBase:
    """`obj` as an AdapterBase (with `spec` recorded) if it satisfies the adapter
    protocol, else `AdapterError` saying what is wrong."""
    where = f"adapter {spec!r}" if spec else f"adapter object {type(obj).__name__}"
    missing = missing_members(obj)
    if missing:
        raise AdapterError(
            f"{where} is missing protocol members {', '.join(missing)}; "
            "add them (see gradcheck.adapters.base.AdapterBase)"
        )
    adapter = as_adapter(obj, spec)
    problems = [
        *_check_choices("dtypes", adapter.dtypes, DTYPES),
        *_check_choices("capabilities", adapter.capabilities, CAPABILITIES),
        *_check_devices(adapter.devices),
    ]
    methods = ("asarray", "to_numpy", "vjp")
    not_callable = [m for m in methods if not callable(getattr(adapter, m))]
    if not_callable:
        problems.append(f"{', '.join(not_callable)} must be callable")
    if not isinstance(adapter.ops, Mapping):
        problems.append(f"ops must be a mapping of op name to callable, got {_kind(adapter.ops)}")
    for capability, method in (("jvp", "jvp"), ("batched", "batched_vjp")):
        if capability in adapter.capabilities and not _defines(adapter, method):
            problems.append(f"capability {capability!r} is declared but there is no {method}")
    problems += _check_conventions(adapter.conventions)
    cap = adapter.max_examples
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        problems.append(f"max_examples must be None or a positive int, got {cap!r}")
    if problems:
        raise AdapterError(f"{where} is invalid: {'; '.join(problems)}")
    return adapter


def _check_conventions(conventions: Any) -> list[str]:
    """Each declared subgradient must be one of the valid choices at that op's kink."""
    from reference_engine.conventions import validate  # numpy only; lazily all the same

    if not isinstance(conventions, Mapping):
        return [f"conventions must be a mapping of op name to choice, got {_kind(conventions)}"]
    try:
        validate(conventions)
    except ValueError as error:
        return [f"conventions: {error} (see docs/writing-an-adapter.md)"]
    return []


def _check_choices(member: str, values: Any, allowed: Sequence[str]) -> list[str]:
    if isinstance(values, str) or not isinstance(values, (Sequence, set, frozenset)):
        return [f"{member} must be a collection of names from {', '.join(allowed)}, got {values!r}"]
    unknown = [v for v in values if v not in allowed]
    if unknown:
        return [f"{member} has unknown values {unknown!r} (allowed: {', '.join(allowed)})"]
    return []


def _check_devices(devices: Any) -> list[str]:
    if (
        isinstance(devices, str)
        or not isinstance(devices, Sequence)
        or not devices
        or not all(isinstance(d, str) and d for d in devices)
    ):
        return [
            f"devices must be a non-empty sequence of device names like ('cpu',), got {devices!r}"
        ]
    return []


# The adapters shipped with gradcheck, found also in a checkout that is not pip-installed
# (no entry-point metadata there).
BUILT_IN = {
    "reference": "gradcheck.adapters.reference:adapter",
    "torch": "gradcheck.adapters.torch:adapter",
    "torch-compile": "gradcheck.adapters.torch_compile:adapter",
    "torch-compile-inductor": "gradcheck.adapters.torch_compile:inductor_adapter",
    "jax": "gradcheck.adapters.jax:adapter",
}


def _load_entry_point(name: str) -> Any:
    entry = _registered().get(name)
    if entry is None and name in BUILT_IN:
        entry = EntryPoint(name, BUILT_IN[name], ENTRY_POINT_GROUP)
    if entry is None:
        names = ", ".join(available_adapters()) or "none"
        raise AdapterError(
            f"unknown adapter {name!r}; registered adapters: {names}; "
            "or pass 'module:attr' naming an adapter object, class or factory"
        )
    try:
        return entry.load()
    except ModuleNotFoundError as error:  # its engine is not installed
        raise AdapterError(
            f"cannot load adapter {name!r}: {_one_line(error)}; install it "
            f"(pip install {(error.name or 'its engine').split('.')[0]})"
        ) from error
    except Exception as error:  # an engine's import can fail in any way
        raise AdapterError(
            f"cannot load adapter {name!r} ({entry.value}): {_one_line(error)}; "
            "is its engine installed?"
        ) from error


def _load_attr(module_name: str, attr: str, spec: str) -> Any:
    if not module_name or not attr:
        raise AdapterError(f"bad adapter spec {spec!r}; write it as 'package.module:attr'")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as error:  # the user's module may fail in any way
        raise AdapterError(
            f"cannot import module {module_name!r} for adapter {spec!r}: {_one_line(error)}"
        ) from error
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise AdapterError(
                f"module {module_name!r} has no attribute {attr!r}; "
                f"check the name after ':' in {spec!r}"
            )
        obj = getattr(obj, part)
    return obj


def _instantiate(factory: Any, spec: str) -> Any:
    try:
        return factory()
    except Exception as error:
        raise AdapterError(
            f"creating adapter {spec!r} by calling {_kind(factory)}() failed: "
            f"{_one_line(error)}; it must be callable with no arguments"
        ) from error


def _one_line(error: BaseException) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())


def _kind(obj: Any) -> str:
    return getattr(obj, "__qualname__", type(obj).__name__)
