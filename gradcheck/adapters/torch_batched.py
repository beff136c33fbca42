"""The torch adapter's batched members (capability "batched"): `batched_vjp`
(`autograd.grad(..., is_grads_batched=True)`), `vmap_vjp` and `batched_jvp`
(`torch.func.vmap` over `torch.func.vjp` / `torch.func.jvp`).

The three functions' source is pasted into repro scripts, so they use torch only;
`unbatchable` turns torch's "no batching rule" errors into `Unsupported`.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from gradcheck.errors import GradcheckFailure, Unsupported


def batched_vjp(
    fn: Callable[..., tuple], primals: Sequence[torch.Tensor], cotangents: Sequence[Any]
) -> tuple[tuple, tuple]:
    # What torch's own batched-gradient check uses: autograd.grad vmapped over the
    # cotangents' leading dimension (torch's legacy vmap). Primals are handled as in `vjp`.
    primals = tuple(p if p.requires_grad else p.detach().requires_grad_() for p in primals)
    outputs = tuple(fn(*primals))
    pairs = [(o, c) for o, c in zip(outputs, cotangents, strict=True) if o.requires_grad]
    batch = cotangents[0].shape[0] if cotangents else 0
    grads = [None] * len(primals)
    if pairs:
        grads = torch.autograd.grad(
            [o for o, _ in pairs],
            primals,
            grad_outputs=[c for _, c in pairs],
            create_graph=True,
            allow_unused=True,
            is_grads_batched=True,
        )
    return outputs, tuple(
        p.new_zeros((batch, *p.shape)) if g is None else g
        for g, p in zip(grads, primals, strict=True)
    )


def vmap_vjp(
    fn: Callable[..., tuple], primals: Sequence[torch.Tensor], cotangents: Sequence[Any]
) -> tuple[tuple, tuple]:
    # Per-sample VJPs, vmap(grad(f)): torch.func.vmap over torch.func.vjp, primals and
    # cotangents batched along their leading dimension.
    def one(xs: tuple, cs: tuple) -> tuple[tuple, tuple]:
        outputs, pullback = torch.func.vjp(lambda *a: tuple(fn(*a)), *xs)
        return outputs, pullback(cs)

    primals = tuple(p.detach() for p in primals)
    outputs, grads = torch.func.vmap(one)(primals, tuple(cotangents))
    return tuple(outputs), tuple(grads)


def batched_jvp(
    fn: Callable[..., tuple], primals: Sequence[torch.Tensor], tangents: Sequence[Any]
) -> tuple[tuple, tuple]:
    # Many tangents at one point: torch.func.vmap over torch.func.jvp, tangents batched
    # along their leading dimension, primals shared.
    primals = tuple(p.detach() for p in primals)

    def one(ts: tuple) -> tuple:
        return torch.func.jvp(lambda *a: tuple(fn(*a)), primals, ts)[1]

    with warnings.catch_warnings():
        # torch's first forward-AD use scripts decompositions with deprecated torch.jit.
        warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated")
        tangents_out = torch.func.vmap(one)(tuple(tangents))
    return tuple(fn(*primals)), tuple(tangents_out)


# What torch raises for an op it cannot batch (no batching rule, a data-dependent shape,
# an in-place write of a batched value into an unbatched one, a user's autograd.Function
# written without setup_context): a limit of torch's vmap, not a wrong result. Other
# errors stay failures: a batching rule may raise wrongly.
UNBATCHABLE = re.compile(
    r"[Bb]atching rule not implemented|vmap: .*(not possible|not supported|do not support|"
    r"does not support|dynamic shape|data-dependent|\.item\(\))|"
    r"autograd\.Function with functorch transforms"
)


@contextlib.contextmanager
def unbatchable(member: str) -> Iterator[None]:
    """Unsupported, with torch's reason, where torch cannot run `member` for these ops
    (a NotImplementedError, or a RuntimeError saying vmap has no batching rule), also
    when an op call inside the vmapped function classified it as a failure first."""
    try:
        yield
    except (RuntimeError, NotImplementedError, GradcheckFailure) as raised:
        error = raised.__cause__ if isinstance(raised, GradcheckFailure) else raised
        if not isinstance(error, (RuntimeError, NotImplementedError)):
            raise
        text = str(error).strip().splitlines()[0] if str(error).strip() else ""
        if not (isinstance(error, NotImplementedError) or UNBATCHABLE.search(text)):
            raise
        raise Unsupported(f"torch cannot run {member} here: {text[:200]}") from error
