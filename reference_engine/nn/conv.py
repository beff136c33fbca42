"""Convolutions (conv1d, conv2d, conv_transpose2d) and pooling (avg_pool2d, max_pool2d).

Three bilinear primitives, each the adjoint of another in one argument, so that their VJPs
and JVPs are written with each other and differentiate again to any order:

    <conv(x, w), y> = <x, conv_transpose(y, w)> = <w, conv_weight(x, y)>

Their forwards are explicit sums over the kernel window: for each kernel tap, the input
elements it multiplies (one strided slice of the zero-padded input) times that tap's
weights, summed over the input channels of the group (an einsum). Inputs are batched,
(N, C, *spatial); attrs are per spatial dim tuples.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import conventions
from ..dispatch import Primitive
from ..shape import getitem, reshape, squeeze, unsqueeze
from ..tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv_transpose2d", "avg_pool2d", "max_pool2d"]


def _window(xp: np.ndarray, tap: tuple, stride: tuple, dilation: tuple, out: tuple) -> Any:
    """xp[..., tap * dilation + stride * i] for every output position i (per spatial dim):
    the padded input elements kernel tap `tap` multiplies. A view: writable."""
    index = tuple(
        slice(t * d, t * d + s * (n - 1) + 1, s)
        for t, s, d, n in zip(tap, stride, dilation, out, strict=True)
    )
    return xp[(..., *index)]


def _taps(kernel: Sequence[int]) -> Any:
    return itertools.product(*(range(k) for k in kernel))


def _pad(x: np.ndarray, padding: tuple, value: float = 0.0) -> np.ndarray:
    lead = [(0, 0)] * (x.ndim - len(padding))
    return np.pad(x, lead + [(p, p) for p in padding], constant_values=value)


def out_size(size: Sequence[int], kernel, stride, padding, dilation) -> tuple[int, ...]:
    """Output length per spatial dim: (L + 2p - d (k - 1) - 1) // s + 1 (torch's formula)."""
    return tuple(
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, s, p, d in zip(size, kernel, stride, padding, dilation, strict=True)
    )


