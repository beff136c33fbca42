"""Losses (torch.nn.functional's), each with reduction "none" | "mean" | "sum".

Most are compositions of engine ops written as torch defines them (mse_loss is
mean((x - y)^2)); smooth_l1_loss and huber_loss are primitives (one rounding in float16,
and no overflowing branch under where), and nll_loss is a linear primitive: a gather of
-input at the target classes, whose VJP scatters the cotangent back.

Class-index targets are integer arrays (numpy or engine tensors, not differentiated);
cross_entropy takes float targets of the input's shape as class probabilities, as torch
does, and differentiates them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .activations import logsigmoid
from .elementwise import abs, exp, sign, where
from .pointwise import xlogy
from .reductions import log_softmax, mean, sum
from .rules import broadcasting, linear
from .shape import unsqueeze
from .tensor import Tensor

__all__ = """mse_loss l1_loss smooth_l1_loss huber_loss nll_loss cross_entropy
binary_cross_entropy_with_logits kl_div""".split()


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum(loss)
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _array(values: Any, dtype: Any = None) -> np.ndarray:
    """A numpy copy of an array-like or engine tensor (targets, weights)."""
    return np.array(values.data if isinstance(values, Tensor) else values, dtype=dtype)


# -- regression losses: input and target of one shape, both differentiated --------------
def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    d = input - target
    return _reduce(d * d, reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """|x - y|: at x == y the gradient is abs'(0) = 0, torch's."""
    return _reduce(abs(input - target), reduction)


def _smooth_l1(x: np.ndarray, y: np.ndarray, beta: float) -> np.ndarray:
    z = np.abs(x - y)
    return np.where(z < beta, 0.5 * z * z / beta, z - 0.5 * beta)


def _smooth_l1_dx(g: Tensor, out: Tensor, x: Tensor, y: Tensor, beta: float) -> Tensor:
    d = x - y
    return g * where(abs(d) < beta, d / beta, sign(d))  # both sides give sign(d) at beta


def _huber(x: np.ndarray, y: np.ndarray, delta: float) -> np.ndarray:
    z = np.abs(x - y)
    return np.where(z < delta, 0.5 * z * z, delta * (z - 0.5 * delta))


def _huber_dx(g: Tensor, out: Tensor, x: Tensor, y: Tensor, delta: float) -> Tensor:
    d = x - y
    return g * where(abs(d) < delta, d, delta * sign(d))  # both sides give d at delta


smooth_l1_p = broadcasting(
    "smooth_l1_loss",
    _smooth_l1,
    _smooth_l1_dx,
    lambda g, out, x, y, beta: -_smooth_l1_dx(g, out, x, y, beta),
)
huber_p = broadcasting(
    "huber_loss",
    _huber,
    _huber_dx,
    lambda g, out, x, y, delta: -_huber_dx(g, out, x, y, delta),
)


def smooth_l1_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0
) -> Tensor:
    if beta == 0:  # torch: plain L1 (0.5 z^2 / beta is never used)
        return l1_loss(input, target, reduction)
    return _reduce(smooth_l1_p(input, target, beta=beta), reduction)


def huber_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0
) -> Tensor:
    return _reduce(huber_p(input, target, delta=delta), reduction)


# -- classification ----------------------------------------------------------------------
def _class_dim(ndim: int) -> int:
    return 0 if ndim == 1 else 1  # (C,) unbatched, else (N, C, d1, ...)


def _nll(x: np.ndarray, target: np.ndarray, ignore_index: int, reduction: str) -> np.ndarray:
    """-x[target] along the class dim; ignored targets give 0 and do not count in the mean."""
    dim = _class_dim(x.ndim)
    valid = target != ignore_index
    picked = np.take_along_axis(x, np.expand_dims(np.where(valid, target, 0), dim), dim)
    losses = np.where(valid, -np.squeeze(picked, dim), 0)
    if reduction == "none":
        return losses
    total = np.sum(losses)
    return total / int(np.sum(valid)) if reduction == "mean" else total


def _nll_weights(x_shape: tuple, target: np.ndarray, ignore_index: int, reduction: str):
    """d out / d x: -1 at each valid target class (divided by the count for the mean)."""
    dim = _class_dim(len(x_shape))
    valid = np.expand_dims(target != ignore_index, dim)
    classes = np.arange(x_shape[dim]).reshape([-1 if d == dim else 1 for d in range(len(x_shape))])
    weights = -((classes == np.expand_dims(target, dim)) & valid).astype(np.float64)
    return weights / np.sum(valid) if reduction == "mean" else weights


def _nll_vjp(g: Tensor, out: Tensor, x: Tensor, target, ignore_index, reduction) -> tuple:
    weights = Tensor(_nll_weights(x.shape, target, ignore_index, reduction).astype(g.dtype))
    per_row = unsqueeze(g, _class_dim(x.ndim)) if reduction == "none" else g
    return (weights * per_row,)


nll_loss_p = linear("nll_loss", _nll, _nll_vjp)


def nll_loss(
    input: Tensor, target: Any, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    target = _array(target, np.int64)
    return nll_loss_p(input, target=target, ignore_index=ignore_index, reduction=reduction)


def cross_entropy(
    input: Tensor,
    target: Any,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """log_softmax, then nll_loss (integer targets) or -sum(target * log p) (float
    targets: class probabilities), as torch defines them. Label smoothing mixes the
    uniform distribution into the target: (1 - ls) * target + ls / C."""
    dim = _class_dim(input.ndim)
    n_classes = input.shape[dim]
    logp = log_softmax(input, dim)
    if isinstance(target, Tensor) and target.dtype.kind == "f":  # class probabilities
        q = target * (1 - label_smoothing) + label_smoothing / n_classes
        losses = -sum(q * logp, dim)
        if reduction == "mean":  # over the batch elements: numel / C of them
            return sum(losses) / (input.data.size // n_classes)
        return _reduce(losses, reduction)
    target = _array(target, np.int64)
    nll = nll_loss(logp, target, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0:
        return nll
    valid = target != ignore_index
    smooth = where(valid, -sum(logp, dim), 0)  # -sum_c log p_c, per batch element
    if reduction == "mean":
        smooth = sum(smooth) / int(np.sum(valid))
    elif reduction == "sum":
        smooth = sum(smooth)
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / n_classes)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """-(pos_weight t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))), written with
    log(1 - sigmoid(x)) = log sigmoid(x) - x. The target (an array) is not differentiated."""
    t = Tensor(_array(target, input.dtype))
    log_weight = 1 if pos_weight is None else (Tensor(_array(pos_weight, input.dtype)) - 1) * t + 1
    loss = (1 - t) * input - log_weight * logsigmoid(input)
    if weight is not None:
        loss = loss * Tensor(_array(weight, input.dtype))
    return _reduce(loss, reduction)


def kl_div(
    input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False
) -> Tensor:
    """target * (log target - input), input holding log-probabilities; with log_target the
    target holds them too: exp(target) * (target - input)."""
    if log_target:
        loss = exp(target) * (target - input)
    else:
        loss = xlogy(target, target) - target * input
    if reduction == "batchmean":
        total = sum(loss)
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction)
