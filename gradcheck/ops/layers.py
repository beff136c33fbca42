"""Neural-network layers (torch.nn.functional): linear, convolutions, normalization,
embedding, pooling, attention.

Weights and biases are tensor inputs whose shapes follow from the first input's
(`input_fits` / `draw_input`), and the attrs (groups, strides, paddings) from all the
input shapes; everything stays small (a conv2d on (1, 2, 4, 4) with (2, 1, 2, 2) weights).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradcheck.ops.reductions import rows
from gradcheck.ops.spec import (
    Kink,
    OpSpec,
    hull,
    magnitude,
    min_or_inf,
    samples,
    size,
)

MAX = 64  # elements per value (strategies.MAX_SIZE)
EPS = 1e-5  # layer_norm, group_norm and batch_norm's default eps


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def per_dim(value, nd: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, tuple) else (value,) * nd


def spelled(draw, values: list[int]):
    """torch takes an int for equal values per spatial dim, or a tuple: draw either."""
    if len(set(values)) == 1 and draw(st.booleans()):
        return values[0]
    return tuple(values)


def with_bias(iv, shapes, m: float):
    """(-m - |bias|, m + |bias|): m bounds the weighted sum, the bias (input 2) adds."""
    m += magnitude(iv[2]) if len(iv) > 2 else 0.0
    return -m, m


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


# ---- convolutions ------------------------------------------------------------------------


def conv_out(size_, kernel, stride, padding, dilation) -> tuple[int, ...]:
    return tuple(
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, s, p, d in zip(size_, kernel, stride, padding, dilation, strict=True)
    )


def conv_spec(name: str, nd: int) -> OpSpec:
    """conv1d / conv2d: input (N, C, *L) or (C, *L), weight (O, C / groups, *K), bias (O,)."""

    def fits(chosen, shape) -> bool:
        x = chosen[0]
        if len(chosen) == 2:
            return shape == (chosen[1][0],)
        c = x[-nd - 1]
        return (
            len(shape) == nd + 2
            and shape[0] >= 1
            and shape[1] >= 1
            and c % shape[1] == 0
            and shape[0] % (c // shape[1]) == 0
            and all(1 <= k <= n for k, n in zip(shape[2:], x[-nd:], strict=True))
        )

    def draw_input(draw, chosen):
        x = chosen[0]
        if len(chosen) == 2:
            return (chosen[1][0],)
        c = x[-nd - 1]
        groups = draw(st.sampled_from(divisors(c)))
        out = groups * draw(st.integers(1, max(1, 4 // groups)))
        kernel = tuple(draw(st.integers(1, min(n, 3))) for n in x[-nd:])
        if out * (c // groups) * math.prod(kernel) > MAX:  # depthwise, 1 x 1: at most c
            return (c, 1) + (1,) * nd
        return (out, c // groups, *kernel)

    def draw_attrs(draw, shapes, intervals) -> dict:
        x, w = shapes[0], shapes[1]
        stride, padding, dilation = [], [], []
        for k, n in zip(w[2:], x[-nd:], strict=True):
            padding.append(draw(st.integers(0, min(k - 1, 2))))
            reach = [d for d in (1, 2, 3) if d * (k - 1) + 1 <= n + 2 * padding[-1]]
            dilation.append(draw(st.sampled_from(reach)))
            stride.append(draw(st.integers(1, 3)))
        batch = size(x[: -nd - 1])
        if batch * w[0] * size(conv_out(x[-nd:], w[2:], stride, padding, dilation)) > MAX:
            stride, padding, dilation = [3] * nd, [0] * nd, [1] * nd  # the smallest output
        return {
            "stride": spelled(draw, stride),
            "padding": spelled(draw, padding),
            "dilation": spelled(draw, dilation),
            "groups": x[-nd - 1] // w[1],
        }

    def shape(shapes, attrs):
        x, w = shapes[0], shapes[1]
        geometry = (per_dim(attrs[k], nd) for k in ("stride", "padding", "dilation"))
        return (*x[: -nd - 1], w[0], *conv_out(x[-nd:], w[2:], *geometry))

    def bounds(iv, shapes, attrs):
        terms = shapes[1][1] * size(shapes[1][2:])
        return with_bias(iv, shapes, terms * magnitude(iv[0]) * magnitude(iv[1]))

    spatial = "L" if nd == 1 else "H, W"
    return OpSpec(
        name,
        "layer",
        shape,
        bounds,
        draw_attrs=draw_attrs,
        arity=(2, 3),
        min_ndim=nd + 1,
        max_ndim=nd + 2,
        min_side=1,
        input_fits=fits,
        draw_input=draw_input,
        signature="(x, weight, bias?, stride=int|tuple, padding=int|tuple, dilation=int|tuple, "
        "groups=int)",
        note=f"torch.nn.functional.{name}: x (N, C, {spatial}) or unbatched, "
        "weight (O, C / groups, *kernel), bias (O,)",
        layout="strided",
    )


def transposed_out(size_, kernel, stride, padding, dilation, extra) -> tuple[int, ...]:
    return tuple(
        (n - 1) * s - 2 * p + d * (k - 1) + e + 1
        for n, k, s, p, d, e in zip(size_, kernel, stride, padding, dilation, extra, strict=True)
    )


def conv_transpose_fits(chosen, shape) -> bool:
    c = chosen[0][-3]
    if len(chosen) == 1:
        return len(shape) == 4 and shape[0] == c and shape[1] >= 1 and 1 <= min(shape[2:])
    per_group = chosen[1][1]  # bias: (weight[1] * groups,), groups dividing c
    groups = shape[0] // per_group if len(shape) == 1 else 0
    return groups >= 1 and shape[0] == groups * per_group and c % groups == 0


def draw_conv_transpose_input(draw, chosen):
    c = chosen[0][-3]
    if len(chosen) == 2:
        return (chosen[1][1] * draw(st.sampled_from(divisors(c))),)
    shape = (c, draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return shape if size(shape) <= MAX else (c, 1, 1, 1)


def draw_conv_transpose_attrs(draw, shapes, intervals) -> dict:
    x, w = shapes[0], shapes[1]
    c = x[-3]
    groups = shapes[2][0] // w[1] if len(shapes) > 2 else draw(st.sampled_from(divisors(c)))
    stride, padding, dilation, extra = [], [], [], []
    for k, n in zip(w[2:], x[-2:], strict=True):
        s, d = draw(st.integers(1, 2)), draw(st.integers(1, 2))
        e = draw(st.integers(0, max(s, d) - 1))  # torch: below the stride or the dilation
        p = draw(st.integers(0, min(d * (k - 1), ((n - 1) * s + d * (k - 1) + e) // 2)))
        for values, v in ((stride, s), (dilation, d), (extra, e), (padding, p)):
            values.append(v)
    out = transposed_out(x[-2:], w[2:], stride, padding, dilation, extra)
    if size(x[:-3]) * w[1] * groups * size(out) > MAX:  # the smallest output: n - k + 1
        stride, dilation, extra = [1, 1], [1, 1], [0, 0]
        padding = [min(k - 1, (n + k - 2) // 2) for k, n in zip(w[2:], x[-2:], strict=True)]
    return {
        "stride": spelled(draw, stride),
        "padding": spelled(draw, padding),
        "output_padding": spelled(draw, extra),
        "groups": groups,
        "dilation": spelled(draw, dilation),
    }


def conv_transpose_shape(shapes, attrs):
    x, w = shapes[0], shapes[1]
    names = ("stride", "padding", "dilation", "output_padding")
    out = transposed_out(x[-2:], w[2:], *(per_dim(attrs[k], 2) for k in names))
    return (*x[:-3], w[1] * attrs["groups"], *out)


def conv_transpose_bounds(iv, shapes, attrs):
    # each output element gets at most one term per input channel of its group and tap
    terms = shapes[0][-3] // attrs["groups"] * size(shapes[1][2:])
    return with_bias(iv, shapes, terms * magnitude(iv[0]) * magnitude(iv[1]))


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


def normalization(name: str, groups, n_of, **fields) -> OpSpec:
    return OpSpec(
        name,
        "layer",
        lambda shapes, attrs: tuple(shapes[0]),
        norm_bounds(n_of),
        arity=(1, 3),
        min_side=1,
        kink=smooth_kink(name, groups),
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
    elements = st.integers(0, rows_ - 1)  # few rows: indices repeat
    return {"indices": draw(hnp.arrays(np.int64, index_shape, elements=elements))}


# ---- pooling -----------------------------------------------------------------------------


def draw_pool_attrs(draw, shapes, intervals, dilated: bool) -> dict:
    size_ = shapes[0][-2:]
    kernel = [draw(st.integers(1, min(n, 3))) for n in size_]
    padding = [draw(st.integers(0, k // 2)) for k in kernel]  # torch: at most half the kernel
    stride = None if draw(st.booleans()) else spelled(draw, [draw(st.integers(1, 3))] * 2)
    attrs = {"kernel_size": spelled(draw, kernel), "stride": stride}
    if not dilated:
        return {
            **attrs,
            "padding": spelled(draw, padding),
            "count_include_pad": draw(st.booleans()),
        }
    dilation = [
        draw(st.sampled_from([d for d in (1, 2) if d * (k - 1) + 1 <= n + 2 * p]))
        for k, n, p in zip(kernel, size_, padding, strict=True)
    ]
    attrs.update(padding=spelled(draw, padding), dilation=spelled(draw, dilation))
    if not windows_have_elements(size_, attrs):  # a window of padding only: no padding
        attrs.update(padding=0, dilation=1)
    return attrs


def pool_geometry(attrs) -> tuple:
    kernel = per_dim(attrs["kernel_size"], 2)
    stride = kernel if attrs["stride"] is None else per_dim(attrs["stride"], 2)
    return kernel, stride, per_dim(attrs["padding"], 2), per_dim(attrs.get("dilation", 1), 2)


def window_positions(n: int, k: int, s: int, p: int, d: int) -> np.ndarray:
    """(outputs, k): the (unpadded) positions each window of one spatial dim reads."""
    outputs = (n + 2 * p - d * (k - 1) - 1) // s + 1
    return np.arange(outputs)[:, None] * s - p + np.arange(k)[None, :] * d


def windows_have_elements(size_, attrs) -> bool:
    kernel, stride, padding, dilation = pool_geometry(attrs)
    return all(
        np.all(np.any((at >= 0) & (at < n), axis=1))
        for n, at in (
            (n, window_positions(n, k, s, p, d))
            for n, k, s, p, d in zip(size_, kernel, stride, padding, dilation, strict=True)
        )
    )


def pool_shape(shapes, attrs):
    geometry = zip(shapes[0][-2:], *pool_geometry(attrs), strict=True)
    return (*shapes[0][:-2], *(len(window_positions(*g)) for g in geometry))


def windows(x: np.ndarray, attrs) -> np.ndarray:
    """x's max_pool2d windows, (..., H_out, W_out, kH * kW), padding read as -inf."""
    geometry = list(zip(x.shape[-2:], *pool_geometry(attrs), strict=True))
    at_h, at_w = (window_positions(*g) for g in geometry)
    pad = [(0, 0)] * (x.ndim - 2) + [(g[3], g[3]) for g in geometry]
    padded = np.pad(x, pad, constant_values=-np.inf)
    h = at_h[:, None, :, None] + geometry[0][3]
    w = at_w[None, :, None, :] + geometry[1][3]
    win = padded[..., h, w]
    return win.reshape(*win.shape[:-2], -1)


