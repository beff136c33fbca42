"""Losses (torch.nn.functional's), family "loss", each with a `reduction` attr.

A float target that torch differentiates (mse, l1, smooth_l1, huber, kl_div, and the
class probabilities of cross_entropy_probs) is the second tensor input `y`, of the
input's shape, so both gradients are checked. Class indices are int64 attrs with repeated
classes; binary_cross_entropy_with_logits' target (and pos_weight) are float attrs on a
grid of k / 8, exact in every dtype, since targets are not rounded with the leaves.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from gradcheck.ops.elementwise import softplus
from gradcheck.ops.spec import (
    LIMIT,
    REAL,
    Domain,
    Kink,
    OpSpec,
    element_arrays,
    int_array,
    min_or_inf,
    samples,
    size,
)

REDUCTIONS = ["mean", "sum", "none"]  # torch's default first: examples shrink to it
REDUCTION = "reduction=none|mean|sum"


def draw_reduction(draw, shape) -> str:
    """A reduction; an empty input is only summed or kept (its mean is nan)."""
    return draw(st.sampled_from(["sum", "none"] if size(shape) == 0 else REDUCTIONS))


def class_dim(shape) -> int:
    return 0 if len(shape) == 1 else 1


def target_shape(shape) -> tuple[int, ...]:
    return tuple(s for d, s in enumerate(shape) if d != class_dim(shape))


def loss_shape(shapes, attrs):
    """The per-element loss's shape (the input's, or the input's without its class dim
    for classification losses), or () once reduced."""
    return per_element_shape(shapes, attrs) if attrs["reduction"] == "none" else ()


def per_element_shape(shapes, attrs):
    return target_shape(shapes[0]) if "target" in attrs and attrs["target"].dtype.kind == "i" \
        else tuple(shapes[0])  # fmt: skip


def reduced(pointwise):
    """Bounds of a reduced loss from those of its elements: a sum of n of them, or their
    mean (inside their hull, as is batchmean's sum / N, which is at most n / N of it)."""

    def bounds(iv, shapes, attrs):
        lo, hi = pointwise(iv, shapes, attrs)
        n = size(per_element_shape(shapes, attrs))
        if attrs["reduction"] == "sum":
            return min(lo, n * lo), max(hi, n * hi)
        if attrs["reduction"] == "batchmean" and shapes[0]:
            n = n / shapes[0][0]
            return min(lo, n * lo), max(hi, n * hi)
        return lo, hi

    return bounds


def difference(iv):
    return iv[0][0] - iv[1][1], iv[0][1] - iv[1][0]


def abs_difference(iv):
    lo, hi = difference(iv)
    return (0.0 if lo <= 0.0 <= hi else min(abs(lo), abs(hi))), max(abs(lo), abs(hi))


def regression(name: str, pointwise, draw_more=None, **fields) -> OpSpec:
    """A loss of input and target (`y`, same shape), both differentiated."""

    def draw_attrs(draw, shapes, intervals) -> dict:
        more = draw_more(draw) if draw_more else {}
        return {"reduction": draw_reduction(draw, shapes[0]), **more}

    fields.setdefault("signature", f"(x, y, {REDUCTION})")
    return OpSpec(
        name,
        "loss",
        loss_shape,
        reduced(pointwise),
        draw_attrs=draw_attrs,
        arity=(2, 2),
        domains=(REAL, REAL),
        partner_fits=lambda first, other: tuple(first) == tuple(other),
        draw_partner=lambda draw, shape: tuple(shape),
        **fields,
    )


def scaled_abs(f):
    """Bounds of f(|x - y|) for f increasing."""

    def bounds(iv, shapes, attrs):
        lo, hi = abs_difference(iv)
        return f(lo, attrs), f(hi, attrs)

    return bounds


def smooth_l1(z: float, attrs: dict) -> float:
    beta = attrs["beta"]
    return 0.5 * z * z / beta if z < beta else z - 0.5 * beta


def huber(z: float, attrs: dict) -> float:
    delta = attrs["delta"]
    return 0.5 * z * z if z < delta else delta * (z - 0.5 * delta)


def abs_gap(inputs, attrs) -> float:
    x, y = inputs
    return min_or_inf(np.abs(x - y))


def band_gap(key: str):
    """Distance of |x - y| to the band's edge attrs[key] (smooth_l1's beta, huber's delta)."""

    def gap(inputs, attrs) -> float:
        x, y = inputs
        return min_or_inf(np.abs(np.abs(x - y) - attrs[key]))

    return gap


def band_samples(key: str):
    # x - y = +-1/2 (on the edge for 1/2), 0, 3/2 and 1, for every reduction.
    x, y = [1.5, 0.5, 0.0, 2.0, 1.0], [1.0, 1.0, 0.0, 0.5, 0.0]
    return samples(*(([x, y], {"reduction": r, key: 0.5}) for r in REDUCTIONS))


def c1_convention(name: str, key: str, slope: str) -> str:
    return (
        f"{name} is C1 at |x - y| == {key}: both sides give the gradient {slope}; its "
        f"second derivative jumps there (torch takes the outer side's)"
    )


# ---- classification --------------------------------------------------------------------


def draw_class_attrs(draw, shapes, intervals) -> dict:
    """Class indices (repeats on purpose), an ignore_index that is mostly a class that some
    but not all of the targets hold (the branch a backward gets wrong), else torch's
    default, and a reduction."""
    shape = shapes[0]
    n_classes = shape[class_dim(shape)]
    target = int_array(draw, target_shape(shape), 0, n_classes - 1)
    ignore_index = draw(st.sampled_from([*np.unique(target).tolist(), -100]))
    if np.all(target == ignore_index):  # a mean over no target is nan: keep one
        if target.size > 1 and n_classes > 1:
            target.flat[0] = (ignore_index + 1) % n_classes
        else:
            ignore_index = -100
    return {
        "target": target,
        "ignore_index": ignore_index,
        "reduction": draw_reduction(draw, shape),
    }


def draw_smoothing(draw) -> float:
    return draw(st.sampled_from([0.0, 0.1, 0.3]))


# A mean over the targets that are not ignored: every run checks it (random draws reach
# this branch in about one example of 20).
IGNORED_TARGET = samples(
    (
        [[[0.5, -1.0, 2.0], [1.5, 0.0, -0.5], [-2.0, 1.0, 0.25]]],
        {"target": np.array([0, 2, 2]), "ignore_index": 2, "reduction": "mean"},
    )
)


def draw_cross_entropy_attrs(draw, shapes, intervals) -> dict:
    return {**draw_class_attrs(draw, shapes, intervals), "label_smoothing": draw_smoothing(draw)}


def log_softmax_range(iv, shapes) -> float:
    """-log p of any class lies in [0, this]: the logits' spread plus log C."""
    lo, hi = iv[0]
    return hi - lo + math.log(shapes[0][class_dim(shapes[0])])


def smoothing_sum(inputs, attrs) -> float:
    """Label smoothing's sum of -log p over the classes (C lse - sum x), and for "mean"
    and "sum" over the targets not ignored: torch forms it at the input's dtype, where it
    overflows float16 long before the loss does."""
    if not attrs["label_smoothing"] or inputs[0].size == 0:
        return 0.0
    x, dim = inputs[0], class_dim(inputs[0].shape)
    top = np.max(x, axis=dim, keepdims=True)
    lse = top + np.log(np.sum(np.exp(x - top), axis=dim, keepdims=True))
    sums = np.where(attrs["target"] != attrs["ignore_index"], np.sum(lse - x, axis=dim), 0.0)
    return float(np.max(sums) if attrs["reduction"] == "none" else np.sum(sums))


def cross_entropy_pointwise(iv, shapes, attrs):
    return 0.0, log_softmax_range(iv, shapes)


def nll_pointwise(iv, shapes, attrs):
    lo, hi = iv[0]
    return min(-hi, 0.0), max(-lo, 0.0)  # ignored targets give 0


def probs_pointwise(iv, shapes, attrs):
    """-sum_c q_c log p_c with q = (1 - ls) y + ls / C: C terms of q times [0, range]."""
    ls, n_classes = attrs["label_smoothing"], shapes[0][class_dim(shapes[0])]
    q = ((1 - ls) * iv[1][0] + ls / n_classes, (1 - ls) * iv[1][1] + ls / n_classes)
    top = log_softmax_range(iv, shapes)
    return n_classes * min(q[0] * top, 0.0), n_classes * max(q[1] * top, 0.0)


def probs_shape(shapes, attrs):
    return target_shape(shapes[0]) if attrs["reduction"] == "none" else ()


def probs_bounds(iv, shapes, attrs):
    lo, hi = probs_pointwise(iv, shapes, attrs)
    n = size(target_shape(shapes[0]))
    return (min(lo, n * lo), max(hi, n * hi)) if attrs["reduction"] == "sum" else (lo, hi)


def classification(name: str, pointwise, draw_attrs, **fields) -> OpSpec:
    return OpSpec(
        name,
        "loss",
        loss_shape,
        reduced(pointwise),
        draw_attrs=draw_attrs,
        min_ndim=1,
        min_side=1,
        **fields,
    )


# ---- binary_cross_entropy_with_logits and kl_div ------------------------------------------

GRID = [k / 8 for k in range(9)]


def draw_bce_attrs(draw, shapes, intervals) -> dict:
    shape = shapes[0]
    target = draw(element_arrays(tuple(shape), tuple(GRID)))
    weights = element_arrays(tuple(shape[-1:]), (0.5, 1.0, 2.0, 3.0))
    return {
        "target": target,
        "pos_weight": draw(st.none() | weights),
        "reduction": draw_reduction(draw, shape),
    }


def bce_pointwise(iv, shapes, attrs):
    # (1 - t) x + w softplus(-x) with t in [0, 1] and w = 1 + (pos_weight - 1) t in
    # [0.5, 3]: the first term lies in [min(x, 0), max(x, 0)], the second in [0, 3 sp(-x)].
    lo, hi = iv[0]
    return min(lo, 0.0), max(hi, 0.0) + 3.0 * softplus(-lo)


# kl_div's target: a probability (log_target=False needs it positive) or a log-probability
# (log_target=True: exp(y) stays below e^3); drawn on one side of 0 (gap), the attr follows.
KL_TARGET = Domain(-LIMIT, 3.0, gap=0.01)


def draw_kl_attrs(draw, shapes, intervals) -> dict:
    # Not "mean": torch warns on every call that its meaning changes in the next major
    # release (to batchmean's).
    positive = intervals[1][0] > 0
    empty = size(shapes[0]) == 0
    return {
        "reduction": draw(
            st.sampled_from(["sum", "none"] if empty else ["batchmean", "sum", "none"])
        ),
        "log_target": draw(st.booleans()) if positive else True,
    }


def kl_batchmean_sum(inputs, attrs) -> float:
    """The sum of every term, which "batchmean" forms before dividing by the batch size:
    torch forms it at the input's dtype, where it overflows float16 long before the loss
    does."""
    if attrs["reduction"] != "batchmean":
        return 0.0
    x, y = inputs
    with np.errstate(all="ignore"):  # y <= 0 without log_target: no value, no overflow
        terms = np.exp(y) * (y - x) if attrs["log_target"] else y * (np.log(y) - x)
    return abs(float(np.nansum(terms)))


def kl_pointwise(iv, shapes, attrs):
    (a, b), (c, d) = iv
    if attrs["log_target"]:  # exp(y) (y - x): exp(y) in [e^c, e^d], y - x in [c - b, d - a]
        scale = (math.exp(c), math.exp(d))
        corners = [s * v for s in scale for v in (c - b, d - a)]
        return min(corners), max(corners)
    entropy = [v * math.log(v) for v in (c, d)] + ([-1 / math.e] if c < 1 / math.e < d else [])
    cross = [-y * x for y in (c, d) for x in (a, b)]
    return min(entropy) + min(cross), max(entropy) + max(cross)


OPS = [
    regression(
        "mse_loss",
        scaled_abs(lambda z, attrs: z * z),
        note="both x and the target y are differentiated",
    ),
    regression(
        "l1_loss",
        scaled_abs(lambda z, attrs: z),
        kink=Kink(abs_gap, "l1_loss at x == y: the gradient is 0 (torch: sign(0))", ties=True),
        samples=samples(
            *(([[1.0, 2.0, 3.0], [1.0, 0.0, 3.0]], {"reduction": r}) for r in REDUCTIONS)
        ),
    ),
    regression(
        "smooth_l1_loss",
        scaled_abs(smooth_l1),
        draw_more=lambda draw: {"beta": draw(st.sampled_from([1.0, 0.5, 2.0]))},
        signature=f"(x, y, {REDUCTION}, beta=float)",
        kink=Kink(band_gap("beta"), c1_convention("smooth_l1_loss", "beta", "sign(x - y)")),
        samples=band_samples("beta"),
    ),
    regression(
        "huber_loss",
        scaled_abs(huber),
        draw_more=lambda draw: {"delta": draw(st.sampled_from([1.0, 0.5, 2.0]))},
        signature=f"(x, y, {REDUCTION}, delta=float)",
        kink=Kink(band_gap("delta"), c1_convention("huber_loss", "delta", "x - y")),
        samples=band_samples("delta"),
    ),
    classification(
        "cross_entropy",
        cross_entropy_pointwise,
        draw_cross_entropy_attrs,
        signature="(x, target=int64 array, ignore_index=int, reduction=none|mean|sum, "
        "label_smoothing=float)",
        note="class indices; x is (C,) or (N, C, ...)",
        absolute_rounding=True,  # log_softmax inside: x - logsumexp(x)
        internal_size=smoothing_sum,
    ),
    OpSpec(
        "cross_entropy_probs",
        "loss",
        probs_shape,
        probs_bounds,
        draw_attrs=lambda draw, shapes, iv: {
            "reduction": draw_reduction(draw, shapes[0]),
            "label_smoothing": draw_smoothing(draw),
        },
        arity=(2, 2),
        domains=(REAL, REAL),
        min_ndim=1,
        min_side=1,
        partner_fits=lambda first, other: tuple(first) == tuple(other),
        draw_partner=lambda draw, shape: tuple(shape),
        signature=f"(x, y, {REDUCTION}, label_smoothing=float)",
        note="torch.nn.functional.cross_entropy(x, y), y class probabilities (differentiated)",
        absolute_rounding=True,  # log_softmax inside: x - logsumexp(x)
    ),
    classification(
        "nll_loss",
        nll_pointwise,
        draw_class_attrs,
        signature="(x, target=int64 array, ignore_index=int, reduction=none|mean|sum)",
        samples=IGNORED_TARGET,
    ),
    OpSpec(
        "binary_cross_entropy_with_logits",
        "loss",
        lambda shapes, attrs: tuple(shapes[0]) if attrs["reduction"] == "none" else (),
        reduced(bce_pointwise),
        draw_attrs=draw_bce_attrs,
        signature=f"(x, target=float array, pos_weight=float array|None, {REDUCTION})",
        note="target in [0, 1]; pos_weight over the last dim",
        derivative_rounding=True,  # sigmoid(x) - target: its derivative is s (1 - s)
    ),
    OpSpec(
        "kl_div",
        "loss",
        lambda shapes, attrs: tuple(shapes[0]) if attrs["reduction"] == "none" else (),
        reduced(kl_pointwise),
        draw_attrs=draw_kl_attrs,
        arity=(2, 2),
        domains=(REAL, KL_TARGET),
        partner_fits=lambda first, other: tuple(first) == tuple(other),
        draw_partner=lambda draw, shape: tuple(shape),
        signature="(x, y, reduction=none|sum|batchmean, log_target=bool)",
        note="x log-probabilities; y probabilities (> 0) or, with log_target, log-probabilities",
        internal_size=kl_batchmean_sum,
    ),
]
