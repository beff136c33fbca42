"""The `semantics` oracle: imperative autograd behaviour, for adapters whose tensors follow
torch's imperative API (capability "imperative": `.backward(gradient)`, `.grad`,
`.retain_grad()`, `.detach()`, `.requires_grad`, and an adapter-level `no_grad()`).

Expected values are hand-derived closed forms, never the reference engine's output.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from gradcheck.errors import GradcheckFailure, Unsupported


class _Case:
    def __init__(self, name: str, adapter: Any, device: str) -> None:
        self.name, self.adapter, self.device, self.ops = name, adapter, device, adapter.ops

    def tensor(self, values: list[float], requires_grad: bool = False) -> Any:
        return self.adapter.asarray(np.array(values), "float64", self.device, requires_grad)

    def numpy(self, x: Any) -> np.ndarray | None:
        return None if x is None else np.asarray(self.adapter.to_numpy(x))

    def expect(self, condition: bool, message: str) -> None:
        if not condition:
            raise GradcheckFailure("semantics", f"{self.name}: {message}")

    def expect_grad(self, x: Any, want: np.ndarray, what: str) -> None:
        got = self.numpy(x.grad)
        self.expect(got is not None, f"{what}.grad is None after backward")
        self.expect(
            np.allclose(got, want, rtol=1e-12, atol=0), f"{what}.grad is {got}, expected {want}"
        )


def retain_grad(c: _Case) -> None:
    """The seed: b = a^3, b.retain_grad(), sum(b^2).backward(): b.grad = 2b, a.grad = 6ba^2."""
    a = c.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = c.ops["pow_scalar"](a, exponent=3.0)
    b.retain_grad()
    h = c.ops["pow_scalar"](b, exponent=2.0)
    c.ops["sum"](h, dim=None, keepdim=False).backward()
    av = np.array([1.0, 2.0, 3.0])
    c.expect_grad(b, 2 * av**3, "b (retain_grad)")
    c.expect_grad(a, 6 * av**3 * av**2, "a")
    with warnings.catch_warnings():  # torch warns on purpose when a non-leaf's .grad is read
        warnings.simplefilter("ignore")
        c.expect(h.grad is None, "a non-leaf's .grad is not None without retain_grad()")


def accumulation(c: _Case) -> None:
    """Two backward calls into one leaf add up: grad of 3x then of x^2 is 3 + 2x."""
    x = c.tensor([0.5, -1.5], requires_grad=True)
    c.ops["sum"](c.ops["mul"](x, c.tensor([3.0, 3.0])), dim=None, keepdim=False).backward()
    c.ops["sum"](c.ops["square"](x), dim=None, keepdim=False).backward()
    c.expect_grad(x, 3 + 2 * np.array([0.5, -1.5]), "x (accumulated)")


def no_grad(c: _Case) -> None:
    x = c.tensor([1.0, 2.0], requires_grad=True)
    with c.adapter.no_grad():
        y = c.ops["exp"](x)
    c.expect(not y.requires_grad, "a result computed under no_grad() requires grad")


def detach(c: _Case) -> None:
    """d/dx sum(x * detach(x)) = detach(x): no gradient flows through the detached copy."""
    x = c.tensor([1.5, -2.0], requires_grad=True)
    d = x.detach()
    c.expect(not d.requires_grad, "x.detach() requires grad")
    c.ops["sum"](c.ops["mul"](x, d), dim=None, keepdim=False).backward()
    c.expect_grad(x, np.array([1.5, -2.0]), "x")


def requires_grad_propagation(c: _Case) -> None:
    x, k = c.tensor([1.0], requires_grad=True), c.tensor([2.0])
    c.expect(c.ops["add"](x, k).requires_grad, "x + k does not require grad when x does")
    c.expect(not c.ops["add"](k, k).requires_grad, "k + k requires grad when k does not")


def backward_on_non_scalar(c: _Case) -> None:
    y = c.ops["mul"](c.tensor([1.0, 2.0], requires_grad=True), c.tensor([3.0, 4.0]))
    try:
        y.backward()
    except Exception:  # any clear error will do; what matters is that it is not silent
        return
    c.expect(False, "backward() on a non-scalar output without a gradient did not raise")


SEMANTICS_CASES: dict[str, Callable[[_Case], None]] = {
    f.__name__: f
    for f in (
        retain_grad,
        accumulation,
        no_grad,
        detach,
        requires_grad_propagation,
        backward_on_non_scalar,
    )
}


def run_semantics(name: str, adapter: Any, *, device: str = "cpu") -> None:
    if "imperative" not in adapter.capabilities:
        raise Unsupported(f"adapter {adapter.name!r} lacks capability 'imperative'")
    if "float64" not in adapter.dtypes:
        raise Unsupported(f"adapter {adapter.name!r} has no float64 for the semantics cases")
    case = _Case(name, adapter, device)
    try:
        SEMANTICS_CASES[name](case)
    except (GradcheckFailure, Unsupported):
        raise
    except Exception as error:  # adapter code raised where torch's API would not
        raise GradcheckFailure(
            "semantics", f"{name}: the adapter raised {type(error).__name__}: {error}"
        ) from error
