"""The bug zoo: deliberately broken copies of reference primitives, and broken adapters.

Each planted bug is what a real engine gets wrong. tests/engine/test_bug_zoo.py shows the
engine's own property tests catch every broken primitive; tests/core/test_oracle_zoo.py
shows each oracle catches its bugs, under the right check name, with a shrunk graph and a
repro script that fails on its own. `load_adapter("tests.bug_zoo:<bug>")` loads one.
Broken imperative semantics (views, in-place ops) live in tests/bug_zoo_semantics.py.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import reference_engine as E
from gradcheck.adapters.reference import ReferenceAdapter
from reference_engine import decompositions as D
from reference_engine.dispatch import Primitive, overridden
from reference_engine.layout import roll_p
from reference_engine.linalg import det_p, inv_p, matmul_p
from reference_engine.nn.conv import conv_p, conv_transpose_p, conv_weight_p
from reference_engine.nn.normalization import rstd_p, standardize_p
from reference_engine.pointwise import ternary
from reference_engine.reductions import _prod_of_others
from reference_engine.rules import elementwise, expand_reduced, sum_p, unbroadcast
from reference_engine.scatter import index_add_p, index_put_values_p, scatter_add_p
from reference_engine.shape import getitem_p
from reference_engine.tensor import Tensor
from tests.bug_zoo_semantics import ADAPTERS as SEMANTICS_ADAPTERS


def _overwrite_put(g: Tensor, index: tuple, shape: tuple) -> Tensor:
    out = np.zeros(shape, dtype=g.dtype)
    out[index] = g.data  # numpy assignment: a repeated index keeps only its last value
    return Tensor(out)


def _sum_keeping_trailing(g: Tensor, shape: tuple, dim: tuple, keepdim: bool) -> Tensor:
    if not keepdim:  # puts the reduced axes last, wherever they were
        g = g.reshape(g.shape + (1,) * len(dim))
    return E.broadcast_to(g, shape)


def _silu_grad(g: Tensor, x: Tensor) -> Tensor:
    s = E.sigmoid(x)
    return g * (s * (1 + x * (1 - s)))


def _nll_vjp_counting_ignored(g, out, x, target, ignore_index, reduction) -> tuple:
    weights = E.losses._nll_weights(x.shape, target, ignore_index, "sum")
    if reduction == "mean":
        weights = weights / target.size  # should be the count of targets != ignore_index
    per_row = E.unsqueeze(g, 0 if x.ndim == 1 else 1) if reduction == "none" else g
    return (Tensor(weights.astype(g.dtype)) * per_row,)


def _prod_vjp_detached(g: Tensor, out: Tensor, x: Tensor, dim: tuple, keepdim: bool) -> tuple:
    others = Tensor(_prod_of_others(out, x, dim, keepdim).data)
    return (expand_reduced(g, x.shape, dim, keepdim) * others,)


def _conv_vjp_weight_undilated(g, out, x, w, stride, padding, dilation, groups):
    """conv's VJP with the weight gradient's windows read as if the kernel were not dilated."""
    geometry = {"stride": stride, "padding": padding, "groups": groups}
    return (
        conv_transpose_p(g, w, **geometry, dilation=dilation, size=x.shape[2:]),
        conv_weight_p(x, g, **geometry, dilation=(1,) * len(dilation), kernel=w.shape[2:]),
    )


def _standardize_vjp_no_mean(g, out, x, dim, eps):
    """standardize's VJP without the - mean(g) term (the mean's own dependence on x)."""
    return (rstd_p(x, dim=dim, eps=eps) * (g - out * E.mean(g * out, dim, keepdim=True)),)


def _eigenvalues_vjp_reversed(g: Tensor, out: Tensor, x: Tensor) -> tuple:
    v = E.flip(D.eigenvectors_p(x), dims=(-1,))  # w ascending, V's columns read descending
    return (v @ D._diag_embed(g) @ v.mT,)


def _eigenvalues_vjp_detached(g: Tensor, out: Tensor, x: Tensor) -> tuple:
    v = Tensor(D.eigenvectors_p(x).data)  # saved without its graph: a constant
    return (v @ D._diag_embed(g) @ v.mT,)


def _svd_u_vjp_square_only(g: Tensor, out: Tensor, x: Tensor) -> tuple:
    """The U part of the SVD's VJP without (I - U U^T) gU S^-1 V^T: right for square x only."""
    u, s, v = D.svd_u_p(x), D.svdvals_p(x), D.svd_vh_p(x).mT
    j = D._inverse_gaps(s, square=True) * (u.mT @ g)
    return (u @ ((j + j.mT) * s.unsqueeze(-2)) @ v.mT,)


