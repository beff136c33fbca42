"""Neural-network layers (torch.nn.functional): linear, convolutions, normalization,
embedding, pooling, attention.

Weights and biases are tensor inputs whose shapes follow from the first input's
(`input_fits` / `draw_input`), and the attrs (groups, strides, paddings) from all the
input shapes; everything stays small (a conv2d on (1, 2, 4, 4) with (2, 1, 2, 2) weights).
The sliding-window layers (convolutions, pooling) are in windows.py.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from gradcheck.ops.reductions import rows
from gradcheck.ops.spec import (
    REAL,
    Domain,
    Kink,
    OpSpec,
    element_arrays,
    int_array,
    magnitude,
    min_or_inf,
    samples,
    size,
)
from gradcheck.ops.windows import CONVOLUTIONS, MAX, POOLING, divisors, with_bias

EPS = 1e-5  # layer_norm, group_norm and batch_norm's default eps
ACTIVATION = Domain(-4.0, 4.0)  # attention's query and key (see its record)

# ---- linear ------------------------------------------------------------------------------


def linear_fits(chosen, shape) -> bool:
    x = chosen[0]
    if len(chosen) == 2:
        return shape == (chosen[1][0],)
    return len(shape) == 2 and shape[1] == x[-1] and size(x[:-1]) * shape[0] <= MAX


def draw_linear_input(draw, chosen):
    x = chosen[0]
    if len(chosen) == 2:
        return (chosen[1][0],)
    room = MAX // max(size(x[:-1]), x[-1], 1)
    return (draw(st.integers(1, max(1, min(4, room)))), x[-1])


def linear_bounds(iv, shapes, attrs):
    return with_bias(iv, shapes, shapes[0][-1] * magnitude(iv[0]) * magnitude(iv[1]))


# ---- normalization -------------------------------------------------------------------------


def spread_gap(groups):
    """The smallest sqrt(var + eps) over the groups an op standardizes: where a group's
    values are equal the op stays smooth (eps), but its curvature peaks, as 1 / (var + eps)."""

    def gap(inputs, attrs) -> float:
        r = groups(inputs[0], attrs)
        if r.size == 0:
            return math.inf
        return min_or_inf(np.sqrt(np.var(r, axis=1) + attrs["eps"]))

    return gap


def smooth_kink(op: str, groups) -> Kink:
    return Kink(
        spread_gap(groups),
        f"{op}: smooth (eps); where a group's values are equal the gradient is "
        "weight * (g - mean(g)) / sqrt(eps) (torch)",
        ties=True,
        curved=True,
    )


def norm_bounds(n_of):
    """|(x - mean) / sqrt(var + eps)| <= sqrt(n - 1) in a group of n; then * weight + bias."""

    def bounds(iv, shapes, attrs):
        scale = magnitude(iv[1]) if len(iv) > 1 else 1.0
        return with_bias(iv, shapes, math.sqrt(max(n_of(shapes, attrs) - 1, 0)) * scale)

    return bounds


# A group of 1 value standardizes to 0 and a group of 2 to about (-1, 1), whatever they
# hold: the gradient is 0, or eps / var, of the terms of 1 / sqrt(var + eps) it is computed
# from, so an engine's gradient there is their rounding residue (torch's for 1 value is
# about 1e-14, not 0) and differences of it are noise: the finite_difference and
# higher_order checks cannot resolve it. Groups of fewer than 3 values are not drawn.
SMALLEST_GROUP = 3


def trailing_shapes(x) -> list[tuple[int, ...]]:
    """The normalized_shape values layer_norm may take on x: its suffixes of 3 elements
    or more."""
    return [
        x[len(x) - k :] for k in range(1, len(x) + 1) if size(x[len(x) - k :]) >= SMALLEST_GROUP
    ]


def grown(shape, dim: int, side: int) -> tuple[int, ...]:
    """shape with dim `dim` at least `side` long."""
    dims = list(shape)
    dims[dim] = max(dims[dim], side)
    return tuple(dims)


def layer_norm_fits(chosen, shape) -> bool:
    if len(chosen) == 2:
        return shape == chosen[1]
    return tuple(shape) in trailing_shapes(chosen[0])


def draw_layer_norm_input(draw, chosen):
    return chosen[1] if len(chosen) == 2 else draw(st.sampled_from(trailing_shapes(chosen[0])))


def draw_layer_norm_attrs(draw, shapes, intervals) -> dict:
    trailing = shapes[1] if len(shapes) > 1 else draw(st.sampled_from(trailing_shapes(shapes[0])))
    return {"normalized_shape": tuple(trailing), "eps": EPS}


def channel_fits(chosen, shape) -> bool:
    return shape == (chosen[0][1],)


def draw_channels(draw, chosen):
    return (chosen[0][1],)


def batch_statistics_fit(shape) -> bool:
    # torch refuses 1 value per channel ("Expected more than 1 value per channel when
    # training"); 2 saturate
    return size(shape) // shape[1] >= SMALLEST_GROUP


def group_counts(x) -> list[int]:
    """The num_groups group_norm may take on x: groups of 3 values or more (torch refuses
    groups of 1 value when the batch is 1 too: N * C / num_groups * spatial == 1)."""
    return [g for g in divisors(x[1]) if size(x) // (x[0] * g) >= SMALLEST_GROUP]


def draw_group_norm_attrs(draw, shapes, intervals) -> dict:
    return {"num_groups": draw(st.sampled_from(group_counts(shapes[0]))), "eps": EPS}


def normalize_dims(x) -> list[int]:
    """The dims normalize may take on x: a slice of 1 element is its sign, its gradient
    0 computed from terms of 1 / |x| (differences of it are rounding noise)."""
    return [d for d in range(-len(x), len(x)) if x[d] != 1]


def layer_norm_groups(x, attrs):
    return x.reshape(-1, size(attrs["normalized_shape"]))


def group_norm_groups(x, attrs):
    return x.reshape(x.shape[0] * attrs["num_groups"], -1)


def batch_norm_groups(x, attrs):
    return np.moveaxis(x, 1, 0).reshape(x.shape[1], -1)


def normalization_terms(groups):
    """The largest of var, rstd^3 = (var + eps)^(-3/2) and max |weight| var over the groups:
    torch's forward mode and double backward of a normalization form them (group_norm's
    backward too), and float16 overflows from rstd of about 33 (var + eps < 1e-3), from
    var of about 4e4 (values spread by hundreds): NaN, or a Hessian 13% off at var 4.5e4,
    where the truth is finite; and from weight times var (group_norm's Hessian was inf at
    var 2680 and weights of 40, finite at a tenth of either)."""

    def internal(inputs, attrs) -> float:
        r = groups(inputs[0], attrs)
        if r.size == 0:
            return 0.0
        var = np.var(r, axis=1)
        weight = np.max(np.abs(inputs[1]), initial=0.0) if len(inputs) > 1 else 1.0
        terms = (np.max(var), np.max((var + attrs["eps"]) ** -1.5), weight * np.max(var))
        return float(max(terms))

    return internal


def normalization(name: str, groups, n_of, **fields) -> OpSpec:
    return OpSpec(
        name,
        "layer",
        lambda shapes, attrs: tuple(shapes[0]),
        norm_bounds(n_of),
        arity=(1, 3),
        min_side=1,
        kink=smooth_kink(name, groups),
        internal_size=normalization_terms(groups),
        **fields,
    )


def normalize_gap(inputs, attrs) -> float:
    """Distance of a slice's norm to eps: below it x / eps, above x / norm."""
    r = rows(inputs[0], attrs["dim"])
    if r.shape[1] == 0:
        return math.inf
    return min_or_inf(np.abs(np.sqrt(np.sum(r * r, axis=1)) - attrs["eps"]))


