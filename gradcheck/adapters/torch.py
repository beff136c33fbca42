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

from gradcheck.adapters import torch_batched
from gradcheck.adapters.base import AdapterBase, AdapterError, compile_ops

OP_SOURCE_PRELUDE = '''\
import numpy as np
import torch


def prod_over(x, dim, keepdim):
    """torch.prod over None, an int or a tuple of dims (torch.prod takes one int): one
    product over the reduced elements, moved last and flattened. Not one prod per dim: a
    prod over a dim of size 1 divides by its input in its double backward, and 1 / x of
    a small partial product (x < 1.5e-5) overflows float16."""
    dims = range(x.ndim) if dim is None else (dim,) if isinstance(dim, int) else dim
    if x.ndim == 0 or not dims:  # the product is x, in new memory as torch.prod's
        return x.clone()
    dims = [d % x.ndim for d in dims]
    kept = [d for d in range(x.ndim) if d not in dims]
    out = x.permute(*kept, *dims).flatten(len(kept)).prod(-1)
    return out.reshape([1 if d in dims else n for d, n in enumerate(x.shape)]) if keepdim else out


def sdpa_math(query, key, value, attn_mask, is_causal, scale):
    """scaled_dot_product_attention on the math backend (the formula itself, in ops that
    torch differentiates to any order): the fused CPU kernel torch picks for 4-d inputs,
    flash attention, has neither a double backward (pytorch/pytorch#116350) nor forward
    AD (#128971). A float mask is given in the inputs' dtype, as torch requires."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    if attn_mask is not None:
        kind = torch.bool if attn_mask.dtype == bool else query.dtype
        attn_mask = torch.tensor(attn_mask, dtype=kind, device=query.device)
    with sdpa_kernel(SDPBackend.MATH):
        return torch.nn.functional.scaled_dot_product_attention(
            query, key, value, attn_mask=attn_mask, is_causal=is_causal, scale=scale
        )


def qr_positive(a, factor):
    """Q or R of torch.linalg.qr(a), column signs fixed so that diag(R) > 0."""
    q, r = torch.linalg.qr(a)
    signs = torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))
    return q * signs.unsqueeze(-2) if factor == "Q" else signs.unsqueeze(-1) * r


def top_eigenprojector(v):
    """v v^T of the last column of v (the top eigenvector, eigenvalues ascending)."""
    return v[..., -1:] @ v[..., -1:].mT


def nll_loss_input(x):
    """x, made contiguous if 4-d: nll_loss's backward raises "grad_input must be
    contiguous" for a non-contiguous 4-d input (pytorch/pytorch#175084)."""
    return x.contiguous() if x.ndim == 4 else x


def batch_norm_affine(xs):
    """batch_norm's weight and bias, made contiguous: for (N, C) and (N, C, 1) inputs its
    CPU backward reads a strided weight as if contiguous (docs/findings.md)."""
    return [p.contiguous() for p in xs[1:]]


def batch_norm_input(x):
    """x, made contiguous: batch_norm's CPU backward is wrong for some non-contiguous
    inputs, e.g. (1, 2, 3, 1) with its strides reversed (docs/findings.md)."""
    return x.contiguous()


def flat_input(x, dim):
    """x, made contiguous when dim is None: torch.take_along_dim(x, indices) flattens x
    with view(-1), which raises for a non-contiguous x (docs/findings.md)."""
    return x.contiguous() if dim is None else x


def setitem(x, value, index):
    """x with x[index] = value, written into a clone of x through the view out[index]
    (autograd records the write as CopySlices)."""
    out = x.clone()
    out[index] = value
    return out


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
_ACTIVATIONS = "silu logsigmoid softsign mish hardswish".split()
_POINTWISE = "atan2 hypot logaddexp xlogy".split()
_LOSSES = "mse_loss l1_loss".split()
_AS_TARGET = "torch.tensor({target}, device={x}.device)"
_LIKE_X = "torch.tensor({{{}}}, dtype={{x}}.dtype, device={{x}}.device)"

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
    "squeeze": "torch.squeeze({x}, {dim}) if isinstance({dim}, int) else torch.squeeze({x})",
    "flip": "torch.flip({x}, {dims})",
    "cat": "torch.cat({xs}, dim={dim})",
    "stack": "torch.stack({xs}, dim={dim})",
    "getitem": "{x}[{index}]",
    "index": "{x}[torch.tensor({indices}, device={x}.device)]",
    "gather": f"torch.gather({{x}}, {{dim}}, {_AS_INDEX})",
    "index_select": f"torch.index_select({{x}}, {{dim}}, {_AS_INDEX})",
    # -- activations, binary/ternary point-wise ops, losses ----------------------------------
    **{op: f"torch.nn.functional.{op}({{x}})" for op in _ACTIVATIONS},
    "leaky_relu": "torch.nn.functional.leaky_relu({x}, negative_slope={negative_slope})",
    "elu": "torch.nn.functional.elu({x}, alpha={alpha})",
    "hardtanh": "torch.nn.functional.hardtanh({x}, min_val={min_val}, max_val={max_val})",
    **{op: f"torch.{op}({{x}}, {{y}})" for op in _POINTWISE},
    "lerp": "torch.lerp(*{xs})",
    "addcmul": "torch.addcmul(*{xs}, value={value})",
    "addcdiv": "torch.addcdiv(*{xs}, value={value})",
    **{op: f"torch.nn.functional.{op}({{x}}, {{y}}, reduction={{reduction}})" for op in _LOSSES},
    "smooth_l1_loss": "torch.nn.functional.smooth_l1_loss({x}, {y}, reduction={reduction}, "
    "beta={beta})",
    "huber_loss": "torch.nn.functional.huber_loss({x}, {y}, reduction={reduction}, delta={delta})",
    "cross_entropy": f"torch.nn.functional.cross_entropy({{x}}, {_AS_TARGET}, "
    "ignore_index={ignore_index}, reduction={reduction}, label_smoothing={label_smoothing})",
    "cross_entropy_probs": "torch.nn.functional.cross_entropy({x}, {y}, reduction={reduction}, "
    "label_smoothing={label_smoothing})",
    "nll_loss": f"torch.nn.functional.nll_loss(nll_loss_input({{x}}), {_AS_TARGET}, "
    "ignore_index={ignore_index}, reduction={reduction})",
    "binary_cross_entropy_with_logits": "torch.nn.functional.binary_cross_entropy_with_logits("
    f"{{x}}, {_LIKE_X.format('target')}, reduction={{reduction}}, pos_weight=None "
    f"if {{pos_weight}} is None else {_LIKE_X.format('pos_weight')})",
    "kl_div": "torch.nn.functional.kl_div({x}, {y}, reduction={reduction}, "
    "log_target={log_target})",
    # -- end of activations, point-wise ops, losses ------------------------------------------
    # ---- layers (gradcheck/ops/layers.py): weight and bias are inputs 1 and 2 ----
    "linear": "torch.nn.functional.linear(*{xs})",
    **{
        op: f"torch.nn.functional.{op}(*{{xs}}, stride={{stride}}, padding={{padding}}, "
        "dilation={dilation}, groups={groups})"
        for op in ("conv1d", "conv2d")
    },
    "conv_transpose2d": "torch.nn.functional.conv_transpose2d(*{xs}, stride={stride}, "
    "padding={padding}, output_padding={output_padding}, groups={groups}, dilation={dilation})",
    "layer_norm": "torch.nn.functional.layer_norm({xs}[0], {normalized_shape}, *{xs}[1:], "
    "eps={eps})",
    "group_norm": "torch.nn.functional.group_norm({xs}[0], {num_groups}, *{xs}[1:], eps={eps})",
    "batch_norm": "torch.nn.functional.batch_norm(batch_norm_input({xs}[0]), None, None, "
    "*batch_norm_affine({xs}), "
    "training=True, eps={eps})",
    "normalize": "torch.nn.functional.normalize({x}, p={p}, dim={dim}, eps={eps})",
    "embedding": "torch.nn.functional.embedding(torch.tensor({indices}, device={x}.device), {x})",
    "avg_pool2d": "torch.nn.functional.avg_pool2d({x}, {kernel_size}, stride={stride}, "
    "padding={padding}, count_include_pad={count_include_pad})",
    "max_pool2d": "torch.nn.functional.max_pool2d({x}, {kernel_size}, stride={stride}, "
    "padding={padding}, dilation={dilation})",
    "scaled_dot_product_attention": "sdpa_math(*{xs}, attn_mask={attn_mask}, "
    "is_causal={is_causal}, scale={scale})",
    # ---- end of layers ----
    # -- linalg ----------------------------------------------------------------------------
    "einsum": "torch.einsum({equation}, *{xs})",
    "bmm": "torch.bmm({x}, {y})",
    "baddbmm": "torch.baddbmm(*{xs}, beta={beta}, alpha={alpha})",
    "outer": "torch.outer({x}, {y})",
    "trace": "torch.trace({x})",
    "diagonal": "torch.diagonal({x}, offset={offset}, dim1={dim1}, dim2={dim2})",
    "tril": "torch.tril({x}, diagonal={diagonal})",
    "triu": "torch.triu({x}, diagonal={diagonal})",
    "cross": "torch.linalg.cross({x}, {y}, dim={dim})",
    "cdist": "torch.cdist({x}, {y})",
    "det": "torch.linalg.det({x})",
    "slogdet": "torch.linalg.slogdet({x}).logabsdet",
    "inv": "torch.linalg.inv({x})",
    "solve": "torch.linalg.solve({x}, {y})",
    "cholesky": "torch.linalg.cholesky({x} + {x}.mT)",
    "qr": "qr_positive({x}, {factor})",
    "eigh": "torch.linalg.eigh({x} + {x}.mT).eigenvalues",
    "eigh_projector": "top_eigenprojector(torch.linalg.eigh({x} + {x}.mT).eigenvectors)",
    "svd": "torch.linalg.svd({x}, full_matrices=False).S",
    "svd_uv": "(lambda usv: usv.U @ usv.Vh)(torch.linalg.svd({x}, full_matrices=False))",
    # -- end linalg ------------------------------------------------------------------------
    # -- indexing, scatter and layout ops (gradcheck/ops/scatter.py, layout.py) --------------
    "masked_fill": "torch.masked_fill({x}, torch.tensor({mask}, device={x}.device), {value})",
    "masked_select": "torch.masked_select({x}, torch.tensor({mask}, device={x}.device))",
    "take_along_dim": "torch.take_along_dim(flat_input({x}, {dim}), "
    "torch.tensor({indices}, device={x}.device), dim={dim})",
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
    # -- copies, writes through views, and in-place forms (OpSpec.inplace) -------------------
    "clone": "torch.clone({x})",
    "setitem": "setitem({x}, {y}, {index})",
    **{f"{op}_": f"{{x}}.{op}_()" for op in ("exp", "tanh", "sigmoid", "relu")},
    **{f"{op}_": f"{{x}}.{op}_({{y}})" for op in ("add", "sub", "mul", "div")},
    "clamp_": "{x}.clamp_(min={min}, max={max})",
    "masked_fill_": "{x}.masked_fill_(torch.tensor({mask}, device={x}.device), {value})",
    "index_add_": f"{{x}}.index_add_({{dim}}, {_AS_INDEX}, {{y}}, alpha={{alpha}})",
    "scatter_add_": f"{{x}}.scatter_add_({{dim}}, {_AS_INDEX}, {{y}})",
    # -- end of copies and in-place forms ----------------------------------------------------
}

DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


# The five functions below are the adapter's protocol methods, and their source is pasted
# into repro scripts (REPRO_HELPERS) so that a torch repro needs only torch and numpy.
def asarray(array: np.ndarray, dtype: str, device: str, requires_grad: bool) -> torch.Tensor:
    # np.array: a copy (fn may write to its inputs); from_numpy shares it (3x faster than
    # as_tensor on small arrays, a third of check_function's calls are these).
    tensor = torch.from_numpy(np.array(array)).to(dtype=DTYPES[dtype], device=device)
    return tensor.requires_grad_(requires_grad)


def asarray_with_layout(
    array: np.ndarray, dtype: str, device: str, requires_grad: bool, layout: str
) -> torch.Tensor:
    """`asarray` in a memory layout: "contiguous"; "transposed" (strides reversed);
    "strided" (every other element of the last dim of a buffer twice as long, the others
    NaN: a kernel that reads them poisons its result). A leaf tensor of its own (no view
    of a base), filled under no_grad."""
    values = asarray(array, dtype, device, False)
    shape = values.shape
    if layout == "transposed":  # the strides of the reversed shape, reversed
        strides = torch.empty(shape[::-1], device="meta").stride()[::-1]
    elif layout == "strided":  # a step of 2 in the last dim
        strides = torch.empty((*shape[:-1], 2 * shape[-1]), device="meta").stride()
        strides = (*strides[:-1], 2)
    else:
        return values.requires_grad_(requires_grad)
    tensor = torch.empty_strided(shape, strides, dtype=values.dtype, device=device)
    with torch.no_grad():
        memory = tensor.untyped_storage().nbytes() // tensor.element_size()
        torch.as_strided(tensor, (memory,), (1,)).fill_(float("nan"))
        tensor.copy_(values)
    return tensor.requires_grad_(requires_grad)


def to_numpy(x: torch.Tensor) -> np.ndarray:
    # force=True also materialises torch's ZeroTensor (e.g. abs's second derivative).
    # .cpu().double() rather than one .to(...): twice as fast where both are no-ops.
    return x.detach().cpu().double().numpy(force=True).copy()


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


BATCHED = (torch_batched.batched_vjp, torch_batched.vmap_vjp, torch_batched.batched_jvp)
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
    + [inspect.getsource(f) for f in (asarray, asarray_with_layout, to_numpy, vjp, jvp)]
    + [inspect.getsource(f) for f in BATCHED]
)


# torch's prod/cumprod double backward divides by the input: near small inputs its
# bfloat16 Hessian-vector products are wrong by O(1) (docs/findings.md, "prod and cumprod").
WRONG_SECOND_ORDER = (
    {
        (op, "bfloat16"): f"torch's {op} double backward is wrong by O(1) in bfloat16 near small "
        "inputs (it divides by them): see docs/findings.md"
        for op in ("prod", "cumprod")
    }
    | {
        # Derivatives written with exp(...) differentiate to inf / inf once exp overflows.
        (op, dtype): f"torch's {op} double backward is NaN once {where} overflows exp{ref}: see "
        "docs/findings.md"
        for op, where, ref in (
            ("logaddexp", "|x - y|", " (pytorch/pytorch#196704)"),
            ("mish", "x", ""),
        )
        for dtype in DTYPES
    }
    | {
        ("gelu", "float16"): "torch's gelu double backward is NaN in float16 once x * x overflows "
        "(|x| >= 256): see docs/findings.md"
    }
)
# Derivatives torch does not implement (it raises): cdist's kernel (_cdist_forward, which
# p=2 uses below 25 rows) has no forward-mode formula, and _cdist_backward no derivative
# (double backward: pytorch/pytorch#83510, open).
NOT_IMPLEMENTED = {
    ("cdist", "jvp"): "torch has no forward-mode derivative for cdist (_cdist_forward)",
    ("cdist", "higher_order"): "torch has no derivative for _cdist_backward (cdist's double "
    "backward; pytorch/pytorch#83510)",
}

# Ops torch has no CPU float16 or bfloat16 kernel for (LAPACK and cdist: "lu_cpu" not
# implemented for 'Half'; "Low precision dtypes not supported").
NO_LOW_PRECISION = {"cdist", "det", "slogdet", "inv", "solve", "cholesky", "qr", "eigh",
                    "eigh_projector", "svd", "svd_uv"}  # fmt: skip

# oneDNN's bfloat16 weight-gradient kernel for convolutions on CPUs with AMX tiles (Intel
# Sapphire Rapids and later) returns values from memory it did not write, now and then: NaN
# or 1e-20 from a zero cotangent (docs/findings.md). Elsewhere it is right.
AMX_BFLOAT16_CONV = {"conv1d", "conv2d", "conv_transpose2d"}


def _has_amx() -> bool:
    return bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


# Batched derivatives torch computes wrongly (docs/findings.md), eager being right:
# autograd.grad(..., is_grads_batched=True, create_graph=True) through group_norm of an
# (N, C) input raises a shape error or, when the sizes happen to fit, returns wrong VJPs;
# torch.func.vmap of roll without dims rolls scalar samples across the batch.
WRONG_BATCHED = {
    "group_norm": "torch's batched VJPs (is_grads_batched with create_graph) of group_norm "
    "are wrong or raise for (N, C) inputs: see docs/findings.md",
    "roll": "torch.func.vmap of torch.roll without dims rolls scalar samples across the "
    "batch: see docs/findings.md",
}

#: What `prepare()` sets: exact float32 (no TF32), nondeterminism allowed.
DEFAULT_PRECISION: dict[str, Any] = {
    "tf32_matmul": False,
    "tf32_cudnn": False,
    "float32_matmul_precision": "highest",
    "deterministic_algorithms": False,
    # The suite's tensors are small: intra-op threads only wait on each other (on a busy
    # 2-core machine a 3x4 softmax took 18 ms with 2 threads, 13 us with 1). Use more
    # processes instead (pytest -n).
    "num_threads": 1,
}


class TorchAdapter(AdapterBase):
    name = "torch"
    version = torch.__version__
    dtypes = tuple(DTYPES)
    capabilities = frozenset({"jvp", "higher_order", "imperative", "batched"})
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
    asarray_with_layout = staticmethod(asarray_with_layout)
    to_numpy = staticmethod(to_numpy)
    vjp = staticmethod(vjp)
    jvp = staticmethod(jvp)
    no_grad = staticmethod(torch.no_grad)

    def vjp_twice(self, fn: Callable, primals: Sequence, cotangents: Sequence) -> tuple:
        # The second backward runs through the graph of the first call (create_graph keeps
        # it), as torch's gradcheck checks reentrancy; fn runs once.
        primals = tuple(p if p.requires_grad else p.detach().requires_grad_() for p in primals)
        outputs, grads = vjp(fn, primals, cotangents)
        _, again = vjp(lambda *_: outputs, primals, cotangents)
        return outputs, grads, again

    def batched_vjp(self, fn: Callable, primals: Sequence, cotangents: Sequence) -> tuple:
        with torch_batched.unbatchable("batched_vjp"):
            return torch_batched.batched_vjp(fn, primals, cotangents)

    def vmap_vjp(self, fn: Callable, primals: Sequence, cotangents: Sequence) -> tuple:
        with torch_batched.unbatchable("vmap_vjp"):
            return torch_batched.vmap_vjp(fn, primals, cotangents)

    def batched_jvp(self, fn: Callable, primals: Sequence, tangents: Sequence) -> tuple:
        with torch_batched.unbatchable("batched_jvp"):
            return torch_batched.batched_jvp(fn, primals, tangents)

    def limitation(self, op: str, capability: str, dtype: str) -> str | None:
        """Ops whose derivative torch computes wrongly at a dtype (docs/findings.md), or
        does not implement at all (it raises NotImplementedError)."""
        if capability == "higher_order" and (op, dtype) in WRONG_SECOND_ORDER:
            return WRONG_SECOND_ORDER[op, dtype]
        if capability == "batched" and op in WRONG_BATCHED:
            return WRONG_BATCHED[op]
        if capability == "forward" and dtype in ("float16", "bfloat16") and op in NO_LOW_PRECISION:
            return f"torch has no CPU {dtype} kernel for {op}"
        amx_conv = capability == "forward" and dtype == "bfloat16" and op in AMX_BFLOAT16_CONV
        if amx_conv and _has_amx():
            return (f"torch's CPU bfloat16 {op} on AMX reads its weight gradient from memory it "
                    "did not write, now and then: see docs/findings.md")  # fmt: skip
        if (op, capability) in NOT_IMPLEMENTED:
            return NOT_IMPLEMENTED[op, capability]
        return super().limitation(op, capability, dtype)

    def precision_flags(self) -> dict[str, Any]:
        """The global torch settings that change numerics, for the report header."""
        return {
            "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
            "tf32_cudnn": torch.backends.cudnn.allow_tf32,
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "num_threads": torch.get_num_threads(),
        }

    def configure(self, **flags: Any) -> None:
        """Set precision flags by their `precision_flags()` names."""
        unknown = sorted(set(flags) - set(DEFAULT_PRECISION))
        if unknown:
            raise AdapterError(
                f"unknown torch precision flags {unknown}; known: {', '.join(DEFAULT_PRECISION)}"
            )
        # Only what differs: torch.use_deterministic_algorithms imports torch._dynamo and
        # _inductor (about 7 s), a cost every run and repro would pay for nothing.
        current = self.precision_flags()
        flags = {k: v for k, v in flags.items() if current[k] != v}
        if "float32_matmul_precision" in flags:  # set first: it also sets tf32_matmul
            torch.set_float32_matmul_precision(flags["float32_matmul_precision"])
        if "tf32_matmul" in flags:
            torch.backends.cuda.matmul.allow_tf32 = flags["tf32_matmul"]
        if "tf32_cudnn" in flags:
            torch.backends.cudnn.allow_tf32 = flags["tf32_cudnn"]
        if "deterministic_algorithms" in flags:
            torch.use_deterministic_algorithms(flags["deterministic_algorithms"])
        if "num_threads" in flags:
            torch.set_num_threads(flags["num_threads"])

    def prepare(self) -> dict[str, Any]:
        """Apply `DEFAULT_PRECISION` for a run (the plugin calls this); returns the flags."""
        self.configure(**DEFAULT_PRECISION)
        return self.precision_flags()


adapter = TorchAdapter()
