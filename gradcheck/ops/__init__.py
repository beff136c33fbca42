"""The op catalog: one `OpSpec` per op of docs/architecture.md, in `CATALOG`.

Adding an op = one OpSpec in the family's module, one reference primitive, one line
per adapter. `CATALOG` keeps the families' order: simpler ops first, which is the
order the graph generator shrinks towards.
"""

from __future__ import annotations

from gradcheck.ops import elementwise, reductions, shape
from gradcheck.ops.spec import LIMIT, REAL, Domain, Interval, OpSpec, Shape

CATALOG: dict[str, OpSpec] = {
    spec.name: spec for spec in [*elementwise.OPS, *reductions.OPS, *shape.OPS]
}

__all__ = ["CATALOG", "LIMIT", "REAL", "Domain", "Interval", "OpSpec", "Shape"]
