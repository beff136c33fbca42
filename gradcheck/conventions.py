"""The `conventions` oracle: values and gradients exactly at kinks and ties.

Each case puts an op's input on its kink (relu at 0, a tie in a max, x on a clamp
bound, ...). The adapter's forward and VJP must equal the reference engine's, whose
convention table (reference_engine.conventions) matches torch and is tested against it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradcheck import numerics
from gradcheck.errors import GradcheckFailure, Unsupported
from gradcheck.localize import run_one_op
from gradcheck.runs import reference

_KINK = np.array([-1.5, 0.0, 0.0, 2.0])
_TIES = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])

CONVENTION_CASES: dict[str, list[tuple[tuple[np.ndarray, ...], dict[str, Any]]]] = {
    "relu": [((_KINK,), {})],
    "abs": [((_KINK,), {})],
    "sign": [((_KINK,), {})],
    "sqrt": [((np.array([0.0, 4.0]),), {})],
    "clamp": [((np.array([-1.0, -0.5, 0.0, 0.5, 1.0]),), {"min": -0.5, "max": 0.5})],
    "maximum": [((np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0])), {})],
    "minimum": [((np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0])), {})],
    "max": [((_TIES,), {})],
    "min": [((-_TIES,), {})],
    "amax": [((_TIES,), {"dim": 1, "keepdim": False}), ((_TIES,), {"dim": None, "keepdim": True})],
    "amin": [
        ((-_TIES,), {"dim": 0, "keepdim": True}),
        ((-_TIES,), {"dim": (0, 1), "keepdim": False}),
    ],
    "norm": [((np.zeros(3),), {"dim": None, "keepdim": False})],
    "std": [((np.full(4, 1.5),), {"dim": None, "correction": 1, "keepdim": False})],
    "pow_scalar": [((np.array([0.0, 2.0]),), {"exponent": 0.0}),
                   ((np.array([0.0, 2.0]),), {"exponent": 2.0})],
    "pow": [((np.array([0.0, 2.0]), np.array([2.0, 0.5])), {})],
    "prod": [((np.array([2.0, 0.0, 3.0]),), {"dim": None, "keepdim": False}),
             ((np.array([0.0, 0.0, 3.0]),), {"dim": None, "keepdim": False})],
    "cumprod": [((np.array([2.0, 0.0, 3.0, 0.5]),), {"dim": 0}),
                ((np.array([0.0, 0.0, 3.0]),), {"dim": 0})],
}  # fmt: skip


def run_conventions(op: str, adapter: Any, *, device: str = "cpu") -> None:
    """Every kink case of `op`: forward and VJP equal the reference's, in float64."""
    if op not in adapter.ops:
        raise Unsupported(f"adapter {adapter.name!r} lacks op {op!r}")
    if "float64" not in adapter.dtypes:
        raise Unsupported(f"adapter {adapter.name!r} has no float64 for the kink cases")
    for inputs, attrs in CONVENTION_CASES[op]:
        want = run_one_op("conventions", reference(), op, attrs, list(inputs), "float64", "cpu")
        got = run_one_op("conventions", adapter, op, attrs, list(inputs), "float64", device)
        what = ["output", *(f"gradient of input {i}" for i in range(len(inputs)))]
        for name, g, w in zip(what, [got[0], *got[1]], [want[0], *want[1]], strict=True):
            result = numerics.compare(g, w, "float64")
            if not result.ok:
                args = ", ".join(np.array2string(x, separator=", ") for x in inputs)
                raise GradcheckFailure(
                    "conventions",
                    f"{op}({args}, {attrs}): {name} {result.describe()}",
                    op=op,
                )
