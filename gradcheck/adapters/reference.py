"""The adapter for `reference_engine`, the numpy oracle (`--gradcheck-adapter=reference`)."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import reference_engine
from gradcheck import numerics
from gradcheck.adapters.base import AdapterBase, compile_ops
from gradcheck.errors import Inconclusive, Unsupported
from reference_engine.numerical import numerical

# Repros read like torch code, with `engine.` in place of `torch.`.
OP_SOURCE_PRELUDE = '''\
import numpy as np
import reference_engine as engine


def setitem(x, value, index):
    """x with x[index] = value, written into a clone of x through the view out[index]."""
    out = engine.clone(x)
    out[index] = value
    return out
'''

_UNARY = (
    "neg exp log log1p expm1 sqrt rsqrt reciprocal square abs sign sin cos tan"
    " tanh sigmoid atan asin acos sinh cosh erf relu softplus gelu"
).split()
_BINARY = "add sub mul div maximum minimum pow matmul".split()
_REDUCTIONS = "sum mean prod amax amin logsumexp".split()
_ALONG_DIM = "softmax log_softmax cumsum cumprod".split()
_ACTIVATIONS = "silu logsigmoid softsign mish hardswish".split()
_POINTWISE = "atan2 hypot logaddexp xlogy".split()
_LOSSES = "mse_loss l1_loss".split()

#: Catalog op -> expression template (convention: gradcheck/adapters/base.py).
OP_SOURCE: dict[str, str] = {
    **{op: f"engine.{op}({{x}})" for op in _UNARY},
    "clamp": "engine.clamp({x}, min={min}, max={max})",
    "pow_scalar": "engine.pow({x}, {exponent})",
    **{op: f"engine.{op}({{x}}, {{y}})" for op in _BINARY},
    "where": "engine.where({condition}, {x}, {y})",
    **{op: f"engine.{op}({{x}}, dim={{dim}}, keepdim={{keepdim}})" for op in _REDUCTIONS},
    "max": "engine.max({x})",
    "min": "engine.min({x})",
    "max_dim": "engine.max({x}, {dim}, keepdim={keepdim}).values",
    "min_dim": "engine.min({x}, {dim}, keepdim={keepdim}).values",
    "var": "engine.var({x}, dim={dim}, correction={correction}, keepdim={keepdim})",
    "std": "engine.std({x}, dim={dim}, correction={correction}, keepdim={keepdim})",
    "norm": "engine.norm({x}, 2, dim={dim}, keepdim={keepdim})",
    **{op: f"engine.{op}({{x}}, dim={{dim}})" for op in _ALONG_DIM},
    "reshape": "engine.reshape({x}, {shape})",
    "view": "engine.view({x}, {shape})",
    "transpose": "engine.transpose({x}, {dim0}, {dim1})",
    "permute": "engine.permute({x}, {dims})",
    "expand": "engine.expand({x}, {size})",
    "broadcast_to": "engine.broadcast_to({x}, {size})",
    "unsqueeze": "engine.unsqueeze({x}, {dim})",
    "squeeze": "engine.squeeze({x}, {dim})",
    "flip": "engine.flip({x}, {dims})",
    "cat": "engine.cat({xs}, dim={dim})",
    "stack": "engine.stack({xs}, dim={dim})",
    "getitem": "engine.getitem({x}, {index})",
    "index": "engine.getitem({x}, {indices})",
    "gather": "engine.gather({x}, {dim}, {index})",
    "index_select": "engine.index_select({x}, {dim}, {index})",
    # -- activations, binary/ternary point-wise ops, losses ----------------------------------
    **{op: f"engine.{op}({{x}})" for op in _ACTIVATIONS},
    "leaky_relu": "engine.leaky_relu({x}, negative_slope={negative_slope})",
    "elu": "engine.elu({x}, alpha={alpha})",
    "hardtanh": "engine.hardtanh({x}, min_val={min_val}, max_val={max_val})",
    **{op: f"engine.{op}({{x}}, {{y}})" for op in _POINTWISE},
    "lerp": "engine.lerp(*{xs})",
    "addcmul": "engine.addcmul(*{xs}, value={value})",
    "addcdiv": "engine.addcdiv(*{xs}, value={value})",
    **{op: f"engine.{op}({{x}}, {{y}}, reduction={{reduction}})" for op in _LOSSES},
    "smooth_l1_loss": "engine.smooth_l1_loss({x}, {y}, reduction={reduction}, beta={beta})",
    "huber_loss": "engine.huber_loss({x}, {y}, reduction={reduction}, delta={delta})",
    "cross_entropy": "engine.cross_entropy({x}, {target}, ignore_index={ignore_index}, "
    "reduction={reduction}, label_smoothing={label_smoothing})",
    "cross_entropy_probs": "engine.cross_entropy({x}, {y}, reduction={reduction}, "
    "label_smoothing={label_smoothing})",
    "nll_loss": "engine.nll_loss({x}, {target}, ignore_index={ignore_index}, "
    "reduction={reduction})",
    "binary_cross_entropy_with_logits": "engine.binary_cross_entropy_with_logits({x}, "
    "{target}, reduction={reduction}, pos_weight={pos_weight})",
    "kl_div": "engine.kl_div({x}, {y}, reduction={reduction}, log_target={log_target})",
    # -- end of activations, point-wise ops, losses ------------------------------------------
    # ---- layers (gradcheck/ops/layers.py): weight and bias are inputs 1 and 2 ----
    "linear": "engine.linear(*{xs})",
    **{
        op: f"engine.{op}(*{{xs}}, stride={{stride}}, padding={{padding}}, "
        "dilation={dilation}, groups={groups})"
        for op in ("conv1d", "conv2d")
    },
    "conv_transpose2d": "engine.conv_transpose2d(*{xs}, stride={stride}, padding={padding}, "
    "output_padding={output_padding}, groups={groups}, dilation={dilation})",
    "layer_norm": "engine.layer_norm({xs}[0], {normalized_shape}, *{xs}[1:], eps={eps})",
    "group_norm": "engine.group_norm({xs}[0], {num_groups}, *{xs}[1:], eps={eps})",
    "batch_norm": "engine.batch_norm({xs}[0], None, None, *{xs}[1:], training=True, eps={eps})",
    "normalize": "engine.normalize({x}, p={p}, dim={dim}, eps={eps})",
    "embedding": "engine.embedding({indices}, {x})",
    "avg_pool2d": "engine.avg_pool2d({x}, {kernel_size}, stride={stride}, padding={padding}, "
    "count_include_pad={count_include_pad})",
    "max_pool2d": "engine.max_pool2d({x}, {kernel_size}, stride={stride}, padding={padding}, "
    "dilation={dilation})",
    "scaled_dot_product_attention": "engine.scaled_dot_product_attention(*{xs}, "
    "attn_mask={attn_mask}, is_causal={is_causal}, scale={scale})",
    # ---- end of layers ----
    # -- linalg ----------------------------------------------------------------------------
    "einsum": "engine.einsum({equation}, *{xs})",
    "bmm": "engine.bmm({x}, {y})",
    "baddbmm": "engine.baddbmm(*{xs}, beta={beta}, alpha={alpha})",
    "outer": "engine.outer({x}, {y})",
    "trace": "engine.trace({x})",
    "diagonal": "engine.diagonal({x}, offset={offset}, dim1={dim1}, dim2={dim2})",
    "tril": "engine.tril({x}, diagonal={diagonal})",
    "triu": "engine.triu({x}, diagonal={diagonal})",
    "cross": "engine.linalg.cross({x}, {y}, dim={dim})",
    "cdist": "engine.cdist({x}, {y})",
    "det": "engine.linalg.det({x})",
    "slogdet": "engine.linalg.slogdet({x}).logabsdet",
    "inv": "engine.linalg.inv({x})",
    "solve": "engine.linalg.solve({x}, {y})",
    "cholesky": "engine.linalg.cholesky({x} + {x}.mT)",
    "qr": "getattr(engine.linalg.qr({x}), {factor})",  # diag(R) > 0 already
    "eigh": "engine.linalg.eigh({x} + {x}.mT).eigenvalues",
    "eigh_projector": "(lambda v: v[..., -1:] @ v[..., -1:].mT)("
    "engine.linalg.eigh({x} + {x}.mT).eigenvectors)",
    "svd": "engine.linalg.svd({x}, full_matrices=False).S",
    "svd_uv": "(lambda usv: usv.U @ usv.Vh)(engine.linalg.svd({x}, full_matrices=False))",
    # -- end linalg ------------------------------------------------------------------------
    # -- indexing, scatter and layout ops (gradcheck/ops/scatter.py, layout.py) --------------
    "masked_fill": "engine.masked_fill({x}, {mask}, {value})",
    "masked_select": "engine.masked_select({x}, {mask})",
    "take_along_dim": "engine.take_along_dim({x}, {indices}, dim={dim})",
    "index_add": "engine.index_add({x}, {dim}, {index}, {y}, alpha={alpha})",
    "scatter_add": "engine.scatter_add({x}, {dim}, {index}, {y})",
    "index_put": "engine.index_put({x}, {indices}, {y}, accumulate=True)",
    "narrow": "engine.narrow({x}, {dim}, {start}, {length})",
    "split": "engine.split({x}, {split_size_or_sections}, dim={dim})[{index}]",
    "chunk": "engine.chunk({x}, {chunks}, dim={dim})[{index}]",
    "unbind": "engine.unbind({x}, dim={dim})[{index}]",
    "roll": "engine.roll({x}, {shifts}, {dims})",
    "repeat": "{x}.repeat({repeats})",
    "tile": "engine.tile({x}, {dims})",
    "sort": "engine.sort({x}, dim={dim}, descending={descending}, stable={stable}).values",
    "topk": "engine.topk({x}, {k}, {dim}, {largest}, {sorted}).values",
    # -- end of indexing, scatter and layout ops ---------------------------------------------
    # -- copies, writes through views, and in-place forms (OpSpec.inplace) -------------------
    "clone": "engine.clone({x})",
    "setitem": "setitem({x}, {y}, {index})",
    **{f"{op}_": f"{{x}}.{op}_()" for op in ("exp", "tanh", "sigmoid", "relu")},
    **{f"{op}_": f"{{x}}.{op}_({{y}})" for op in ("add", "sub", "mul", "div")},
    "clamp_": "{x}.clamp_(min={min}, max={max})",
    "masked_fill_": "{x}.masked_fill_({mask}, {value})",
    "index_add_": "{x}.index_add_({dim}, {index}, {y}, alpha={alpha})",
    "scatter_add_": "{x}.scatter_add_({dim}, {index}, {y})",
    # -- end of copies and in-place forms ----------------------------------------------------
}

_DTYPES = {"float64": np.float64, "float32": np.float32, "float16": np.float16}
# Ops that write into a tensor (reference_engine/inplace.py): no forward mode there.
WRITES_IN_PLACE = frozenset(op for op in OP_SOURCE if op.endswith("_")) | {"setitem"}


class ReferenceAdapter(AdapterBase):
    name = "reference"
    version = "0.1.0"  # the engine ships inside gradcheck and has no version of its own
    devices = ("cpu",)
    dtypes = tuple(_DTYPES)
    capabilities = frozenset({"jvp", "higher_order", "imperative"})
    op_source = OP_SOURCE
    op_source_prelude = OP_SOURCE_PRELUDE

    no_grad = staticmethod(reference_engine.no_grad)

    def __init__(self) -> None:
        # The catalog's ops, then those of the user ops registered (gradcheck.ops.register).
        self.ops = ChainMap(compile_ops(OP_SOURCE, OP_SOURCE_PRELUDE), USER_OPS)

    def asarray(
        self, array: np.ndarray, dtype: str, device: str, requires_grad: bool
    ) -> reference_engine.Tensor:
        if device != "cpu":
            raise ValueError(f"the reference engine runs on 'cpu' only, not {device!r}")
        if dtype not in _DTYPES:
            raise ValueError(f"the reference engine has no dtype {dtype!r}; it has {self.dtypes}")
        values = np.array(array, dtype=_DTYPES[dtype])  # a copy: callers may reuse theirs
        return reference_engine.tensor(values, requires_grad=requires_grad)

    def to_numpy(self, x: reference_engine.Tensor) -> np.ndarray:
        return np.array(x.data, dtype=np.float64)

    def vjp(
        self, fn: Callable[..., tuple], primals: Sequence[Any], cotangents: Sequence[Any]
    ) -> tuple[tuple, tuple]:
        outputs, grads = reference_engine.vjp(
            fn, tuple(primals), tuple(cotangents), create_graph=True
        )
        return tuple(outputs), tuple(grads)

    def jvp(
        self, fn: Callable[..., tuple], primals: Sequence[Any], tangents: Sequence[Any]
    ) -> tuple[tuple, tuple]:
        outputs, tangents_out = reference_engine.jvp(fn, tuple(primals), tuple(tangents))
        return tuple(outputs), tuple(tangents_out)

    def limitation(self, op: str, capability: str, dtype: str) -> str | None:
        if capability == "jvp" and op in WRITES_IN_PLACE:
            return f"the reference engine's in-place writes ({op}) carry no forward-mode tangents"
        return super().limitation(op, capability, dtype)


# ---- user ops ------------------------------------------------------------------------------
#: Registered user op -> its primitive: numerical derivatives of its numpy reference, or,
#: without one, a stub that raises Unsupported (so the op's fn never runs on the reference).
USER_OPS: dict[str, Callable[..., Any]] = {}
# A Jacobian entry whose difference estimate is off by more than this, relative to the
# Jacobian's size, means the stencil crossed a kink or a domain edge: no truth there.
DIFFERENCE_ACCURACY = 1e-6


def add_user_op(spec: Any) -> None:
    """The reference engine's primitive for user op `spec` (gradcheck.ops.register)."""
    if spec.reference is not None:
        USER_OPS[spec.name] = numerical(spec.name, spec.reference, strict_jacobian)
        return
    from gradcheck.ops.registry import no_reference

    reason = no_reference(spec.name)

    def unsupported(*inputs: Any, **attrs: Any) -> Any:
        raise Unsupported(reason)

    USER_OPS[spec.name] = unsupported


def remove_user_op(name: str) -> None:
    USER_OPS.pop(name, None)


def jacobian(F: Callable, xs: list[np.ndarray]) -> np.ndarray:
    """Central differences (`numerics.jacobian`) of F at xs."""
    return numerics.jacobian(F, xs)[0]


def strict_jacobian(F: Callable, xs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """`jacobian`, Inconclusive where its error estimate says it is not a truth, and the
    alternative with twice the step (`reference_engine.numerical.alternative`)."""
    J, error = numerics.jacobian(F, xs)
    values = np.concatenate([np.ravel(y) for y in F(xs)]) if xs else np.zeros(0)
    largest_x = max((float(np.max(np.abs(x))) for x in xs if x.size), default=0.0)
    # Where J vanishes (a saturated tanh) its natural size is that of values / inputs.
    size = np.max(np.abs(J), initial=0.0) + np.max(np.abs(values), initial=0.0) / max(
        largest_x, 1.0
    )
    if not np.all(error <= DIFFERENCE_ACCURACY * size):
        raise Inconclusive("a user op's numerical reference derivative is not accurate here")
    return J, numerics.jacobian(F, xs, step=2 * numerics.STEP_FACTOR)[0]


adapter = ReferenceAdapter()
