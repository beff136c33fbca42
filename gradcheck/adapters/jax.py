"""The jax adapter (`--gradcheck-adapter=jax`): jax's own transformations, op by op.

Ops run eagerly (no `jax.jit`); `vjp`, `jvp`, `batched_vjp` and `vmap_vjp` are
`jax.vjp`, `jax.jvp`, `jax.vmap` of a pullback and `jax.vmap` of `jax.vjp`; second order
nests `jax.vjp` over traced values. Devices: cpu, and "cuda" (or "gpu") where jax sees a
GPU. jax has no in-place ops and no imperative API: the `inplace` and `semantics` checks
skip, saying so.

Importing it changes no global jax state. float64 needs jax's x64 mode, a process-wide
flag: `prepare()` records `jax_enable_x64` and `jax_default_matmul_precision`, sets them
to True and "highest" (exact float32 matmuls on GPUs too), and `restore()`, which the
suite calls when the run ends, puts the recorded values back. Outside a run, call
`prepare()` before asking for float64 (`asarray` says so otherwise).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradcheck.adapters.base import AdapterBase, compile_ops
from gradcheck.adapters.jax_ops import OP_SOURCE, OP_SOURCE_PRELUDE

DTYPES = {
    "float64": jnp.float64,
    "float32": jnp.float32,
    "float16": jnp.float16,
    "bfloat16": jnp.bfloat16,
}


# The functions below are the adapter's protocol methods, and their source is pasted into
# repro scripts (REPRO_HELPERS) so that a jax repro needs only jax and numpy.
def jax_device(device: str) -> Any:
    """The jax device for a suite device name: "cpu", "cuda", "gpu" or "cuda:N"."""
    kind, _, index = device.partition(":")
    return jax.devices("gpu" if kind in ("cuda", "gpu") else kind)[int(index or 0)]


def asarray(array: np.ndarray, dtype: str, device: str, requires_grad: bool) -> jax.Array:
    # jax arrays carry no requires_grad: vjp differentiates whatever it is given.
    if dtype == "float64" and not jax.config.jax_enable_x64:
        raise RuntimeError(
            "float64 needs jax's x64 mode: call the adapter's prepare() first "
            "(or jax.config.update('jax_enable_x64', True))"
        )
    return jax.device_put(np.array(array, dtype=DTYPES[dtype]), jax_device(device))  # a copy


def to_numpy(x: jax.Array) -> np.ndarray:
    return np.array(x, dtype=np.float64)  # a float64 host copy (bfloat16 via ml_dtypes)


def vjp(fn: Callable[..., tuple], primals: Sequence[Any], cotangents: Sequence[Any]) -> tuple:
    # Traced primals (an outer vjp's) stay traced: nesting gives second order.
    outputs, pullback = jax.vjp(lambda *xs: tuple(fn(*xs)), *primals)
    return outputs, tuple(pullback(tuple(cotangents)))


def jvp(fn: Callable[..., tuple], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple:
    outputs, tangents_out = jax.jvp(lambda *xs: tuple(fn(*xs)), tuple(primals), tuple(tangents))
    return tuple(outputs), tuple(tangents_out)


def batched_vjp(
    fn: Callable[..., tuple], primals: Sequence[Any], cotangents: Sequence[Any]
) -> tuple:
    # One forward pass; its pullback vmapped over the cotangents' leading dimension.
    outputs, pullback = jax.vjp(lambda *xs: tuple(fn(*xs)), *primals)
    return outputs, tuple(jax.vmap(pullback)(tuple(cotangents)))


def vmap_vjp(fn: Callable[..., tuple], primals: Sequence[Any], cotangents: Sequence[Any]) -> tuple:
    # Per-sample VJPs: jax.vmap of jax.vjp, primals and cotangents batched alike.
    def one(xs: tuple, cs: tuple) -> tuple:
        outputs, pullback = jax.vjp(lambda *a: tuple(fn(*a)), *xs)
        return outputs, pullback(cs)

    outputs, grads = jax.vmap(one)(tuple(primals), tuple(cotangents))
    return tuple(outputs), tuple(grads)


REPRO_HELPERS = "\n".join(
    [
        "from collections.abc import Callable, Sequence",
        "from typing import Any",
        "",
        'jax.config.update("jax_enable_x64", True)  # float64 arrays, as the suite runs jax',
        "DTYPES = {name: getattr(jnp, name) for name in " + repr(tuple(DTYPES)) + "}",
        "",
    ]
    + [
        inspect.getsource(f)
        for f in (jax_device, asarray, to_numpy, vjp, jvp, batched_vjp, vmap_vjp)
    ]
)

#: What `prepare()` sets for a run, and `restore()` puts back.
DEFAULT_CONFIG: dict[str, Any] = {
    "jax_enable_x64": True,
    "jax_default_matmul_precision": "highest",
}

# Where jax's subgradient at a kink differs from torch's, measured with the conventions
# oracle on every kinked op (docs/findings.md, "jax"): abs'(0) = 1 (jax's abs JVP takes
# the x >= 0 side), a clamp bound shares the gradient as a tie of maximum/minimum does,
# and std and norm divide 0 by 0 at zero spread.
CONVENTIONS = {"abs": 1.0, "clamp": 0.5, "std": "nan", "norm": "nan"}


class JaxAdapter(AdapterBase):
    name = "jax"
    version = jax.__version__
    dtypes = tuple(DTYPES)
    # No "imperative": jax arrays are immutable values with no .backward or views.
    capabilities = frozenset({"jvp", "higher_order", "batched"})
    conventions = CONVENTIONS
    op_source = OP_SOURCE
    op_source_prelude = OP_SOURCE_PRELUDE
    repro_helpers = REPRO_HELPERS

    asarray = staticmethod(asarray)
    to_numpy = staticmethod(to_numpy)
    vjp = staticmethod(vjp)
    jvp = staticmethod(jvp)
    batched_vjp = staticmethod(batched_vjp)
    vmap_vjp = staticmethod(vmap_vjp)

    def __init__(self) -> None:
        self.ops = compile_ops(OP_SOURCE, OP_SOURCE_PRELUDE)
        self._before: dict[str, Any] | None = None

    @property
    def devices(self) -> tuple[str, ...]:
        try:
            has_gpu = bool(jax.devices("gpu"))
        except RuntimeError:  # no GPU backend (the CPU-only jaxlib)
            has_gpu = False
        return ("cpu", "cuda") if has_gpu else ("cpu",)

    def dtype_of(self, x: Any) -> str:
        return str(x.dtype)

    def device_of(self, x: Any) -> str:
        platform = next(iter(x.devices())).platform
        return "cuda" if platform == "gpu" else platform

    def precision_flags(self) -> dict[str, Any]:
        return {key: getattr(jax.config, key) for key in DEFAULT_CONFIG}

    def prepare(self) -> dict[str, Any]:
        """Record jax's flags, then set `DEFAULT_CONFIG` for the run; returns the flags."""
        if self._before is None:
            self._before = self.precision_flags()
        for key, value in DEFAULT_CONFIG.items():
            jax.config.update(key, value)
        return self.precision_flags()

    def restore(self) -> None:
        """Put back the flags `prepare()` recorded (the suite calls this after the run)."""
        before, self._before = self._before, None
        for key, value in (before or {}).items():
            jax.config.update(key, value)


adapter = JaxAdapter()