def _last_write_wins(g: Tensor, out: Tensor, x: Tensor, values: Tensor, indices: tuple,
                     accumulate: bool) -> tuple:  # fmt: skip
    """index_put's VJP as if the last of repeated indices overwrote the others (the
    accumulate=False rule): earlier repeats get no gradient."""
    flat = np.ravel_multi_index(
        [np.broadcast_arrays(*indices)[d].ravel() % x.shape[d] for d in range(len(indices))],
        x.shape[: len(indices)],
    )
    last = {position: i for i, position in enumerate(flat)}
    keep = np.array([last[p] == i for i, p in enumerate(flat)], dtype=g.dtype)
    picked = getitem_p(g, index=indices)
    keep = keep.reshape(keep.shape + (1,) * (picked.ndim - 1))
    return g, unbroadcast(picked * Tensor(keep), values.shape)


@dataclass(frozen=True)
class BrokenPrimitive:
    op: str  # the catalog op whose adapter call uses the broken primitive
    primitive: Primitive  # the reference primitive it breaks
    broken: Primitive  # its rules that are not None replace the real ones
    caught_by: str  # the oracle that names it


def _rules(
    forward: Callable | None = None, vjp: Callable | None = None, jvp: Callable | None = None
) -> Primitive:
    """A primitive holding only the rules to swap in; the others stay the real ones."""
    return Primitive("broken", forward, vjp=vjp, jvp=jvp)  # type: ignore[arg-type]


