"""The jax adapter's op templates (`OP_SOURCE`, one line per catalog op) and the helpers
they use (`OP_SOURCE_PRELUDE`, pasted into every jax repro): jax's own function wherever
it has one, else the formula in jax.numpy, computing what the catalog op computes
(torch's semantics). Only text: importing this module imports no engine.

jax has no in-place ops: the in-place forms (`exp_`, `add_`...) are left out, so the
`inplace` check skips, naming them.
"""

from __future__ import annotations

from gradcheck.adapters.jax_layers import LOSSES_AND_LAYERS

OP_SOURCE_PRELUDE_BASE = '''\
import numpy as np
import jax
import jax.numpy as jnp
import jax.scipy.special


def torch_dim(x, dim):
    """torch accepts dim 0 and -1 on a 0-d tensor (the tensor itself); jax has no axis."""
    return None if jnp.ndim(x) == 0 else dim


def axis_of(x, dim):
    """dim as a non-negative axis of x."""
    return dim % jnp.ndim(x)


def along(x, dim, index):
    """x[..., index, ...] with index on axis dim."""
    return x[(slice(None),) * axis_of(x, dim) + (index,)]


def expand(x, size):
    """torch's x.expand(size): -1 keeps that dim of x, new dims are leading."""
    lead = len(size) - jnp.ndim(x)
    return jnp.broadcast_to(
        x, tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(size))
    )


def squeeze(x, dim):
    """torch.squeeze: dim None drops every size-1 dim; a dim whose size is not 1 is kept."""
    if dim is None:
        return jnp.squeeze(x)
    if jnp.ndim(x) == 0:
        return x
    dims = (dim,) if isinstance(dim, int) else dim
    return jnp.squeeze(x, tuple(d for d in dims if x.shape[d] == 1))


def gather(x, dim, index):
    """torch.gather: index may be smaller than x along the other dims."""
    if jnp.ndim(x) == 0:
        return x
    corner = tuple(slice(None) if d == axis_of(x, dim) else slice(0, n)
                   for d, n in enumerate(index.shape))
    return jnp.take_along_axis(x[corner], jnp.asarray(index), axis=dim)


def max_dim(x, dim, keepdim, pick=jnp.argmax):
    """torch.max(x, dim).values: the value at the index argmax returns (the first tie),
    so the whole gradient goes to that index, as in torch."""
    if jnp.ndim(x) == 0:
        return x
    values = jnp.take_along_axis(x, jnp.expand_dims(pick(x, axis=dim), dim), axis=dim)
    return values if keepdim else jnp.squeeze(values, dim)


def solve(a, b):
    """torch.linalg.solve: b is a (batch of) vector(s) when it has one dim fewer than a."""
    if b.ndim == a.ndim - 1:
        return jnp.linalg.solve(a, b[..., None])[..., 0]
    return jnp.linalg.solve(a, b)


def qr_positive(a, factor):
    """Q or R of jnp.linalg.qr(a), column signs fixed so that diag(R) > 0."""
    q, r = jnp.linalg.qr(a)
    signs = jnp.sign(jnp.diagonal(r, axis1=-2, axis2=-1))
    return q * signs[..., None, :] if factor == "Q" else signs[..., :, None] * r


def mT(x):
    return jnp.swapaxes(x, -2, -1)


def top_eigenprojector(v):
    """v v^T of the last column of v (the top eigenvector, eigenvalues ascending)."""
    return v[..., -1:] @ mT(v[..., -1:])


def masked_select(x, mask):
    """The elements of x where mask (broadcast to x) is True, in row-major order."""
    return jnp.ravel(x)[np.flatnonzero(np.broadcast_to(mask, jnp.shape(x)))]


def take_along_dim(x, indices, dim):
    """torch.take_along_dim: dim None indexes the flattened x."""
    if dim is None:
        return jnp.ravel(x)[jnp.asarray(indices).ravel()]
    shape = np.broadcast_shapes(
        tuple(1 if d == axis_of(x, dim) else n for d, n in enumerate(x.shape)),
        tuple(1 if d == axis_of(x, dim) else n for d, n in enumerate(indices.shape)),
    )
    x = jnp.broadcast_to(x, tuple(x.shape[d] if d == axis_of(x, dim) else n
                                  for d, n in enumerate(shape)))
    index = np.broadcast_to(indices, tuple(indices.shape[d] if d == axis_of(x, dim) else n
                                           for d, n in enumerate(shape)))
    return jnp.take_along_axis(x, jnp.asarray(index), axis=dim)


def index_add(x, y, dim, index, alpha):
    """torch.index_add(x, dim, index, y, alpha=alpha); repeated indices accumulate."""
    if jnp.ndim(x) == 0:
        return x + alpha * jnp.sum(y)
    where = (slice(None),) * axis_of(x, dim) + (jnp.asarray(index),)
    return x.at[where].add(alpha * y)


def scatter_add(x, y, dim, index):
    """torch.scatter_add(x, dim, index, y): x[..., index[i], ...] += y[i] along dim."""
    if jnp.ndim(x) == 0:
        return x + jnp.sum(y)
    where = list(np.indices(index.shape, sparse=True))
    where[axis_of(x, dim)] = index
    return x.at[tuple(jnp.asarray(w) for w in where)].add(y)


def narrow(x, dim, start, length):
    start = start + x.shape[dim] if start < 0 else start  # torch counts a negative from the end
    return along(x, dim, slice(start, start + length))


def split(x, sizes, dim, index):
    """torch.split(x, sizes, dim)[index]: pieces of `sizes` elements, or the sections."""
    n = x.shape[dim] if jnp.ndim(x) else 1
    if isinstance(sizes, int):  # an empty dim splits into one empty piece
        sizes = [sizes] * max(1, -(-n // sizes))
    start = sum(sizes[:index])
    return along(x, dim, slice(start, min(start + sizes[index], n)))


def chunk(x, chunks, dim, index):
    """torch.chunk(x, chunks, dim)[index]: pieces of ceil(n / chunks) elements."""
    return split(x, max(1, -(-x.shape[dim] // chunks)), dim, index)


def setitem(x, value, index):
    """x with x[index] = value (jax arrays are immutable: a new array)."""
    return x.at[index].set(value)


def sort(x, dim, descending, stable):
    """torch.sort(...).values; jax's sort is always stable (torch's stable=False leaves
    the order of ties open, so stable is one valid order)."""
    return jnp.sort(x, axis=torch_dim(x, dim), descending=descending, stable=True)


def topk(x, k, dim, largest, sorted):
    """torch.topk(...).values via jax.lax.top_k (the last axis, largest first); sorted
    either way, as the catalog compares it."""
    if jnp.ndim(x) == 0:
        return x
    moved = jnp.moveaxis(x, dim, -1)
    values = jax.lax.top_k(moved if largest else -moved, k)[0]
    return jnp.moveaxis(values if largest else -values, -1, dim)
'''
#: The helpers, pasted into every jax repro (and run once by `compile_ops`).
OP_SOURCE_PRELUDE = OP_SOURCE_PRELUDE_BASE + "\n\n" + LOSSES_AND_LAYERS

