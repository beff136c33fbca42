"""User ops: a project's own differentiable functions (a custom torch.autograd.Function,
a fused kernel with a hand-written backward) in the random graphs and the whole suite,
composed with catalog ops. docs/testing-your-own-ops.md is the guide.

A user op is an `OpSpec` like a catalog op, built and validated by `Op`, with `fn` (what
runs it on an adapter that lacks it), an optional numpy `reference` and `source` (fn's
import path: `source_imports` writes the lines a repro script imports it with).
`gradcheck.ops.registry` makes its name known.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from gradcheck.ops.spec import (
    REAL,
    Domain,
    Draw,
    Interval,
    Kink,
    OpSpec,
    Sample,
    Shape,
    fixed,
    no_attrs,
    same_bounds,
    same_shape,
    samples,
)

USER_FAMILY = "user"
DTYPES = ("float64", "float32", "float16", "bfloat16")
LACKABLE = ("jvp", "higher_order")  # what an op's fn may lack (Op(lacks=...))
NAME = re.compile(r"[A-Za-z_][\w.-]*")  # usable in test ids, xfail ids and comma lists


def Op(
    name: str,
    fn: Callable[..., Any],
    *,
    arity: int | tuple[int, int] = 1,
    shape: Callable[[Sequence[Shape], dict], Shape] | None = None,
    bounds: Callable[[Sequence[Interval], Sequence[Shape], dict], Interval]
    | Interval
    | None = None,
    domains: Domain | Sequence[Domain] = (REAL,),
    attrs: Callable[[Draw, Sequence[Shape], Sequence[Interval]], dict]
    | Mapping[str, Any]
    | None = None,
    min_ndim: int = 0,
    min_side: int = 0,
    partner_fits: Callable[[Shape, Shape], bool] | None = None,
    draw_partner: Callable[[Draw, Shape], Shape] | None = None,
    kink: Kink | None = None,
    samples: Sequence[Sample | tuple] = (),
    reference: Callable[..., Any] | None = None,
    lacks: Iterable[str] = (),
    family: str = USER_FAMILY,
    signature: str | None = None,
    tolerance: Mapping[str, float] | None = None,
    note: str = "",
) -> OpSpec:
    """A user op: `fn(*tensors, **attrs) -> tensor` on the adapter's tensors.

    shape: output shape from (input shapes, attrs); default: input 0's. bounds: an
    interval (lo, hi) or a function (input intervals, shapes, attrs) -> (lo, hi) that
    bounds every output element; default: the hull of the inputs' intervals, which is
    wrong for an op whose results leave its inputs' range (exp, a layer norm): give
    bounds for those. attrs: a `draw_attrs(draw, shapes, intervals) -> dict`, or a dict
    of hypothesis strategies (one keyword each). partner_fits/draw_partner: the shapes of
    inputs 1.. (default: input 0's shape). reference: numpy forward
    `reference(*float64 arrays, **attrs) -> array`, the truth of `forward` and `vjp`.
    lacks: "jvp" and/or "higher_order", capabilities fn has not (checks of them skip).
    The rest as in `OpSpec`. Raises TypeError or ValueError naming the bad argument.
    """
    where = f"Op({name!r})"
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(f"Op(name={name!r}): a name is letters, digits, _ . - (not first)")
    from gradcheck.ops import CATALOG  # late: gradcheck.ops imports this module

    if name in CATALOG:
        raise ValueError(f"{where}: {name!r} is a catalog op; give your op another name")
    _callable(where, "fn", fn)
    low, high = _arity(where, arity)
    for label, value in (("min_ndim", min_ndim), ("min_side", min_side)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 4:
            raise ValueError(f"{where}: {label}={value!r} must be an int in 0..4")
    if (partner_fits is None) != (draw_partner is None):
        raise ValueError(f"{where}: give partner_fits and draw_partner together, or neither")
    for label, value in (
        ("shape", shape),
        ("partner_fits", partner_fits),
        ("draw_partner", draw_partner),
        ("reference", reference),
    ):
        if value is not None:
            _callable(where, label, value)
    if kink is not None and not isinstance(kink, Kink):
        raise TypeError(f"{where}: kink={kink!r} must be a gradcheck.ops.spec.Kink or None")
    missing = sorted(set(lacks) - set(LACKABLE))
    if isinstance(lacks, str) or missing:
        raise ValueError(f"{where}: lacks={lacks!r} must name some of {', '.join(LACKABLE)}")
    if not isinstance(family, str) or not NAME.fullmatch(family):
        raise ValueError(f"{where}: family={family!r} must be a name like 'normalization'")
    draw_attrs, attr_names = _attrs(where, attrs)
    return OpSpec(
        name=name,
        family=family,
        shape=shape or same_shape,
        bounds=_bounds(where, bounds),
        draw_attrs=draw_attrs,
        arity=(low, high),
        domains=_domains(where, domains),
        min_ndim=min_ndim,
        min_side=min_side,
        partner_fits=partner_fits or (lambda first, other: tuple(other) == tuple(first)),
        draw_partner=draw_partner or (lambda draw, first: tuple(first)),
        # The reference cannot know which subgradient an engine takes at a user op's kink:
        # examples on it are inconclusive, never compared (Kink.defined).
        kink=None if kink is None else replace(kink, defined=False),
        samples=_samples(where, samples),
        signature=signature or _signature(low, high, attr_names),
        note=note,
        tolerance=_tolerance(where, tolerance),
        fn=fn,
        reference=reference,
        source=import_path(fn),
        lacks=frozenset(lacks),
    )


# ---- argument checks -----------------------------------------------------------------------


def _callable(where: str, label: str, value: Any) -> None:
    if not callable(value):
        raise TypeError(f"{where}: {label}={value!r} must be callable")


def _arity(where: str, arity: Any) -> tuple[int, int]:
    pair = (arity, arity) if isinstance(arity, int) else arity
    ok = (
        isinstance(pair, tuple)
        and len(pair) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in pair)
        and 1 <= pair[0] <= pair[1]
    )
    if not ok:
        raise ValueError(f"{where}: arity={arity!r} must be an int >= 1 or (min, max)")
    return pair


def _bounds(where: str, bounds: Any) -> Callable:
    if bounds is None:
        return same_bounds
    if callable(bounds):
        return bounds
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        lo, hi = 1.0, 0.0
    if not lo <= hi:
        raise ValueError(f"{where}: bounds={bounds!r} must be (lo, hi), lo <= hi, or callable")
    return fixed(lo, hi)


def _domains(where: str, domains: Any) -> tuple[Domain, ...]:
    found = (domains,) if isinstance(domains, Domain) else tuple(domains)
    if not found or not all(isinstance(d, Domain) for d in found):
        raise TypeError(f"{where}: domains={domains!r} must be a Domain or a sequence of them")
    return found


def _attrs(where: str, attrs: Any) -> tuple[Callable, list[str]]:
    """(draw_attrs, attr names where known) from a callable or a dict of strategies."""
    if attrs is None:
        return no_attrs, []
    if callable(attrs):
        return attrs, []
    from hypothesis.strategies import SearchStrategy

    if not isinstance(attrs, Mapping) or not all(
        isinstance(k, str) and k.isidentifier() and isinstance(s, SearchStrategy)
        for k, s in attrs.items()
    ):
        raise TypeError(
            f"{where}: attrs must be draw_attrs(draw, shapes, intervals) -> dict or a dict "
            f"of keyword -> hypothesis strategy, got {attrs!r}"
        )
    strategies = dict(attrs)

    def draw_attrs(draw: Draw, shapes: Sequence[Shape], intervals: Sequence[Interval]) -> dict:
        return {key: draw(strategy) for key, strategy in strategies.items()}

    return draw_attrs, list(strategies)


def _samples(where: str, given: Sequence[Any]) -> tuple[Sample, ...]:
    try:
        return tuple(s if isinstance(s, Sample) else samples(s)[0] for s in given)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{where}: samples must be Sample records or (inputs, attrs) pairs ({error})"
        ) from None


def _tolerance(where: str, tolerance: Mapping[str, float] | None) -> dict[str, float]:
    table = dict(tolerance or {})
    bad = [k for k, v in table.items() if k not in DTYPES or not isinstance(v, (int, float))]
    if bad or not all(v > 0 for v in table.values()):
        raise ValueError(f"{where}: tolerance={tolerance!r} maps dtype names to factors > 0")
    return table


def _signature(low: int, high: int, attr_names: list[str]) -> str:
    inputs = ["*xs"] if high > 3 or low != high else ["x", "y", "z"][:high]
    return "(" + ", ".join(inputs + [f"{a}=..." for a in attr_names]) + ")"


def import_path(fn: Callable[..., Any]) -> str | None:
    """fn as "module:qualname" when importing that gives fn back (a module-level function,
    a class's `Function.apply`); None for a lambda, a local function, a __main__ one."""
    owner = getattr(fn, "__self__", None)
    if inspect.ismethod(fn) and inspect.isclass(owner):  # a classmethod: Function.apply
        module, qualname = owner.__module__, f"{owner.__qualname__}.{fn.__name__}"
    else:
        module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    if not module or not qualname or module == "__main__" or "<" in qualname:
        return None
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except Exception:  # noqa: BLE001 - any import problem means: not importable
        return None
    return f"{module}:{qualname}" if found is fn or found == fn else None


# Names a repro script defines: an imported user function must not shadow them.
SCRIPT_NAMES = {"np", "torch", "engine", "sys", "fn", "ops", "adapter", "leaves", "cotangents",
                "tangents", "asarray", "to_numpy", "vjp", "jvp", "DTYPE", "DEVICE", "layouts",
                "leaf_tensors", "asarray_with_layout"}  # fmt: skip


def source_imports(ops: Iterable[OpSpec]) -> tuple[dict[str, str], list[str], list[str]]:
    """How a repro script calls user ops by their fn: (op -> the expression naming fn,
    the import lines, the ops whose fn cannot be imported)."""
    calls: dict[str, str] = {}
    imports: list[str] = []
    lost: list[str] = []
    for spec in ops:
        if spec.source is None:
            lost.append(spec.name)
            continue
        module, qualname = spec.source.split(":")
        head, _, rest = qualname.partition(".")
        alias = f"user_{head}" if head in SCRIPT_NAMES or re.fullmatch(r"v\d+", head) else head
        root = import_root(module)
        if root is not None:  # not installed: where this run found it
            where = f"  # where {module.split('.')[0]} was imported from"
            imports += ["import sys", f"sys.path.insert(0, {root!r}){where}"]
        imports.append(f"from {module} import {head}" + (f" as {alias}" if alias != head else ""))
        calls[spec.name] = alias + (f".{rest}" if rest else "")
    return calls, list(dict.fromkeys(imports)), lost


def import_root(module: str) -> str | None:
    """The directory to put on sys.path to import `module`; None when it is installed."""
    top = sys.modules.get(module.split(".")[0])
    file = getattr(top, "__file__", None)
    if not file:
        return None
    path = Path(file).resolve()
    root = path.parent.parent if path.name == "__init__.py" else path.parent
    if {"site-packages", "dist-packages"} & set(root.parts):
        return None
    return str(root)
