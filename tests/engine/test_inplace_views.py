"""Views, version counters and in-place ops of reference_engine, side by side with torch.

Each scenario is a function of a module (`torch` or `reference_engine`) run on both: the
values it returns, the leaves' gradients and whether it raises RuntimeError must agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import reference_engine as E

X = np.array([0.5, -1.25, 2.0, 0.75], dtype=np.float32)
M = np.arange(1, 13, dtype=np.float32).reshape(3, 4) / 4 - 1.1


def leaf(lib: Any, data: np.ndarray) -> Any:
    return lib.tensor(data.copy(), requires_grad=True)


def as_numpy(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [as_numpy(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, E.Tensor):
        return value.data
    return value


def outcome(lib: Any, scenario: Callable) -> Any:
    try:
        return as_numpy(scenario(lib))
    except RuntimeError as error:
        return ("RuntimeError", str(error))  # same() compares the kind, not the words


def same(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, tuple) or isinstance(b, tuple):
        return isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0]
    if a is None or b is None:
        return a is b
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=1e-5, atol=1e-6)
    return a == b


def check(scenario: Callable, raises: bool = False) -> None:
    expected, actual = outcome(torch, scenario), outcome(E, scenario)
    assert same(expected, actual), f"torch: {expected}\nengine: {actual}"
    assert isinstance(expected, tuple) == raises, f"torch gave {expected}"


# -- in-place ops: values and gradients -----------------------------------------------------
def _add(lib: Any) -> Any:
    x, w = leaf(lib, X), leaf(lib, X[::-1])
    y = x * 2
    y.add_(w, alpha=3)
    y.sub_(1.5)
    y.sum().backward()
    return y, x.grad, w.grad


def _mul_div(lib: Any) -> Any:
    x, w = leaf(lib, X), leaf(lib, X + 3)
    y = x * 1.5
    y.mul_(w)
    y.div_(w * w)
    y *= 2  # Tensor.__imul__ is in place, as torch's
    y.sum().backward()
    return y, x.grad, w.grad


def _unary(lib: Any) -> Any:
    x = leaf(lib, X)
    a = (x * 1).clamp_(min=-1, max=1.5)
    b = lib.relu_(x * 1)
    c = (x * 1).sigmoid_()
    d = (x * 1).tanh_()
    e = (x * 1).exp_()
    (a * 1 + b * 2 + c * 3 + d * 4 + e * 5).sum().backward()
    return a, b, c, d, e, x.grad


def _index_ops(lib: Any) -> Any:
    m, s = leaf(lib, M), leaf(lib, M[:2] * 3)
    y = m * 1
    y.masked_fill_(lib.tensor(M > 0), 0.5)
    y.index_add_(0, lib.tensor([2, 0]), s, alpha=2)
    y.scatter_add_(1, lib.tensor([[0, 0], [3, 1]]), s[:, :2])
    (y * y).sum().backward()
    return y, m.grad, s.grad


def _copy_fill_zero(lib: Any) -> Any:
    x, src = leaf(lib, X), leaf(lib, X[:1] + 1)
    y, z, u = x * 3, x * 4, x * 5
    y.copy_(src)  # src broadcasts; no gradient reaches the old y
    z.fill_(2.0)
    u[1:3].zero_()
    (y * 2 + z + u).sum().backward()
    return y, z, u, x.grad, src.grad


def _setitem(lib: Any) -> Any:
    x, z = leaf(lib, M), leaf(lib, M[0] - 1)
    y = x * 2
    y[0] = z
    y[1:] *= 2
    y[2, 1] = 7.0
    y[:, -1] = z[:3] * 3
    y[lib.tensor(M > 1.5)] = 0.0
    (y * y).sum().backward()
    return y, x.grad, z.grad


def _dtype_and_shape(lib: Any) -> Any:
    a = lib.zeros(3)
    a.add_(lib.tensor(np.ones(3)))  # a float64 result is written into float32
    return a, str(a.dtype).split(".")[-1]


@pytest.mark.parametrize(
    "scenario", [_add, _mul_div, _unary, _index_ops, _copy_fill_zero, _setitem, _dtype_and_shape]
)
def test_in_place_ops_match_torch(scenario: Callable) -> None:
    check(scenario)


def _int_gets_float(lib: Any) -> Any:
    return lib.zeros(3, dtype=torch.long if lib is torch else np.int64).add_(1.5)


def _broadcast_too_big(lib: Any) -> Any:
    return lib.zeros(3).add_(lib.ones(2, 3))


@pytest.mark.parametrize("scenario", [_int_gets_float, _broadcast_too_big])
def test_in_place_result_must_fit_the_target(scenario: Callable) -> None:
    check(scenario, raises=True)


# -- leaves -----------------------------------------------------------------------------------
def _leaf_in_place(lib: Any) -> Any:
    x = leaf(lib, X)
    x.mul_(2)


def _view_of_leaf_in_place(lib: Any) -> Any:
    x = leaf(lib, X)
    x[1:].add_(1)


def _leaf_setitem(lib: Any) -> Any:
    x = leaf(lib, X)
    x[0] = 3.0


@pytest.mark.parametrize("scenario", [_leaf_in_place, _view_of_leaf_in_place, _leaf_setitem])
def test_leaf_that_requires_grad_refuses_in_place(scenario: Callable) -> None:
    check(scenario, raises=True)


def _leaf_no_grad(lib: Any) -> Any:
    x = leaf(lib, X)
    with lib.no_grad():
        x.mul_(2)
        x[0] = 1.0
    (x * x).sum().backward()
    return x, x.grad, x._version, x.is_leaf


def _constant_times_grad(lib: Any) -> Any:
    a, w = lib.zeros(4), leaf(lib, X)  # a leaf without grad joins the graph
    a.add_(w)
    a[1:].mul_(w[:3])
    (a * a).sum().backward()
    return a, a.is_leaf, w.grad


@pytest.mark.parametrize("scenario", [_leaf_no_grad, _constant_times_grad])
def test_leaves_in_place_allowed(scenario: Callable) -> None:
    check(scenario)


def test_leaf_error_message() -> None:
    x = E.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used"):
        x.add_(1)


# -- views: shared memory, _base, versions ------------------------------------------------------
VIEWS: dict[str, Callable[[Any], Any]] = {
    "view": lambda b: b.view(4, 3),
    "reshape": lambda b: b.reshape(2, 6),
    "transpose": lambda b: b.transpose(0, 1),
    "permute": lambda b: b.permute(1, 0),
    "mT": lambda b: b.mT,
    "slice": lambda b: b[1:3],
    "column": lambda b: b[:, 0],
    "step": lambda b: b[::2],
    "element": lambda b: b[1, 2],
    "diagonal": lambda b: b.diagonal(),
    "diagonal_offset": lambda b: b.diagonal(1),
    "unsqueeze": lambda b: b.unsqueeze(1),
    "squeeze": lambda b: b[:1].squeeze(0),
    "expand_row": lambda b: b[:1].expand(5, 4)[2],
    "view_of_view": lambda b: b.mT[1:][:, ::2],
}


@pytest.mark.parametrize("name", VIEWS)
def test_views_share_memory_base_and_version(name: str) -> None:
    def scenario(lib: Any) -> Any:
        base = lib.tensor(M.copy())
        v = VIEWS[name](base)
        shared = v._base is base and v._is_view()
        v.mul_(-2)  # writes through to base
        seen = base * 1
        base.add_(1)  # the view sees it
        return shared, v._version, base._version, v, seen, base

    check(scenario)


@pytest.mark.parametrize("name", VIEWS)
def test_in_place_through_view_reaches_base_gradient(name: str) -> None:
    def scenario(lib: Any) -> Any:
        a, w = leaf(lib, M), leaf(lib, M[0, 0] * 0 + 1.5)
        b = a * 1.5
        v = VIEWS[name](b)
        v.mul_(w)
        (b * b).sum().backward()
        return b, v, a.grad, w.grad

    check(scenario, raises=False)


def test_view_after_base_changes_and_copy_and_reshape_copies() -> None:
    base = E.tensor(M.copy())
    assert base.reshape(12)._base is base
    copied = base.mT.reshape(12)  # not contiguous: a copy, like torch
    assert copied._base is None and copied._version == 0
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        base.mT.view(12)
    d = base.detach()
    base.add_(1)
    assert d._version == base._version == 1 and d._base is None
    assert E.clone(base)._base is None


def test_expanded_tensor_refuses_in_place() -> None:
    def scenario(lib: Any) -> Any:
        lib.zeros(3).expand(2, 3).add_(1)

    check(scenario, raises=True)


def _documented_example(lib: Any) -> Any:
    a = leaf(lib, X)
    b = a.clone()
    v = b[1:]
    v.mul_(3)
    b.sum().backward()
    return a.grad  # [1, 3, 3, 3]


def _base_in_place_then_old_view(lib: Any) -> Any:
    a = leaf(lib, X)
    b = a.clone()
    v = b[1:]
    early = v * 2  # uses v before: its gradient goes to the old b
    b.mul_(3)  # v now reads the new b
    (early.sum() + (v * v).sum()).backward()
    return v, a.grad


def _views_of_views(lib: Any) -> Any:
    a = leaf(lib, M)
    b = a * 1
    v = b.mT[1:]
    w = v[:, 0]
    w.mul_(5)
    v[0].add_(w[1:2])
    same_base = w._base is b and v._base is b
    (b * b).sum().backward()
    return same_base, b, a.grad


def _two_views_one_base(lib: Any) -> Any:
    a = leaf(lib, M)
    b = a * 1.5
    row, col = b[0], b[:, 1]
    row.mul_(2)  # col[0] is row[1]: col sees it
    col.add_(row[1:4])
    (b.sum() + (col * row[:3]).sum()).backward()
    return row, col, a.grad


def _in_place_on_view_of_non_requiring(lib: Any) -> Any:
    b, w = lib.zeros(4), leaf(lib, X)
    v = b[1:]
    v.add_(w[1:] * 2)
    (b * b).sum().backward()
    return b, b.requires_grad, w.grad


def _retained_grad(lib: Any) -> Any:
    x = leaf(lib, X)
    y = x * 2
    y.retain_grad()
    y.add_(1)
    (y * y).sum().backward()
    return x.grad, y.grad


@pytest.mark.parametrize(
    "scenario",
    [
        _documented_example,
        _base_in_place_then_old_view,
        _views_of_views,
        _two_views_one_base,
        _in_place_on_view_of_non_requiring,
        _retained_grad,
    ],
)
def test_view_gradients_match_torch(scenario: Callable) -> None:
    check(scenario)


def test_documented_example_values() -> None:
    assert np.array_equal(outcome(E, _documented_example), [1, 3, 3, 3])


# -- saved tensors modified in place ------------------------------------------------------------
def _sigmoid_output_modified(lib: Any) -> Any:
    x = leaf(lib, X)
    y = x.sigmoid()
    z = y * 2
    y.mul_(2)  # sigmoid's backward needs its output y
    z.sum().backward()


def _mul_input_modified(lib: Any) -> Any:
    x, w = leaf(lib, X), leaf(lib, X)
    y = x * 1
    z = y * w  # w's gradient needs y
    y.add_(1)
    z.sum().backward()


def _exp_then_mul(lib: Any) -> Any:
    x = leaf(lib, X)
    y = x * 1
    y.exp_()  # exp_ saves its result, y
    y.mul_(2)
    y.sum().backward()


def _view_modified(lib: Any) -> Any:
    x = leaf(lib, X)
    y = x.tanh()
    y[1:].mul_(2)  # tanh's output, modified through a view
    y.sum().backward()


@pytest.mark.parametrize(
    "scenario", [_sigmoid_output_modified, _mul_input_modified, _exp_then_mul, _view_modified]
)
def test_modified_saved_tensor_raises(scenario: Callable) -> None:
    check(scenario, raises=True)


def _add_needs_nothing(lib: Any) -> Any:
    x = leaf(lib, X)
    y = x * 2
    y.add_(1)
    y.sum().backward()
    return x.grad


def _unneeded_value_modified(lib: Any) -> Any:
    x = leaf(lib, X)
    a, c = x * 1, lib.tensor(X + 1)
    z = a * c  # a's value would only serve c's gradient, which is not needed
    a.mul_(2)
    u = a.sigmoid()
    a.add_(1)  # sigmoid's backward reads its output, not a
    (z + u).sum().backward()
    return x.grad


def _mul_by_self_update(lib: Any) -> Any:
    x, w = leaf(lib, X), leaf(lib, X + 1)
    y = x * 1
    y.mul_(w)  # the old y is saved for w's gradient (a copy, as torch does)
    y.sum().backward()
    return x.grad, w.grad


@pytest.mark.parametrize(
    "scenario", [_add_needs_nothing, _unneeded_value_modified, _mul_by_self_update]
)
def test_unread_or_copied_saved_tensors_do_not_raise(scenario: Callable) -> None:
    check(scenario)


def test_modified_message_and_versions() -> None:
    x = E.tensor(X, requires_grad=True)
    y = x.sigmoid()
    z = y * 2
    assert y._version == 0
    y.mul_(2)
    y += 1
    assert y._version == 2
    with pytest.raises(RuntimeError, match="^one of the variables needed for gradient computat"):
        z.sum().backward()


# -- second backward ------------------------------------------------------------------------------
def _second_backward(lib: Any) -> Any:
    x = leaf(lib, X)
    y = (x.exp() * x).sum()
    y.backward()
    y.backward()


def _second_backward_retained(lib: Any) -> Any:
    x = leaf(lib, X)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    return x.grad


def test_second_backward() -> None:
    check(_second_backward, raises=True)
    check(_second_backward_retained)
    with pytest.raises(RuntimeError, match="^Trying to backward through the graph a second"):
        _second_backward(E)


# -- no grad -------------------------------------------------------------------------------------
def test_no_grad_in_place_records_nothing_and_create_graph_through_in_place() -> None:
    def scenario(lib: Any) -> Any:
        x = leaf(lib, X)
        y = x * x
        with lib.no_grad():
            y.add_(1)  # values change, history does not
        y.mul_(x)  # y = (x^2 + 1) x, recorded
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        g.sum().backward()
        return y, g, x.grad

    check(scenario)
