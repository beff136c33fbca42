"""Custom `torch.autograd.Function`s with hand-written backward (and forward-mode) rules.

`scaled_tanh_broken` has a deliberate bug: its backward is 5% too large. Backward rules
recompute from the saved *input* with torch ops, so that they are differentiable again
(second order); a backward that used a tensor computed inside `forward` would not be.
"""

from __future__ import annotations

import torch


class ScaledTanh(torch.autograd.Function):
    """scale * tanh(x)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)
        ctx.scale = scale
        return scale * torch.tanh(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        t = torch.tanh(x)
        return grad * ctx.scale * (1 - t * t), None

    @staticmethod
    def jvp(ctx, x_t: torch.Tensor, scale_t: None) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        t = torch.tanh(x)
        return x_t * ctx.scale * (1 - t * t)


class ScaledTanhBroken(ScaledTanh):
    """The same function; its backward has a wrong factor 1.05 (its jvp is right)."""

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        t = torch.tanh(x)
        return grad * ctx.scale * (1 - t * t) * 1.05, None


class LayerNorm(torch.autograd.Function):
    """(x - mean) / sqrt(var + eps) over the last dimension (no affine part)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, eps: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)
        ctx.eps = eps
        xhat, _ = _normalized(x, eps)
        return xhat

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        return _jacobian_times(x, ctx.eps, grad), None

    @staticmethod
    def jvp(ctx, x_t: torch.Tensor, eps_t: None) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return _jacobian_times(x, ctx.eps, x_t)  # the Jacobian is symmetric


def _normalized(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    centred = x - x.mean(-1, keepdim=True)
    rstd = torch.rsqrt((centred * centred).mean(-1, keepdim=True) + eps)
    return centred * rstd, rstd


def _jacobian_times(x: torch.Tensor, eps: float, v: torch.Tensor) -> torch.Tensor:
    """J v for the layer norm's Jacobian J = rstd (I - 1/n - xhat xhat^T / n)."""
    xhat, rstd = _normalized(x, eps)
    return rstd * (v - v.mean(-1, keepdim=True) - xhat * (v * xhat).mean(-1, keepdim=True))


def scaled_tanh(x: torch.Tensor, *, scale: float = 1.0) -> torch.Tensor:
    return ScaledTanh.apply(x, scale)


def scaled_tanh_broken(x: torch.Tensor, *, scale: float = 1.0) -> torch.Tensor:
    return ScaledTanhBroken.apply(x, scale)


def layer_norm(x: torch.Tensor, *, eps: float = 1e-5) -> torch.Tensor:
    return LayerNorm.apply(x, eps)