def window_tie_gap(inputs, attrs) -> float:
    """Smallest distance between the two largest elements of a window (inf: one element)."""
    win = np.sort(windows(inputs[0], attrs), axis=-1)
    if win.shape[-1] < 2:
        return math.inf
    return min_or_inf((win[..., -1] - win[..., -2]).ravel())


def avg_pool_bounds(iv, shapes, attrs):
    padded = any(per_dim(attrs["padding"], 2)) and attrs["count_include_pad"]
    return hull(iv[0], (0.0, 0.0)) if padded else iv[0]


def pool(name: str, dilated: bool, **fields) -> OpSpec:
    return OpSpec(
        name,
        "layer",
        pool_shape,
        avg_pool_bounds if not dilated else lambda iv, shapes, attrs: iv[0],
        draw_attrs=lambda draw, shapes, iv: draw_pool_attrs(draw, shapes, iv, dilated),
        min_ndim=3,
        max_ndim=4,
        min_side=1,
        layout="strided",
        **fields,
    )


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


def draw_attention_attrs(draw, shapes, intervals) -> dict:
    q, k = shapes[0], shapes[1]
    kind = draw(st.sampled_from(["none", "causal", "bool", "float"]))
    mask_shape = (q[-2], k[-2]) if draw(st.booleans()) else (*q[:-2], q[-2], k[-2])
    mask = None
    if kind == "bool":
        mask = draw(hnp.arrays(np.bool_, mask_shape))
        empty = ~mask.any(axis=-1)  # keep one key per query: a row of -inf has no softmax
        mask[..., 0] |= empty
    elif kind == "float":  # values exact in float16
        mask = draw(
            hnp.arrays(np.float64, mask_shape, elements=st.sampled_from([-2.0, -0.5, 0.0, 1.0]))
        )
    scale = draw(st.sampled_from([None, None, 0.5]))
    return {"attn_mask": mask, "is_causal": kind == "causal", "scale": scale}


