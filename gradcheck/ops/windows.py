"""The sliding-window layers' records (convolutions, pooling), and the helpers the layer
records share (gradcheck/ops/layers.py has the family's table)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from gradcheck.ops.spec import Kink, OpSpec, hull, magnitude, min_or_inf, samples, size

MAX = 64  # elements per value (strategies.MAX_SIZE)


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


def conv_transpose_spec() -> OpSpec:
    return OpSpec(
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
    )


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


# (1, 1, 3, 4): windows of 2 x 2 (stride 1) tie at 3 and at 5, some of them overlapping
TIED_WINDOWS = [[[[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 3.0, 1.0], [5.0, 5.0, 0.0, 5.0]]]]

CONVOLUTIONS = [conv_spec("conv1d", 1), conv_spec("conv2d", 2), conv_transpose_spec()]
POOLING = [
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
]