BROKEN_PRIMITIVES: dict[str, BrokenPrimitive] = {
    # a wrong formula: tanh' = 1 - y instead of 1 - y^2
    "tanh_vjp_one_minus_y": BrokenPrimitive(
        "tanh", E.tanh, elementwise("tanh", None, lambda g, out, x: g * (1 - out)), "vjp"),
    # broadcasting: the gradient is not summed back to the input's shape
    "mul_vjp_no_unbroadcast": BrokenPrimitive(
        "mul", E.mul, _rules(vjp=lambda g, out, x, y: (g * y, g * x)), "vjp"),
    # transpose: dA = G B instead of G B^T
    "matmul_vjp_no_transpose": BrokenPrimitive("matmul", matmul_p, _rules(
        vjp=lambda g, out, x, y: (unbroadcast(g @ y, x.shape), unbroadcast(x @ g, y.shape))),
        "vjp"),
    # reduction dim: the gradient of sum is broadcast along the wrong axes
    "sum_vjp_wrong_axis": BrokenPrimitive("sum", sum_p, _rules(
        vjp=lambda g, out, x, dim, keepdim: (_sum_keeping_trailing(g, x.shape, dim, keepdim),)),
        "vjp"),
    # fan-in: repeated indices overwrite instead of accumulating
    "index_vjp_overwrites": BrokenPrimitive("index", getitem_p, _rules(
        vjp=lambda g, out, x, index: (_overwrite_put(g, index, x.shape),)), "vjp"),
    # higher order: the VJP is built from detached values, so double backward is zero
    "tanh_vjp_detached": BrokenPrimitive("tanh", E.tanh, elementwise(
        "tanh", None, lambda g, out, x: g * (1 - Tensor(out.data) ** 2)), "higher_order"),
    # higher order: prod's VJP from the detached product of the others (prod states
    # cancelling second-derivative terms, which widen its HVP tolerance: not past this)
    "prod_vjp_detached": BrokenPrimitive(
        "prod", E.reductions.prod_p, _rules(vjp=_prod_vjp_detached), "higher_order"),
    # forward mode: the JVP of sin has the wrong sign
    "sin_jvp_wrong_sign": BrokenPrimitive(
        "sin", E.sin, _rules(jvp=lambda ts, out, x: -ts[0] * E.cos(x)), "adjoint"),
    # a wrong formula: d(x^p) = p x^p instead of p x^(p-1)
    "pow_scalar_vjp_off_by_one": BrokenPrimitive("pow_scalar", E.elementwise.pow_scalar,
        elementwise("pow", None, lambda g, out, x, exponent: g * exponent * x**exponent),
        "analytic"),
    # a scan's VJP runs forward instead of in reverse
    "cumsum_vjp_not_reversed": BrokenPrimitive("cumsum", E.reductions.cumsum_p, _rules(
        vjp=lambda g, out, x, dim: (E.cumsum(g, dim),)), "vjp"),
    # a kink convention: relu'(0) = 1 instead of torch's 0
    "relu_vjp_one_at_zero": BrokenPrimitive("relu", E.relu, elementwise(
        "relu", None, lambda g, out, x: E.where(x >= 0, g, 0)), "conventions"),
    # a wrong forward value: sigmoid(-x)
    "sigmoid_forward_negated": BrokenPrimitive(
        "sigmoid", E.sigmoid, _rules(forward=lambda x: 1 / (1 + np.exp(x))), "forward"),
    # a tail-only bug: above x = 2 the backward uses 1 - y instead of 1 - y^2
    "tanh_vjp_wrong_above_2": BrokenPrimitive("tanh", E.tanh, elementwise(
        "tanh", None, lambda g, out, x: E.where(x > 2, g * (1 - out), g * (1 - out * out))),
        "vjp"),
    # an op that writes its result into its input
    "exp_in_place": BrokenPrimitive(
        "exp", E.exp, _rules(forward=lambda x: np.exp(x, out=x)), "invariants"),
    # -- activations, point-wise ops, losses (tests/core/test_zoo_pointwise.py) ----------
    # a missing term: silu' = sigmoid(x), without x sigmoid'(x)
    "silu_vjp_missing_term": BrokenPrimitive(
        "silu", E.silu, elementwise("silu", None, lambda g, out, x: g * E.sigmoid(x)), "vjp"),
    # swapped arguments: d/dx gets d/dy's formula and d/dy gets d/dx's
    "atan2_vjp_swapped": BrokenPrimitive("atan2", E.atan2, _rules(
        vjp=lambda g, out, x, y: (unbroadcast(-g * x / (x * x + y * y), x.shape),
                                  unbroadcast(g * y / (x * x + y * y), y.shape))), "vjp"),
    # a forgotten factor: addcdiv's divisor gradient without value (-g t1 / t2^2); the
    # other inputs' are right
    "addcdiv_vjp_divisor_without_value": BrokenPrimitive("addcdiv", E.pointwise._addcdiv,
        ternary("addcdiv", None, (
            lambda g, out, x, t1, t2, value: g,
            lambda g, out, x, t1, t2, value: g * value / t2,
            lambda g, out, x, t1, t2, value: -g * (t1 / t2) / t2), ()), "vjp"),
    # a tail-only bug: an asymptotic branch (silu' -> 1) taken from x > 2, where silu' is
    # still 1.09; right for every x <= 2
    "silu_vjp_tail_branch": BrokenPrimitive("silu", E.silu, elementwise(
        "silu", None, lambda g, out, x: E.where(x > 2, g, _silu_grad(g, x))), "vjp"),
    # a wrong normalisation: the mean divides by every target, ignored ones included
    "nll_loss_vjp_mean_counts_ignored": BrokenPrimitive("nll_loss", E.losses.nll_loss_p,
        _rules(vjp=_nll_vjp_counting_ignored), "vjp"),
    # a dilated conv2d whose weight gradient reads undilated windows of the input
    "conv2d_weight_grad_ignores_dilation": BrokenPrimitive(
        "conv2d", conv_p, _rules(vjp=_conv_vjp_weight_undilated), "vjp"),
    # layer_norm's backward without the mean-subtraction term
    "layer_norm_vjp_no_mean_term": BrokenPrimitive(
        "layer_norm", standardize_p, _rules(vjp=_standardize_vjp_no_mean), "vjp"),
    # linalg (tests/core/test_zoo_linalg.py): d inv(A) = -A^-1 G A^-1, not -A^-T G A^-T
    "inv_vjp_no_transpose": BrokenPrimitive("inv", inv_p, _rules(
        vjp=lambda g, out, x: (-(out @ g @ out),)), "vjp"),
    # det's gradient is the cofactor matrix det(A) A^-T: here without the transpose
    "det_vjp_no_cofactor_transpose": BrokenPrimitive("det", det_p, _rules(
        vjp=lambda g, out, x: ((g * out)[..., None, None] * E.linalg.inv(x),)), "vjp"),
    # d w_i = v_i^T dA v_i, paired with the wrong eigenvector (the columns reversed)
    "eigh_vjp_wrong_eigenvector": BrokenPrimitive("eigh", D.eigenvalues_p, _rules(
        vjp=_eigenvalues_vjp_reversed), "vjp"),
    # higher order: the eigenvalues' VJP uses detached eigenvectors (first order is right)
    "eigh_vjp_detached_eigenvectors": BrokenPrimitive("eigh", D.eigenvalues_p, _rules(
        vjp=_eigenvalues_vjp_detached), "higher_order"),
    # a missing term: the SVD's U gradient as for square matrices, wrong for tall ones
    "svd_vjp_square_only": BrokenPrimitive("svd_uv", D.svd_u_p, _rules(
        vjp=_svd_u_vjp_square_only), "vjp"),
    # scatter_add's src gradient gathered along dim 0 whatever `dim` is (the default dim)
    "scatter_add_vjp_wrong_dim": BrokenPrimitive("scatter_add", scatter_add_p, _rules(
        vjp=lambda g, out, x, src, dim, index: (g, E.gather(g, 0, index))), "vjp"),
    # index_put(accumulate=True)'s values gradient keeps only the last of repeated indices
    "index_put_vjp_last_write_wins": BrokenPrimitive(
        "index_put", index_put_values_p, _rules(vjp=_last_write_wins), "vjp"),
    # roll's VJP rolls the gradient the same way again instead of back
    "roll_vjp_same_direction": BrokenPrimitive("roll", roll_p, _rules(
        vjp=lambda g, out, x, shifts, dims: (roll_p(g, shifts=shifts, dims=dims),)), "vjp"),
    # index_add's source gradient forgets alpha
    "index_add_vjp_no_alpha": BrokenPrimitive("index_add", index_add_p, _rules(
        vjp=lambda g, out, x, source, dim, index, alpha: (g, E.index_select(g, dim, index))),
        "vjp"),
}  # fmt: skip