_UNARY = {
    "neg": "jnp.negative",
    "exp": "jnp.exp",
    "log": "jnp.log",
    "log1p": "jnp.log1p",
    "expm1": "jnp.expm1",
    "sqrt": "jnp.sqrt",
    "rsqrt": "jax.lax.rsqrt",
    "reciprocal": "jnp.reciprocal",
    "square": "jnp.square",
    "abs": "jnp.abs",
    "sign": "jnp.sign",
    "sin": "jnp.sin",
    "cos": "jnp.cos",
    "tan": "jnp.tan",
    "tanh": "jnp.tanh",
    "sigmoid": "jax.nn.sigmoid",
    "atan": "jnp.arctan",
    "asin": "jnp.arcsin",
    "acos": "jnp.arccos",
    "sinh": "jnp.sinh",
    "cosh": "jnp.cosh",
    "erf": "jax.scipy.special.erf",
    "relu": "jax.nn.relu",
    "silu": "jax.nn.silu",
    "logsigmoid": "jax.nn.log_sigmoid",
    "softsign": "jax.nn.soft_sign",
    "mish": "jax.nn.mish",
    "hardswish": "jax.nn.hard_swish",
}
_BINARY = {
    "add": "jnp.add",
    "sub": "jnp.subtract",
    "mul": "jnp.multiply",
    "div": "jnp.divide",
    "maximum": "jnp.maximum",
    "minimum": "jnp.minimum",
    "pow": "jnp.power",
    "matmul": "jnp.matmul",
    "bmm": "jnp.matmul",
    "outer": "jnp.outer",
    "atan2": "jnp.arctan2",
    "hypot": "jnp.hypot",
    "logaddexp": "jnp.logaddexp",
    "xlogy": "jax.scipy.special.xlogy",
}
_REDUCTIONS = {
    "sum": "jnp.sum",
    "mean": "jnp.mean",
    "prod": "jnp.prod",
    "amax": "jnp.max",
    "amin": "jnp.min",
    "logsumexp": "jax.scipy.special.logsumexp",
}
_ALONG_DIM = {
    "softmax": "jax.nn.softmax",
    "log_softmax": "jax.nn.log_softmax",
    "cumsum": "jnp.cumsum",
    "cumprod": "jnp.cumprod",
}
_AXIS = "axis=torch_dim({x}, {dim})"
_LOSS = "{x}, {y}, reduction={reduction}"

