"""Every entry of reference_engine.CONVENTIONS against torch, in float64, at its kink."""

import math

import numpy as np
import pytest

import reference_engine

torch = pytest.importorskip("torch")


def softplus(lib, x):
    return lib.nn.functional.softplus(x) if lib is torch else lib.softplus(x)


def norm(lib, x):
    return lib.linalg.vector_norm(x, dim=1) if lib is torch else lib.norm(x, dim=1)


def nn(lib):  # torch.nn.functional's activations and losses are top-level in the engine
    return lib.nn.functional if lib is torch else lib


def max_pool2d(lib, x):
    return (lib.nn.functional if lib is torch else lib).max_pool2d(x, 2, 1)


# convention name -> (function of (engine module, *inputs), literal inputs at the kink)
CASES = {
    "relu": (lambda lib, x: lib.relu(x), [[-1.0, 0.0, 2.0]]),
    "abs": (lambda lib, x: lib.abs(x), [[-1.0, 0.0, 2.0]]),
    "sign": (lambda lib, x: lib.sign(x), [[-1.0, 0.0, 2.0]]),
    "max": (lambda lib, x: lib.max(x), [[[3.0, 1.0], [3.0, 3.0]]]),
    "min": (lambda lib, x: lib.min(x), [[[1.0, 1.0], [3.0, 2.0]]]),
    "amax": (lambda lib, x: lib.amax(x, (0, 1)) + lib.amax(x, 1).sum(), [[[3.0, 3.0], [2.0, 3.0]]]),
    "amin": (lambda lib, x: lib.amin(x, 0, keepdim=True), [[[1.0, 2.0], [1.0, 0.0]]]),
    "max_dim": (lambda lib, x: lib.max(x, 1).values, [[[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]]),
    "min_dim": (lambda lib, x: lib.min(x, 0, keepdim=True)[0], [[[1.0, 3.0], [1.0, 0.0]]]),
    "maximum": (lambda lib, x, y: lib.maximum(x, y), [[1.0, 2.0, 3.0], [1.0, 3.0, 3.0]]),
    "minimum": (lambda lib, x, y: lib.minimum(x, y), [[1.0, 2.0, 3.0], [1.0, 3.0, 0.0]]),
    "clamp": (lambda lib, x: lib.clamp(x, min=0.0, max=1.0), [[-1.0, 0.0, 0.5, 1.0, 2.0]]),
    "sqrt": (lambda lib, x: lib.sqrt(x), [[0.0, 4.0]]),
    "norm": (norm, [[[0.0, 0.0], [3.0, 4.0]]]),
    "std": (lambda lib, x: lib.std(x, 1), [[[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]]]),
    "pow_scalar": (lambda lib, x: x**0.0 + x**1.0, [[0.0, 2.0]]),
    "pow": (lambda lib, x, y: lib.pow(x, y), [[0.0, 0.0, 0.0, 2.0], [0.0, 2.0, -1.0, 0.0]]),
    "prod": (lambda lib, x: lib.prod(x, 1), [[[0.0, 2.0, 3.0], [0.0, 0.0, 5.0]]]),
    "cumprod": (lambda lib, x: lib.cumprod(x, 0), [[2.0, 0.0, 3.0, 0.0, 4.0]]),
    "softplus": (softplus, [[19.0, 20.0, 21.0, 0.0]]),
    "leaky_relu": (lambda lib, x: nn(lib).leaky_relu(x, 0.2), [[-1.0, 0.0, 2.0]]),
    "elu": (lambda lib, x: nn(lib).elu(x, alpha=2.0), [[-1.0, 0.0, 2.0]]),
    "hardtanh": (lambda lib, x: nn(lib).hardtanh(x, -0.5, 1.0), [[-1.0, -0.5, 0.0, 1.0, 2.0]]),
    "hardswish": (lambda lib, x: nn(lib).hardswish(x), [[-4.0, -3.0, 0.0, 3.0, 4.0]]),
    "l1_loss": (
        lambda lib, x, y: nn(lib).l1_loss(x, y, reduction="none"),
        [[1.0, 2.0, 3.0], [1.0, 0.0, 3.0]],
    ),
    "atan2": (lambda lib, x, y: lib.atan2(x, y), [[0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]),
    "hypot": (lambda lib, x, y: lib.hypot(x, y), [[0.0, 0.0, 3.0], [0.0, 2.0, 4.0]]),
    "xlogy": (
        lambda lib, x, y: lib.xlogy(x, y),
        [[0.0, 0.0, 0.0, 2.0, 1.5], [0.0, 3.0, -1.0, 0.5, 0.0]],
    ),
    "max_pool2d": (max_pool2d, [[[[[3.0, 3.0, 1.0], [3.0, 2.0, 3.0]]]]]),
    "cdist": (lambda lib, x, y: lib.cdist(x, y), [[[0.0, 0.0], [1.0, 2.0]], [[1.0, 2.0]] * 2]),
    "sort": (
        lambda lib, x: lib.sort(x, dim=1, descending=True, stable=True).values,
        [[[1.0, 3.0, 3.0, 2.0], [2.0, 2.0, 1.0, 2.0]]],
    ),
    "topk": (lambda lib, x: lib.topk(x, 2, 1).values, [[[3.0, 1.0, 1.0, 2.0]]]),
}


def gradients(lib, fn, inputs):
    leaves = [lib.tensor(x, dtype=lib.float64, requires_grad=True) for x in inputs]
    out = fn(lib, *leaves)
    cotangent = lib.tensor(np.arange(1.0, out.numel() + 1).reshape(out.shape), dtype=lib.float64)
    out.backward(cotangent)
    return [out.detach().numpy()] + [x.grad.numpy() for x in leaves]


def test_every_convention_has_a_case():
    assert set(CASES) == set(reference_engine.CONVENTIONS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_convention_matches_torch(name):
    fn, inputs = CASES[name]
    expected = gradients(torch, fn, inputs)
    actual = gradients(reference_engine, fn, inputs)
    for got, want in zip(actual, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_cases_sit_on_their_kinks():
    """Hand-derived values at the kinks, so that the cases cannot drift off them."""
    grads = {name: gradients(reference_engine, *CASES[name])[1:] for name in CASES}
    np.testing.assert_array_equal(grads["relu"][0], [0.0, 0.0, 3.0])
    np.testing.assert_array_equal(grads["max"][0], [[1 / 3, 0.0], [1 / 3, 1 / 3]])
    np.testing.assert_array_equal(grads["max_dim"][0], [[0.0, 1.0, 0.0], [2.0, 0.0, 0.0]])
    np.testing.assert_array_equal(grads["max_pool2d"][0], [[[[1.0, 2.0, 0.0], [0.0, 0.0, 0.0]]]])
    np.testing.assert_array_equal(grads["maximum"], [[0.5, 0.0, 1.5], [0.5, 2.0, 1.5]])
    np.testing.assert_array_equal(grads["clamp"][0], [0.0, 2.0, 3.0, 4.0, 0.0])
    np.testing.assert_array_equal(grads["sqrt"][0], [math.inf, 0.5])
    np.testing.assert_array_equal(grads["std"][0][0], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(grads["norm"][0][0], [0.0, 0.0])
    np.testing.assert_array_equal(grads["cdist"][0][1], [0.0, 0.0])  # x[1] is y's rows
    np.testing.assert_array_equal(grads["prod"][0], [[6.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    # cumprod [2, 0, 3, 0, 4], cotangent 1..5: d/dx1 = 2*2 + 3*(2*3) = 22; later ones see a 0
    np.testing.assert_array_equal(grads["cumprod"][0], [1.0, 22.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(grads["leaky_relu"][0], [0.2, 0.4, 3.0])
    np.testing.assert_array_equal(grads["elu"][0][1], 4.0)  # alpha * cotangent 2
    np.testing.assert_array_equal(grads["hardtanh"][0], [0.0, 0.0, 3.0, 0.0, 0.0])
    np.testing.assert_array_equal(grads["hardswish"][0], [0.0, 0.0, 1.5, 4.0, 5.0])
    np.testing.assert_array_equal(grads["l1_loss"], [[0.0, 2.0, 0.0], [0.0, -2.0, 0.0]])
    np.testing.assert_array_equal([g[0] for g in grads["atan2"]], [0.0, 0.0])
    assert np.isnan(grads["hypot"][0][0]) and np.isnan(grads["hypot"][1][0])
    np.testing.assert_array_equal(grads["xlogy"][0][:3], [0.0, 2 * np.log(3.0), 0.0])
    assert np.isnan(grads["xlogy"][1][0])
    # descending, stable: [1, 3, 3, 2] -> places of 3, 3, 2, 1; [2, 2, 1, 2] -> 2, 2, 2, 1
    np.testing.assert_array_equal(grads["sort"][0], [[4.0, 1.0, 2.0, 3.0], [5.0, 6.0, 8.0, 7.0]])
    np.testing.assert_array_equal(grads["topk"][0], [[1.0, 0.0, 0.0, 2.0]])
