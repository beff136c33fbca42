"""Numerical primitives (reference_engine.numerical): VJPs and JVPs from a Jacobian."""

from __future__ import annotations

import numpy as np

import reference_engine as engine
from gradcheck.numerics import jacobian
from reference_engine.numerical import alternative, numerical


def differences(F, xs):
    return jacobian(F, xs)[0]


def weighted(x: np.ndarray, y: np.ndarray, *, power: float) -> np.ndarray:
    return np.sin(x) * y**power


def test_vjp_and_jvp_are_the_jacobians_products():
    prim = numerical("weighted", weighted, differences)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-1, 1, (2, 3)), rng.uniform(0.5, 1.5, (2, 3))
    g, tx, ty = rng.uniform(-1, 1, (3, 2, 3))
    xt, yt = engine.tensor(x, requires_grad=True), engine.tensor(y, requires_grad=True)
    out = prim(xt, yt, power=2.0)
    np.testing.assert_array_equal(out.data, weighted(x, y, power=2.0))
    gx, gy = engine.grad([out], [xt, yt], [engine.tensor(g)])
    np.testing.assert_allclose(gx.data, g * np.cos(x) * y**2, rtol=1e-8)
    np.testing.assert_allclose(gy.data, g * np.sin(x) * 2 * y, rtol=1e-8)
    primals, tangents = (engine.tensor(x), engine.tensor(y)), (engine.tensor(tx), engine.tensor(ty))
    _, (tangent,) = engine.jvp(lambda a, b: (prim(a, b, power=2.0),), primals, tangents)
    want = np.cos(x) * y**2 * tx + np.sin(x) * 2 * y * ty
    np.testing.assert_allclose(tangent.data, want, rtol=1e-8, atol=1e-12)


def test_first_order_only_and_the_dtype_of_its_inputs():
    prim = numerical("square", lambda x: x * x, differences)
    x = engine.tensor(np.array([0.5, -2.0], np.float32), requires_grad=True)
    out = prim(x)
    assert out.dtype == np.float32
    (g,) = engine.grad([engine.sum(out)], [x], create_graph=True)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g.data, [1.0, -4.0], rtol=1e-6)
    # The VJP is a constant Jacobian times the cotangent: it does not depend on x at all.
    assert not g.requires_grad


def test_alternative_uses_the_second_jacobian():
    def two(F, xs):
        J = differences(F, xs)
        return J, 2 * J

    prim = numerical("cube", lambda x: x**3, two)
    x = engine.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (g,) = engine.grad([engine.sum(prim(x))], [x])
    with alternative():
        (g2,) = engine.grad([engine.sum(prim(x))], [x])
    np.testing.assert_allclose(g.data, [3.0, 12.0], rtol=1e-8)
    np.testing.assert_allclose(g2.data, 2 * g.data)