# Bugs wrong only beyond the leaves' box [-2, 2] (spec.LEAF_BOX): one-op graphs never
# show them, and graphs reach them too rarely for the shrinking tests of
# tests/core/test_oracle_zoo.py; tests/core/test_zoo_pointwise.py measures them.
TAIL_ONLY = frozenset({"silu_vjp_tail_branch"})


def planted(bug: BrokenPrimitive) -> contextlib.AbstractContextManager:
    """The broken rules replace the real ones inside this block."""
    broken = bug.broken
    return overridden(bug.primitive, forward=broken.forward, vjp=broken.vjp, jvp=broken.jvp)


class ZooAdapter(ReferenceAdapter):
    """The reference adapter with one op running a broken primitive. The engine records
    the primitive's VJP and JVP when the op runs, so patching the call is enough."""

    def __init__(self, bug_name: str) -> None:
        super().__init__()
        self.name = f"zoo-{bug_name}"
        self.spec = f"tests.bug_zoo:{bug_name}"
        bug = BROKEN_PRIMITIVES[bug_name]
        real = self.ops[bug.op]

        def broken_op(*args, **kwargs):
            with planted(bug):
                return real(*args, **kwargs)

        self.ops = {**self.ops, bug.op: broken_op}
        # The engine-native template would run the real primitive in a repro script.
        self.op_source = {k: v for k, v in self.op_source.items() if k != bug.op}


