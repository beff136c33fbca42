"""The `semantics` oracle: imperative autograd behaviour, for adapters whose tensors follow
torch's imperative API (capability "imperative": `.backward(gradient, retain_graph)`,
`.grad`, `.retain_grad()`, `.detach()`, `.requires_grad`, an adapter-level `no_grad()`,
and the in-place and view methods of `VIEW_METHODS`, whose writes share memory as torch's).

Expected values are hand-derived closed forms, never the reference engine's output. A
case that needs an op or a tensor method the adapter lacks raises Unsupported (skipped,
with the reason), never passes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from gradcheck.errors import GradcheckFailure, Unsupported

#: The tensor methods the view and in-place cases call (besides `.backward`, `.grad`, ...):
#: slicing (a view sharing memory), `x[index] = value`, and torch's in-place methods, which
#: take a Python float or a tensor.
VIEW_METHODS = (
    "__getitem__", "__setitem__", "clone", "diagonal",
    "add_", "mul_", "copy_", "fill_", "zero_",
)  # fmt: skip


def _line(values: Any) -> str:
    return "None" if values is None else str(np.asarray(values).tolist())  # one line


class _Ops(dict):
    """adapter.ops; an op the adapter lacks makes the case not applicable."""

    def __init__(self, ops: Any, case: str) -> None:
        super().__init__(ops)
        self.case = case

    def __missing__(self, name: str) -> Any:
        raise Unsupported(f"{self.case}: the adapter has no op {name!r}")


class _Case:
    def __init__(self, name: str, adapter: Any, device: str) -> None:
        self.name, self.adapter, self.device = name, adapter, device
        self.ops = _Ops(adapter.ops, name)

    def tensor(self, values: Any, requires_grad: bool = False) -> Any:
        return self.adapter.asarray(np.array(values), "float64", self.device, requires_grad)

    def numpy(self, x: Any) -> np.ndarray | None:
        return None if x is None else np.asarray(self.adapter.to_numpy(x))

    def sum(self, x: Any) -> Any:
        return self.ops["sum"](x, dim=None, keepdim=False)

    def needs(self, x: Any, *methods: str) -> None:
        """Unsupported unless the adapter's tensor x has every method the case calls."""
        missing = [f".{m}" for m in methods if not callable(getattr(x, m, None))]
        if missing:
            raise Unsupported(
                f"{self.name}: the adapter's tensors have no {', '.join(missing)} "
                "(methods of the 'imperative' capability)"
            )

    def expect(self, condition: bool, message: str) -> None:
        if not condition:
            raise GradcheckFailure("semantics", f"{self.name}: {message}")

    def expect_values(self, x: Any, want: np.ndarray, what: str) -> None:
        got = self.numpy(x)
        self.expect(
            got is not None
            and got.shape == np.shape(want)
            and np.allclose(got, want, rtol=1e-12, atol=0),
            f"{what} is {_line(got)}, expected {_line(want)}",
        )

    def expect_grad(self, x: Any, want: np.ndarray, what: str) -> None:
        self.expect(x.grad is not None, f"{what}.grad is None after backward")
        self.expect_values(x.grad, want, f"{what}.grad")

    def expect_raises(self, action: Callable[[], Any], what: str) -> None:
        try:
            action()
        except Exception:  # any clear error will do; what matters is that it is not silent
            return
        self.expect(False, f"{what} did not raise")


def retain_grad(c: _Case) -> None:
    """The seed: b = a^3, b.retain_grad(), sum(b^2).backward(): b.grad = 2b, a.grad = 6ba^2."""
    a = c.tensor([1.0, 2.0, 3.0], requires_grad=True)
    c.needs(a, "retain_grad")
    b = c.ops["pow_scalar"](a, exponent=3.0)
    b.retain_grad()
    h = c.ops["pow_scalar"](b, exponent=2.0)
    c.sum(h).backward()
    av = np.array([1.0, 2.0, 3.0])
    c.expect_grad(b, 2 * av**3, "b (retain_grad)")
    c.expect_grad(a, 6 * av**3 * av**2, "a")
    with warnings.catch_warnings():  # torch warns on purpose when a non-leaf's .grad is read
        warnings.simplefilter("ignore")
        c.expect(h.grad is None, "a non-leaf's .grad is not None without retain_grad()")


def accumulation(c: _Case) -> None:
    """Two backward calls into one leaf add up: grad of 3x then of x^2 is 3 + 2x."""
    x = c.tensor([0.5, -1.5], requires_grad=True)
    c.sum(c.ops["mul"](x, c.tensor([3.0, 3.0]))).backward()
    c.sum(c.ops["square"](x)).backward()
    c.expect_grad(x, 3 + 2 * np.array([0.5, -1.5]), "x (accumulated)")


