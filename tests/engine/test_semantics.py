"""Imperative semantics of reference_engine, with literal inputs and hand-derived values."""

import numpy as np
import pytest

import reference_engine as re


def leaf(values, dtype=re.float64):
    return re.tensor(values, dtype=dtype, requires_grad=True)


def values(t):
    return t.detach().numpy()


def test_leaf_gradients_accumulate_over_backward_calls():
    x = leaf([2.0, -1.0])
    y = (x * x).sum()  # dy/dx = 2x = [4, -2]
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(values(x.grad), [8.0, -4.0])


def test_non_leaf_grad_is_none_unless_retained_then_populated():
    a = leaf([1.0, 2.0])
    b, c = a**3, a * 2.0
    b.retain_grad()
    (b * b + c).sum().backward()
    assert c.grad is None and not c.is_leaf and c.grad_fn is not None
    assert b.retains_grad and not c.retains_grad
    np.testing.assert_array_equal(values(b.grad), [2.0, 16.0])  # 2b
    np.testing.assert_array_equal(values(a.grad), [8.0, 194.0])  # 6 b a^2 + 2


def test_backward_on_non_scalar_needs_a_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        (x * 3.0).backward()
    (x * 3.0).backward(gradient=re.tensor([1.0, 10.0], dtype=re.float64))
    np.testing.assert_array_equal(values(x.grad), [3.0, 30.0])


def test_second_backward_through_freed_graph_raises():
    x = leaf([2.0])
    y = (x**3).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_backward_of_a_tensor_without_graph_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        re.tensor([1.0]).sum().backward()


def test_no_grad_results_do_not_require_grad():
    x = leaf([1.0, 2.0])
    with re.no_grad():
        y = x * 2.0
        with re.enable_grad():
            z = x * 2.0
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert z.requires_grad and z.grad_fn is not None
    assert re.is_grad_enabled()


def test_no_grad_works_as_a_decorator():
    @re.no_grad()
    def double(t):
        return t * 2.0

    assert not double(leaf([1.0])).requires_grad


def test_requires_grad_propagates_from_any_input():
    x, c = leaf([1.0]), re.tensor([2.0], dtype=re.float64)
    assert (x * c).requires_grad and (c * x).requires_grad
    assert not (c * c).requires_grad and (c * c).grad_fn is None


def test_detach_shares_values_without_graph():
    x = leaf([1.0, 2.0])
    d = (x * 2.0).detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    np.testing.assert_array_equal(d.numpy(), [2.0, 4.0])


@pytest.mark.parametrize("data", [[1, 2], [True, False]])
def test_integer_and_bool_tensors_cannot_require_grad(data):
    with pytest.raises(RuntimeError, match="floating point"):
        re.tensor(data, requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        re.tensor(data).requires_grad_()


@pytest.mark.parametrize("dtype", [re.float64, re.float32, re.float16])
def test_float_dtypes_are_preserved_with_python_scalars(dtype):
    x = leaf([1.0, 2.0], dtype)
    outputs = [
        x * 2.0 + 1,
        3.0 / x - 0.5,
        x**2,
        2**x,
        re.exp(x).sum(),
        x.mean(),
        re.softmax(x, 0),
        re.gelu(x),
        re.where(x > 1.5, x, 0.0),
        x.max() + x.amin(0) + x.prod() + x.std() + re.norm(x),  # weights must not upcast
        re.maximum(x, 1.0) + x.cumprod(0) + x.max(0).values,
    ]
    assert all(out.dtype == dtype for out in outputs)
    sum(out.sum() for out in outputs).backward()
    assert x.grad.dtype == dtype and x.grad.shape == x.shape


def test_python_floats_default_to_float32_and_numpy_keeps_its_dtype():
    assert re.tensor([1.0]).dtype == re.float32
    assert re.tensor([1]).dtype == re.int64
    assert re.tensor(np.array([1.0])).dtype == re.float64
    assert re.tensor([1.0], dtype=re.float64).dtype == re.float64


def test_repr_looks_like_torch():
    x = re.tensor([5.0], requires_grad=True)
    assert repr(x) == "tensor([5.], requires_grad=True)"
    assert repr(x**3) == "tensor([125.], grad_fn=<PowBackward0>)"
    assert repr(re.tensor([1.5], dtype=re.float64)) == "tensor([1.5], dtype=float64)"


def test_comparisons_give_bool_tensors_and_single_values_are_bools():
    x = re.tensor([1.0, 2.0, 3.0])
    assert (x > 1.5).dtype == np.bool_
    np.testing.assert_array_equal((x == 2.0).numpy(), [False, True, False])
    assert bool(x[1] == 2.0) and not (x[0] >= 2.0)
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x > 0)