#: Catalog op -> expression template (convention: gradcheck/adapters/base.py). One line
#: per op: an op added to the catalog adds its line here.
OP_SOURCE: dict[str, str] = {
    **{op: f"{fn}({{x}})" for op, fn in _UNARY.items()},
    # The catalog's softplus is torch's: x itself above the threshold 20 (gradient 1).
    "softplus": "jnp.where({x} > 20, {x}, jax.nn.softplus({x}))",
    "gelu": "jax.nn.gelu({x}, approximate=False)",  # torch's default is the exact erf form
    "clamp": "jnp.clip({x}, min={min}, max={max})",
    "pow_scalar": "jnp.power({x}, {exponent})",
    **{op: f"{fn}({{x}}, {{y}})" for op, fn in _BINARY.items()},
    "where": "jnp.where(jnp.asarray({condition}), {x}, {y})",
    **{op: f"{fn}({{x}}, {_AXIS}, keepdims={{keepdim}})" for op, fn in _REDUCTIONS.items()},
    "max": "jnp.max({x})",
    "min": "jnp.min({x})",
    "max_dim": "max_dim({x}, {dim}, {keepdim})",
    "min_dim": "max_dim({x}, {dim}, {keepdim}, pick=jnp.argmin)",
    "var": f"jnp.var({{x}}, {_AXIS}, ddof={{correction}}, keepdims={{keepdim}})",
    "std": f"jnp.std({{x}}, {_AXIS}, ddof={{correction}}, keepdims={{keepdim}})",
    "norm": f"jnp.linalg.vector_norm({{x}}, {_AXIS}, keepdims={{keepdim}}, ord=2)",
    **{op: f"{fn}({{x}}, {_AXIS})" for op, fn in _ALONG_DIM.items()},
    # -- shape ops (jax has no views: each is a new array) ---------------------------------
    "reshape": "jnp.reshape({x}, {shape})",
    "view": "jnp.reshape({x}, {shape})",
    "transpose": "jnp.swapaxes({x}, {dim0}, {dim1})",
    "permute": "jnp.transpose({x}, {dims})",
    "expand": "expand({x}, {size})",
    "broadcast_to": "jnp.broadcast_to({x}, {size})",
    "unsqueeze": "jnp.expand_dims({x}, {dim})",
    "squeeze": "squeeze({x}, {dim})",
    "flip": "jnp.flip({x}, {dims})",
    "cat": "jnp.concatenate({xs}, axis={dim})",
    "stack": "jnp.stack({xs}, axis={dim})",
    "getitem": "{x}[{index}]",
    "index": "{x}[jnp.asarray({indices})]",
    "gather": "gather({x}, {dim}, {index})",
    "index_select": "jnp.take({x}, jnp.asarray({index}), axis=torch_dim({x}, {dim}))",
    # -- activations, point-wise ops, losses -----------------------------------------------
    "leaky_relu": "jax.nn.leaky_relu({x}, negative_slope={negative_slope})",
    "elu": "jax.nn.elu({x}, alpha={alpha})",
    "hardtanh": "jnp.clip({x}, {min_val}, {max_val})",  # jax.nn.hard_tanh has no bounds
    "lerp": "(lambda x, end, weight: x + weight * (end - x))(*{xs})",
    "addcmul": "(lambda x, t1, t2: x + {value} * t1 * t2)(*{xs})",
    "addcdiv": "(lambda x, t1, t2: x + {value} * t1 / t2)(*{xs})",
    "mse_loss": "reduce(jnp.square({x} - {y}), {reduction})",
    "l1_loss": "reduce(jnp.abs({x} - {y}), {reduction})",
    "smooth_l1_loss": "reduce(smooth_l1({x} - {y}, {beta}), {reduction})",
    "huber_loss": "reduce(huber({x} - {y}, {delta}), {reduction})",
    "cross_entropy": "nll_loss(jax.nn.log_softmax({x}, axis=class_dim({x})), {target}, "
    "{ignore_index}, {reduction}, {label_smoothing})",
    "cross_entropy_probs": f"cross_entropy_probs({_LOSS}, smoothing={{label_smoothing}})",
    "nll_loss": "nll_loss({x}, {target}, {ignore_index}, {reduction})",
    "binary_cross_entropy_with_logits": "bce_with_logits({x}, {target}, {pos_weight}, {reduction})",
    "kl_div": f"kl_div({_LOSS}, log_target={{log_target}})",
    # -- layers: weight and bias are inputs 1 and 2 ----------------------------------------
    "linear": "(lambda x, w, *b: x @ w.T + sum(b))(*{xs})",
    **{
        op: "conv(*{xs}, stride={stride}, padding={padding}, dilation={dilation}, groups={groups})"
        for op in ("conv1d", "conv2d")
    },
    "conv_transpose2d": "conv_transpose2d(*{xs}, stride={stride}, padding={padding}, "
    "output_padding={output_padding}, groups={groups}, dilation={dilation})",
    "layer_norm": "layer_norm({xs}, {normalized_shape}, {eps})",
    "group_norm": "group_norm({xs}, {num_groups}, {eps})",
    "batch_norm": "batch_norm({xs}, {eps})",
    "normalize": "normalize({x}, {p}, {dim}, {eps})",
    "embedding": "jnp.take({x}, jnp.asarray({indices}), axis=0)",
    "avg_pool2d": "avg_pool2d({x}, {kernel_size}, {stride}, {padding}, {count_include_pad})",
    "max_pool2d": "max_pool2d({x}, {kernel_size}, {stride}, {padding}, {dilation})",
    "scaled_dot_product_attention": "attention(*{xs}, attn_mask={attn_mask}, "
    "is_causal={is_causal}, scale={scale})",
    # -- linear algebra ----------------------------------------------------------------------
    "einsum": "jnp.einsum({equation}, *{xs})",
    "baddbmm": "baddbmm(*{xs}, beta={beta}, alpha={alpha})",
    "trace": "jnp.trace({x})",
    "diagonal": "jnp.diagonal({x}, offset={offset}, axis1={dim1}, axis2={dim2})",
    "tril": "jnp.tril({x}, {diagonal})",
    "triu": "jnp.triu({x}, {diagonal})",
    "cross": "jnp.cross({x}, {y}, axis={dim})",
    "cdist": "cdist({x}, {y})",
    "det": "jnp.linalg.det({x})",
    "slogdet": "jnp.linalg.slogdet({x})[1]",
    "inv": "jnp.linalg.inv({x})",
    "solve": "solve({x}, {y})",
    "cholesky": "jnp.linalg.cholesky({x} + mT({x}))",
    "qr": "qr_positive({x}, {factor})",
    "eigh": "jnp.linalg.eigh({x} + mT({x}))[0]",
    "eigh_projector": "top_eigenprojector(jnp.linalg.eigh({x} + mT({x}))[1])",
    "svd": "jnp.linalg.svd({x}, full_matrices=False, compute_uv=False)",
    "svd_uv": "(lambda u, s, vh: u @ vh)(*jnp.linalg.svd({x}, full_matrices=False))",
    # -- indexing, scatter and layout ops ------------------------------------------------------
    "masked_fill": "jnp.where(jnp.asarray({mask}), {value}, {x})",
    "masked_select": "masked_select({x}, {mask})",
    "take_along_dim": "take_along_dim({x}, {indices}, {dim})",
    "index_add": "index_add({x}, {y}, {dim}, {index}, {alpha})",
    "scatter_add": "scatter_add({x}, {y}, {dim}, {index})",
    "index_put": "{x}.at[tuple(jnp.asarray(i) for i in {indices})].add({y})",
    "narrow": "narrow({x}, {dim}, {start}, {length})",
    "split": "split({x}, {split_size_or_sections}, {dim}, {index})",
    "chunk": "chunk({x}, {chunks}, {dim}, {index})",
    "unbind": "along({x}, {dim}, {index})",
    "roll": "jnp.roll({x}, {shifts}, axis={dims})",
    "repeat": "jnp.tile({x}, {repeats})",
    "tile": "jnp.tile({x}, {dims})",
    "sort": "sort({x}, {dim}, {descending}, {stable})",
    "topk": "topk({x}, {k}, {dim}, {largest}, {sorted})",
    "clone": "jnp.copy({x})",
    "setitem": "setitem({x}, {y}, {index})",
}