def normalize_bounds(iv, shapes, attrs):
    lo, hi = iv[0]
    return (0.0 if lo >= 0 else -1.0), (0.0 if hi <= 0 else 1.0)


# ---- embedding ---------------------------------------------------------------------------


def draw_embedding_attrs(draw, shapes, intervals) -> dict:
    rows_, dim = shapes[0]
    index_shape = tuple(draw(st.integers(1, 4)) for _ in range(draw(st.integers(0, 2))))
    if size(index_shape) * dim > MAX:
        index_shape = (max(1, MAX // dim),)
    return {"indices": int_array(draw, index_shape, 0, rows_ - 1)}  # few rows: indices repeat


# ---- attention -----------------------------------------------------------------------------


def attention_fits(chosen, shape) -> bool:
    q = chosen[0]
    if len(chosen) == 1:  # key (..., S, E)
        return len(shape) == len(q) and shape[:-2] == q[:-2] and shape[-1] == q[-1]
    k = chosen[1]  # value (..., S, Ev)
    return len(shape) == len(k) and shape[:-1] == k[:-1] and size(q[:-1]) * shape[-1] <= MAX


def draw_attention_input(draw, chosen):
    q = chosen[0]
    batch = q[:-2]
    if len(chosen) == 1:
        room = MAX // max(size(batch) * q[-1], 1)
        return (*batch, draw(st.integers(1, max(1, min(4, room)))), q[-1])
    k = chosen[1]
    room = MAX // max(size(batch) * max(q[-2], k[-2]), 1)
    return (*k[:-1], draw(st.integers(1, max(1, min(4, room)))))


def attention_cancelling_terms(inputs, tangents, attrs) -> float:
    """Attention's VJP sums |value| x d score / d(query, key) per unit of adjoint, and its
    second derivative that times the scores' tangent: where a softmax row saturates they
    cancel to far less. Rounding the scores (terms of |q| |k| E scale) moves the softmax
    by that relatively: both grow by it. In float64 torch and the reference are each
    1.2e-13 off where the terms are ~9000; float32 may keep no correct digit."""
    q, k, v = inputs

    def largest(x: np.ndarray) -> float:
        return float(np.max(np.abs(x), initial=0.0))

    scale = attrs["scale"] or 1 / math.sqrt(max(q.shape[-1], 1))
    d_score = scale * max(largest(q), largest(k))
    sensitivity = 1.0 + scale * q.shape[-1] * largest(q) * largest(k)
    if tangents is None:
        return d_score * largest(v) * sensitivity
    tq, tk, tv = tangents
    score_tangent = np.matmul(tq, np.swapaxes(k, -1, -2)) + np.matmul(q, np.swapaxes(tk, -1, -2))
    return d_score * (largest(v) * scale * largest(score_tangent) + largest(tv)) * sensitivity


def draw_attention_attrs(draw, shapes, intervals) -> dict:
    q, k = shapes[0], shapes[1]
    kind = draw(st.sampled_from(["none", "causal", "bool", "float"]))
    mask_shape = (q[-2], k[-2]) if draw(st.booleans()) else (*q[:-2], q[-2], k[-2])
    mask = None
    if kind == "bool":
        mask = draw(element_arrays(mask_shape, (False, True)))
        empty = ~mask.any(axis=-1)  # keep one key per query: a row of -inf has no softmax
        mask[..., 0] |= empty
    elif kind == "float":  # values exact in float16
        mask = draw(element_arrays(mask_shape, (-2.0, -0.5, 0.0, 1.0)))
    scale = draw(st.sampled_from([None, None, 0.5]))
    return {"attn_mask": mask, "is_causal": kind == "causal", "scale": scale}


# ---- the table ---------------------------------------------------------------------------

# Groups of equal values: the normalization ops' gradient is largest there (1 / sqrt(eps)).
CONSTANT_ROW = [[1.5, 1.5, 1.5], [0.25, -1.0, 2.0]]
GROUPS_ONE_CONSTANT = [[[1.5, 1.5], [1.5, 1.5], [0.5, -1.0], [2.0, 0.0]]]  # (1, 4, 2), 2 groups
CHANNEL_ONE_CONSTANT = [[[0.5, 0.5], [2.0, -1.0]], [[0.5, 0.5], [1.0, 0.0]]]  # channel 0


OPS = [
    OpSpec(
        "linear",
        "layer",
        lambda shapes, attrs: (*shapes[0][:-1], shapes[1][0]),
        linear_bounds,
        arity=(2, 3),
        min_ndim=1,
        input_fits=linear_fits,
        draw_input=draw_linear_input,
        signature="(x, weight, bias?)",
        note="torch.nn.functional.linear: x @ weight.T + bias",
        layout="strided",
    ),
    *CONVOLUTIONS,
    normalization(
        "layer_norm",
        layer_norm_groups,
        lambda shapes, attrs: size(attrs["normalized_shape"]),
        min_ndim=1,
        first_fits=lambda shape: bool(trailing_shapes(shape)),
        grow_first=lambda shape: shape if trailing_shapes(shape) else grown(shape, -1, 3),
        input_fits=layer_norm_fits,
        draw_input=draw_layer_norm_input,
        draw_attrs=draw_layer_norm_attrs,
        signature="(x, weight?, bias?, normalized_shape=tuple, eps=float)",
        note="torch.nn.functional.layer_norm(x, normalized_shape, weight, bias, eps); "
        "groups of 3 values or more",
        samples=samples(
            (
                [CONSTANT_ROW, [1.0, -0.5, 2.0], [0.5, 0.0, -1.0]],
                {"normalized_shape": (3,), "eps": EPS},
            ),
            ([[[0.75] * 3] * 2], {"normalized_shape": (2, 3), "eps": EPS}),
        ),
    ),
    normalization(
        "group_norm",
        group_norm_groups,
        lambda shapes, attrs: size(shapes[0]) // (shapes[0][0] * attrs["num_groups"]),
        min_ndim=2,
        input_fits=channel_fits,
        draw_input=draw_channels,
        first_fits=lambda shape: bool(group_counts(shape)),
        grow_first=lambda shape: shape if group_counts(shape) else grown(shape, 1, 3),
        draw_attrs=draw_group_norm_attrs,
        signature="(x, weight?, bias?, num_groups=int, eps=float)",
        note="torch.nn.functional.group_norm(x, num_groups, weight, bias, eps); "
        "groups of 3 values or more",
        # eps 2^-4: at 1e-5 the equal group's rstd is 316, whose cube overflows torch's
        # float16 backward (NaN), and bfloat16 keeps eps of its terms x rstd = 474 (the
        # weight's gradient 1.23 where the convention is 0)
        samples=samples(
            ([GROUPS_ONE_CONSTANT, [2.0, 1.0, -1.0, 0.5]], {"num_groups": 2, "eps": 2.0**-4})
        ),
    ),
    normalization(
        "batch_norm",
        batch_norm_groups,
        lambda shapes, attrs: size(shapes[0]) // shapes[0][1],
        min_ndim=2,
        first_fits=batch_statistics_fit,
        grow_first=lambda shape: shape if batch_statistics_fit(shape) else grown(shape, 0, 3),
        input_fits=channel_fits,
        draw_input=draw_channels,
        draw_attrs=lambda draw, shapes, iv: {"eps": EPS},
        signature="(x, weight?, bias?, eps=float)",
        note="torch.nn.functional.batch_norm(x, None, None, weight, bias, training=True, "
        "eps); 3 values or more per channel",
        samples=samples(([CHANNEL_ONE_CONSTANT, [1.5, -2.0]], {"eps": EPS})),
    ),
    OpSpec(
        "normalize",
        "layer",
        lambda shapes, attrs: tuple(shapes[0]),
        normalize_bounds,
        draw_attrs=lambda draw, shapes, iv: {
            "p": 2.0,
            "dim": draw(st.sampled_from(normalize_dims(shapes[0]))),
            "eps": draw(st.sampled_from([1e-12, 1e-12, 0.5])),  # 0.5: x / eps is reachable
        },
        min_ndim=1,
        first_fits=lambda shape: bool(normalize_dims(shape)),
        grow_first=lambda shape: shape if normalize_dims(shape) else grown(shape, -1, 2),
        kink=Kink(
            normalize_gap,
            "normalize: x / eps where the norm is below eps: the gradient at the zero "
            "vector is 1 / eps (torch)",
            points=lambda attrs: (0.0,),
            curved=True,
        ),
        # eps 2^-10: 1e-12 is 0 in float16, and the zero vector's 0 / 0 is NaN there
        samples=samples(
            ([[[0.0, 0.0, 0.0], [1.0, -2.0, 2.0]]], {"p": 2.0, "dim": 1, "eps": 2.0**-10}),
            ([[[0.0, 0.0], [0.25, 0.125]]], {"p": 2.0, "dim": -1, "eps": 0.5}),
        ),
        signature="(x, p=2.0, dim=int, eps=float)",
        note="torch.nn.functional.normalize: x / max(norm(x, 2, dim), eps); no slice of "
        "1 element (its sign)",
    ),
    OpSpec(
        "embedding",
        "layer",
        lambda shapes, attrs: (*attrs["indices"].shape, shapes[0][1]),
        lambda iv, shapes, attrs: iv[0],
        draw_attrs=draw_embedding_attrs,
        min_ndim=2,
        max_ndim=2,
        min_side=1,
        signature="(x, indices=int64 array)",
        note="torch.nn.functional.embedding(indices, x): rows of the weight x; repeated "
        "indices accumulate",
    ),
    *POOLING,
    OpSpec(
        "scaled_dot_product_attention",
        "layer",
        lambda shapes, attrs: (*shapes[0][:-1], shapes[2][-1]),
        lambda iv, shapes, attrs: iv[2],  # a convex combination of value's rows
        draw_attrs=draw_attention_attrs,
        arity=(3, 3),
        # Query and key of the size of activations: at |q|, |k| ~ 40 the scores reach
        # ~2000 and the second derivative is rounding of cancelling terms of that size,
        # which noise bounds sized from the op's inputs and outputs cannot see.
        domains=(ACTIVATION, ACTIVATION, REAL),
        min_ndim=2,
        min_side=1,
        input_fits=attention_fits,
        draw_input=draw_attention_input,
        cancelling_terms=attention_cancelling_terms,
        signature="(query, key, value, attn_mask=bool array|float array|None, is_causal=bool, "
        "scale=float|None)",
        note="torch.nn.functional.scaled_dot_product_attention (math backend); "
        "no mask row is all False",
        layout="strided",
    ),
]