def test_iteration_and_len_follow_the_first_axis():
    x = leaf([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    rows = list(x)
    assert len(x) == 3 and [r.shape for r in rows] == [(2,)] * 3
    rows[2].sum().backward()  # rows are differentiable views
    np.testing.assert_array_equal(values(x.grad), [[0, 0], [0, 0], [1, 1]])
    assert re.tensor([4.0]).item() == 4.0


def test_create_graph_gives_second_derivative():
    x = leaf([2.0])
    (x**3).sum().backward(create_graph=True)  # x.grad = 3x^2 = 12, d/dx = 6x = 12
    assert x.grad.requires_grad
    (second,) = re.grad(x.grad.sum(), x)
    np.testing.assert_array_equal(values(second), [12.0])


def test_repeated_indices_accumulate():
    x = leaf([10.0, 20.0, 30.0])
    x[[0, 0, 2]].sum().backward()
    np.testing.assert_array_equal(values(x.grad), [2.0, 0.0, 1.0])


def test_broadcast_gradients_are_summed_back():
    x, y = leaf([[1.0], [2.0], [3.0]]), leaf([[1.0, 2.0, 3.0, 4.0]])
    (x * y).sum().backward()
    np.testing.assert_array_equal(values(x.grad), [[10.0], [10.0], [10.0]])  # sum of y
    np.testing.assert_array_equal(values(y.grad), [[6.0] * 4])  # sum of x


def test_grad_returns_gradients_without_touching_dot_grad():
    x, unused = leaf([3.0]), leaf([1.0])
    (gx,) = re.grad((x * x).sum(), x)
    np.testing.assert_array_equal(values(gx), [6.0])
    assert x.grad is None
    gx, gu = re.grad((x * x).sum(), [x, unused], allow_unused=True)
    assert gu is None
    with pytest.raises(RuntimeError, match="not have been used"):
        re.grad((x * x).sum(), [x, unused])


def test_vjp_pulls_back_cotangents_and_gives_zeros_for_unused_inputs():
    x = re.tensor([1.0, 2.0], dtype=re.float64)
    y = re.tensor([3.0], dtype=re.float64)
    out, (gx, gy) = re.vjp(lambda a, b: a * a, (x, y), re.tensor([1.0, 10.0], dtype=re.float64))
    np.testing.assert_array_equal(values(out), [1.0, 4.0])
    np.testing.assert_array_equal(values(gx), [2.0, 40.0])  # 2 a * cotangent
    np.testing.assert_array_equal(values(gy), [0.0])


def test_nested_vjp_with_create_graph_gives_second_order():
    x = re.tensor([2.0], dtype=re.float64)

    def first_derivative(a):
        return re.vjp(lambda b: b**3, a, re.ones_like(a), create_graph=True)[1]

    _, second = re.vjp(first_derivative, x, re.ones_like(x))
    np.testing.assert_array_equal(values(second), [12.0])  # 6x


def test_jvp_is_forward_mode_directional_derivative():
    x = re.tensor([1.0, 2.0], dtype=re.float64)
    y = re.tensor([3.0, 4.0], dtype=re.float64)
    dx = re.tensor([1.0, 0.0], dtype=re.float64)
    dy = re.tensor([0.0, 1.0], dtype=re.float64)
    out, tangent = re.jvp(lambda a, b: a * b + a.sin(), (x, y), (dx, dy))
    # d(ab + sin a) = (b + cos a) da + a db
    np.testing.assert_allclose(values(tangent), [3.0 + np.cos(1.0), 2.0], rtol=1e-15)
    assert out._tangent is None and x._tangent is None


def test_max_with_dim_returns_values_and_indices():
    x = leaf([[1.0, 5.0, 5.0], [7.0, 0.0, 2.0]])
    result = x.max(1)
    np.testing.assert_array_equal(values(result.values), [5.0, 7.0])
    np.testing.assert_array_equal(result.indices.numpy(), [1, 0])
    values_, indices = re.min(x, 0, keepdim=True)
    assert values_.shape == (1, 3) and indices.numpy().tolist() == [[0, 1, 1]]
