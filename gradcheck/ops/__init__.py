"""The op catalog: one `OpSpec` per op, in `CATALOG`; everything that lists ops derives
from it (the suite's tests, the docs' op table, the conventions cases).

Adding an op = one OpSpec in the family's module, one reference primitive, one line
per adapter. `CATALOG` keeps the families' order: simpler ops first, which is the
order the graph generator shrinks towards. `python -m gradcheck.ops` prints the op
table of docs/architecture.md. User ops (`Op` in user.py, `register` in registry.py) are
not in it: `spec_of(name)` finds either kind.
"""

from __future__ import annotations

from gradcheck.ops import (
    activations,
    decompositions,
    elementwise,
    layers,
    layout,
    linalg,
    losses,
    pointwise,
    reductions,
    scatter,
    shape,
    writes,
)
from gradcheck.ops.registry import register, spec_of, unregister, user_ops
from gradcheck.ops.spec import LIMIT, REAL, Domain, Interval, OpSpec, Shape, Structure
from gradcheck.ops.user import Op

CATALOG: dict[str, OpSpec] = {
    spec.name: spec
    for spec in [
        *elementwise.OPS,
        *activations.OPS,
        *pointwise.OPS,
        *reductions.OPS,
        *shape.OPS,
        *scatter.OPS,
        *writes.OPS,
        *layout.OPS,
        *losses.OPS,
        *layers.OPS,
        *linalg.OPS,
        *decompositions.OPS,
    ]
}


def catalog_table(catalog: dict[str, OpSpec] = CATALOG) -> str:
    """The op table of docs/architecture.md, one row per op in catalog order (an op's
    in-place form is in its note, not a row of its own)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    rows = [
        "| op | family | at its kinks (torch's convention) | note |",
        "| --- | --- | --- | --- |",
    ]
    for spec in catalog.values():
        kink = spec.kink.convention if spec.kink else ""
        note = "; ".join(filter(None, [spec.note, spec.inplace and f"in place: `{spec.inplace}`"]))
        rows.append(
            f"| `{cell(spec.name + spec.signature)}` | {spec.family} | {cell(kink)} "
            f"| {cell(note)} |"
        )
    return "\n".join(rows) + "\n"


__all__ = [
    "CATALOG",
    "LIMIT",
    "REAL",
    "Domain",
    "Interval",
    "Op",
    "OpSpec",
    "Shape",
    "Structure",
    "catalog_table",
    "register",
    "spec_of",
    "unregister",
    "user_ops",
]
