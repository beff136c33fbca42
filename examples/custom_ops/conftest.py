"""Declares the package's ops to gradcheck: the suite checks each alone and composed
with catalog ops (pytest --pyargs gradcheck.suite ..., see README.md)."""

from __future__ import annotations

import math

import numpy as np
from custom_ops import layer_norm, scaled_tanh, scaled_tanh_broken
from hypothesis import strategies as st

import gradcheck
from gradcheck.ops.spec import Kink


def layer_norm_reference(x: np.ndarray, *, eps: float = 1e-5) -> np.ndarray:
    centred = x - x.mean(-1, keepdims=True)
    return centred / np.sqrt((centred * centred).mean(-1, keepdims=True) + eps)


def scaled_tanh_reference(x: np.ndarray, *, scale: float) -> np.ndarray:
    return scale * np.tanh(x)


def layer_norm_bounds(intervals, shapes, attrs):
    # |(x - mean) / std| <= sqrt(n - 1) in a row of n: results leave the inputs' range.
    n = shapes[0][-1]
    return -math.sqrt(max(n - 1, 1)), math.sqrt(max(n - 1, 1))


def equal_row_gap(inputs, attrs):
    # How far the rows are from having equal values. There eps keeps the layer norm
    # smooth, but its slope is 1/sqrt(eps) and its curvature far larger: no difference
    # stencil resolves it, so it is declared like a kink (examples near it prove nothing).
    (x,) = inputs
    if x.size == 0 or x.shape[-1] < 2:  # rows of one value: the result is constant 0
        return math.inf
    return float(np.min(np.max(np.abs(x - x.mean(-1, keepdims=True)), axis=-1)))


EQUAL_ROWS = Kink(
    equal_row_gap,
    "steep (slope 1/sqrt(eps)) where a row's values are equal",
    ties=True,  # leaves it takes are drawn with distinct values
    curved=True,  # its curvature grows as the row's spread shrinks
)


SCALE = {"scale": st.floats(0.5, 2.0)}  # an attr: drawn per node, passed as a keyword


def pytest_gradcheck_ops(config):
    return [
        gradcheck.Op(
            "fused_layer_norm",
            layer_norm,
            min_ndim=1,
            min_side=1,
            bounds=layer_norm_bounds,
            kink=EQUAL_ROWS,
            reference=layer_norm_reference,
            family="normalization",
        ),
        # No numpy reference: checked against its own finite differences, forward mode
        # and second derivatives (forward and vjp report "unsupported" with the reason).
        gradcheck.Op("scaled_tanh", scaled_tanh, attrs=SCALE, bounds=(-2.0, 2.0)),
        gradcheck.Op(
            "scaled_tanh_broken",
            scaled_tanh_broken,
            attrs=SCALE,
            bounds=(-2.0, 2.0),
            reference=scaled_tanh_reference,
        ),
    ]