# ---- the table ---------------------------------------------------------------------------

TIED_WINDOWS = [[[[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 3.0, 1.0], [5.0, 5.0, 0.0, 5.0]]]]
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
    conv_spec("conv1d", 1),
    conv_spec("conv2d", 2),
    OpSpec(
        "conv_transpose2d",
        "layer",
        conv_transpose_shape,
        conv_transpose_bounds,
        draw_attrs=draw_conv_transpose_attrs,
        arity=(2, 3),
        min_ndim=3,
        max_ndim=4,
        min_side=1,
        input_fits=conv_transpose_fits,
        draw_input=draw_conv_transpose_input,
        signature="(x, weight, bias?, stride=int|tuple, padding=int|tuple, "
        "output_padding=int|tuple, groups=int, dilation=int|tuple)",
        note="torch.nn.functional.conv_transpose2d: weight (C, O / groups, kH, kW)",
        layout="strided",
    ),
    normalization(
        "layer_norm",
        layer_norm_groups,
        lambda shapes, attrs: size(attrs["normalized_shape"]),
        min_ndim=1,
        fits_first=lambda shape: bool(trailing_shapes(shape)),
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
        fits_first=lambda shape: bool(group_counts(shape)),
        draw_attrs=draw_group_norm_attrs,
        signature="(x, weight?, bias?, num_groups=int, eps=float)",
        note="torch.nn.functional.group_norm(x, num_groups, weight, bias, eps); "
        "groups of 3 values or more",
        samples=samples(
            ([GROUPS_ONE_CONSTANT, [2.0, 1.0, -1.0, 0.5]], {"num_groups": 2, "eps": EPS})
        ),
    ),
    normalization(
        "batch_norm",
        batch_norm_groups,
        lambda shapes, attrs: size(shapes[0]) // shapes[0][1],
        min_ndim=2,
        fits_first=batch_statistics_fit,
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
        fits_first=lambda shape: bool(normalize_dims(shape)),
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
    pool(
        "avg_pool2d",
        dilated=False,
        signature="(x, kernel_size=int|tuple, stride=int|tuple|None, padding=int|tuple, "
        "count_include_pad=bool)",
        note="ceil_mode=False",
    ),
    pool(
        "max_pool2d",
        dilated=True,
        kink=Kink(
            window_tie_gap,
            "max_pool2d: ties in a window: the whole gradient to the first in row-major "
            "order within the window (torch CPU)",
            ties=True,
        ),
        samples=samples(
            ([TIED_WINDOWS], {"kernel_size": 2, "stride": 1, "padding": 0, "dilation": 1}),
            ([TIED_WINDOWS], {"kernel_size": (2, 3), "stride": None, "padding": 1, "dilation": 1}),
        ),
        signature="(x, kernel_size=int|tuple, stride=int|tuple|None, padding=int|tuple, "
        "dilation=int|tuple)",
        note="ceil_mode=False",
    ),
    OpSpec(
        "scaled_dot_product_attention",
        "layer",
        lambda shapes, attrs: (*shapes[0][:-1], shapes[2][-1]),
        lambda iv, shapes, attrs: iv[2],  # a convex combination of value's rows
        draw_attrs=draw_attention_attrs,
        arity=(3, 3),
        min_ndim=2,
        min_side=1,
        input_fits=attention_fits,
        draw_input=draw_attention_input,
        signature="(query, key, value, attn_mask=bool array|float array|None, is_causal=bool, "
        "scale=float|None)",
        note="torch.nn.functional.scaled_dot_product_attention (math backend); "
        "no mask row is all False",
        layout="strided",
    ),
]
