"""gradcheck: a verification and property-testing suite for autograd engines."""

from typing import Any

from gradcheck.errors import GradcheckFailure, GradcheckInconclusive, Inconclusive, Unsupported

__all__ = [
    "FunctionReport",
    "GradcheckFailure",
    "GradcheckInconclusive",
    "Inconclusive",
    "Op",
    "Unsupported",
    "check_function",
]


def __getattr__(name: str) -> Any:
    # Imported on first use: the pytest plugin imports this package in every pytest run.
    if name in ("check_function", "FunctionReport"):
        from gradcheck import api

        return getattr(api, name)
    if name == "Op":  # a user op: docs/testing-your-own-ops.md
        from gradcheck.ops.user import Op

        return Op
    raise AttributeError(f"module 'gradcheck' has no attribute {name!r}")
