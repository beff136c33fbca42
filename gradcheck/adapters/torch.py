"""The torch adapter (`--gradcheck-adapter=torch`), CPU and CUDA.

Importing it changes no global torch state; `prepare()` applies the run's
precision defaults (`DEFAULT_PRECISION`).
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.autograd import forward_ad

from gradcheck.adapters.base import AdapterBase, AdapterError, compile_ops

OP_SOURCE_PRELUDE = '''\
import numpy as np
import torch


def prod_over(x, dim, keepdim):
    """torch.prod over None, an int or a tuple of dims (torch.prod takes one int)."""
    dims = range(x.ndim) if dim is None else (dim,) if isinstance(dim, int) else dim
    out = x
    for d in dims:
        out = out.prod(d, keepdim=True)
    return out if keepdim else out.squeeze(tuple(dims))


def topk_values(x, k, dim, largest, sorted):
    """torch.topk(...).values; with sorted=False, whose order torch leaves unspecified,
    sorted afterwards (largest first when largest)."""
    values = torch.topk(x, k, dim=dim, largest=largest, sorted=sorted).values
    return values if sorted else torch.sort(values, dim=dim, descending=largest).values
'''

_UNARY = (
    "neg exp log log1p expm1 sqrt rsqrt reciprocal square abs sign sin cos tan"
    " tanh sigmoid atan asin acos sinh cosh erf relu"
).split()
_BINARY = "add sub mul div maximum minimum pow matmul".split()
_REDUCTIONS = "sum mean amax amin logsumexp".split()
_ALONG_DIM = "softmax log_softmax cumsum cumprod".split()
_AS_INDEX = "torch.tensor({index}, device={x}.device)"

#: Catalog op -> expression template (convention: gradcheck/adapters/base.py).
OP_SOURCE: dict[str, str] = {
    **{op: f"torch.{op}({{x}})" for op in _UNARY},
    "softplus": "torch.nn.functional.softplus({x})",
    "gelu": "torch.nn.functional.gelu({x})",
    "clamp": "torch.clamp({x}, min={min}, max={max})",
    "pow_scalar": "torch.pow({x}, {exponent})",
    **{op: f"torch.{op}({{x}}, {{y}})" for op in _BINARY},
    "where": "torch.where(torch.tensor({condition}, device={x}.device), {x}, {y})",
    **{op: f"torch.{op}({{x}}, dim={{dim}}, keepdim={{keepdim}})" for op in _REDUCTIONS},
    "prod": "prod_over({x}, {dim}, {keepdim})",
    "max": "torch.max({x})",
    "min": "torch.min({x})",
    "max_dim": "torch.max({x}, {dim}, keepdim={keepdim}).values",
    "min_dim": "torch.min({x}, {dim}, keepdim={keepdim}).values",
    "var": "torch.var({x}, dim={dim}, correction={correction}, keepdim={keepdim})",
    "std": "torch.std({x}, dim={dim}, correction={correction}, keepdim={keepdim})",
    "norm": "torch.linalg.vector_norm({x}, 2, dim={dim}, keepdim={keepdim})",
    **{op: f"torch.{op}({{x}}, dim={{dim}})" for op in _ALONG_DIM},
    "reshape": "torch.reshape({x}, {shape})",
    "view": "{x}.view({shape})",
    "transpose": "torch.transpose({x}, {dim0}, {dim1})",
    "permute": "torch.permute({x}, {dims})",
    "expand": "{x}.expand({size})",
    "broadcast_to": "torch.broadcast_to({x}, {size})",
    "unsqueeze": "torch.unsqueeze({x}, {dim})",
    "squeeze": "torch.squeeze({x}) if {dim} is None else torch.squeeze({x}, {dim})",
    "flip": "torch.flip({x}, {dims})",
    "cat": "torch.cat({xs}, dim={dim})",
    "stack": "torch.stack({xs}, dim={dim})",
    "getitem": "{x}[{index}]",
    "index": "{x}[torch.tensor({indices}, device={x}.device)]",
    "gather": f"torch.gather({{x}}, {{dim}}, {_AS_INDEX})",
    "index_select": f"torch.index_select({{x}}, {{dim}}, {_AS_INDEX})",
    # -- indexing, scatter and layout ops (gradcheck/ops/scatter.py, layout.py) --------------
    "masked_fill": "torch.masked_fill({x}, torch.tensor({mask}, device={x}.device), {value})",
    "masked_select": "torch.masked_select({x}, torch.tensor({mask}, device={x}.device))",
    "take_along_dim": "torch.take_along_dim({x}, torch.tensor({indices}, device={x}.device), "
    "dim={dim})",
    "index_add": f"torch.index_add({{x}}, {{dim}}, {_AS_INDEX}, {{y}}, alpha={{alpha}})",
    "scatter_add": f"torch.scatter_add({{x}}, {{dim}}, {_AS_INDEX}, {{y}})",
    "index_put": "torch.index_put({x}, tuple(torch.tensor(i, device={x}.device) for i in "
    "{indices}), {y}, accumulate=True)",
    "narrow": "torch.narrow({x}, {dim}, {start}, {length})",
    "split": "torch.split({x}, {split_size_or_sections}, dim={dim})[{index}]",
    "chunk": "torch.chunk({x}, {chunks}, dim={dim})[{index}]",
    "unbind": "torch.unbind({x}, dim={dim})[{index}]",
    "roll": "torch.roll({x}, {shifts}, {dims})",
    "repeat": "{x}.repeat({repeats})",
    "tile": "torch.tile({x}, {dims})",
    "sort": "torch.sort({x}, dim={dim}, descending={descending}, stable={stable}).values",
    "topk": "topk_values({x}, {k}, {dim}, {largest}, {sorted})",
    # -- end of indexing, scatter and layout ops ---------------------------------------------
}

DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


# The four functions below are the adapter's protocol methods, and their source is pasted
# into repro scripts (REPRO_HELPERS) so that a torch repro needs only torch and numpy.
def asarray(array: np.ndarray, dtype: str, device: str, requires_grad: bool) -> torch.Tensor:
    tensor = torch.as_tensor(np.array(array), dtype=DTYPES[dtype], device=device)  # a copy
    return tensor.requires_grad_(requires_grad)


def to_numpy(x: torch.Tensor) -> np.ndarray:
    # force=True also materialises torch's ZeroTensor (e.g. abs's second derivative).
    return x.detach().to(device="cpu", dtype=torch.float64).numpy(force=True).copy()


def vjp(
    fn: Callable[..., tuple], primals: Sequence[torch.Tensor], cotangents: Sequence[Any]
) -> tuple[tuple, tuple]:
    # Leaves that do not require grad get a differentiable alias; non-leaf primals
    # (grads from an outer vjp) are used as they are, so nesting gives second order.
    primals = tuple(p if p.requires_grad else p.detach().requires_grad_() for p in primals)
    outputs = tuple(fn(*primals))
    # torch refuses outputs with no graph (constants); they contribute nothing.
    pairs = [(o, c) for o, c in zip(outputs, cotangents, strict=True) if o.requires_grad]
    grads = [None] * len(primals)
    if pairs:
        grads = torch.autograd.grad(
            [o for o, _ in pairs],
            primals,
            grad_outputs=[c for _, c in pairs],
            create_graph=True,
            allow_unused=True,
        )
    return outputs, tuple(
        torch.zeros_like(p) if g is None else g for g, p in zip(grads, primals, strict=True)
    )


def jvp(
    fn: Callable[..., tuple], primals: Sequence[torch.Tensor], tangents: Sequence[Any]
) -> tuple[tuple, tuple]:
    with warnings.catch_warnings(), forward_ad.dual_level():
        # torch's first forward-AD use scripts decompositions with deprecated torch.jit.
        warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated")
        duals = [forward_ad.make_dual(p, t) for p, t in zip(primals, tangents, strict=True)]
        unpacked = [forward_ad.unpack_dual(o) for o in fn(*duals)]
        outputs = tuple(u.primal for u in unpacked)
        tangents_out = tuple(
            torch.zeros_like(u.primal) if u.tangent is None else u.tangent.clone() for u in unpacked
        )
    return outputs, tangents_out


REPRO_HELPERS = "\n".join(
    [
        "import warnings",
        "from collections.abc import Callable, Sequence",
        "from typing import Any",
        "",
        "from torch.autograd import forward_ad",
        "",
        "DTYPES = {name: getattr(torch, name) for name in " + repr(tuple(DTYPES)) + "}",
        "",
    ]
    + [inspect.getsource(f) for f in (asarray, to_numpy, vjp, jvp)]
)


# torch's prod/cumprod double backward divides by the input: near small inputs its
# bfloat16 Hessian-vector products are wrong by O(1) (docs/findings.md, "prod and cumprod").
WRONG_SECOND_ORDER = {
    (op, "bfloat16"): f"torch's {op} double backward is wrong by O(1) in bfloat16 near small "
    "inputs (it divides by them): see docs/findings.md"
    for op in ("prod", "cumprod")
}

#: What `prepare()` sets: exact float32 (no TF32), nondeterminism allowed.
DEFAULT_PRECISION: dict[str, Any] = {
    "tf32_matmul": False,
    "tf32_cudnn": False,
    "float32_matmul_precision": "highest",
    "deterministic_algorithms": False,
}


class TorchAdapter(AdapterBase):
    name = "torch"
    version = torch.__version__
    dtypes = tuple(DTYPES)
    capabilities = frozenset({"jvp", "higher_order", "imperative"})
    op_source = OP_SOURCE
    op_source_prelude = OP_SOURCE_PRELUDE
    repro_helpers = REPRO_HELPERS

    def __init__(self) -> None:
        self.ops = compile_ops(OP_SOURCE, OP_SOURCE_PRELUDE)

    @property
    def devices(self) -> tuple[str, ...]:
        # Any torch device string works in asarray; these are the ones the suite runs on.
        return ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)

    asarray = staticmethod(asarray)
    to_numpy = staticmethod(to_numpy)
    vjp = staticmethod(vjp)
    jvp = staticmethod(jvp)
    no_grad = staticmethod(torch.no_grad)

    def limitation(self, op: str, capability: str, dtype: str) -> str | None:
        """Ops whose derivative torch computes wrongly at a dtype (docs/findings.md)."""
        if capability == "higher_order" and (op, dtype) in WRONG_SECOND_ORDER:
            return WRONG_SECOND_ORDER[op, dtype]
        return super().limitation(op, capability, dtype)

    def precision_flags(self) -> dict[str, Any]:
        """The global torch settings that change numerics, for the report header."""
        return {
            "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
            "tf32_cudnn": torch.backends.cudnn.allow_tf32,
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        }

    def configure(self, **flags: Any) -> None:
        """Set precision flags by their `precision_flags()` names."""
        unknown = sorted(set(flags) - set(DEFAULT_PRECISION))
        if unknown:
            raise AdapterError(
                f"unknown torch precision flags {unknown}; known: {', '.join(DEFAULT_PRECISION)}"
            )
        if "float32_matmul_precision" in flags:  # set first: it also sets tf32_matmul
            torch.set_float32_matmul_precision(flags["float32_matmul_precision"])
        if "tf32_matmul" in flags:
            torch.backends.cuda.matmul.allow_tf32 = flags["tf32_matmul"]
        if "tf32_cudnn" in flags:
            torch.backends.cudnn.allow_tf32 = flags["tf32_cudnn"]
        if "deterministic_algorithms" in flags:
            torch.use_deterministic_algorithms(flags["deterministic_algorithms"])

    def prepare(self) -> dict[str, Any]:
        """Apply `DEFAULT_PRECISION` for a run (the plugin calls this); returns the flags."""
        self.configure(**DEFAULT_PRECISION)
        return self.precision_flags()


adapter = TorchAdapter()
