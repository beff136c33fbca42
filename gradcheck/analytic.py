"""The `analytic` oracle: closed-form gradients, written in numpy, one per op family.

The first three are the seed tutorial's: d(x^3)/dx = 3x^2 and, for b = a^3 and
error = sum(b^2), a.grad = 6 b a^2 and b.grad = 2 b.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck import numerics
from gradcheck.errors import GradcheckFailure, Unsupported, call_adapter, to_host
from gradcheck.numerics import round_to


@dataclass(frozen=True)
class ClosedForm:
    inputs: tuple[np.ndarray, ...]
    cotangent: np.ndarray
    forward: Callable[..., Any]  # (ops, *tensors) -> tensor, in catalog ops
    gradients: Callable[..., tuple[np.ndarray, ...]]  # (*inputs, cotangent) -> numpy grads
    ops: tuple[str, ...]


def _line(n: int, low: float, high: float) -> np.ndarray:
    return np.linspace(low, high, n)


_A = np.array([1.0, 2.0, 3.0])  # the seed's a
_M = _line(6, -1.2, 1.4).reshape(2, 3)
_N = _line(12, 0.7, -1.9).reshape(3, 4)
_U23 = _line(6, 0.4, -1.1).reshape(2, 3)
_X = _line(5, 0.3, 2.1)
_U5 = _line(5, -0.8, 1.3)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _scatter(u: np.ndarray, index: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n)
    np.add.at(out, index, u)
    return out


_INDEX = np.array([0, 2, 2, 4, 0, 2])
CLOSED_FORMS: dict[str, ClosedForm] = {
    "seed_cube": ClosedForm(  # y = x^3 at x = 5: dy/dx = 3 x^2
        (np.array([5.0]),), np.array([1.0]),
        lambda ops, x: ops["pow_scalar"](x, exponent=3.0),
        lambda x, u: (3 * x**2 * u,), ("pow_scalar",)),
    "seed_error_wrt_a": ClosedForm(  # error = sum((a^3)^2): a.grad = 6 b a^2, b = a^3
        (_A,), np.array(1.0),
        lambda ops, a: ops["sum"](ops["pow_scalar"](ops["pow_scalar"](a, exponent=3.0),
                                                    exponent=2.0), dim=None, keepdim=False),
        lambda a, u: (6 * a**3 * a**2 * u,), ("pow_scalar", "sum")),
    "seed_error_wrt_b": ClosedForm(  # error = sum(b^2): b.grad = 2 b
        (_A**3,), np.array(1.0),
        lambda ops, b: ops["sum"](ops["pow_scalar"](b, exponent=2.0), dim=None, keepdim=False),
        lambda b, u: (2 * b * u,), ("pow_scalar", "sum")),
    "elementwise_tanh": ClosedForm(
        (_X - 1.2,), _U5, lambda ops, x: ops["tanh"](x),
        lambda x, u: (u * (1 - np.tanh(x) ** 2),), ("tanh",)),
    "binary_div": ClosedForm(
        (_X - 1.0, _X + 0.5), _U5, lambda ops, x, y: ops["div"](x, y),
        lambda x, y, u: (u / y, -u * x / y**2), ("div",)),
    "reduction_sum": ClosedForm(
        (_M,), _line(3, 0.5, -0.9), lambda ops, x: ops["sum"](x, dim=0, keepdim=False),
        lambda x, u: (np.broadcast_to(u, x.shape),), ("sum",)),
    "reduction_prod": ClosedForm(
        (_X,), np.array(0.7), lambda ops, x: ops["prod"](x, dim=None, keepdim=False),
        lambda x, u: (u * np.prod(x) / x,), ("prod",)),
    "reduction_norm": ClosedForm(
        (_X - 1.0,), np.array(1.3), lambda ops, x: ops["norm"](x, dim=None, keepdim=False),
        lambda x, u: (u * x / np.linalg.norm(x),), ("norm",)),
    "reduction_var": ClosedForm(
        (_X**2,), np.array(-0.6),
        lambda ops, x: ops["var"](x, dim=None, correction=1, keepdim=False),
        lambda x, u: (u * 2 * (x - x.mean()) / (x.size - 1),), ("var",)),
    "along_dim_softmax": ClosedForm(
        (_M,), _U23, lambda ops, x: ops["softmax"](x, dim=-1),
        lambda x, u: (_softmax(x) * (u - (u * _softmax(x)).sum(-1, keepdims=True)),),
        ("softmax",)),
    "along_dim_cumsum": ClosedForm(
        (_X,), _U5, lambda ops, x: ops["cumsum"](x, dim=0),
        lambda x, u: (np.cumsum(u[::-1])[::-1],), ("cumsum",)),
    "reduction_logsumexp": ClosedForm(
        (_M,), _line(2, 1.1, -0.4), lambda ops, x: ops["logsumexp"](x, dim=1, keepdim=False),
        lambda x, u: (u[:, None] * _softmax(x),), ("logsumexp",)),
    "linalg_matmul": ClosedForm(
        (_M, _N), _line(8, -1.0, 0.6).reshape(2, 4), lambda ops, a, b: ops["matmul"](a, b),
        lambda a, b, u: (u @ b.T, a.T @ u), ("matmul",)),
    "shape_transpose": ClosedForm(
        (_M,), _U23.T.copy(), lambda ops, x: ops["transpose"](x, dim0=0, dim1=1),
        lambda x, u: (u.T,), ("transpose",)),
    "shape_reshape": ClosedForm(
        (_M,), _line(6, 0.2, -0.7).reshape(3, 2), lambda ops, x: ops["reshape"](x, shape=(3, 2)),
        lambda x, u: (u.reshape(x.shape),), ("reshape",)),
    "indexing_repeated": ClosedForm(  # repeated indices accumulate
        (_X,), _line(6, 0.9, -0.4), lambda ops, x: ops["index"](x, indices=_INDEX),
        lambda x, u: (_scatter(u, _INDEX, x.size),), ("index",)),
}  # fmt: skip


def run_analytic(name: str, adapter: Any, *, dtype: str = "float64", device: str = "cpu") -> None:
    """The adapter's VJP of closed form `name` vs its numpy formula (inputs rounded to dtype)."""
    form = CLOSED_FORMS[name]
    missing = [op for op in form.ops if op not in adapter.ops]
    if missing:
        raise Unsupported(f"adapter {adapter.name!r} lacks ops: {', '.join(missing)}")
    if dtype not in adapter.dtypes:
        raise Unsupported(f"adapter {adapter.name!r} does not support dtype {dtype}")
    inputs = [round_to(x, dtype) for x in form.inputs]
    cotangent = round_to(form.cotangent, dtype)
    primals = [adapter.asarray(x, dtype, device, True) for x in inputs]
    cot = adapter.asarray(cotangent, dtype, device, False)
    _, grads = call_adapter(
        "analytic",
        "vjp",
        adapter.vjp,
        lambda *xs: (form.forward(adapter.ops, *xs),),
        primals,
        [cot],
    )
    expected = form.gradients(*inputs, cotangent)
    for i, (g, want) in enumerate(zip(grads, expected, strict=True)):
        got = to_host("analytic", adapter, g, want.shape, f"gradient of input {i}")
        result = numerics.compare(got, np.asarray(want, np.float64), dtype)
        if not result.ok:
            raise GradcheckFailure(
                "analytic",
                f"closed form {name!r}, gradient of input {i}: {result.describe()}",
                op=", ".join(form.ops),
            )
