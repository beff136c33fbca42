"""linear, embedding and scaled_dot_product_attention: compositions of engine ops, written
as their definitions (their gradients are those of the ops they are made of)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..elementwise import where
from ..linalg import matmul
from ..reductions import softmax
from ..shape import getitem, transpose
from ..tensor import Tensor

__all__ = ["linear", "embedding", "scaled_dot_product_attention"]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias: weight is (out_features, in_features)."""
    out = matmul(input, transpose(weight, 0, -1) if weight.ndim == 2 else weight)
    return out if bias is None else out + bias


def embedding(
    input: Any,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """weight[input]: the rows the integer indices name; repeated indices accumulate their
    gradients. The row padding_idx gets no gradient (torch's reverse mode; torch's forward
    mode does not zero its tangent, pytorch/pytorch#93950)."""
    if max_norm is not None or scale_grad_by_freq:
        raise NotImplementedError("max_norm and scale_grad_by_freq")
    indices = np.asarray(input.data if isinstance(input, Tensor) else input)
    if indices.dtype.kind not in "iu":
        raise RuntimeError(f"embedding indices must be integers, got {indices.dtype}")
    if padding_idx is not None:
        padding_row = np.arange(weight.shape[0])[:, None] == padding_idx % weight.shape[0]
        weight = where(padding_row, weight.detach(), weight)
    return getitem(weight, (indices,))


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(query @ key^T * scale + mask) @ value, scale 1 / sqrt(E) by default. A bool
    mask keeps the scores where it is True (the others become -inf); a float mask is added;
    is_causal keeps query i's scores of keys j <= i."""
    if dropout_p != 0.0 or enable_gqa:
        raise NotImplementedError("dropout_p != 0 and enable_gqa")
    if is_causal and attn_mask is not None:
        raise RuntimeError("scaled_dot_product_attention: is_causal with an explicit attn_mask")
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = matmul(query, transpose(key, -2, -1)) * scale
    if is_causal:
        attn_mask = np.tril(np.ones((query.shape[-2], key.shape[-2]), dtype=bool))
    if attn_mask is not None:
        mask = np.asarray(attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask)
        if mask.dtype == np.bool_:
            scores = where(mask, scores, -math.inf)
        else:  # a float mask in the scores' dtype, like torch's
            scores = scores + Tensor(mask.astype(scores.dtype))
    return matmul(softmax(scores, -1), value)