class ForgetsLabelSmoothing(ReferenceAdapter):
    """Its cross_entropy has the right value, but its backward ignores label_smoothing:
    the gradient is that of the unsmoothed loss (a fused softmax-cross-entropy backward
    that subtracts the one-hot target instead of the smoothed one)."""

    name, spec = "zoo-forgets-label-smoothing", "tests.bug_zoo:forgets_label_smoothing"

    def __init__(self) -> None:
        super().__init__()

        def cross_entropy(x, *, target, ignore_index, reduction, label_smoothing):
            plain = E.cross_entropy(x, target, ignore_index=ignore_index, reduction=reduction)
            smoothed = E.cross_entropy(
                x, target, ignore_index=ignore_index, reduction=reduction,
                label_smoothing=label_smoothing,
            )  # fmt: skip
            return plain + (smoothed - plain).detach()

        self.ops = {**self.ops, "cross_entropy": cross_entropy}
        self.op_source = {k: v for k, v in self.op_source.items() if k != "cross_entropy"}


class Float64Grads(ReferenceAdapter):
    """Returns every gradient in float64, whatever the input's dtype."""

    name, spec = "zoo-float64-grads", "tests.bug_zoo:float64_grads"

    def vjp(self, fn, primals, cotangents):
        outputs, grads = super().vjp(fn, primals, cotangents)
        return outputs, tuple(E.tensor(g.data.astype(np.float64)) for g in grads)


class IgnoresNoGrad(ReferenceAdapter):
    """Records graphs under no_grad()."""

    name, spec = "zoo-ignores-no-grad", "tests.bug_zoo:ignores_no_grad"
    no_grad = staticmethod(contextlib.nullcontext)


class WrongOnTwinDevice(ReferenceAdapter):
    """Has a second device, 'twin', where tanh is computed wrongly."""

    name, spec = "zoo-wrong-on-twin", "tests.bug_zoo:wrong_on_twin"
    devices = ("cpu", "twin")

    def asarray(self, array, dtype, device, requires_grad):
        tensor = super().asarray(array, dtype, "cpu", requires_grad)
        tensor.device = device
        return tensor

    def __init__(self) -> None:
        super().__init__()
        tanh = self.ops["tanh"]
        self.ops = {
            **self.ops,
            "tanh": lambda x: tanh(x) * (1.001 if getattr(x, "device", "cpu") == "twin" else 1.0),
        }


class IgnoresDtype(ReferenceAdapter):
    """Computes everything in float64, whatever dtype it is asked for: it passes every
    comparison, proving nothing about the engine's low-precision kernels."""

    name, spec = "zoo-ignores-dtype", "tests.bug_zoo:ignores_dtype"

    def asarray(self, array, dtype, device, requires_grad):
        return super().asarray(array, "float64", device, requires_grad)


class Hangs(ReferenceAdapter):
    """Its exp never returns (a deadlocked kernel, an infinite loop in a custom op)."""

    name, spec = "zoo-hangs", "tests.bug_zoo:hangs"

    def __init__(self) -> None:
        super().__init__()
        self.ops = {**self.ops, "exp": lambda x: time.sleep(3600)}


class MutatesInputs(ReferenceAdapter):
    """Wraps the caller's numpy array without copying it, and its exp writes in place:
    the caller's data changes under it (a from_numpy that shares memory)."""

    name, spec = "zoo-mutates-inputs", "tests.bug_zoo:mutates_inputs"

    def asarray(self, array, dtype, device, requires_grad):
        tensor = E.Tensor(np.asarray(array))  # shares the caller's memory
        return tensor.requires_grad_(requires_grad)

    def __init__(self) -> None:
        super().__init__()
        exp = self.ops["exp"]

        def exp_in_place(x):
            out = exp(x)
            np.exp(x.data, out=x.data)  # the "optimisation": reuse the input's buffer
            return out

        self.ops = {**self.ops, "exp": exp_in_place}


