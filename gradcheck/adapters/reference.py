"""The adapter for `reference_engine`, the numpy oracle (`--gradcheck-adapter=reference`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import reference_engine
from gradcheck.adapters.base import AdapterBase, compile_ops

# Repros read like torch code, with `engine.` in place of `torch.`.
OP_SOURCE_PRELUDE = """\
import numpy as np
import reference_engine as engine
"""

_UNARY = (
    "neg exp log log1p expm1 sqrt rsqrt reciprocal square abs sign sin cos tan"
    " tanh sigmoid atan asin acos sinh cosh erf relu softplus gelu"
).split()
_BINARY = "add sub mul div maximum minimum pow matmul".split()
_REDUCTIONS = "sum mean prod amax amin logsumexp".split()
_ALONG_DIM = "softmax log_softmax cumsum cumprod".split()

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
}

_DTYPES = {"float64": np.float64, "float32": np.float32, "float16": np.float16}


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
        self.ops = compile_ops(OP_SOURCE, OP_SOURCE_PRELUDE)

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


adapter = ReferenceAdapter()
