"""Python source for values: what repro scripts and a Graph's repr are written with."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


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


class Name(str):
    """A variable name that `python_literal` writes bare (not quoted)."""

    def __repr__(self) -> str:
        return str(self)