class SplitsMaxDim(ReferenceAdapter):
    """Its max(x, dim) shares the gradient among tied maxima (like amax) although it
    returns one index; it declares that ties may go "any" way, which splitting is not."""

    name, spec = "zoo-splits-max-dim", "tests.bug_zoo:splits_max_dim"
    conventions = {"max_dim": "any"}

    def __init__(self) -> None:
        super().__init__()
        self.ops = {
            **self.ops,
            "max_dim": lambda x, *, dim, keepdim: E.amax(x, dim=dim, keepdim=keepdim),
        }
        self.op_source = {k: v for k, v in self.op_source.items() if k != "max_dim"}


class MaxPoolTakesLastTie(ReferenceAdapter):
    """Its max_pool2d sends a window's gradient to the last of its tied maxima, but it
    declares torch's convention (the first)."""

    name, spec = "zoo-max-pool-last-tie", "tests.bug_zoo:max_pool_last_tie"

    def __init__(self) -> None:
        super().__init__()
        real = self.ops["max_pool2d"]

        def last_tie(*args, **kwargs):
            with E.conventions.using({"max_pool2d": "last"}):
                return real(*args, **kwargs)

        self.ops = {**self.ops, "max_pool2d": last_tie}
        self.op_source = {k: v for k, v in self.op_source.items() if k != "max_pool2d"}


class InPlaceDropsOther(ReferenceAdapter):
    """Its mul_ records no gradient for `other` (an in-place kernel whose backward takes
    other for a constant); its mul is right."""

    name, spec = "zoo-inplace-drops-other", "tests.bug_zoo:inplace_drops_other"

    def __init__(self) -> None:
        super().__init__()
        self.ops = {**self.ops, "mul_": lambda x, y: x.mul_(y.detach())}
        self.op_source = {k: v for k, v in self.op_source.items() if k != "mul_"}


class CloneShares(ReferenceAdapter):
    """Its clone returns the input itself, sharing its memory: a write into the "copy"
    lands in the original (here: a leaf that requires grad, which the engine refuses)."""

    name, spec = "zoo-clone-shares", "tests.bug_zoo:clone_shares"

    def __init__(self) -> None:
        super().__init__()
        self.ops = {**self.ops, "clone": lambda x: x}
        self.op_source = {k: v for k, v in self.op_source.items() if k != "clone"}


for _name in BROKEN_PRIMITIVES:
    globals()[_name] = ZooAdapter(_name)
float64_grads = Float64Grads()
ignores_no_grad = IgnoresNoGrad()
wrong_on_twin = WrongOnTwinDevice()
ignores_dtype = IgnoresDtype()
hangs = Hangs()
mutates_inputs = MutatesInputs()
splits_max_dim = SplitsMaxDim()
forgets_label_smoothing = ForgetsLabelSmoothing()
max_pool_last_tie = MaxPoolTakesLastTie()
inplace_drops_other = InPlaceDropsOther()
clone_shares = CloneShares()
globals().update(SEMANTICS_ADAPTERS)

#: Adapter bugs that are not a broken primitive: name -> (adapter, the oracle that names it)
BROKEN_ADAPTERS = {
    "float64_grads": (float64_grads, "invariants"),
    "ignores_no_grad": (ignores_no_grad, "semantics"),
    "wrong_on_twin": (wrong_on_twin, "device_parity"),
    "ignores_dtype": (ignores_dtype, "forward"),
    "hangs": (hangs, "vjp"),
    "mutates_inputs": (mutates_inputs, "vjp"),
    "splits_max_dim": (splits_max_dim, "conventions"),
    "forgets_label_smoothing": (forgets_label_smoothing, "vjp"),
    "max_pool_last_tie": (max_pool_last_tie, "conventions"),
    "inplace_drops_other": (inplace_drops_other, "inplace"),
    "clone_shares": (clone_shares, "inplace"),
    **{bug: (adapter, "semantics") for bug, adapter in SEMANTICS_ADAPTERS.items()},
}
