"""What a check can conclude besides passing, and safe calls into adapter code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class GradcheckFailure(AssertionError):
    """An adapter disagrees with the truth. The message names the check, the op nearest
    the disagreement and the worst element; `repro` is a standalone script."""

    def __init__(
        self, check: str, message: str, *, op: str | None = None, repro: str | None = None
    ) -> None:
        self.check, self.op, self.repro, self.summary = check, op, repro, message
        where = f" at op {op!r}" if op else ""
        text = f"[{check}]{where} {message}"
        if repro:
            text += "\n\n--- repro script ---\n" + repro
        super().__init__(text)


class Inconclusive(Exception):
    """This example proves nothing (a kink crossed, a noisy estimate): count it, pass it."""


class GradcheckInconclusive(Inconclusive):
    """`check_function` could not decide `check` (a nondeterministic fn, a difference
    estimate too noisy to resolve the gradient): `reason` says why. Raised unless
    `allow_inconclusive=True`, so that a test never passes having checked nothing."""

    def __init__(self, check: str, reason: str) -> None:
        self.check, self.reason = check, reason
        super().__init__(f"[{check}] inconclusive: {reason}")


class Unsupported(Exception):
    """The adapter lacks an op, dtype, device or capability the check needs: skip, report."""


def call_adapter(check: str, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call adapter code; anything it raises becomes a classified failure of `check`."""
    try:
        return fn(*args, **kwargs)
    except (GradcheckFailure, Inconclusive, Unsupported):
        raise
    except Exception as error:  # the adapter is under test: any exception is its failure
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise GradcheckFailure(
            check, f"the adapter raised {type(error).__name__} in {what}: {message}"
        ) from error


def to_host(check: str, adapter: Any, value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """A float64 numpy copy of an adapter tensor, checked to exist and to have `shape`."""
    if value is None:
        raise GradcheckFailure(check, f"the adapter returned None for {what}")
    array = np.asarray(call_adapter(check, f"to_numpy({what})", adapter.to_numpy, value))
    if array.shape != tuple(shape):
        raise GradcheckFailure(check, f"{what} has shape {array.shape}, expected {tuple(shape)}")
    return array.astype(np.float64)
