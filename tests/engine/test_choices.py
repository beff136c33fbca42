"""Declared conventions (reference_engine.conventions.CHOICES): at each op's kink, for each
choice the reference can compute, its VJP equals a hand-derived gradient, its JVP agrees
(<u, J e_k> is component k of that gradient) and so do second derivatives."""

import math

import numpy as np
import pytest

import reference_engine as E
from reference_engine import conventions

NAN = math.nan
THIRD = 1 / 3


def t(values):
    return E.tensor(values, dtype=E.float64)


# op -> (fn(*inputs), literal inputs on the kink, cotangent,
#        {choice: hand-derived gradient of each input})
CASES = {
    "relu": (E.relu, [[-1.0, 0.0, 2.0]], [1.0, 2.0, 3.0], {
        0.0: [[0.0, 0.0, 3.0]],
        0.25: [[0.0, 0.5, 3.0]],
        1.0: [[0.0, 2.0, 3.0]],
    }),
    "abs": (E.abs, [[-1.0, 0.0, 2.0]], [1.0, 2.0, 3.0], {
        -1.0: [[-1.0, -2.0, 3.0]],
        0.0: [[-1.0, 0.0, 3.0]],
        0.5: [[-1.0, 1.0, 3.0]],
        1.0: [[-1.0, 2.0, 3.0]],
    }),
    "clamp": (
        lambda x: E.clamp(x, min=0.0, max=1.0),
        [[-1.0, 0.0, 0.5, 1.0, 2.0]],
        [1.0, 2.0, 3.0, 4.0, 5.0],
        {
            0.0: [[0.0, 0.0, 3.0, 0.0, 0.0]],
            0.5: [[0.0, 1.0, 3.0, 2.0, 0.0]],
            1.0: [[0.0, 2.0, 3.0, 4.0, 0.0]],
        },
    ),
    "maximum": (E.maximum, [[1.0, 2.0, 3.0], [1.0, 3.0, 3.0]], [1.0, 2.0, 4.0], {
        0.0: [[0.0, 0.0, 0.0], [1.0, 2.0, 4.0]],
        0.25: [[0.25, 0.0, 1.0], [0.75, 2.0, 3.0]],
        0.5: [[0.5, 0.0, 2.0], [0.5, 2.0, 2.0]],
        1.0: [[1.0, 0.0, 4.0], [0.0, 2.0, 0.0]],
    }),
    "minimum": (E.minimum, [[1.0, 2.0, 3.0], [1.0, 3.0, 0.0]], [1.0, 2.0, 4.0], {
        0.0: [[0.0, 2.0, 0.0], [1.0, 0.0, 4.0]],
        0.5: [[0.5, 2.0, 0.0], [0.5, 0.0, 4.0]],
        1.0: [[1.0, 2.0, 0.0], [0.0, 0.0, 4.0]],
    }),
    "amax": (lambda x: E.amax(x, 1), [[[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]]], [1.0, 3.0], {
        "split": [[[0.5, 0.0, 0.5], [1.0, 1.0, 1.0]]],
        "first": [[[1.0, 0.0, 0.0], [3.0, 0.0, 0.0]]],
        "last": [[[0.0, 0.0, 1.0], [0.0, 0.0, 3.0]]],
    }),
    "amin": (
        lambda x: E.amin(x, 0, keepdim=True), [[[1.0, 2.0], [1.0, 0.0]]], [[1.0, 2.0]], {
        "split": [[[0.5, 0.0], [0.5, 2.0]]],
        "first": [[[1.0, 0.0], [0.0, 2.0]]],
        "last": [[[0.0, 0.0], [1.0, 2.0]]],
    }),
    "max": (E.max, [[[3.0, 1.0], [3.0, 3.0]]], 3.0, {
        "split": [[[1.0, 0.0], [1.0, 1.0]]],
        "first": [[[3.0, 0.0], [0.0, 0.0]]],
        "last": [[[0.0, 0.0], [0.0, 3.0]]],
    }),
    "min": (E.min, [[[1.0, 1.0], [3.0, 2.0]]], 2.0, {
        "split": [[[1.0, 1.0], [0.0, 0.0]]],
        "first": [[[2.0, 0.0], [0.0, 0.0]]],
        "last": [[[0.0, 2.0], [0.0, 0.0]]],
    }),
    "max_dim": (lambda x: E.max(x, 1).values, [[[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]], [1.0, 2.0], {
        "first": [[[0.0, 1.0, 0.0], [2.0, 0.0, 0.0]]],
        "last": [[[0.0, 0.0, 1.0], [0.0, 0.0, 2.0]]],
    }),
    "min_dim": (
        lambda x: E.min(x, 0, keepdim=True)[0], [[[1.0, 3.0], [1.0, 0.0]]], [[1.0, 2.0]], {
        "first": [[[1.0, 0.0], [0.0, 2.0]]],
        "last": [[[0.0, 0.0], [1.0, 2.0]]],
    }),
    # row 1 is off the kink: d std / dx = (x - mean) / (dof std), std = sqrt(7/3)
    "std": (lambda x: E.std(x, 1), [[[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]]], [1.0, 2.0], {
        "zero": [[[0.0, 0.0, 0.0], [c / math.sqrt(7 / 3) for c in (-4 / 3, -1 / 3, 5 / 3)]]],
        "nan": [[[NAN, NAN, NAN], [c / math.sqrt(7 / 3) for c in (-4 / 3, -1 / 3, 5 / 3)]]],
    }),
    "norm": (lambda x: E.norm(x, dim=1), [[[0.0, 0.0], [3.0, 4.0]]], [1.0, 2.0], {
        "zero": [[[0.0, 0.0], [1.2, 1.6]]],
        "nan": [[[NAN, NAN], [1.2, 1.6]]],
    }),
    # windows (2 x 2, stride 1) of [[3, 3, 1], [3, 2, 3]]: ties {3, 3, 3} and {3, 3}
    "max_pool2d": (
        lambda x: E.max_pool2d(x, 2, 1), [[[[[3.0, 3.0, 1.0], [3.0, 2.0, 3.0]]]]],
        [[[[1.0, 2.0]]]], {
        "first": [[[[[1.0, 2.0, 0.0], [0.0, 0.0, 0.0]]]]],
        "last": [[[[[0.0, 0.0, 0.0], [1.0, 0.0, 2.0]]]]],
    }),
}  # fmt: skip

PARAMS = [(op, choice) for op, case in CASES.items() for choice in case[3]]


def vjp_at_kink(op):
    fn, inputs, cotangent, _ = CASES[op]
    leaves = [t(x).requires_grad_() for x in inputs]
    out = fn(*leaves)
    return E.grad(out, leaves, t(cotangent))


def test_every_choice_op_has_cases_for_every_computable_choice():
    assert set(CASES) == set(conventions.CHOICES)
    for op, spec in conventions.CHOICES.items():
        named = {c for c in spec.options if c != "any"}
        assert not spec.options or set(CASES[op][3]) == named, op
        assert spec.default in CASES[op][3], op


@pytest.mark.parametrize(("op", "choice"), PARAMS)
def test_vjp_follows_the_declared_choice(op, choice):
    with conventions.using({op: choice}):
        grads = vjp_at_kink(op)
    for got, want in zip(grads, CASES[op][3][choice], strict=True):
        np.testing.assert_allclose(got.data, want, rtol=1e-15, atol=0)


@pytest.mark.parametrize(("op", "choice"), PARAMS)
def test_jvp_follows_the_declared_choice(op, choice):
    """<u, J e_k> is component k of the expected J^T u, for every basis tangent e_k."""
    fn, inputs, cotangent, expected = CASES[op]
    primals = [t(x) for x in inputs]
    for i, x in enumerate(primals):
        for k in range(x.numel()):
            tangents = [E.zeros_like(p) for p in primals]
            tangents[i].data.reshape(-1)[k] = 1.0
            with conventions.using({op: choice}):
                _, tangent = E.jvp(fn, tuple(primals), tuple(tangents))
            want = np.ravel(expected[choice][i])[k]
            terms = tangent.data * np.asarray(cotangent)
            # Under "nan" an output on the kink has a NaN tangent whatever the direction
            # (0 * NaN): the other outputs must still give the expected component.
            got = np.sum(terms) if np.isnan(want) else np.nansum(terms)
            np.testing.assert_allclose(got, want, rtol=1e-15)


@pytest.mark.parametrize("op", [op for op, c in conventions.CHOICES.items() if "any" in c.options])
def test_any_computes_torch_default(op):
    default = conventions.DEFAULTS[op]
    with conventions.using({op: "any"}):
        grads = vjp_at_kink(op)
    for got, want in zip(grads, CASES[op][3][default], strict=True):
        np.testing.assert_allclose(got.data, want, rtol=1e-15, atol=0)


@pytest.mark.parametrize(("op", "fn", "share"), [
    ("relu", lambda x: E.relu(x) * x, 0.25),  # d2/dx2 (relu(x) x) = 2 relu'(x)
    ("abs", lambda x: E.abs(x) * x, -0.5),  # 2 abs'(x)
    ("maximum", lambda x: E.maximum(x, t(0.0)) * x, 0.75),  # 2 (share of x)
    ("clamp", lambda x: E.clamp(x, min=0.0) * x, 0.5),  # 2 (share on the bound)
])  # fmt: skip
def test_second_derivatives_follow_the_declared_choice(op, fn, share):
    x = t(0.0).requires_grad_()
    with conventions.using({op: share}):
        (g,) = E.grad(fn(x), x, create_graph=True)
        (h,) = E.grad(g, x)
    assert g.item() == 0.0 and h.item() == 2 * share


def test_a_graph_keeps_the_choices_it_was_recorded_under():
    x = t([0.0, 1.0]).requires_grad_()
    with conventions.using({"relu": 1.0}):
        y = E.relu(x).sum()
    with conventions.using({"relu": 0.5}):  # backward elsewhere: still the recorded 1.0
        (g,) = E.grad(y, x)
    np.testing.assert_array_equal(g.data, [1.0, 1.0])


def test_using_layers_and_restores_also_on_errors():
    assert conventions.active() == conventions.DEFAULTS
    with pytest.raises(KeyError), conventions.using({"relu": 1.0}):
        with conventions.using({"amax": "last"}):
            assert conventions.choice("relu") == 1.0 and conventions.choice("amax") == "last"
        assert conventions.choice("amax") == "split"
        raise KeyError
    assert conventions.active() == conventions.DEFAULTS


def test_defaults_are_torch_choices():
    assert conventions.DEFAULTS == {
        "relu": 0.0, "abs": 0.0, "clamp": 1.0, "maximum": 0.5, "minimum": 0.5,
        "amax": "split", "amin": "split", "max": "split", "min": "split",
        "max_dim": "first", "min_dim": "first", "std": "zero", "norm": "zero",
        "max_pool2d": "first",
    }  # fmt: skip


def test_max_dim_returns_the_index_its_gradient_goes_to():
    x = t([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    with conventions.using({"max_dim": "last", "min_dim": "last"}):
        assert E.max(x, 1).indices.tolist() == [2, 2]
        assert E.min(x, 1).indices.tolist() == [0, 2]


def test_first_and_last_are_row_major_within_the_reduced_slice():
    x = t(np.array([[[5, 5], [1, 4]], [[5, 5], [4, 0]]], dtype=float)).requires_grad_()
    for rule, picks in {"first": [(0, 0, 0), (0, 1, 1)], "last": [(1, 0, 1), (1, 1, 0)]}.items():
        with conventions.using({"amax": rule}):
            (g,) = E.grad(E.amax(x, (0, 2)).sum(), x)
        want = np.zeros((2, 2, 2))
        for pick in picks:
            want[pick] = 1.0
        np.testing.assert_array_equal(g.data, want)


@pytest.mark.parametrize(("choices", "message"), [
    ({"relu": 2.0}, r"relu: 2\.0 .* valid: a float in \[0, 1\] \(torch: 0\.0\)"),
    ({"relu": True}, r"relu: True"),
    ({"abs": "zero"}, r"abs: 'zero' .* a float in \[-1, 1\]"),
    ({"amax": "median"}, r"amax: 'median' .* valid: 'split' \| 'first' \| 'last' \| 'any'"),
    ({"max_dim": "split"}, r"max_dim: 'split' .* valid: 'first' \| 'last' \| 'any'"),
    ({"std": 0.0}, r"std: 0\.0 .* valid: 'zero' \| 'nan'"),
    ({"sqrt": 1.0}, r"no convention to choose for op 'sqrt'"),
])  # fmt: skip
def test_validate_rejects_invalid_choices(choices, message):
    with pytest.raises(ValueError, match=message) as info:
        conventions.validate(choices)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError), conventions.using(choices):
        pass


def test_validate_normalizes_numbers():
    assert conventions.validate({"abs": -1, "clamp": np.float32(0.5), "max": "any"}) == {
        "abs": -1.0,
        "clamp": 0.5,
        "max": "any",
    }