def no_grad(c: _Case) -> None:
    x = c.tensor([1.0, 2.0], requires_grad=True)
    with c.adapter.no_grad():
        y = c.ops["exp"](x)
    c.expect(not y.requires_grad, "a result computed under no_grad() requires grad")


def detach(c: _Case) -> None:
    """d/dx sum(x * detach(x)) = detach(x): no gradient flows through the detached copy."""
    x = c.tensor([1.5, -2.0], requires_grad=True)
    c.needs(x, "detach")
    d = x.detach()
    c.expect(not d.requires_grad, "x.detach() requires grad")
    c.sum(c.ops["mul"](x, d)).backward()
    c.expect_grad(x, np.array([1.5, -2.0]), "x")


def requires_grad_propagation(c: _Case) -> None:
    x, k = c.tensor([1.0], requires_grad=True), c.tensor([2.0])
    c.expect(c.ops["add"](x, k).requires_grad, "x + k does not require grad when x does")
    c.expect(not c.ops["add"](k, k).requires_grad, "k + k requires grad when k does not")


def backward_on_non_scalar(c: _Case) -> None:
    y = c.ops["mul"](c.tensor([1.0, 2.0], requires_grad=True), c.tensor([3.0, 4.0]))
    c.expect_raises(y.backward, "backward() on a non-scalar output without a gradient")


# -- views and in-place ops (VIEW_METHODS) -------------------------------------------------
def view_of_view_write(c: _Case) -> None:
    """y = x.clone(); y[1:][::2].mul_(3) triples y[1], y[3], y[5] in y itself, so the
    gradient of sum(y * w) is 3 w there and w elsewhere."""
    x0, w0 = np.array([0.5, -1.0, 2.0, 3.0, -0.25, 1.5]), np.arange(1.0, 7.0)
    x = c.tensor(x0, requires_grad=True)
    c.needs(x, "clone", "__getitem__", "mul_")
    y = x.clone()
    v = y[1:][::2]
    v.mul_(3.0)
    tripled = np.array([1.0, 3.0, 1.0, 3.0, 1.0, 3.0])
    c.expect_values(v, 3 * x0[1::2], "v = y[1:][::2] after v.mul_(3)")
    c.expect_values(y, tripled * x0, "y after y[1:][::2].mul_(3) (the write must reach y)")
    c.sum(c.ops["mul"](y, c.tensor(w0))).backward()
    c.expect_grad(x, tripled * w0, "x")


def setitem_write(c: _Case) -> None:
    """b = x.clone(); b[1:3] = u: d sum(b * w)/dx = w with 0 where overwritten, and
    d/du = w[1:3]."""
    x0, u0, w0 = np.array([1.0, -2.0, 3.0, 0.5]), np.array([10.0, -20.0]), np.arange(1.0, 5.0)
    x, u = c.tensor(x0, requires_grad=True), c.tensor(u0, requires_grad=True)
    c.needs(x, "clone", "__setitem__")
    b = x.clone()
    b[1:3] = u
    c.expect_values(b, [x0[0], *u0, x0[3]], "b after b[1:3] = u")
    c.sum(c.ops["mul"](b, c.tensor(w0))).backward()
    c.expect_grad(x, w0 * [1.0, 0.0, 0.0, 1.0], "x (b[1:3] overwritten)")
    c.expect_grad(u, w0[1:3], "u (written into b[1:3])")


def view_writes(c: _Case) -> None:
    """b = x.clone() (3 x 3); b[:, 1].copy_(u); b[0].zero_(); b.diagonal().fill_(2): only
    b[1, 0], b[1, 2], b[2, 0] keep x and only b[2, 1] keeps u, so the gradients of
    sum(b * w) are w there and 0 elsewhere."""
    x0, u0 = np.arange(1.0, 10.0).reshape(3, 3) / 4, np.array([-1.0, -2.0, -3.0])
    w0 = np.arange(11.0, 20.0).reshape(3, 3)
    x, u = c.tensor(x0, requires_grad=True), c.tensor(u0, requires_grad=True)
    c.needs(x, "clone", "__getitem__", "diagonal", "copy_", "zero_", "fill_")
    b = x.clone()
    b[:, 1].copy_(u)
    b[0].zero_()
    b.diagonal().fill_(2.0)
    keeps_x = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    want = keeps_x * x0 + np.diag([2.0, 2.0, 2.0])
    want[2, 1] = u0[2]
    c.expect_values(b, want, "b after b[:, 1].copy_(u), b[0].zero_(), b.diagonal().fill_(2)")
    c.sum(c.ops["mul"](b, c.tensor(w0))).backward()
    c.expect_grad(x, keeps_x * w0, "x")
    c.expect_grad(u, np.array([0.0, 0.0, w0[2, 1]]), "u (only u[2] is left in b)")