def _grouped(a: np.ndarray, groups: int) -> np.ndarray:
    """(N, C, *spatial) as (N, groups, C / groups, *spatial); (O, ...) weights likewise."""
    return a.reshape(a.shape[0], groups, a.shape[1] // groups, *a.shape[2:])


def _conv(x, w, stride, padding, dilation, groups):
    """out[n, o, i] = sum over c in o's group, tap k of xpad[n, c, i * s + k * d] w[o, c, k]."""
    o, kernel = w.shape[0], w.shape[2:]
    out = out_size(x.shape[2:], kernel, stride, padding, dilation)
    xp = _grouped(_pad(x, padding), groups)
    wg = w.reshape(groups, o // groups, *w.shape[1:])
    y = np.zeros((x.shape[0], groups, o // groups, *out), np.result_type(x, w))
    for tap in _taps(kernel):
        window = _window(xp, tap, stride, dilation, out)
        y += np.einsum("ngc...,goc->ngo...", window, wg[(..., *tap)])
    return y.reshape(x.shape[0], o, *out)


def _conv_transpose(y, w, stride, padding, dilation, groups, size):
    """The adjoint of _conv in x: each y element adds w times itself back onto the input
    elements its window read; the padding is cut off. `size` is x's spatial size."""
    n, o, *out = y.shape
    cg, kernel = w.shape[1], w.shape[2:]
    padded = tuple(m + 2 * p for m, p in zip(size, padding, strict=True))
    xp = np.zeros((n, groups, cg, *padded), np.result_type(y, w))
    yg, wg = _grouped(y, groups), w.reshape(groups, o // groups, *w.shape[1:])
    for tap in _taps(kernel):
        view = _window(xp, tap, stride, dilation, out)
        view += np.einsum("ngo...,goc->ngc...", yg, wg[(..., *tap)])
    inner = tuple(slice(p, p + m) for p, m in zip(padding, size, strict=True))
    return xp[(..., *inner)].reshape(n, groups * cg, *size)


def _conv_weight(x, y, stride, padding, dilation, groups, kernel):
    """The adjoint of _conv in w: w[o, c, k] = sum over n, i of xpad[n, c, i s + k d] y[n, o, i]."""
    o, out = y.shape[1], y.shape[2:]
    xp, yg = _grouped(_pad(x, padding), groups), _grouped(y, groups)
    w = np.zeros((groups, o // groups, x.shape[1] // groups, *kernel), np.result_type(x, y))
    spatial = "ijk"[: len(out)]  # summed over, with the batch
    for tap in _taps(kernel):
        window = _window(xp, tap, stride, dilation, out)
        w[(..., *tap)] = np.einsum(f"ngc{spatial},ngo{spatial}->goc", window, yg)
    return w.reshape(o, x.shape[1] // groups, *kernel)


def _fit(z: Tensor, shape: tuple) -> Tensor:
    """z cut to `shape` in its trailing dims. conv of a conv_transpose output with an
    output_padding >= stride has positions past the transposed input's: they are not in it."""
    if z.shape == shape:
        return z
    return getitem(z, (..., *(slice(0, m) for m in shape[2:])))


conv_p = Primitive(
    "convolution",
    _conv,
    params=("input", "weight"),
    vjp=lambda g, out, x, w, **a: (
        conv_transpose_p(g, w, **a, size=x.shape[2:]),
        conv_weight_p(x, g, **a, kernel=w.shape[2:]) if w.requires_grad else None,  # pooling
    ),
    jvp=lambda ts, out, x, w, **a: conv_p(ts[0], w, **a) + conv_p(x, ts[1], **a),
)
conv_transpose_p = Primitive(
    "convolution_transpose",
    _conv_transpose,
    params=("input", "weight"),
    vjp=lambda g, out, y, w, size, **a: (
        _fit(conv_p(g, w, **a), y.shape),
        conv_weight_p(g, y, **a, kernel=w.shape[2:]),
    ),
    jvp=lambda ts, out, y, w, **a: (
        conv_transpose_p(ts[0], w, **a) + conv_transpose_p(y, ts[1], **a)
    ),
)
conv_weight_p = Primitive(
    "convolution_weight",
    _conv_weight,
    params=("input", "grad_output"),
    vjp=lambda g, out, x, y, kernel, **a: (
        conv_transpose_p(y, g, **a, size=x.shape[2:]),
        _fit(conv_p(x, g, **a), y.shape),
    ),
    jvp=lambda ts, out, x, y, **a: conv_weight_p(ts[0], y, **a) + conv_weight_p(x, ts[1], **a),
)


def _tuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    if isinstance(value, str):
        if value == "valid" and name == "padding":
            return (0,) * n
        raise NotImplementedError(f"{name}={value!r}")
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(values) != n:
        raise ValueError(f"{name} needs {n} values, got {value!r}")
    return tuple(int(v) for v in values)


def _batched(fn: Any, input: Tensor, nd: int) -> Tensor:
    """fn on input with a batch dim (torch's unbatched (C, *spatial) inputs get one)."""
    if input.ndim == nd + 1:
        return squeeze(fn(unsqueeze(input, 0)), 0)
    return fn(input)


def _with_bias(out: Tensor, bias: Tensor | None, nd: int) -> Tensor:
    return out if bias is None else out + reshape(bias, (bias.shape[0],) + (1,) * nd)


def _convnd(nd, input, weight, bias, stride, padding, dilation, groups) -> Tensor:
    geometry = {
        "stride": _tuple(stride, nd, "stride"),
        "padding": _tuple(padding, nd, "padding"),
        "dilation": _tuple(dilation, nd, "dilation"),
        "groups": int(groups),
    }
    return _batched(lambda x: _with_bias(conv_p(x, weight, **geometry), bias, nd), input, nd)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    return _convnd(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    return _convnd(2, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose2d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
) -> Tensor:
    """The adjoint of conv2d in its input: weight (C_in, C_out / groups, kH, kW), output
    size (H - 1) s - 2 p + d (k - 1) + output_padding + 1 per spatial dim."""
    s, p = _tuple(stride, 2, "stride"), _tuple(padding, 2, "padding")
    d, extra = _tuple(dilation, 2, "dilation"), _tuple(output_padding, 2, "output_padding")
    kernel = weight.shape[2:]

    def transposed(y: Tensor) -> Tensor:
        size = tuple(
            (n - 1) * si - 2 * pi + di * (k - 1) + e + 1
            for n, si, pi, di, k, e in zip(y.shape[2:], s, p, d, kernel, extra, strict=True)
        )
        geometry = {"stride": s, "padding": p, "dilation": d, "groups": int(groups)}
        return _with_bias(conv_transpose_p(y, weight, **geometry, size=size), bias, 2)

    return _batched(transposed, input, 2)


# -- pooling -------------------------------------------------------------------------------
def _pool_args(kernel_size, stride, padding, dilation=1) -> tuple:
    kernel = _tuple(kernel_size, 2, "kernel_size")
    stride = kernel if stride is None or stride == [] else _tuple(stride, 2, "stride")
    return kernel, stride, _tuple(padding, 2, "padding"), _tuple(dilation, 2, "dilation")


def avg_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """The sum over each window (a conv2d with one all-ones kernel per channel) divided
    by the window's size, or by how many of its elements are not padding."""
    if ceil_mode:
        raise NotImplementedError("ceil_mode=True")
    kernel, stride, padding, dilation = _pool_args(kernel_size, stride, padding)
    geometry = {"stride": stride, "padding": padding, "dilation": dilation}

    def pool(x: Tensor) -> Tensor:
        c, size = x.shape[1], x.shape[2:]
        ones = Tensor(np.ones((c, 1, *kernel), x.dtype))
        sums = conv_p(x, ones, **geometry, groups=c)
        if divisor_override is not None:
            return sums / divisor_override
        if count_include_pad:
            return sums / math.prod(kernel)
        counts = _conv(np.ones((1, 1, *size)), np.ones((1, 1, *kernel)), **geometry, groups=1)
        return sums / Tensor(counts[0, 0].astype(x.dtype))

    return _batched(pool, input, 2)


def window_argmax(x: np.ndarray, kernel, stride, padding, dilation, rule: str) -> np.ndarray:
    """For each output of max_pool2d over a batched x, the flat index into x of the window
    element it takes: the largest, and among ties the first (or the last) in row-major
    order within the window. Padding (-inf) is never taken where a window has an element."""
    out = out_size(x.shape[2:], kernel, stride, padding, dilation)
    values = _pad(x.astype(np.float64), padding, -np.inf)
    where = _pad(np.arange(x.size).reshape(x.shape), padding, -1)
    taps = list(_taps(kernel))
    v = np.stack([_window(values, t, stride, dilation, out) for t in taps], axis=-1)
    i = np.stack([_window(where, t, stride, dilation, out) for t in taps], axis=-1)
    pick = np.argmax(v, axis=-1) if rule == "first" else len(taps) - 1 - np.argmax(v[..., ::-1], -1)
    return np.take_along_axis(i, pick[..., None], axis=-1)[..., 0]


def max_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """The largest element of each window, as x.flatten()[index] with the index chosen in
    numpy: its gradient goes to that one element (ties: conventions "max_pool2d")."""
    if ceil_mode:
        raise NotImplementedError("ceil_mode=True")
    geometry = _pool_args(kernel_size, stride, padding, dilation)
    x = unsqueeze(input, 0) if input.ndim == 3 else input
    index = window_argmax(x.data, *geometry, conventions.choice("max_pool2d"))
    out = getitem(reshape(x, (x.data.size,)), (index,))
    if input.ndim == 3:
        out, index = squeeze(out, 0), index[0]
    if return_indices:  # torch's: flat within each (H, W) plane
        return out, Tensor(index % math.prod(input.shape[-2:]))
    return out
