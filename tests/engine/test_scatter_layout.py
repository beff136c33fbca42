"""Hand-derived values and gradients of the scatter and layout ops where torch cannot be
the judge (its scatter_add backward fails for an index smaller than src,
pytorch/pytorch#27614) or where the reference makes a choice (ties in sort and topk)."""

import numpy as np
import pytest

import reference_engine as E


def t(values):
    return E.tensor(values, dtype=E.float64, requires_grad=True)


def test_scatter_add_with_an_index_smaller_than_src():
    # only src[:2, :2] takes part: out[index[i][j]][j] += src[i][j] (dim 0)
    x, src = t(np.zeros((3, 3))), t(np.arange(1.0, 10.0).reshape(3, 3))
    out = E.scatter_add(x, 0, np.array([[0, 1], [0, 0]]), src)
    np.testing.assert_array_equal(out.data, [[5.0, 5.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    gx, gsrc = E.grad(out, (x, src), E.tensor(np.arange(9.0).reshape(3, 3), dtype=E.float64))
    np.testing.assert_array_equal(gx.data, np.arange(9.0).reshape(3, 3))
    np.testing.assert_array_equal(gsrc.data, [[0.0, 4.0, 0.0], [0.0, 1.0, 0.0], [0.0] * 3])


def test_repeated_positions_accumulate_values_and_gradients():
    x, v = t(np.zeros((3, 2))), t([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    g = E.tensor([[1.0, -1.0], [10.0, 20.0], [0.5, 0.25]], dtype=E.float64)
    out = E.index_put(x, (np.array([1, -2, 0]),), v, accumulate=True)  # -2 is row 1 too
    np.testing.assert_array_equal(out.data, [[5.0, 6.0], [4.0, 6.0], [0.0, 0.0]])
    (gv,) = E.grad(out, v, g)
    np.testing.assert_array_equal(gv.data, [[10.0, 20.0], [10.0, 20.0], [1.0, -1.0]])
    out = E.index_add(x, 0, np.array([2, 2, 0]), v, alpha=-0.5)
    np.testing.assert_array_equal(out.data, [[-2.5, -3.0], [0.0, 0.0], [-2.0, -3.0]])
    (gv,) = E.grad(out, v, g)
    np.testing.assert_array_equal(gv.data, [[-0.25, -0.125], [-0.25, -0.125], [-0.5, 0.5]])


def test_index_put_without_accumulate_refuses_repeated_positions():
    with pytest.raises(ValueError, match="repeated indices"):
        E.index_put(t(np.zeros(3)), (np.array([1, -2]),), t([1.0, 2.0]))
    out = E.index_put(t(np.zeros(3)), (np.array([2, 0]),), t([1.0, 2.0]))
    np.testing.assert_array_equal(out.data, [2.0, 0.0, 1.0])


def test_sort_and_topk_keep_ties_in_input_order():
    x = t([2.0, 1.0, 2.0, 2.0])
    values, indices = E.sort(x, descending=True)
    np.testing.assert_array_equal(indices.data, [0, 2, 3, 1])
    (g,) = E.grad(values, x, E.tensor([1.0, 2.0, 3.0, 4.0], dtype=E.float64))
    np.testing.assert_array_equal(g.data, [1.0, 4.0, 2.0, 3.0])
    np.testing.assert_array_equal(E.topk(x, 2).indices.data, [0, 2])
    np.testing.assert_array_equal(E.topk(x, 2, largest=False).indices.data, [1, 0])


def test_pieces_of_an_empty_dim_and_uneven_chunks():
    x = t(np.zeros((2, 0)))
    assert [p.shape for p in E.chunk(x, 3, 1)] == [(2, 0)] * 3  # as torch
    assert [p.shape for p in E.split(x, 2, 1)] == [(2, 0)]
    y = t(np.arange(5.0))
    assert [p.data.tolist() for p in E.chunk(y, 4)] == [[0.0, 1.0], [2.0, 3.0], [4.0]]
    with pytest.raises(IndexError, match="Dimension out of range"):
        E.narrow(y, 1, 0, 1)


def test_repeat_returns_new_memory_as_torch():
    # Only size-1 dims repeat here: a reshape of the broadcast would be a view of x, where
    # `view` refused a shape and in-place writes reached x (seed 176 of the default profile).
    x = E.tensor([1.0, 2.0], dtype=E.float64)
    out = x.repeat(1, 1, 2, 1)
    assert out.view(4).tolist() == [1.0, 2.0, 1.0, 2.0]
    out.mul_(10.0)
    assert x.tolist() == [1.0, 2.0]