def base_write_after_view(c: _Case) -> None:
    """v = b[0:2] of b = x.clone(), then b.mul_(2): v reads 2 x[0:2] (shared memory), and
    the gradient of sum(v * p) + sum(b * q) is 2 q + 2 p (p on the first two)."""
    x0, p0, q0 = np.array([1.0, -2.0, 0.5]), np.array([3.0, 5.0]), np.array([7.0, 11.0, 13.0])
    x = c.tensor(x0, requires_grad=True)
    c.needs(x, "clone", "__getitem__", "mul_")
    b = x.clone()
    v = b[0:2]
    b.mul_(2.0)
    c.expect_values(v, 2 * x0[0:2], "v = b[0:2] after b.mul_(2) (v shares b's memory)")
    through_v = c.sum(c.ops["mul"](v, c.tensor(p0)))
    c.ops["add"](through_v, c.sum(c.ops["mul"](b, c.tensor(q0)))).backward()
    c.expect_grad(x, 2 * q0 + 2 * np.array([*p0, 0.0]), "x (through v and b)")


def saved_tensor_modified(c: _Case) -> None:
    """Backward must refuse a tensor it saved and an in-place op changed since: exp's output
    in y = exp(x); y.add_(1), and sin's input in a = 2x; s = sin(a); a.mul_(3)."""
    x = c.tensor([0.5, -1.0], requires_grad=True)
    c.needs(x, "add_", "mul_")
    y = c.ops["exp"](x)
    y.add_(1.0)  # allowed: only the backward that reads the old y must fail
    c.expect_raises(
        c.sum(y).backward, "backward after y = exp(x); y.add_(1) (exp's saved output changed)"
    )
    a = c.ops["mul"](x, c.tensor([2.0, 2.0]))
    s = c.ops["sin"](a)
    a.mul_(3.0)
    c.expect_raises(
        c.sum(s).backward, "backward after s = sin(a); a.mul_(3) (sin's saved input changed)"
    )


def second_backward(c: _Case) -> None:
    """A second y.backward() through y = sum(exp(x)) raises once the first freed the graph;
    after y.backward(retain_graph=True) it works and accumulates x.grad = 2 exp(x)."""
    x0 = np.array([0.5, -1.0])
    x = c.tensor(x0, requires_grad=True)
    y = c.sum(c.ops["exp"](x))
    y.backward()
    c.expect_raises(y.backward, "a second y.backward() through the freed graph of sum(exp(x))")
    x = c.tensor(x0, requires_grad=True)
    y = c.sum(c.ops["exp"](x))
    y.backward(retain_graph=True)
    y.backward()
    c.expect_grad(x, 2 * np.exp(x0), "x (after backward(retain_graph=True), then backward())")


def leaf_in_place(c: _Case) -> None:
    """x.mul_(2) on a leaf that requires grad raises and leaves x as it was; under no_grad()
    it doubles x, still a leaf: the gradient of sum(x * x) is then 2 (2 x)."""
    x0 = np.array([1.5, -0.5])
    x = c.tensor(x0, requires_grad=True)
    c.needs(x, "mul_")
    c.expect_raises(lambda: x.mul_(2.0), "x.mul_(2) on a leaf that requires grad")
    c.expect_values(x, x0, "x after the refused x.mul_(2)")
    with c.adapter.no_grad():
        x.mul_(2.0)
    c.expect_values(x, 2 * x0, "x after x.mul_(2) under no_grad()")
    c.expect(x.requires_grad, "x no longer requires grad after x.mul_(2) under no_grad()")
    c.sum(c.ops["mul"](x, x)).backward()
    c.expect_grad(x, 4 * x0, "x (doubled under no_grad())")


SEMANTICS_CASES: dict[str, Callable[[_Case], None]] = {
    f.__name__: f
    for f in (
        retain_grad,
        accumulation,
        no_grad,
        detach,
        requires_grad_propagation,
        backward_on_non_scalar,
        view_of_view_write,
        setitem_write,
        view_writes,
        base_write_after_view,
        saved_tensor_modified,
        second_backward,
        leaf_in_place,
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
