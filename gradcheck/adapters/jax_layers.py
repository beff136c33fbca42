"""The jax adapter's helpers for losses, layers, pooling, attention and cdist: part of
its `OP_SOURCE_PRELUDE` (gradcheck/adapters/jax_ops.py), source text pasted into every
jax repro, so they use only numpy (np), jax and jax.numpy (jnp)."""

LOSSES_AND_LAYERS = '''\
def reduce(loss, reduction):
    """A loss's reduction: none, mean or sum."""
    return {"none": loss, "mean": jnp.mean(loss), "sum": jnp.sum(loss)}[reduction]


def smooth_l1(d, beta):
    """torch's smooth_l1_loss of d = x - y: 0.5 d^2 / beta below beta, |d| - beta / 2 above."""
    if beta == 0:
        return jnp.abs(d)
    small = jnp.abs(d) < beta
    return jnp.where(small, 0.5 * d * d / beta, jnp.abs(d) - 0.5 * beta)


def huber(d, delta):
    """torch's huber_loss of d = x - y: 0.5 d^2 below delta, delta (|d| - delta / 2) above."""
    small = jnp.abs(d) < delta
    return jnp.where(small, 0.5 * d * d, delta * (jnp.abs(d) - 0.5 * delta))


def class_dim(x):
    return 0 if jnp.ndim(x) == 1 else 1


def picked(logp, target, ignore_index):
    """(-logp at each target class, the mask of targets not ignored)."""
    keep = jnp.asarray(target != ignore_index)
    safe = jnp.expand_dims(jnp.where(keep, jnp.asarray(target), 0), class_dim(logp))
    nll = -jnp.squeeze(jnp.take_along_axis(logp, safe, axis=class_dim(logp)), class_dim(logp))
    return nll, keep


def nll_loss(logp, target, ignore_index, reduction, smoothing=0.0):
    """torch's nll_loss (with label smoothing: cross_entropy's): the mean divides by the
    number of targets not ignored."""
    nll, keep = picked(logp, target, ignore_index)
    if smoothing:
        uniform = -jnp.mean(logp, axis=class_dim(logp))
        nll = (1 - smoothing) * nll + smoothing * uniform
    nll = jnp.where(keep, nll, 0)
    if reduction == "mean":
        return jnp.sum(nll) / jnp.sum(keep).astype(nll.dtype)
    return reduce(nll, reduction)


def cross_entropy_probs(x, y, reduction, smoothing):
    """torch.nn.functional.cross_entropy(x, y) with class probabilities y."""
    dim = class_dim(x)
    if smoothing:
        y = y * (1 - smoothing) + smoothing / x.shape[dim]
    return reduce(-jnp.sum(y * jax.nn.log_softmax(x, axis=dim), axis=dim), reduction)


def bce_with_logits(x, target, pos_weight, reduction):
    """torch's binary_cross_entropy_with_logits: (1 - t) x + (1 + (w - 1) t) softplus(-x)."""
    t = jnp.asarray(target, dtype=x.dtype)
    weight = 1 if pos_weight is None else 1 + (jnp.asarray(pos_weight, dtype=x.dtype) - 1) * t
    return reduce((1 - t) * x - weight * jax.nn.log_sigmoid(x), reduction)


def kl_div(x, y, reduction, log_target):
    """torch's kl_div: y (log y - x), or exp(y) (y - x) with log_target; batchmean divides
    the sum by the batch size."""
    if log_target:
        loss = jnp.exp(y) * (y - x)
    else:
        loss = jax.scipy.special.xlogy(y, y) - y * x
    if reduction == "batchmean":
        return jnp.sum(loss) / (x.shape[0] if jnp.ndim(x) else 1)
    return reduce(loss, reduction)


def pair(value, n):
    return (value,) * n if isinstance(value, int) else tuple(value)


def conv(x, weight, bias=None, *, stride, padding, dilation, groups):
    """torch's conv1d/conv2d: cross-correlation, x (N, C, *) or unbatched."""
    n = weight.ndim - 2
    unbatched = x.ndim == n + 1
    x = x[None] if unbatched else x
    out = jax.lax.conv_general_dilated(
        x, weight, window_strides=pair(stride, n),
        padding=[(p, p) for p in pair(padding, n)], rhs_dilation=pair(dilation, n),
        feature_group_count=groups,
    )
    if bias is not None:
        out = out + bias.reshape((-1,) + (1,) * n)
    return out[0] if unbatched else out


def conv_transpose2d(x, weight, bias=None, *, stride, padding, output_padding, groups,
                     dilation):
    """torch's conv_transpose2d: the input dilated by stride, convolved with the flipped
    kernel; weight (C, O / groups, kH, kW)."""
    unbatched = x.ndim == 3
    x = x[None] if unbatched else x
    c, o_per_group, *kernel = weight.shape
    w = weight.reshape(groups, c // groups, o_per_group, *kernel)
    w = jnp.swapaxes(w, 1, 2).reshape(groups * o_per_group, c // groups, *kernel)
    w = jnp.flip(w, (-2, -1))
    dil, pad, extra = pair(dilation, 2), pair(padding, 2), pair(output_padding, 2)
    edges = [(d * (k - 1) - p, d * (k - 1) - p + e)
             for d, k, p, e in zip(dil, kernel, pad, extra)]
    out = jax.lax.conv_general_dilated(
        x, w, window_strides=(1, 1), padding=edges, lhs_dilation=pair(stride, 2),
        rhs_dilation=dil, feature_group_count=groups,
    )
    if bias is not None:
        out = out + bias.reshape(-1, 1, 1)
    return out[0] if unbatched else out


def normalized(x, axes, eps):
    """(x - mean) / sqrt(var + eps) over axes, computed in float32 at least (as torch
    does for float16/bfloat16: 1 / sqrt(eps) ** 3 overflows float16 in the backward)."""
    wide = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    mean = jnp.mean(wide, axis=axes, keepdims=True)
    var = jnp.var(wide, axis=axes, keepdims=True)
    return ((wide - mean) / jnp.sqrt(var + eps)).astype(x.dtype)


def affine(y, params, shape):
    """y * weight + bias, each (if given) reshaped to `shape`."""
    if len(params) > 0:
        y = y * params[0].reshape(shape)
    if len(params) > 1:
        y = y + params[1].reshape(shape)
    return y


def layer_norm(xs, normalized_shape, eps):
    x = xs[0]
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    return affine(normalized(x, axes, eps), xs[1:], normalized_shape)


def group_norm(xs, num_groups, eps):
    x = xs[0]
    grouped = x.reshape(x.shape[0], num_groups, -1)
    y = normalized(grouped, (2,), eps).reshape(x.shape)
    return affine(y, xs[1:], (-1,) + (1,) * (x.ndim - 2))


def batch_norm(xs, eps):
    """Training mode: each channel (dim 1) normalized by its batch statistics."""
    x = xs[0]
    axes = tuple(d for d in range(x.ndim) if d != 1)
    return affine(normalized(x, axes, eps), xs[1:], (-1,) + (1,) * (x.ndim - 2))


def normalize(x, p, dim, eps):
    """torch.nn.functional.normalize: x / max(||x||_p along dim, eps)."""
    norm = jnp.linalg.vector_norm(x, ord=p, axis=dim, keepdims=True)
    return x / jnp.maximum(norm, eps)


def pool_window(x, kernel_size, stride, padding, dilation=1):
    """lax.reduce_window's window, strides, padding and dilation for 2-d pooling of the
    last two dims of x."""
    lead = x.ndim - 2
    kernel = pair(kernel_size, 2)
    stride = kernel if stride is None else pair(stride, 2)
    pad = pair(padding, 2)
    return dict(
        window_dimensions=(1,) * lead + kernel, window_strides=(1,) * lead + stride,
        padding=((0, 0),) * lead + tuple((p, p) for p in pad),
        window_dilation=(1,) * lead + pair(dilation, 2),
    )


def avg_pool2d(x, kernel_size, stride, padding, count_include_pad):
    window = pool_window(x, kernel_size, stride, padding)
    total = jax.lax.reduce_window(x, 0.0, jax.lax.add, **window)
    if count_include_pad:
        return total / np.prod(pair(kernel_size, 2))
    counts = jax.lax.reduce_window(jnp.ones_like(x), 0.0, jax.lax.add, **window)
    return total / counts


def max_pool2d(x, kernel_size, stride, padding, dilation):
    """jax's reduce_window max; with dilation, whose reduce_window has no VJP in jax
    (NotImplementedError, docs/findings.md), the max of the gathered windows' elements,
    the first of tied ones taking the gradient (torch's choice)."""
    if pair(dilation, 2) == (1, 1):
        window = pool_window(x, kernel_size, stride, padding)
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, **window)
    (kh, kw), (dh, dw), (ph, pw) = pair(kernel_size, 2), pair(dilation, 2), pair(padding, 2)
    sh, sw = pair(kernel_size if stride is None else stride, 2)
    lead = ((0, 0),) * (x.ndim - 2)
    padded = jnp.pad(x, lead + ((ph, ph), (pw, pw)), constant_values=-jnp.inf)
    oh = (padded.shape[-2] - dh * (kh - 1) - 1) // sh + 1
    ow = (padded.shape[-1] - dw * (kw - 1) - 1) // sw + 1
    windows = jnp.stack([
        padded[..., a * dh: a * dh + sh * (oh - 1) + 1: sh, b * dw: b * dw + sw * (ow - 1) + 1: sw]
        for a in range(kh) for b in range(kw)
    ], axis=-1)
    first = jnp.argmax(windows, axis=-1)[..., None]
    return jnp.take_along_axis(windows, first, axis=-1)[..., 0]


def attention(query, key, value, attn_mask, is_causal, scale):
    """torch's scaled_dot_product_attention, its math: softmax(q k^T scale + mask) v."""
    # A Python float (weakly typed): a numpy float64 scale would promote float32 to float64.
    scale = float(1 / np.sqrt(query.shape[-1]) if scale is None else scale)
    scores = query @ jnp.swapaxes(key, -2, -1) * scale
    if is_causal:
        causal = np.tril(np.ones(scores.shape[-2:], dtype=bool))
        scores = jnp.where(causal, scores, -jnp.inf)
    if attn_mask is not None and attn_mask.dtype == bool:
        scores = jnp.where(attn_mask, scores, -jnp.inf)
    elif attn_mask is not None:
        scores = scores + jnp.asarray(attn_mask, dtype=scores.dtype)
    return jax.nn.softmax(scores, axis=-1) @ value


def baddbmm(x, b1, b2, beta, alpha):
    """beta x + alpha b1 @ b2; x is ignored (not even NaN passes) when beta is 0."""
    product = alpha * jnp.matmul(b1, b2)
    return product if beta == 0 else beta * x + product


def cdist(x, y):
    """torch.cdist(x, y), p=2: Euclidean distances between the rows of x and of y, with
    torch's gradient 0 at zero distance (jax has no cdist; sqrt'(0) is inf, so the
    square root takes a safe argument there: the double-where idiom)."""
    diff = x[..., :, None, :] - y[..., None, :, :]
    squared = jnp.sum(diff * diff, axis=-1)
    apart = squared > 0
    return jnp.where(apart, jnp.sqrt(jnp.where(apart, squared, 1)), 0)
'''
