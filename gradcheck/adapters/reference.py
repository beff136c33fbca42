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
